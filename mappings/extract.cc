// MappingSet::extract: each kind of rule, implemented once, parameterised by the data.
#include <algorithm>
#include <map>
#include <set>

#include "fhir/datetime.h"
#include "mappings/detail/model.h"
#include "mappings/mapping_set.h"

namespace cryo::mappings {
namespace {

using detail::FactDef;
using detail::Rule;
using detail::Source;
using fhir::CodeSet;
using fhir::DateRange;
using fhir::Json;
using fhir::member;
using fhir::ResourceIndex;
using fhir::string_or_empty;

// A resource that passed the status rules and belongs to the patient, with its clinical date
// and its position in input order.
struct Coding {
  std::string_view system;
  std::string_view code;
};

struct Item {
  const Json* r = nullptr;
  const Json* code = nullptr;   // r.code, looked up once
  std::vector<Coding> codings;  // r.code.coding[], read once for fast matching
  std::optional<DateRange> date;
  size_t pos = 0;
  bool unconfirmed = false;  // a provisional / differential / unconfirmed Condition
  std::string ref() const { return ResourceIndex::key_of(*r); }
  std::string date_text() const { return date ? date->text : std::string(); }
  std::string where() const {
    std::string s = ref();
    if (date) s += " (" + date->text + ")";
    return s;
  }
};

// Whether the item's code is in `set` (the precomputed form of set.matches(*item.code)).
bool has(const CodeSet& set, const Item& item) {
  for (const Coding& c : item.codings) {
    if (set.contains(c.system, c.code)) return true;
  }
  return false;
}

// Whether `candidate` (met later in input order) replaces `best` as the latest: a later
// clinical date, or an equal one (ties: the later in input order). Dated beats undated.
bool replaces(const Item& candidate, const Item* best) {
  if (best == nullptr) return true;
  if (candidate.date && best->date) return !fhir::later_than(*best->date, *candidate.date);
  if (candidate.date) return true;
  return !best->date;
}

// "C78.0 Secondary malignant neoplasm of lung": the matching coding (or the first), with its
// display, else the concept_json's text.
std::string coding_text(const Json* concept_json, const CodeSet* set) {
  if (concept_json == nullptr) return {};
  const Json* chosen = nullptr;
  for (const Json& coding : fhir::items(member(*concept_json, "coding"))) {
    if (chosen == nullptr) chosen = &coding;
    if (set != nullptr && set->matches(coding)) {
      chosen = &coding;
      break;
    }
  }
  if (chosen == nullptr) chosen = concept_json;  // a bare Coding
  std::string out(string_or_empty(member(*chosen, "code")));
  std::string_view display = string_or_empty(member(*chosen, "display"));
  if (display.empty()) display = string_or_empty(member(*concept_json, "text"));
  if (!display.empty()) out += out.empty() ? std::string(display) : " " + std::string(display);
  return out;
}

std::string yes_no(Truth t) {
  switch (t) {
    case Truth::kTrue:
      return "yes";
    case Truth::kFalse:
      return "no";
    default:
      return "not documented";
  }
}

bool is_observation_rule(Rule r) {
  return r == Rule::kBooleanObservation || r == Rule::kCodedObservation ||
         r == Rule::kFindingObservation;
}

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

class Extractor {
 public:
  Extractor(const MappingSet::Data& d, const ResourceIndex& record, const OrderContext& order)
      : d_(d), record_(record), order_(order) {
    std::string billing = order.billing_code;
    if (order.order != nullptr) {
      if (billing.empty()) {
        for (const std::string& c : MappingSet::billing_codes(*order.order)) {
          if (d.organ_for_billing(c) != nullptr) {
            billing = c;
            break;
          }
        }
      }
      std::string_view type, id;
      if (fhir::split_reference(
              string_or_empty(member(member(*order.order, "subject"), "reference")), type, id) &&
          type == "Patient") {
        patient_id_ = std::string(id);
      }
    }
    order_organ_ = d.organ_for_billing(billing);
    if (patient_id_.empty()) {
      auto patients = record.of_type("Patient");
      if (patients.size() == 1)
        patient_id_ = std::string(string_or_empty(member(*patients[0], "id")));
    }
  }

  const std::string& patient() const { return patient_id_; }

  Fact evaluate(const FactDef& f) {
    switch (f.kind) {
      case FactKind::kBoolean:
        return boolean(f);
      case FactKind::kMeasure:
        return measure(f);
      case FactKind::kOrdinal:
        return ordinal(f);
      case FactKind::kCategory:
        return category(f);
    }
    return Fact::boolean(f.id, Truth::kUnknown);
  }

 private:
  // ---- the record, filtered once per call ----

  bool belongs(const Json& r) const {
    if (patient_id_.empty()) return true;
    const Json* subject = member(r, "subject");
    if (subject == nullptr) subject = member(r, "patient");
    std::string_view ref = string_or_empty(member(subject, "reference"));
    if (ref.empty()) return true;
    std::string_view type, id;
    if (fhir::split_reference(ref, type, id)) return type == "Patient" && id == patient_id_;
    const Json* target = record_.resolve(ref, &r);
    if (target == nullptr) return true;
    return string_or_empty(member(*target, "resourceType")) == "Patient" &&
           string_or_empty(member(*target, "id")) == patient_id_;
  }

  const std::vector<Item>& valid(std::string_view type, std::optional<std::vector<Item>>& cache) {
    if (!cache) {
      cache.emplace();
      size_t pos = 0;
      for (const Json* r : record_.of_type(type)) {
        ++pos;
        if (d_.is_void(*r) || !belongs(*r)) continue;
        Item item{r, member(*r, "code"), {}, fhir::clinical_date(*r), pos, d_.is_unconfirmed(*r)};
        for (const Json& coding : fhir::items(member(item.code, "coding"))) {
          item.codings.push_back(Coding{string_or_empty(member(coding, "system")),
                                        string_or_empty(member(coding, "code"))});
        }
        cache->push_back(std::move(item));
      }
    }
    return *cache;
  }
  const std::vector<Item>& observations() { return valid("Observation", observations_); }
  const std::vector<Item>& conditions() { return valid("Condition", conditions_); }
  const std::vector<Item>& body_structures() { return valid("BodyStructure", body_structures_); }

  // Evidence naming the resource and the coding that decided: the first coding of the
  // item's code in `set` (or its first coding when no set is given).
  Evidence evidence(const Item& item, std::string text, const CodeSet* set = nullptr) const {
    Evidence e{item.ref(), item.date_text(), std::move(text), {}, {}};
    for (const Coding& c : item.codings) {
      if (set == nullptr || set->contains(c.system, c.code)) {
        e.system = std::string(c.system);
        e.code = std::string(c.code);
        break;
      }
    }
    return e;
  }
  // Evidence naming an explicit coding (e.g. a BodyStructure's location, a pattern's code).
  static Evidence evidence_coded(const Item& item, std::string text, const Json* concept_json,
                                 const CodeSet* set) {
    Evidence e{item.ref(), item.date_text(), std::move(text), {}, {}};
    for (const Json& coding : fhir::items(member(concept_json, "coding"))) {
      if (set == nullptr || set->matches(coding)) {
        e.system = std::string(string_or_empty(member(coding, "system")));
        e.code = std::string(string_or_empty(member(coding, "code")));
        break;
      }
    }
    return e;
  }

  // Whether a Condition has the shape of a post-coordinated pattern: its code, and the
  // morphology extension and body site the pattern asks for.
  bool matches_pattern(const Item& c, const detail::ConditionPattern& p) const {
    if (!has(p.codes, c)) return false;
    if (!p.morphology.empty()) {
      bool found = false;
      for (const Json& ext : fhir::items(member(*c.r, "extension"))) {
        if (string_or_empty(member(ext, "url")) != d_.morphology_extension) continue;
        const Json* v = member(ext, "valueCodeableConcept");
        if (v != nullptr && p.morphology.matches(*v)) found = true;
      }
      if (!found) return false;
    }
    if (!p.body_sites.empty()) {
      bool found = false;
      for (const Json& site : fhir::items(member(*c.r, "bodySite"))) {
        if (p.body_sites.matches(site)) found = true;
      }
      if (!found) return false;
    }
    return true;
  }
  const detail::ConditionPattern* matching_pattern(
      const Item& c, const std::vector<detail::ConditionPattern>& patterns) const {
    for (const auto& p : patterns) {
      if (matches_pattern(c, p)) return &p;
    }
    return nullptr;
  }
  static std::string pattern_text(const Item& c) {
    std::string out = coding_text(c.code, nullptr);
    for (const Json& site : fhir::items(member(*c.r, "bodySite"))) {
      out += ", body site " + coding_text(&site, nullptr);
      break;
    }
    return out;
  }
  static std::string unconfirmed_text(const Item& c) {
    std::string status;
    for (const Json& coding : fhir::items(member(member(*c.r, "verificationStatus"), "coding"))) {
      status = std::string(string_or_empty(member(coding, "code")));
      if (!status.empty()) break;
    }
    return c.ref() + " " + coding_text(c.code, nullptr) + " is " +
           (status.empty() ? std::string("unconfirmed") : status) +
           ": confirm the diagnosis; it is not taken as established";
  }

  // ---- boolean facts ----

  std::optional<bool> answer(const Json* concept_json) const {
    if (concept_json == nullptr) return std::nullopt;
    if (d_.yes.matches(*concept_json)) return true;
    if (d_.no.matches(*concept_json)) return false;
    return std::nullopt;
  }

  // What one Observation says for a boolean source; nullopt when it has no usable value.
  std::optional<bool> read_boolean(const Source& src, const Json& obs) const {
    const Json* b = member(obs, "valueBoolean");
    const Json* cc = member(obs, "valueCodeableConcept");
    switch (src.rule) {
      case Rule::kBooleanObservation:
        if (b != nullptr && b->IsBool()) return b->GetBool();
        return answer(cc);
      case Rule::kCodedObservation:
        if (cc == nullptr) return std::nullopt;
        if (src.true_codes.matches(*cc)) return true;
        if (src.false_codes.matches(*cc)) return false;
        return std::nullopt;
      case Rule::kFindingObservation:
        if (b != nullptr && b->IsBool()) return b->GetBool();
        if (auto a = answer(cc)) return a;
        return true;  // the finding itself was recorded
      default:
        return std::nullopt;
    }
  }

  std::string observation_value_text(const Json& obs) const {
    if (const Json* b = member(obs, "valueBoolean"); b != nullptr && b->IsBool()) {
      return b->GetBool() ? "yes" : "no";
    }
    if (const Json* cc = member(obs, "valueCodeableConcept")) {
      if (auto a = answer(cc)) return *a ? "yes" : "no";
      return coding_text(cc, nullptr);
    }
    return "recorded";
  }

  Truth classify(const Source& src, std::vector<Evidence>& ev) {
    bool any = false, any_true = false, all_false = true;
    for (const Item& c : conditions()) {
      const Json* code = c.code;
      if (code == nullptr || !has(src.family, c)) continue;
      any = true;
      if (c.unconfirmed) {
        ev.push_back(evidence(c, unconfirmed_text(c), &src.family));
        all_false = false;
        continue;
      }
      ev.push_back(
          evidence(c, "Condition " + coding_text(code, &src.family) + " (active)", &src.family));
      if (has(src.true_codes, c)) {
        any_true = true;
      } else if (!has(src.false_codes, c)) {
        all_false = false;
      }
    }
    if (any_true) return Truth::kTrue;
    if (any && all_false) return Truth::kFalse;
    return Truth::kUnknown;
  }

  Fact boolean(const FactDef& f) {
    Fact fact = Fact::boolean(f.id, Truth::kUnknown);
    std::vector<Evidence> support;      // active Conditions / order reasons: make it true
    std::vector<Evidence> unconfirmed;  // provisional Conditions: would make it true
    std::vector<Evidence> classified_ev;
    Truth classified = Truth::kUnknown;
    bool has_classification = false, has_observation_sources = false;
    for (const Source& src : f.sources) {
      switch (src.rule) {
        case Rule::kConditionPresence:
          for (const Item& c : conditions()) {
            const Json* code = c.code;
            if (code == nullptr) continue;
            Evidence e;
            if (has(src.codes, c)) {
              e = evidence(c, "Condition " + coding_text(code, &src.codes) + " (active)",
                           &src.codes);
            } else if (const auto* p = matching_pattern(c, src.post_coordinated)) {
              e = evidence(c, "Condition " + pattern_text(c) + " (active)", &p->codes);
            } else {
              continue;
            }
            if (c.unconfirmed) {
              e.text = unconfirmed_text(c);
              unconfirmed.push_back(std::move(e));
            } else {
              support.push_back(std::move(e));
            }
          }
          break;
        case Rule::kOrderReason:
          if (order_.order != nullptr) {
            for (const Json& reason : fhir::items(member(*order_.order, "reasonCode"))) {
              if (src.codes.matches(reason)) {
                Evidence e{ResourceIndex::key_of(*order_.order), order_.date_of_service.text,
                           "Order reason: " + coding_text(&reason, &src.codes)};
                for (const Json& coding : fhir::items(member(reason, "coding"))) {
                  if (!src.codes.matches(coding)) continue;
                  e.system = std::string(string_or_empty(member(coding, "system")));
                  e.code = std::string(string_or_empty(member(coding, "code")));
                  break;
                }
                support.push_back(std::move(e));
              }
            }
          }
          break;
        case Rule::kConditionClassification: {
          Truth t = classify(src, classified_ev);
          classified = has_classification ? truth_or(classified, t) : t;
          has_classification = true;
          break;
        }
        default:
          has_observation_sources = has_observation_sources || is_observation_rule(src.rule);
          break;
      }
    }

    // Observations: the latest usable one wins.
    const Item* latest = nullptr;
    bool latest_value = false;
    const CodeSet* latest_codes = nullptr;
    const CodeSet* latest_set = nullptr;
    if (has_observation_sources) {
      for (const Item& item : observations()) {
        const Json* code = item.code;
        if (code == nullptr) continue;
        for (const Source& src : f.sources) {
          if (!is_observation_rule(src.rule) || !has(src.codes, item)) continue;
          latest_codes = &src.codes;
          std::optional<bool> v = read_boolean(src, *item.r);
          if (!v) {
            fact.notes.push_back(item.where() + ": no usable value for " + f.label + "; skipped");
          } else if (replaces(item, latest)) {
            latest = &item;
            latest_value = *v;
            latest_set = latest_codes;
          }
          break;
        }
      }
    }

    if (!support.empty()) {
      fact.truth = Truth::kTrue;
      fact.evidence = support;
      if (latest != nullptr && !latest_value) {
        fact.evidence.push_back(evidence(*latest, f.label + ": no", latest_set));
        fact.notes.push_back("Conflict: " + support.front().reference + " supports " + f.label +
                             ", but " + latest->where() +
                             " says no; the active diagnosis decides.");
      }
    } else if (latest != nullptr && (latest_value || unconfirmed.empty())) {
      fact.truth = latest_value ? Truth::kTrue : Truth::kFalse;
      fact.evidence.push_back(
          evidence(*latest, f.label + ": " + observation_value_text(*latest->r), latest_set));
    } else if (!unconfirmed.empty()) {
      // Only an unconfirmed diagnosis would make it true: not established, not ruled out.
      fact.truth = Truth::kUnknown;
      fact.evidence = unconfirmed;
      if (latest != nullptr) {
        fact.evidence.push_back(evidence(*latest, f.label + ": no", latest_set));
      }
      for (const Evidence& e : unconfirmed) fact.notes.push_back(e.text);
    } else if (has_classification && !classified_ev.empty()) {
      fact.truth = classified;
      fact.evidence = classified_ev;
    } else if (f.closed_world) {
      fact.truth = Truth::kFalse;
      fact.notes.push_back("Nothing in the record indicates " + f.label + "; taken as no.");
    }
    fact.display = yes_no(fact.truth);
    return fact;
  }

  // ---- measures ----

  fhir::QuantityReading read_value(const Json& value_holder, std::string_view unit) const {
    if (const Json* q = member(value_holder, "valueQuantity")) {
      return fhir::read_quantity(*q, unit, d_.conversions);
    }
    fhir::QuantityReading r;
    const Json* i = member(value_holder, "valueInteger");
    if (i != nullptr && i->IsInt64() && unit == "1") {
      r.value = fhir::Interval::point(static_cast<double>(i->GetInt64()));
      r.text = std::to_string(i->GetInt64());
      return r;
    }
    r.problem = "no valueQuantity";
    return r;
  }

  Fact latest_quantity(const FactDef& f, const Source& src, Fact fact) {
    const Item* latest = nullptr;
    fhir::QuantityReading latest_reading;
    for (const Item& item : observations()) {
      const Json* code = item.code;
      if (code == nullptr || !has(src.codes, item)) continue;
      fhir::QuantityReading q = read_value(*item.r, f.unit);
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

  struct LesionMeasurement {
    const Item* item;
    std::string lesion;  // "" for the unfocused series
    fhir::QuantityReading reading;
    const CodeSet* code = nullptr;  // the size pattern's code that matched
    // The lesion's location is coded but not placed in or outside the organ: it may be a
    // lesion of the organ (never dropped; it makes what it could change unknown).
    bool unplaced = false;
    std::string location;  // the unplaced location, for people
  };

  // The size measurements of lesions in the source's organ, in input order.
  std::vector<LesionMeasurement> lesion_measurements(const FactDef& f, const Source& src) {
    std::vector<LesionMeasurement> out;
    const detail::Organ& organ = d_.organs[src.organ];
    const bool order_treats_organ = order_organ_ == &organ;
    for (const Item& item : observations()) {
      const Json* code = item.code;
      if (code == nullptr) continue;
      const detail::SizePattern* pattern = nullptr;
      for (const auto& p : src.sizes) {
        if (has(p.code, item)) {
          pattern = &p;
          break;
        }
      }
      if (pattern == nullptr) continue;

      // Which lesion, and is it in this organ?
      std::string lesion;
      bool unplaced = false;
      std::string location_text;
      auto focus = fhir::items(member(*item.r, "focus"));
      if (!focus.empty()) {
        const Json& ref = focus[0];
        const Json* target = record_.resolve(ref, item.r);
        if (target != nullptr &&
            string_or_empty(member(*target, "resourceType")) == "BodyStructure") {
          const Json* location = member(*target, "location");
          if (location != nullptr && organ.locations.matches(*location)) {
            // in the organ
          } else if (location != nullptr && d_.placed(*location)) {
            continue;  // another organ's (or site's) lesion
          } else if (!order_treats_organ) {
            continue;
          } else if (location != nullptr) {
            unplaced = true;
            location_text = coding_text(location, nullptr);
            if (location_text.empty()) location_text = "uncoded location";
          }
          lesion = ResourceIndex::key_of(*target);
        } else {
          // Cannot be resolved: still a distinct lesion, in the organ the order treats.
          if (!order_treats_organ) continue;
        }
        if (lesion.empty()) lesion = std::string(string_or_empty(member(ref, "reference")));
        if (lesion.empty()) {
          lesion = std::string(string_or_empty(member(member(ref, "identifier"), "value")));
        }
        if (lesion.empty()) lesion = fhir::to_string(ref);
      } else if (!order_treats_organ) {
        continue;  // unfocused: read as the treated organ's lesion
      } else if (const Json* body_site = member(*item.r, "bodySite");
                 body_site != nullptr && body_site->IsObject()) {
        // Unfocused, but the Observation says where it measured (Observation.bodySite, a
        // CodeableConcept).
        const Json& site = *body_site;
        if (organ.locations.matches(site)) {
          // the treated organ: the unfocused series
        } else if (d_.placed(site)) {
          continue;  // measured in another organ
        } else {
          unplaced = true;
          location_text = coding_text(&site, nullptr);
          if (location_text.empty()) location_text = "uncoded body site";
          lesion = item.ref();  // its own lesion: it may or may not be the organ's
        }
      }

      const Json* holder = item.r;
      if (!pattern->component.empty()) {
        holder = nullptr;
        for (const Json& comp : fhir::items(member(*item.r, "component"))) {
          const Json* ccode = member(comp, "code");
          if (ccode != nullptr && pattern->component.matches(*ccode)) {
            holder = &comp;
            break;
          }
        }
      }
      fhir::QuantityReading reading;
      if (holder == nullptr) {
        reading.problem = "no longest-dimension component";
      } else {
        reading = read_value(*holder, f.unit);
      }
      out.push_back(LesionMeasurement{&item, std::move(lesion), std::move(reading), &pattern->code,
                                      unplaced, std::move(location_text)});
    }
    return out;
  }

  static std::string lesion_text(const std::string& lesion) {
    return lesion.empty() ? "no focus" : lesion;
  }

  // The latest usable measurement per lesion, in order of first appearance; unusable ones
  // are noted.
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

  static std::string unplaced_text(const LesionMeasurement& m, const detail::Organ& organ) {
    const std::string what = m.lesion == m.item->ref() ? "a lesion" : m.lesion;
    return m.item->ref() + " measures " + what + " (" + m.reading.text + ") at '" + m.location +
           "', which the service cannot place in or outside the " + organ.label + "; it may be a " +
           organ.label + " lesion";
  }

  Fact largest_lesion(const FactDef& f, const Source& src, Fact fact) {
    const detail::Organ& organ = d_.organs[src.organ];
    std::vector<LesionMeasurement> all = lesion_measurements(f, src);
    std::vector<const LesionMeasurement*> unplaced;
    for (const LesionMeasurement* m : latest_per_lesion(all, fact)) {
      if (m->unplaced) {
        unplaced.push_back(m);
        continue;
      }
      fact.measure = fact.measure ? max_of(*fact.measure, *m->reading.value) : *m->reading.value;
      fact.evidence.push_back(
          evidence(*m->item, "Tumor size " + m->reading.text + " (" + lesion_text(m->lesion) + ")",
                   m->code));
    }
    // A lesion that may or may not be in the organ: the largest is either what the placed
    // lesions give or the larger of that and this lesion. Never dropped.
    for (const LesionMeasurement* m : unplaced) {
      fact.evidence.push_back(evidence(*m->item,
                                       "Tumor size " + m->reading.text + " (" + m->lesion +
                                           ", location not placed: " + m->location + ")",
                                       m->code));
      if (!fact.measure) {
        fact.notes.push_back(unplaced_text(*m, organ) + "; with no other measured " + organ.label +
                             " lesion the largest lesion is not determined.");
        continue;
      }
      fhir::Interval hull = *fact.measure;
      const fhir::Interval& v = *m->reading.value;
      if (v.high > hull.high || (v.high == hull.high && v.high_closed && !hull.high_closed)) {
        hull.high = v.high;
        hull.high_closed = v.high_closed;
        fact.notes.push_back(unplaced_text(*m, organ) + ", so the largest lesion is taken as " +
                             format_measure(hull, f.unit) + " until its location is documented.");
        fact.measure = hull;
      } else {
        fact.notes.push_back(unplaced_text(*m, organ) + "; it is not larger than the largest " +
                             organ.label + " lesion, so it does not change it.");
      }
    }
    return fact;
  }

  Fact lesion_count(const FactDef& f, const Source& src, Fact fact) {
    // 1. An explicit count: the latest usable one wins.
    Source explicit_src;
    explicit_src.codes = src.count_codes;
    fact = latest_quantity(f, explicit_src, std::move(fact));
    if (fact.measure) return fact;

    // 2. Distinct lesions: BodyStructures located in the organ, or distinct foci of the
    //    organ's size observations, whichever is more. Unfocused sizes never add. Measured
    //    lesions whose location cannot be placed may add one each.
    const detail::Organ& organ = d_.organs[src.organ];
    std::set<std::string> structures;
    std::vector<Evidence> structure_ev;
    for (const Item& bs : body_structures()) {
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
      if (structures.insert(key).second) {
        structure_ev.push_back(
            evidence_coded(bs, "Lesion in " + coding_text(location, &organ.locations), location,
                           &organ.locations));
      }
    }
    std::set<std::string> foci;
    std::vector<Evidence> focus_ev;
    std::vector<const LesionMeasurement*> unplaced;
    std::set<std::string> unplaced_seen;
    std::vector<LesionMeasurement> measured;
    if (src.size_fact != detail::kNone) {
      const FactDef& size_fact = d_.facts[src.size_fact];
      measured = lesion_measurements(size_fact, size_fact.sources[0]);
      for (const LesionMeasurement& m : measured) {
        if (m.lesion.empty() || m.lesion == m.item->ref()) continue;  // unfocused: never adds
        if (m.unplaced) {
          if (unplaced_seen.insert(m.lesion).second) unplaced.push_back(&m);
          continue;
        }
        if (foci.insert(m.lesion).second) {
          focus_ev.push_back(evidence(*m.item, "Measured lesion " + m.lesion, m.code));
        }
      }
    }
    const size_t n = std::max(structures.size(), foci.size());
    if (n > 0) {
      fact.measure = fhir::Interval::point(static_cast<double>(n));
      fact.evidence = structures.size() >= foci.size() ? structure_ev : focus_ev;
      fact.notes.push_back("Counted " + std::to_string(n) + " distinct lesion(s) in the " +
                           organ.label + " from the record; no explicit lesion count.");
    }
    if (!unplaced.empty()) {
      for (const LesionMeasurement* m : unplaced) {
        fact.evidence.push_back(
            evidence(*m->item,
                     "Measured lesion " + m->lesion + " (location not placed: " + m->location + ")",
                     m->code));
        fact.notes.push_back(m->item->ref() + " measures " + m->lesion + " at '" + m->location +
                             "', which the service cannot place in or outside the " + organ.label +
                             "; it may be one more " + organ.label + " lesion.");
      }
      if (n == 0) {
        fact.measure.reset();
      } else {
        fhir::Interval range = *fact.measure;
        range.high += static_cast<double>(unplaced.size());
        fact.measure = range;
      }
    }
    return fact;
  }

  Fact measure(const FactDef& f) {
    Fact fact = Fact::measured(f.id, std::nullopt, f.unit);
    const Source& src = f.sources[0];
    switch (src.rule) {
      case Rule::kLatestQuantity:
        fact = latest_quantity(f, src, std::move(fact));
        break;
      case Rule::kLargestLesion:
        fact = largest_lesion(f, src, std::move(fact));
        break;
      case Rule::kLesionCount:
        fact = lesion_count(f, src, std::move(fact));
        break;
      default:
        break;
    }
    fact.display = format_measure(fact.measure, f.unit);
    return fact;
  }

  // ---- ordinal ----

  Fact ordinal(const FactDef& f) {
    Fact fact;
    fact.id = f.id;
    fact.kind = FactKind::kOrdinal;
    const Item* latest = nullptr;
    const detail::OrdinalValue* latest_value = nullptr;
    for (const Item& item : observations()) {
      const Json* code = item.code;
      if (code == nullptr) continue;
      bool ours = std::any_of(f.sources.begin(), f.sources.end(),
                              [&](const Source& s) { return has(s.codes, item); });
      if (!ours) continue;
      const Json* cc = member(*item.r, "valueCodeableConcept");
      const detail::OrdinalValue* value = nullptr;
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

  // ---- category (tumor type) ----

  struct Assessment {
    std::map<std::string, Truth> members;
    bool yields = false;
    bool unconfirmed = false;  // names what it would establish, but is not confirmed
    Evidence ev;
  };

  Assessment blank(const FactDef& f) const {
    Assessment a;
    for (const auto& m : f.members) a.members[m.id] = Truth::kFalse;
    return a;
  }

  // The primary class of a Condition (by code), or nullptr.
  static const detail::PrimaryClass* primary_class(const detail::Metastases& mets,
                                                   const Json& condition) {
    const Json* pcode = member(condition, "code");
    if (pcode == nullptr) return nullptr;
    for (const auto& pc : mets.primaries) {
      if (pc.codes.matches(*pcode)) return &pc;
    }
    return nullptr;
  }

  Assessment metastasis(const FactDef& f, const Source& src, const Item& c, Fact& fact) {
    const detail::Metastases& mets = src.metastases;
    Assessment a = blank(f);
    const Json* code = c.code;
    std::string text;
    if (has(mets.codes, c)) {
      text = "Condition " + coding_text(code, &mets.codes);
      a.ev = evidence(c, "", &mets.codes);
    } else {
      const auto* p = matching_pattern(c, mets.post_coordinated);
      text = "Condition " + pattern_text(c);
      a.ev = evidence(c, "", p != nullptr ? &p->codes : nullptr);
    }
    auto finish = [&](std::string t) {
      a.ev.text = std::move(t);
      return a;
    };

    // 1. The primary named by a primary-link extension (mCODE STU1 related-primary, or the
    //    core condition-related of mCODE STU2 and later).
    const Json* linked = nullptr;
    for (const Json& ext : fhir::items(member(*c.r, "extension"))) {
      std::string_view url = string_or_empty(member(ext, "url"));
      if (std::find(mets.extension_urls.begin(), mets.extension_urls.end(), url) ==
          mets.extension_urls.end()) {
        continue;
      }
      const Json* ref = member(ext, "valueReference");
      const Json* target = ref != nullptr ? record_.resolve(*ref, c.r) : nullptr;
      if (target != nullptr && string_or_empty(member(*target, "resourceType")) == "Condition" &&
          !d_.is_void(*target, "linked-primary")) {
        linked = target;
        break;
      }
    }
    if (linked != nullptr) {
      std::string primary_text =
          ResourceIndex::key_of(*linked) + " " + coding_text(member(*linked, "code"), nullptr);
      if (const detail::PrimaryClass* pc = primary_class(mets, *linked)) {
        if (d_.is_unconfirmed(*linked)) {
          a.members[pc->member] = Truth::kUnknown;
          fact.notes.push_back(c.ref() + ": related primary " + primary_text +
                               " is not confirmed; the origin of the liver metastases is not "
                               "established");
          return finish(text + "; primary " + primary_text + " (related primary, unconfirmed)");
        }
        a.members[pc->member] = Truth::kTrue;
        return finish(text + "; primary " + primary_text + " (related primary)");
      }
      fact.notes.push_back(c.ref() + ": related primary " + primary_text +
                           " is not a recognised primary cancer of liver metastases (a liver "
                           "malignancy is never their origin); primary taken as unknown");
      for (const auto& m : mets.unknown_primary) a.members[m] = Truth::kUnknown;
      return finish(text + "; primary " + primary_text + " not recognised");
    }

    // 2. Another active primary cancer Condition of the patient (a liver malignancy is
    //    never one: the primaries lists leave C22 out).
    std::vector<std::string> classes;
    std::string found;
    bool all_unconfirmed = true;
    for (const Item& other : conditions()) {
      if (other.r == c.r) continue;
      if (const detail::PrimaryClass* pc = primary_class(mets, *other.r)) {
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
      return finish(text + "; primary " + found + " (active primary Condition)");
    }
    if (classes.size() == 1) {
      a.members[classes[0]] = Truth::kUnknown;
      fact.notes.push_back(c.ref() + ": the only primary cancer in the record (" + found +
                           ") is not confirmed; the origin of the liver metastases is not "
                           "established");
      return finish(text + "; unconfirmed primary " + found);
    }
    if (classes.size() > 1) {
      for (const auto& m : classes) a.members[m] = Truth::kUnknown;
      fact.notes.push_back(c.ref() + ": several active primary cancers (" + found +
                           ") and no primary-cancer link; the origin of the liver metastases is "
                           "not determined");
      return finish(text + "; several active primary cancers: " + found);
    }
    for (const auto& m : mets.unknown_primary) a.members[m] = Truth::kUnknown;
    return finish(text + "; primary unknown");
  }

  // A Condition coded only in systems the mappings do not know (an EHR-local code without
  // ICD-10-CM or SNOMED CT): the service cannot read what it names, and says so.
  void note_unreadable(const Item& c, Fact& fact) const {
    if (c.codings.empty() && c.code == nullptr) return;
    for (const Coding& coding : c.codings) {
      if (std::find(d_.known_systems.begin(), d_.known_systems.end(), coding.system) !=
          d_.known_systems.end()) {
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

  Fact category(const FactDef& f) {
    Fact fact;
    fact.id = f.id;
    fact.kind = FactKind::kCategory;
    std::vector<Assessment> found;
    for (const Source& src : f.sources) {
      if (src.rule != Rule::kConditionCategory) continue;
      for (const Item& c : conditions()) {
        const Json* code = c.code;
        if (code == nullptr) continue;
        const detail::Diagnosis* dx = nullptr;
        const detail::ConditionPattern* dx_pattern = nullptr;
        for (const auto& candidate : src.diagnoses) {
          if (has(candidate.codes, c)) {
            dx = &candidate;
            break;
          }
        }
        if (dx == nullptr) {
          for (const auto& candidate : src.diagnoses) {
            if ((dx_pattern = matching_pattern(c, candidate.post_coordinated)) != nullptr) {
              dx = &candidate;
              break;
            }
          }
        }
        std::optional<Assessment> a;
        if (dx == nullptr && !src.metastases.present) continue;
        if (dx == nullptr && !has(src.metastases.codes, c) &&
            matching_pattern(c, src.metastases.post_coordinated) == nullptr) {
          note_unreadable(c, fact);
          continue;
        }
        if (dx != nullptr) {
          a = blank(f);
          if (!dx->member.empty()) a->members[dx->member] = Truth::kTrue;
          for (const auto& m : dx->unknown) a->members[m] = Truth::kUnknown;
          a->yields = dx->yields_to_definite;
          a->ev = dx_pattern != nullptr
                      ? evidence(c, "Condition " + pattern_text(c) + " (post-coordinated)",
                                 &dx_pattern->codes)
                      : evidence(c, "Condition " + coding_text(code, &dx->codes), &dx->codes);
        } else if (src.metastases.present &&
                   (has(src.metastases.codes, c) ||
                    matching_pattern(c, src.metastases.post_coordinated) != nullptr)) {
          a = metastasis(f, src, c, fact);
          const bool determined =
              std::any_of(a->members.begin(), a->members.end(),
                          [](const auto& m) { return m.second == Truth::kTrue; });
          a->yields = !determined && src.metastases.undetermined_yields;
        }
        if (!a) continue;
        if (c.unconfirmed) {
          // Names a tumor type without establishing it: what it would make true is unknown.
          for (auto& [id, t] : a->members) {
            if (t == Truth::kTrue) t = Truth::kUnknown;
          }
          a->unconfirmed = true;
          a->yields = false;
          a->ev.text = unconfirmed_text(c);
        }
        found.push_back(std::move(*a));
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
    const bool definite = std::any_of(found.begin(), found.end(), [](const Assessment& a) {
      return std::any_of(a.members.begin(), a.members.end(),
                         [](const auto& m) { return m.second == Truth::kTrue; });
    });
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
    std::string yes, maybe;
    for (const auto& m : f.members) {
      Truth t = fact.categories[m.id];
      if (t == Truth::kTrue) yes += (yes.empty() ? "" : "; ") + m.label;
      if (t == Truth::kUnknown) maybe += (maybe.empty() ? "" : ", ") + m.label;
    }
    if (!yes.empty()) {
      fact.display = yes;
      if (!maybe.empty()) fact.display += "; possibly " + maybe;
    } else if (!maybe.empty()) {
      fact.display = "not determined (" + maybe + ")";
    } else {
      fact.display = "none";
    }
    return fact;
  }

  const MappingSet::Data& d_;
  const ResourceIndex& record_;
  const OrderContext& order_;
  const detail::Organ* order_organ_ = nullptr;
  std::string patient_id_;
  std::optional<std::vector<Item>> observations_, conditions_, body_structures_;
};

}  // namespace

FactSheet MappingSet::extract(const fhir::ResourceIndex& record, const OrderContext& order,
                              std::span<const std::string> fact_ids) const {
  Extractor x(*data_, record, order);
  FactSheet sheet;
  for (const std::string& id : fact_ids) {
    const FactDef* f = data_->fact(id);
    if (f == nullptr) continue;
    Fact fact = x.evaluate(*f);
    detail::read_questionnaire_answer(*data_, record, x.patient(), *f, fact);
    sheet.put(std::move(fact));
  }
  return sheet;
}

}  // namespace cryo::mappings
