// kOrdinalObservation: the latest Observation whose valueCodeableConcept is on the fact's
// ordinal scale (e.g. a T stage).
#include <algorithm>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {

using fhir::Json;
using fhir::member;

Fact ordinal_fact(RecordView& x, const FactDef& f) {
  Fact fact;
  fact.id = f.id;
  fact.kind = FactKind::kOrdinal;
  const Item* latest = nullptr;
  const OrdinalValue* latest_value = nullptr;
  for (const Item& item : x.observations()) {
    if (item.code == nullptr) continue;
    bool ours = std::any_of(f.sources.begin(), f.sources.end(),
                            [&](const Source& s) { return has(s.codes, item); });
    if (!ours) continue;
    const Json* cc = member(*item.r, "valueCodeableConcept");
    const OrdinalValue* value = nullptr;
    if (cc != nullptr) {
      for (const auto& v : f.values) {
        if (v.codes.matches(*cc)) {
          value = &v;
          break;
        }
      }
    }
    if (value == nullptr) {
      fact.notes.push_back(item.where() + ": " + f.label + " value not recognised; skipped");
    } else if (replaces(item, latest)) {
      latest = &item;
      latest_value = value;
    }
  }
  if (latest != nullptr) {
    fact.measure = latest_value->ranks;
    fact.display = latest_value->value;
    fact.evidence.push_back(evidence(*latest, f.label + ": " + latest_value->value));
    if (!latest_value->ranks) {
      fact.notes.push_back(f.label + " " + latest_value->value + ": cannot be assessed");
    }
  } else {
    fact.display = "not documented";
  }
  return fact;
}

}  // namespace cryo::mappings::detail
