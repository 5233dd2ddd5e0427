// The size measurements of an organ's lesions, read once for kLargestLesion and kLesionCount:
// which lesion each Observation measures, whether it lies in the organ, and its size.
#include <map>
#include <optional>
#include <utility>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

// Which lesion an Observation measures ("" for the unfocused series of the treated organ),
// and a location that cannot be placed in or outside the organ.
struct Placement {
  std::string lesion;
  bool unplaced = false;
  std::string location;
};

// The lesion an Observation's focus names. nullopt: another organ's (or site's) lesion, or
// one only the organ the order treats would read.
std::optional<Placement> place_focus(RecordView& x, const Organ& organ, bool order_treats_organ,
                                     const Item& item, const Json& ref) {
  Placement at;
  const Json* target = x.record().resolve(ref, item.r);
  if (target != nullptr && string_or_empty(member(*target, "resourceType")) == "BodyStructure") {
    const Json* location = member(*target, "location");
    if (location != nullptr && organ.locations.matches(*location)) {
      // in the organ
    } else if (location != nullptr && x.data().placed(*location)) {
      return std::nullopt;  // another organ's (or site's) lesion
    } else if (!order_treats_organ) {
      return std::nullopt;
    } else if (location != nullptr) {
      at.unplaced = true;
      at.location = coding_text(location, nullptr);
      if (at.location.empty()) at.location = "uncoded location";
    }
    at.lesion = fhir::ResourceIndex::key_of(*target);
  } else if (!order_treats_organ) {
    // Cannot be resolved: still a distinct lesion, in the organ the order treats.
    return std::nullopt;
  }
  if (at.lesion.empty()) at.lesion = std::string(string_or_empty(member(ref, "reference")));
  if (at.lesion.empty()) {
    at.lesion = std::string(string_or_empty(member(member(ref, "identifier"), "value")));
  }
  if (at.lesion.empty()) at.lesion = fhir::to_string(ref);
  return at;
}

// Which lesion an Observation measures, from its focus or else its bodySite; nullopt when it
// is not a lesion of the organ.
std::optional<Placement> place(RecordView& x, const Organ& organ, bool order_treats_organ,
                               const Item& item) {
  auto focus = fhir::items(member(*item.r, "focus"));
  if (!focus.empty()) return place_focus(x, organ, order_treats_organ, item, focus[0]);
  if (!order_treats_organ) return std::nullopt;  // unfocused: read as the treated organ's lesion
  Placement at;
  const Json* body_site = member(*item.r, "bodySite");
  if (body_site == nullptr || !body_site->IsObject()) return at;
  // Unfocused, but the Observation says where it measured (Observation.bodySite, a
  // CodeableConcept).
  if (organ.locations.matches(*body_site)) return at;    // the treated organ: the unfocused series
  if (x.data().placed(*body_site)) return std::nullopt;  // measured in another organ
  at.unplaced = true;
  at.location = coding_text(body_site, nullptr);
  if (at.location.empty()) at.location = "uncoded body site";
  at.lesion = item.ref();  // its own lesion: it may or may not be the organ's
  return at;
}

// The size an Observation gives: its own value, or its longest-dimension component.
fhir::QuantityReading size_of(const RecordView& x, const SizePattern& pattern, const Item& item,
                              std::string_view unit) {
  const Json* holder = item.r;
  if (!pattern.component.empty()) {
    holder = nullptr;
    for (const Json& comp : fhir::items(member(*item.r, "component"))) {
      const Json* ccode = member(comp, "code");
      if (ccode != nullptr && pattern.component.matches(*ccode)) {
        holder = &comp;
        break;
      }
    }
  }
  if (holder == nullptr) {
    fhir::QuantityReading reading;
    reading.problem = "no longest-dimension component";
    return reading;
  }
  return x.read_value(*holder, unit);
}

}  // namespace

std::vector<LesionMeasurement> lesion_measurements(RecordView& x, const FactDef& f,
                                                   const Source& src) {
  std::vector<LesionMeasurement> out;
  const Organ& organ = x.data().organs[src.organ];
  const bool order_treats_organ = x.order_organ() == &organ;
  for (const Item& item : x.observations()) {
    if (item.code == nullptr) continue;
    const SizePattern* pattern = nullptr;
    for (const auto& p : src.sizes) {
      if (has(p.code, item)) {
        pattern = &p;
        break;
      }
    }
    if (pattern == nullptr) continue;
    std::optional<Placement> at = place(x, organ, order_treats_organ, item);
    if (!at) continue;
    out.push_back(LesionMeasurement{&item, std::move(at->lesion),
                                    size_of(x, *pattern, item, f.unit), &pattern->code,
                                    at->unplaced, std::move(at->location)});
  }
  return out;
}

std::string lesion_text(const std::string& lesion) {
  return lesion.empty() ? "no focus" : lesion;
}

std::vector<const LesionMeasurement*> latest_per_lesion(const std::vector<LesionMeasurement>& all,
                                                        Fact& fact) {
  std::vector<const LesionMeasurement*> out;
  std::map<std::string, size_t> at;
  for (const LesionMeasurement& m : all) {
    if (!m.reading.value) {
      fact.notes.push_back(m.item->where() + ": tumor size '" + m.reading.text + "' (" +
                           lesion_text(m.lesion) + ") skipped: " + m.reading.problem);
      continue;
    }
    auto it = at.find(m.lesion);
    if (it == at.end()) {
      at.emplace(m.lesion, out.size());
      out.push_back(&m);
    } else if (replaces(*m.item, out[it->second]->item)) {
      out[it->second] = &m;
    }
  }
  return out;
}

}  // namespace cryo::mappings::detail
