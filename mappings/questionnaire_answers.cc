// Completed questionnaires (Da Vinci DTR) as evidence: the answers a clinician gave to the
// payer's questions count for the facts (and documents) they answer, when the rest of the
// record leaves those unknown. The reading rule is data (reading-rules.json,
// "questionnaireAnswers"); docs/dtr.md describes the item shapes.
#include <algorithm>
#include <string>
#include <vector>

#include "fhir/coding.h"
#include "fhir/datetime.h"
#include "mappings/detail/model.h"

namespace cryo::mappings::detail {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

void collect(const Json* items, std::vector<const Json*>& out) {
  for (const Json& item : fhir::items(items)) {
    out.push_back(&item);
    collect(member(item, "item"), out);
  }
}

bool subject_is(const Json& qr, std::string_view patient_id) {
  if (patient_id.empty()) return true;
  std::string_view ref = string_or_empty(member(member(qr, "subject"), "reference"));
  std::string_view type, id;
  if (ref.empty() || !fhir::split_reference(ref, type, id)) return true;
  return type == "Patient" && id == patient_id;
}

// The readable questionnaire responses of the patient with their items, flattened.
struct Response {
  const Json* qr;
  std::vector<const Json*> items;
};

std::vector<Response> responses(const MappingSet::Data& d, const fhir::ResourceIndex& record,
                                std::string_view patient_id) {
  std::vector<Response> out;
  if (!d.questionnaire_answers.enabled) return out;
  const auto& statuses = d.questionnaire_answers.statuses;
  for (const Json* qr : record.of_type("QuestionnaireResponse")) {
    std::string_view status = string_or_empty(member(*qr, "status"));
    if (std::find(statuses.begin(), statuses.end(), status) == statuses.end()) continue;
    if (!subject_is(*qr, patient_id)) continue;
    Response r{qr, {}};
    collect(member(*qr, "item"), r.items);
    out.push_back(std::move(r));
  }
  // The latest answer counts: newest responses first.
  std::stable_sort(out.begin(), out.end(), [](const Response& a, const Response& b) {
    return string_or_empty(member(*a.qr, "authored")) > string_or_empty(member(*b.qr, "authored"));
  });
  return out;
}

const Json* first_answer(const Json& item) {
  for (const Json& a : fhir::items(member(item, "answer"))) return &a;
  return nullptr;
}

// The fact an answer gives, or nullopt when the answer does not fit the fact's kind.
std::optional<Fact> from_answer(const MappingSet::Data& d, const FactDef& f, const Json& answer) {
  Fact fact;
  fact.id = f.id;
  fact.kind = f.kind;
  switch (f.kind) {
    case FactKind::kBoolean: {
      const Json* b = member(answer, "valueBoolean");
      if (b != nullptr && b->IsBool()) {
        fact.truth = b->GetBool() ? Truth::kTrue : Truth::kFalse;
      } else if (const Json* c = member(answer, "valueCoding")) {
        if (d.yes.matches(*c))
          fact.truth = Truth::kTrue;
        else if (d.no.matches(*c))
          fact.truth = Truth::kFalse;
        else
          return std::nullopt;
      } else {
        return std::nullopt;
      }
      fact.display = std::string(yes_no(fact.truth));
      return fact;
    }
    case FactKind::kMeasure: {
      fact.unit = f.unit;
      if (const Json* q = member(answer, "valueQuantity")) {
        fhir::QuantityReading reading = fhir::read_quantity(*q, f.unit, d.conversions);
        if (!reading.value) return std::nullopt;
        fact.measure = reading.value;
        fact.display = reading.text;
        return fact;
      }
      for (const char* field : {"valueInteger", "valueDecimal"}) {
        const Json* v = member(answer, field);
        if (v == nullptr || !v->IsNumber()) continue;
        fact.measure = fhir::Interval::point(v->GetDouble());
        fact.display = format_measure(fact.measure, f.unit);
        return fact;
      }
      return std::nullopt;
    }
    case FactKind::kOrdinal: {
      const Json* c = member(answer, "valueCoding");
      if (c == nullptr) return std::nullopt;
      for (const OrdinalValue& v : f.values) {
        if (!v.codes.matches(*c)) continue;
        fact.measure = v.ranks;
        fact.display = v.value;
        return fact;
      }
      return std::nullopt;
    }
    case FactKind::kCategory: {
      const Json* c = member(answer, "valueCoding");
      if (c == nullptr || string_or_empty(member(*c, "system")) != d.criteria_system)
        return std::nullopt;
      std::string_view code = string_or_empty(member(*c, "code"));
      if (code == "none-of-these") {  // criteria CodeSystem: no member offered applies
        for (const Member& m : f.members) fact.categories[m.id] = Truth::kFalse;
        fact.display = "none of " + std::to_string(f.members.size()) + " categories";
        return fact;
      }
      auto chosen = std::find_if(f.members.begin(), f.members.end(),
                                 [&](const Member& m) { return m.id == code; });
      if (chosen == f.members.end()) return std::nullopt;
      for (const Member& m : f.members) {
        fact.categories[m.id] = m.id == code ? Truth::kTrue : Truth::kFalse;
      }
      fact.display = chosen->label;
      return fact;
    }
  }
  return std::nullopt;
}

// Whether the record leaves room for an answer: the fact is unknown, a measure is only known
// as a range (an answer inside it refines it), or a category's member is undetermined.
bool open_to_answers(const Fact& fact) {
  if (!fact.known()) return true;
  switch (fact.kind) {
    case FactKind::kMeasure:
    case FactKind::kOrdinal:
      return fact.measure && !fact.measure->is_point();
    case FactKind::kCategory:
      for (const auto& [m, t] : fact.categories) {
        if (t == Truth::kUnknown) return true;
      }
      return false;
    case FactKind::kBoolean:
      return false;
  }
  return false;
}

// Whether an answer agrees with what the record already established.
bool consistent(const Fact& record, const Fact& answer) {
  if (!record.known()) return true;
  if (record.kind == FactKind::kCategory) {
    for (const auto& [m, t] : answer.categories) {
      auto it = record.categories.find(m);
      if (t == Truth::kTrue && it != record.categories.end() && it->second == Truth::kFalse)
        return false;
    }
    return true;
  }
  if (!record.measure || !answer.measure) return true;
  const fhir::Interval& r = *record.measure;
  const fhir::Interval& a = *answer.measure;
  bool low_ok = a.low > r.low || (a.low == r.low && (r.low_closed || !a.low_closed));
  bool high_ok = a.high < r.high || (a.high == r.high && (r.high_closed || !a.high_closed));
  return low_ok && high_ok;
}

}  // namespace

void read_questionnaire_answer(const MappingSet::Data& d, const fhir::ResourceIndex& record,
                               std::string_view patient_id, const FactDef& f, Fact& fact) {
  if (!open_to_answers(fact)) return;
  for (const Response& r : responses(d, record, patient_id)) {
    for (const Json* item : r.items) {
      if (string_or_empty(member(*item, "linkId")) != f.id) continue;
      const Json* answer = first_answer(*item);
      if (answer == nullptr) continue;
      std::optional<Fact> answered = from_answer(d, f, *answer);
      if (!answered || !consistent(fact, *answered)) {
        fact.notes.push_back("questionnaire answer in " + fhir::ResourceIndex::key_of(*r.qr) +
                             (answered ? " contradicts the record" : " does not fit the fact") +
                             "; ignored");
        continue;
      }
      std::string text(string_or_empty(member(*item, "text")));
      answered->evidence.push_back(
          {fhir::ResourceIndex::key_of(*r.qr),
           std::string(string_or_empty(member(*r.qr, "authored"))),
           "Questionnaire answer: " + (text.empty() ? f.label : text) + ": " + answered->display,
           d.criteria_system, f.id});
      answered->notes = std::move(fact.notes);
      answered->evidence.insert(answered->evidence.begin(), fact.evidence.begin(),
                                fact.evidence.end());
      fact = std::move(*answered);
      return;
    }
  }
}

void read_questionnaire_documents(const MappingSet::Data& d, const fhir::ResourceIndex& record,
                                  std::string_view patient_id, const fhir::DateRange& window,
                                  std::vector<DocumentFinding>& findings) {
  for (DocumentFinding& finding : findings) {
    if (finding.found) continue;
    const std::string link = d.questionnaire_answers.document_prefix + finding.code;
    for (const Response& r : responses(d, record, patient_id)) {
      const Json* attachment = nullptr;
      for (const Json* item : r.items) {
        if (string_or_empty(member(*item, "linkId")) != link) continue;
        const Json* answer = first_answer(*item);
        if (answer != nullptr && member(*answer, "valueAttachment") != nullptr)
          attachment = member(*answer, "valueAttachment");
      }
      if (attachment == nullptr) continue;
      // The document's date: the attachment's creation, else when the response was authored.
      std::string authored(string_or_empty(member(*attachment, "creation")));
      if (authored.empty()) authored = std::string(string_or_empty(member(*r.qr, "authored")));
      auto date = fhir::parse_fhir_date(authored);
      if (!date || !fhir::contains(window, *date)) {
        finding.outside_window.push_back(fhir::ResourceIndex::key_of(*r.qr) + " (" +
                                         (authored.empty() ? "no date" : authored) + ")");
        continue;
      }
      finding.found = true;
      finding.reference = fhir::ResourceIndex::key_of(*r.qr);
      finding.date = authored;
      break;
    }
  }
}

}  // namespace cryo::mappings::detail
