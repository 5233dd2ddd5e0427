// kLesionCount: an explicit count of lesions, else the distinct lesions of the organ the
// record shows (BodyStructures located in it, or distinct foci of its size measurements).
#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

// Distinct lesions, each with the evidence that showed it.
struct Distinct {
  std::set<std::string> keys;
  std::vector<Evidence> evidence;
};

// BodyStructures located in the organ, one per identifier (else per resource).
Distinct structures_in(RecordView& x, const Organ& organ) {
  Distinct out;
  for (const Item& bs : x.body_structures()) {
    const Json* location = member(*bs.r, "location");
    if (location == nullptr || !organ.locations.matches(*location)) continue;
    std::string key;
    for (const Json& ident : fhir::items(member(*bs.r, "identifier"))) {
      std::string_view value = string_or_empty(member(ident, "value"));
      if (!value.empty()) {
        key = std::string(string_or_empty(member(ident, "system"))) + "|" + std::string(value);
        break;
      }
    }
    if (key.empty()) key = bs.ref();
    if (out.keys.insert(key).second) {
      out.evidence.push_back(evidence_coded(
          bs, "Lesion in " + coding_text(location, &organ.locations), location, &organ.locations));
    }
  }
  return out;
}

// Distinct foci of the size measurements placed in the organ (unfocused sizes never add);
// `unplaced` gets one measurement per lesion whose location cannot be placed.
Distinct measured_foci(const std::vector<LesionMeasurement>& measured,
                       std::vector<const LesionMeasurement*>& unplaced) {
  Distinct out;
  std::set<std::string> unplaced_seen;
  for (const LesionMeasurement& m : measured) {
    if (m.lesion.empty() || m.lesion == m.item->ref()) continue;  // unfocused: never adds
    if (m.unplaced) {
      if (unplaced_seen.insert(m.lesion).second) unplaced.push_back(&m);
      continue;
    }
    if (out.keys.insert(m.lesion).second) {
      out.evidence.push_back(evidence(*m.item, "Measured lesion " + m.lesion, m.code));
    }
  }
  return out;
}

// Measured lesions whose location cannot be placed may add one each: the count becomes a
// range (or unknown when nothing else was counted).
void add_unplaced(const Organ& organ, const std::vector<const LesionMeasurement*>& unplaced,
                  size_t counted, Fact& fact) {
  for (const LesionMeasurement* m : unplaced) {
    fact.evidence.push_back(evidence(
        *m->item, "Measured lesion " + m->lesion + " (location not placed: " + m->location + ")",
        m->code));
    fact.notes.push_back(m->item->ref() + " measures " + m->lesion + " at '" + m->location +
                         "', which the service cannot place in or outside the " + organ.label +
                         "; it may be one more " + organ.label + " lesion.");
  }
  if (counted == 0) {
    fact.measure.reset();
  } else {
    fhir::Interval range = *fact.measure;
    range.high += static_cast<double>(unplaced.size());
    fact.measure = range;
  }
}

}  // namespace

Fact lesion_count(RecordView& x, const FactDef& f, const Source& src, Fact fact) {
  // 1. An explicit count: the latest usable one wins.
  Source explicit_src;
  explicit_src.codes = src.count_codes;
  fact = latest_quantity(x, f, explicit_src, std::move(fact));
  if (fact.measure) return fact;

  // 2. Distinct lesions: BodyStructures located in the organ, or distinct foci of the
  //    organ's size observations, whichever is more.
  const Organ& organ = x.data().organs[src.organ];
  const Distinct structures = structures_in(x, organ);
  std::vector<const LesionMeasurement*> unplaced;
  std::vector<LesionMeasurement> measured;
  Distinct foci;
  if (src.size_fact != kNone) {
    const FactDef& size_fact = x.data().facts[src.size_fact];
    measured = lesion_measurements(x, size_fact, size_fact.sources[0]);
    foci = measured_foci(measured, unplaced);
  }
  const size_t n = std::max(structures.keys.size(), foci.keys.size());
  if (n > 0) {
    fact.measure = fhir::Interval::point(static_cast<double>(n));
    fact.evidence =
        structures.keys.size() >= foci.keys.size() ? structures.evidence : foci.evidence;
    fact.notes.push_back("Counted " + std::to_string(n) + " distinct lesion(s) in the " +
                         organ.label + " from the record; no explicit lesion count.");
  }
  if (!unplaced.empty()) add_unplaced(organ, unplaced, n, fact);
  return fact;
}

}  // namespace cryo::mappings::detail
