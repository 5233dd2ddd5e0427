// kConditionCategory: a category fact (tumor type) from the diagnoses in the record. Each
// Condition with a mapped diagnosis (or a metastasis) is assessed member by member; an
// unconfirmed one names without establishing; a less specific one yields to a definite one.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

// A Condition coded only in systems the mappings do not know (an EHR-local code without
// ICD-10-CM or SNOMED CT): the service cannot read what it names, and says so.
void note_unreadable(const RecordView& x, const Item& c, Fact& fact) {
  if (c.codings.empty() && c.code == nullptr) return;
  const std::vector<std::string>& known = x.data().known_systems;
  for (const Coding& coding : c.codings) {
    if (std::find(known.begin(), known.end(), coding.system) != known.end()) {
      return;  // a code the service reads, just not a liver diagnosis
    }
  }
  std::string systems;
  for (const Coding& coding : c.codings) {
    if (systems.find(coding.system) == std::string::npos) {
      systems += (systems.empty() ? "" : ", ") + std::string(coding.system);
    }
  }
  std::string what = string_or_empty(member(c.code, "text")).empty()
                         ? coding_text(c.code, nullptr)
                         : std::string(string_or_empty(member(c.code, "text")));
  fact.notes.push_back(c.ref() + " '" + what + "' is coded only in " +
                       (systems.empty() ? std::string("free text") : systems) +
                       ", which the service cannot read; add its ICD-10-CM or SNOMED CT code");
}

// The source's diagnosis a Condition is, by code first, then by post-coordinated shape
// (`pattern` set); nullptr when none.
const Diagnosis* diagnosis_of(const RecordView& x, const Source& src, const Item& c,
                              const ConditionPattern*& pattern) {
  pattern = nullptr;
  for (const auto& candidate : src.diagnoses) {
    if (has(candidate.codes, c)) return &candidate;
  }
  for (const auto& candidate : src.diagnoses) {
    if ((pattern = x.matching_pattern(c, candidate.post_coordinated)) != nullptr) {
      return &candidate;
    }
  }
  return nullptr;
}

bool any_true(const Assessment& a) {
  return std::any_of(a.members.begin(), a.members.end(),
                     [](const auto& m) { return m.second == Truth::kTrue; });
}

// What one Condition says of the category; nullopt when it is not one of its diagnoses.
std::optional<Assessment> assess(RecordView& x, const FactDef& f, const Source& src, const Item& c,
                                 Fact& fact) {
  const ConditionPattern* dx_pattern = nullptr;
  const Diagnosis* dx = diagnosis_of(x, src, c, dx_pattern);
  if (dx == nullptr) {
    if (!src.metastases.present) return std::nullopt;
    if (!has(src.metastases.codes, c) &&
        x.matching_pattern(c, src.metastases.post_coordinated) == nullptr) {
      note_unreadable(x, c, fact);
      return std::nullopt;
    }
  }
  Assessment a;
  if (dx != nullptr) {
    a = blank_assessment(f);
    if (!dx->member.empty()) a.members[dx->member] = Truth::kTrue;
    for (const auto& m : dx->unknown) a.members[m] = Truth::kUnknown;
    a.yields = dx->yields_to_definite;
    a.ev = dx_pattern != nullptr
               ? evidence(c, "Condition " + pattern_text(c) + " (post-coordinated)",
                          &dx_pattern->codes)
               : evidence(c, "Condition " + coding_text(c.code, &dx->codes), &dx->codes);
  } else {  // a metastasis
    a = metastasis(x, f, src, c, fact);
    a.yields = !any_true(a) && src.metastases.undetermined_yields;
  }
  if (c.unconfirmed) {
    // Names a tumor type without establishing it: what it would make true is unknown.
    for (auto& [id, t] : a.members) {
      if (t == Truth::kTrue) t = Truth::kUnknown;
    }
    a.unconfirmed = true;
    a.yields = false;
    a.ev.text = unconfirmed_text(c);
  }
  return a;
}

// "hcc; possibly icc", "not determined (hcc, icc)", "none".
std::string category_display(const FactDef& f, const Fact& fact) {
  std::string yes, maybe;
  for (const auto& m : f.members) {
    Truth t = fact.categories.at(m.id);
    if (t == Truth::kTrue) yes += (yes.empty() ? "" : "; ") + m.label;
    if (t == Truth::kUnknown) maybe += (maybe.empty() ? "" : ", ") + m.label;
  }
  if (!yes.empty()) return maybe.empty() ? yes : yes + "; possibly " + maybe;
  if (!maybe.empty()) return "not determined (" + maybe + ")";
  return "none";
}

// Combines the assessments into the members: each member the OR of what the confirmed
// diagnoses say, a yielding one left out when a definite one is present.
void combine(const FactDef& f, const std::vector<Assessment>& found, Fact& fact) {
  const bool definite = std::any_of(found.begin(), found.end(), any_true);
  for (auto& [id, t] : fact.categories) t = Truth::kFalse;
  for (const Assessment& a : found) {
    if (definite && a.yields) {
      fact.notes.push_back(a.ev.reference + ": " + a.ev.text +
                           " is less specific than another diagnosis in the record; not used");
      continue;
    }
    for (const auto& [id, t] : a.members) fact.categories[id] = truth_or(fact.categories[id], t);
    if (a.unconfirmed) {
      fact.notes.push_back(a.ev.text);
    } else {
      fact.evidence.push_back(a.ev);
    }
  }
  fact.display = category_display(f, fact);
}

}  // namespace

Assessment blank_assessment(const FactDef& f) {
  Assessment a;
  for (const auto& m : f.members) a.members[m.id] = Truth::kFalse;
  return a;
}

Fact category_fact(RecordView& x, const FactDef& f) {
  Fact fact;
  fact.id = f.id;
  fact.kind = FactKind::kCategory;
  std::vector<Assessment> found;
  for (const Source& src : f.sources) {
    if (src.rule != Rule::kConditionCategory) continue;
    for (const Item& c : x.conditions()) {
      if (c.code == nullptr) continue;
      if (std::optional<Assessment> a = assess(x, f, src, c, fact)) found.push_back(std::move(*a));
    }
  }
  for (const auto& m : f.members) fact.categories[m.id] = Truth::kUnknown;
  const bool any_confirmed =
      std::any_of(found.begin(), found.end(), [](const Assessment& a) { return !a.unconfirmed; });
  if (!any_confirmed) {
    // Nothing established: every type stays unknown; an unconfirmed diagnosis is named.
    for (const Assessment& a : found) fact.notes.push_back(a.ev.text);
    fact.display = !found.empty()       ? "no confirmed liver malignancy diagnosis in the record"
                   : fact.notes.empty() ? "no liver malignancy diagnosis in the record"
                                        : "no liver malignancy diagnosis the service can read";
    return fact;
  }
  combine(f, found, fact);
  return fact;
}

}  // namespace cryo::mappings::detail
