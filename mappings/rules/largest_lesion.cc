// kLargestLesion: the largest lesion of an organ, the latest measurement per lesion. A lesion
// whose location cannot be placed in or outside the organ is never dropped: it widens the
// largest to what it could be.
#include <vector>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {
namespace {

// The larger of two intervals, bound by bound.
fhir::Interval max_of(const fhir::Interval& a, const fhir::Interval& b) {
  fhir::Interval m;
  if (a.low > b.low) {
    m.low = a.low;
    m.low_closed = a.low_closed;
  } else if (b.low > a.low) {
    m.low = b.low;
    m.low_closed = b.low_closed;
  } else {
    m.low = a.low;
    m.low_closed = a.low_closed && b.low_closed;
  }
  if (a.high > b.high) {
    m.high = a.high;
    m.high_closed = a.high_closed;
  } else if (b.high > a.high) {
    m.high = b.high;
    m.high_closed = b.high_closed;
  } else {
    m.high = a.high;
    m.high_closed = a.high_closed || b.high_closed;
  }
  return m;
}

std::string unplaced_text(const LesionMeasurement& m, const Organ& organ) {
  const std::string what = m.lesion == m.item->ref() ? "a lesion" : m.lesion;
  return m.item->ref() + " measures " + what + " (" + m.reading.text + ") at '" + m.location +
         "', which the service cannot place in or outside the " + organ.label + "; it may be a " +
         organ.label + " lesion";
}

// A lesion that may or may not be in the organ: the largest is either what the placed
// lesions give or the larger of that and this lesion.
void widen_by_unplaced(const FactDef& f, const Organ& organ, const LesionMeasurement& m,
                       Fact& fact) {
  fact.evidence.push_back(evidence(*m.item,
                                   "Tumor size " + m.reading.text + " (" + m.lesion +
                                       ", location not placed: " + m.location + ")",
                                   m.code));
  if (!fact.measure) {
    fact.notes.push_back(unplaced_text(m, organ) + "; with no other measured " + organ.label +
                         " lesion the largest lesion is not determined.");
    return;
  }
  fhir::Interval hull = *fact.measure;
  const fhir::Interval& v = *m.reading.value;
  if (v.high > hull.high || (v.high == hull.high && v.high_closed && !hull.high_closed)) {
    hull.high = v.high;
    hull.high_closed = v.high_closed;
    fact.notes.push_back(unplaced_text(m, organ) + ", so the largest lesion is taken as " +
                         format_measure(hull, f.unit) + " until its location is documented.");
    fact.measure = hull;
  } else {
    fact.notes.push_back(unplaced_text(m, organ) + "; it is not larger than the largest " +
                         organ.label + " lesion, so it does not change it.");
  }
}

}  // namespace

Fact largest_lesion(RecordView& x, const FactDef& f, const Source& src, Fact fact) {
  const Organ& organ = x.data().organs[src.organ];
  std::vector<LesionMeasurement> all = lesion_measurements(x, f, src);
  std::vector<const LesionMeasurement*> unplaced;
  for (const LesionMeasurement* m : latest_per_lesion(all, fact)) {
    if (m->unplaced) {
      unplaced.push_back(m);
      continue;
    }
    fact.measure = fact.measure ? max_of(*fact.measure, *m->reading.value) : *m->reading.value;
    fact.evidence.push_back(evidence(
        *m->item, "Tumor size " + m->reading.text + " (" + lesion_text(m->lesion) + ")", m->code));
  }
  // Never dropped.
  for (const LesionMeasurement* m : unplaced) widen_by_unplaced(f, organ, *m, fact);
  return fact;
}

}  // namespace cryo::mappings::detail
