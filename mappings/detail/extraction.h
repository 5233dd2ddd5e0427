// What every fact-extraction rule shares, and the rules themselves.
//
// Internal to mappings/. MappingSet::extract (extract.cc) reads one call's record through a
// RecordView: the patient's Observations, Conditions and BodyStructures that pass the status
// rules, filtered once per call and shared by every rule. Each kind of rule (detail::Rule) is
// implemented once, in its own file under mappings/rules/, parameterised by the data.
//
// Thread safety: a RecordView belongs to one call (its caches fill on first use).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/coding.h"
#include "fhir/datetime.h"
#include "fhir/json.h"
#include "fhir/quantity.h"
#include "fhir/resource_index.h"
#include "mappings/detail/model.h"
#include "mappings/fact.h"
#include "mappings/mapping_set.h"

namespace cryo::mappings::detail {

// ---- the record as the rules read it (extract.cc) ----

struct Coding {
  std::string_view system;
  std::string_view code;
};

// A resource that passed the status rules and belongs to the patient, with its clinical date
// and its position in input order.
struct Item {
  const fhir::Json* r = nullptr;
  const fhir::Json* code = nullptr;  // r.code, looked up once
  std::vector<Coding> codings;       // r.code.coding[], read once for fast matching
  std::optional<fhir::DateRange> date;
  size_t pos = 0;
  bool unconfirmed = false;  // a provisional / differential / unconfirmed Condition
  std::string ref() const { return fhir::ResourceIndex::key_of(*r); }
  std::string date_text() const { return date ? date->text : std::string(); }
  std::string where() const {
    std::string s = ref();
    if (date) s += " (" + date->text + ")";
    return s;
  }
};

// Whether the item's code is in `set` (the precomputed form of set.matches(*item.code)).
inline bool has(const fhir::CodeSet& set, const Item& item) {
  for (const Coding& c : item.codings) {
    if (set.contains(c.system, c.code)) return true;
  }
  return false;
}

// Whether `candidate` (met later in input order) replaces `best` as the latest: a later
// clinical date, or an equal one (ties: the later in input order). Dated beats undated.
bool replaces(const Item& candidate, const Item* best);

// "C78.0 Secondary malignant neoplasm of lung": the matching coding (or the first), with its
// display, else the concept's text.
std::string coding_text(const fhir::Json* concept_json, const fhir::CodeSet* set);
// A post-coordinated Condition for people: its code and its first body site.
std::string pattern_text(const Item& c);
// Why an unconfirmed Condition does not establish what it names.
std::string unconfirmed_text(const Item& c);

// Evidence naming the resource and the coding that decided: the first coding of the item's
// code in `set` (or its first coding when no set is given).
Evidence evidence(const Item& item, std::string text, const fhir::CodeSet* set = nullptr);
// Evidence naming an explicit coding (e.g. a BodyStructure's location, a pattern's code).
Evidence evidence_coded(const Item& item, std::string text, const fhir::Json* concept_json,
                        const fhir::CodeSet* set);

class RecordView {
 public:
  RecordView(const MappingSet::Data& d, const fhir::ResourceIndex& record,
             const OrderContext& order);

  const MappingSet::Data& data() const { return d_; }
  const fhir::ResourceIndex& record() const { return record_; }
  const OrderContext& order() const { return order_; }
  // The organ the order's billing code treats, or nullptr.
  const Organ* order_organ() const { return order_organ_; }
  const std::string& patient() const { return patient_id_; }

  // The patient's valid resources of each type, in input order (read on first use).
  const std::vector<Item>& observations() { return valid("Observation", observations_); }
  const std::vector<Item>& conditions() { return valid("Condition", conditions_); }
  const std::vector<Item>& body_structures() { return valid("BodyStructure", body_structures_); }

  // Whether a Condition has the shape of a post-coordinated pattern: its code, and the
  // morphology extension and body site the pattern asks for.
  bool matches_pattern(const Item& c, const ConditionPattern& p) const;
  const ConditionPattern* matching_pattern(const Item& c,
                                           const std::vector<ConditionPattern>& patterns) const;

  // A yes/no answer concept: true, false, or nullopt when it is neither.
  std::optional<bool> answer(const fhir::Json* concept_json) const;

  // The valueQuantity (or, for unit "1", valueInteger) of an Observation or component, in
  // `unit`.
  fhir::QuantityReading read_value(const fhir::Json& value_holder, std::string_view unit) const;

 private:
  bool belongs(const fhir::Json& r) const;
  const std::vector<Item>& valid(std::string_view type, std::optional<std::vector<Item>>& cache);

  const MappingSet::Data& d_;
  const fhir::ResourceIndex& record_;
  const OrderContext& order_;
  const Organ* order_organ_ = nullptr;
  std::string patient_id_;
  std::optional<std::vector<Item>> observations_, conditions_, body_structures_;
};

// ---- boolean facts ----

// rules/boolean.cc: a boolean fact from all its sources. An active diagnosis or order reason
// makes it true; otherwise the latest usable Observation decides; an unconfirmed diagnosis
// leaves it unknown; then the Condition classification; a closed-world fact is otherwise
// false.
Fact boolean_fact(RecordView& x, const FactDef& f);

// rules/boolean_observation.cc: kBooleanObservation, kCodedObservation, kFindingObservation.
bool is_observation_rule(Rule r);
struct ObservedBoolean {
  const Item* item = nullptr;  // the latest usable Observation, or nullptr
  bool value = false;
  const fhir::CodeSet* codes = nullptr;  // the codes of the source that read it
};
// The latest usable Observation of the fact's observation sources; those without a usable
// value are noted on `fact`.
ObservedBoolean latest_observed_boolean(RecordView& x, const FactDef& f, Fact& fact);
// What an Observation's value says, for people: "yes", "no", its coding, or "recorded".
std::string observation_value_text(const RecordView& x, const fhir::Json& obs);

// rules/condition_presence.cc: kConditionPresence. Active Conditions with the codes (or a
// post-coordinated shape) go to `support`, unconfirmed ones to `unconfirmed`.
void condition_presence(RecordView& x, const Source& src, std::vector<Evidence>& support,
                        std::vector<Evidence>& unconfirmed);

// rules/order_reason.cc: kOrderReason. Each reasonCode of the order with the codes goes to
// `support`.
void order_reason(const RecordView& x, const Source& src, std::vector<Evidence>& support);

// rules/condition_classification.cc: kConditionClassification. Active Conditions of the
// family: true when one is a true code, false when all are false codes, else unknown.
Truth classify_conditions(RecordView& x, const Source& src, std::vector<Evidence>& ev);

// ---- measures ----

// rules/latest_quantity.cc: kLatestQuantity. The latest usable quantity of an Observation with
// the source's codes; unusable ones are noted.
Fact latest_quantity(RecordView& x, const FactDef& f, const Source& src, Fact fact);

// rules/lesion_measurements.cc: the size measurements of an organ's lesions, shared by
// kLargestLesion and kLesionCount.
struct LesionMeasurement {
  const Item* item;
  std::string lesion;  // "" for the unfocused series
  fhir::QuantityReading reading;
  const fhir::CodeSet* code = nullptr;  // the size pattern's code that matched
  // The lesion's location is coded but not placed in or outside the organ: it may be a
  // lesion of the organ (never dropped; it makes what it could change unknown).
  bool unplaced = false;
  std::string location;  // the unplaced location, for people
};
// The size measurements of lesions in the source's organ, in input order.
std::vector<LesionMeasurement> lesion_measurements(RecordView& x, const FactDef& f,
                                                   const Source& src);
// The latest usable measurement per lesion, in order of first appearance; unusable ones are
// noted.
std::vector<const LesionMeasurement*> latest_per_lesion(const std::vector<LesionMeasurement>& all,
                                                        Fact& fact);
// The lesion for people ("no focus" for the unfocused series).
std::string lesion_text(const std::string& lesion);

// rules/largest_lesion.cc: kLargestLesion.
Fact largest_lesion(RecordView& x, const FactDef& f, const Source& src, Fact fact);

// rules/lesion_count.cc: kLesionCount. An explicit count, else the distinct lesions of the
// organ.
Fact lesion_count(RecordView& x, const FactDef& f, const Source& src, Fact fact);

// ---- ordinal ----

// rules/ordinal.cc: kOrdinalObservation. The latest Observation whose value is on the fact's
// scale.
Fact ordinal_fact(RecordView& x, const FactDef& f);

// ---- category (tumor type) ----

// What one Condition says of each member of a category.
struct Assessment {
  std::map<std::string, Truth> members;
  bool yields = false;
  bool unconfirmed = false;  // names what it would establish, but is not confirmed
  Evidence ev;
};
// Every member false.
Assessment blank_assessment(const FactDef& f);

// rules/metastasis.cc: a metastasis Condition: its primary from a primary-link extension, else
// from the patient's other primary cancers, else unknown.
Assessment metastasis(RecordView& x, const FactDef& f, const Source& src, const Item& c,
                      Fact& fact);

// rules/category.cc: kConditionCategory. Each diagnosis (and metastasis) in the record
// assessed, then combined into the category's members.
Fact category_fact(RecordView& x, const FactDef& f);

}  // namespace cryo::mappings::detail
