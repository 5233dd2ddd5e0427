// A metastasis Condition assessed for a category fact (tumor type): its primary cancer from a
// primary-link extension, else from the patient's other primary cancers, else unknown.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {
namespace {

using fhir::Json;
using fhir::member;
using fhir::ResourceIndex;
using fhir::string_or_empty;

// The primary class of a Condition (by code), or nullptr.
const PrimaryClass* primary_class(const Metastases& mets, const Json& condition) {
  const Json* pcode = member(condition, "code");
  if (pcode == nullptr) return nullptr;
  for (const auto& pc : mets.primaries) {
    if (pc.codes.matches(*pcode)) return &pc;
  }
  return nullptr;
}

// The primary named by a primary-link extension (mCODE STU1 related-primary, or the core
// condition-related of mCODE STU2 and later), when it resolves to a Condition that stands.
const Json* linked_primary(const RecordView& x, const Metastases& mets, const Item& c) {
  for (const Json& ext : fhir::items(member(*c.r, "extension"))) {
    std::string_view url = string_or_empty(member(ext, "url"));
    if (std::find(mets.extension_urls.begin(), mets.extension_urls.end(), url) ==
        mets.extension_urls.end()) {
      continue;
    }
    const Json* ref = member(ext, "valueReference");
    const Json* target = ref != nullptr ? x.record().resolve(*ref, c.r) : nullptr;
    if (target != nullptr && string_or_empty(member(*target, "resourceType")) == "Condition" &&
        !x.data().is_void(*target, "linked-primary")) {
      return target;
    }
  }
  return nullptr;
}

// The primary a link names: its class, unknown when it is unconfirmed or not recognised.
// Returns the evidence text.
std::string from_linked(const RecordView& x, const Metastases& mets, const Item& c,
                        const Json& linked, const std::string& text, Assessment& a, Fact& fact) {
  std::string primary_text =
      ResourceIndex::key_of(linked) + " " + coding_text(member(linked, "code"), nullptr);
  if (const PrimaryClass* pc = primary_class(mets, linked)) {
    if (x.data().is_unconfirmed(linked)) {
      a.members[pc->member] = Truth::kUnknown;
      fact.notes.push_back(c.ref() + ": related primary " + primary_text +
                           " is not confirmed; the origin of the liver metastases is not "
                           "established");
      return text + "; primary " + primary_text + " (related primary, unconfirmed)";
    }
    a.members[pc->member] = Truth::kTrue;
    return text + "; primary " + primary_text + " (related primary)";
  }
  fact.notes.push_back(c.ref() + ": related primary " + primary_text +
                       " is not a recognised primary cancer of liver metastases (a liver "
                       "malignancy is never their origin); primary taken as unknown");
  for (const auto& m : mets.unknown_primary) a.members[m] = Truth::kUnknown;
  return text + "; primary " + primary_text + " not recognised";
}

// Another active primary cancer Condition of the patient (a liver malignancy is never one:
// the primaries lists leave C22 out): one decides, several or none leave it unknown. Returns
// the evidence text.
std::string from_other_primaries(RecordView& x, const Metastases& mets, const Item& c,
                                 const std::string& text, Assessment& a, Fact& fact) {
  std::vector<std::string> classes;
  std::string found;
  bool all_unconfirmed = true;
  for (const Item& other : x.conditions()) {
    if (other.r == c.r) continue;
    if (const PrimaryClass* pc = primary_class(mets, *other.r)) {
      if (std::find(classes.begin(), classes.end(), pc->member) == classes.end()) {
        classes.push_back(pc->member);
      }
      all_unconfirmed = all_unconfirmed && other.unconfirmed;
      found +=
          (found.empty() ? "" : ", ") + other.ref() + " " + coding_text(other.code, &pc->codes);
    }
  }
  if (classes.size() == 1 && !all_unconfirmed) {
    a.members[classes[0]] = Truth::kTrue;
    return text + "; primary " + found + " (active primary Condition)";
  }
  if (classes.size() == 1) {
    a.members[classes[0]] = Truth::kUnknown;
    fact.notes.push_back(c.ref() + ": the only primary cancer in the record (" + found +
                         ") is not confirmed; the origin of the liver metastases is not "
                         "established");
    return text + "; unconfirmed primary " + found;
  }
  if (classes.size() > 1) {
    for (const auto& m : classes) a.members[m] = Truth::kUnknown;
    fact.notes.push_back(c.ref() + ": several active primary cancers (" + found +
                         ") and no primary-cancer link; the origin of the liver metastases is "
                         "not determined");
    return text + "; several active primary cancers: " + found;
  }
  for (const auto& m : mets.unknown_primary) a.members[m] = Truth::kUnknown;
  return text + "; primary unknown";
}

}  // namespace

Assessment metastasis(RecordView& x, const FactDef& f, const Source& src, const Item& c,
                      Fact& fact) {
  const Metastases& mets = src.metastases;
  Assessment a = blank_assessment(f);
  std::string text;
  if (has(mets.codes, c)) {
    text = "Condition " + coding_text(c.code, &mets.codes);
    a.ev = evidence(c, "", &mets.codes);
  } else {
    const auto* p = x.matching_pattern(c, mets.post_coordinated);
    text = "Condition " + pattern_text(c);
    a.ev = evidence(c, "", p != nullptr ? &p->codes : nullptr);
  }
  if (const Json* linked = linked_primary(x, mets, c)) {
    a.ev.text = from_linked(x, mets, c, *linked, text, a, fact);
  } else {
    a.ev.text = from_other_primaries(x, mets, c, text, a, fact);
  }
  return a;
}

}  // namespace cryo::mappings::detail
