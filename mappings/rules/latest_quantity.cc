// kLatestQuantity: the latest usable quantity of an Observation with the source's codes.
#include <utility>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {

Fact latest_quantity(RecordView& x, const FactDef& f, const Source& src, Fact fact) {
  const Item* latest = nullptr;
  fhir::QuantityReading latest_reading;
  for (const Item& item : x.observations()) {
    if (item.code == nullptr || !has(src.codes, item)) continue;
    fhir::QuantityReading q = x.read_value(*item.r, f.unit);
    if (!q.value) {
      fact.notes.push_back(item.where() + ": " + f.label + " '" + q.text +
                           "' skipped: " + q.problem);
    } else if (replaces(item, latest)) {
      latest = &item;
      latest_reading = std::move(q);
    }
  }
  if (latest != nullptr) {
    fact.measure = latest_reading.value;
    fact.evidence.push_back(evidence(*latest, f.label + " " + latest_reading.text, &src.codes));
  }
  return fact;
}

}  // namespace cryo::mappings::detail
