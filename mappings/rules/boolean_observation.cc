// kBooleanObservation, kCodedObservation, kFindingObservation: what Observations say of a
// boolean fact.
#include <optional>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {
namespace {

using fhir::Json;
using fhir::member;

// What one Observation says for a boolean source; nullopt when it has no usable value.
std::optional<bool> read_boolean(const RecordView& x, const Source& src, const Json& obs) {
  const Json* b = member(obs, "valueBoolean");
  const Json* cc = member(obs, "valueCodeableConcept");
  switch (src.rule) {
    case Rule::kBooleanObservation:
      if (b != nullptr && b->IsBool()) return b->GetBool();
      return x.answer(cc);
    case Rule::kCodedObservation:
      if (cc == nullptr) return std::nullopt;
      if (src.true_codes.matches(*cc)) return true;
      if (src.false_codes.matches(*cc)) return false;
      return std::nullopt;
    case Rule::kFindingObservation:
      if (b != nullptr && b->IsBool()) return b->GetBool();
      if (auto a = x.answer(cc)) return a;
      return true;  // the finding itself was recorded
    default:
      return std::nullopt;
  }
}

}  // namespace

bool is_observation_rule(Rule r) {
  return r == Rule::kBooleanObservation || r == Rule::kCodedObservation ||
         r == Rule::kFindingObservation;
}

ObservedBoolean latest_observed_boolean(RecordView& x, const FactDef& f, Fact& fact) {
  ObservedBoolean latest;
  for (const Item& item : x.observations()) {
    if (item.code == nullptr) continue;
    // The first observation source with the Observation's code reads it.
    for (const Source& src : f.sources) {
      if (!is_observation_rule(src.rule) || !has(src.codes, item)) continue;
      std::optional<bool> v = read_boolean(x, src, *item.r);
      if (!v) {
        fact.notes.push_back(item.where() + ": no usable value for " + f.label + "; skipped");
      } else if (replaces(item, latest.item)) {
        latest = ObservedBoolean{&item, *v, &src.codes};
      }
      break;
    }
  }
  return latest;
}

std::string observation_value_text(const RecordView& x, const Json& obs) {
  if (const Json* b = member(obs, "valueBoolean"); b != nullptr && b->IsBool()) {
    return b->GetBool() ? "yes" : "no";
  }
  if (const Json* cc = member(obs, "valueCodeableConcept")) {
    if (auto a = x.answer(cc)) return *a ? "yes" : "no";
    return coding_text(cc, nullptr);
  }
  return "recorded";
}

}  // namespace cryo::mappings::detail
