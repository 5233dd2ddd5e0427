// The parsed form of mappings/data: fact definitions and shared reading rules.
//
// Internal to mappings/: built once by MappingSet::load() (loader.cc), read by extraction
// (extract.cc and mappings/rules/), document search and coverage reading. Every code set is built
// at load time.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fhir/coding.h"
#include "fhir/json.h"
#include "fhir/quantity.h"
#include "mappings/fact.h"
#include "mappings/mapping_set.h"

namespace cryo::mappings::detail {

inline constexpr size_t kNone = static_cast<size_t>(-1);

// The kinds of rule a fact source may use; each is implemented once, in its own file under
// mappings/rules/ (mappings/detail/extraction.h).
enum class Rule : unsigned char {
  kBooleanObservation,       // Observation with the code: valueBoolean or yes/no answer
  kCodedObservation,         // Observation with the code: valueCodeableConcept in true/false
  kFindingObservation,       // Observation whose code is the finding: true unless it says no
  kConditionPresence,        // an active Condition with the code makes the fact true
  kOrderReason,              // the order's reasonCode holds the code: true
  kConditionClassification,  // active Conditions of a family classify true/false/unknown
  kLatestQuantity,           // latest usable quantity of an Observation with the code
  kLargestLesion,            // largest lesion of an organ, latest per lesion
  kLesionCount,              // explicit count, else distinct lesions of an organ
  kOrdinalObservation,       // Observation valueCodeableConcept on the fact's ordinal scale
  kConditionCategory,        // category members from diagnoses (tumor type)
};

// A Condition shape beyond its code: an mCODE post-coordinated diagnosis (a generic code such
// as 363346000 "malignant neoplastic disease" whose histology-morphology-behavior extension
// and bodySite say what and where).
struct ConditionPattern {
  fhir::CodeSet codes;       // Condition.code
  fhir::CodeSet morphology;  // the morphology extension's value; empty: not checked
  fhir::CodeSet body_sites;  // Condition.bodySite; empty: not checked
};

struct SizePattern {
  fhir::CodeSet code;       // Observation.code
  fhir::CodeSet component;  // empty: the Observation's own valueQuantity
};

struct Diagnosis {
  fhir::CodeSet codes;
  std::vector<ConditionPattern> post_coordinated;  // further shapes read as this diagnosis
  std::string member;                              // definite: this member true, the others false
  std::vector<std::string> unknown;  // indeterminate: these members unknown, the others false
  bool yields_to_definite = false;   // ignored when a definite diagnosis is present
};

struct PrimaryClass {
  std::string member;
  fhir::CodeSet codes;
};

struct Metastases {
  bool present = false;
  fhir::CodeSet codes;
  std::vector<ConditionPattern> post_coordinated;
  std::vector<std::string> extension_urls;  // primary-link extensions (mCODE STU1, core)
  std::vector<PrimaryClass> primaries;
  std::vector<std::string> unknown_primary;
  bool undetermined_yields = false;  // an undetermined primary yields to a definite diagnosis
};

struct Source {
  Rule rule = Rule::kBooleanObservation;
  fhir::CodeSet codes;
  fhir::CodeSet true_codes;
  fhir::CodeSet false_codes;
  fhir::CodeSet family;
  std::vector<ConditionPattern> post_coordinated;  // kConditionPresence: further shapes
  size_t organ = kNone;                            // index into Model::organs
  std::vector<SizePattern> sizes;                  // kLargestLesion
  fhir::CodeSet count_codes;                       // kLesionCount
  size_t size_fact = kNone;          // kLesionCount: the largest-lesion fact it reuses
  std::vector<Diagnosis> diagnoses;  // kConditionCategory
  Metastases metastases;             // kConditionCategory
};

struct Member {
  std::string id;
  std::string label;
};

struct OrdinalValue {
  std::string value;
  fhir::CodeSet codes;
  std::optional<fhir::Interval> ranks;  // nullopt: the value means "cannot be assessed"
};

struct FactDef {
  std::string id;
  std::string label;
  FactKind kind = FactKind::kBoolean;
  std::string unit;
  bool closed_world = false;
  std::vector<Member> members;       // kCategory
  std::vector<std::string> scale;    // kOrdinal: ranks in order
  std::vector<OrdinalValue> values;  // kOrdinal
  std::vector<Source> sources;
};

struct Organ {
  std::string id;
  std::string label;
  fhir::CodeSet billing;
  fhir::CodeSet locations;
};

struct FieldRule {
  std::string field;
  std::vector<std::string> values;
};

struct StatusRule {
  std::string resource_type;
  std::string use;  // "" for the general rule; e.g. "linked-primary"
  std::vector<FieldRule> void_when;
  std::vector<FieldRule> valid_only;
  std::vector<FieldRule> unconfirmed_when;  // the resource stands but does not establish
};

// A report category that makes a DiagnosticReport count as a document type.
struct DocumentCategory {
  std::string resource_type;  // "DiagnosticReport"
  fhir::CodeSet categories;   // e.g. LOINC LP29684-5, v2-0074 RAD
  std::string document_type;  // the LOINC document type it counts as, e.g. "18748-4"
};

// Answers of completed questionnaires (DTR) read as evidence: an item whose linkId is a fact
// id answers that fact; one whose linkId is the prefix + a LOINC document type supplies that
// document.
struct QuestionnaireAnswers {
  bool enabled = false;
  std::vector<std::string> statuses;  // QuestionnaireResponse.status values read
  std::string document_prefix;        // "document-"
};

struct CoverageRules {
  std::vector<std::string> types;  // the generic lines of business ("commercial", ...)
  std::string plan_system;
  std::string plan_code;
  std::vector<std::string> type_systems;
  std::vector<std::pair<std::string, std::string>> type_prefixes;  // prefix -> line of business
  std::string default_line;
};

}  // namespace cryo::mappings::detail

namespace cryo::mappings {

struct MappingSet::Data {
  std::vector<detail::FactDef> facts;
  std::unordered_map<std::string, size_t> fact_index;
  std::vector<detail::Organ> organs;
  fhir::CodeSet other_locations;  // lesion locations known to lie outside every organ
  std::vector<detail::StatusRule> status_rules;
  std::string morphology_extension;        // mCODE histology-morphology-behavior extension URL
  std::vector<std::string> known_systems;  // every code system URL of systems.json (and `also`)
  std::vector<detail::DocumentCategory> document_categories;
  fhir::CodeSet yes;
  fhir::CodeSet no;
  std::vector<fhir::UnitConversion> conversions;
  std::string document_system;
  detail::CoverageRules coverage;
  detail::QuestionnaireAnswers questionnaire_answers;
  std::vector<PrefetchTemplate> prefetch;
  std::vector<CriteriaConcept> concepts;
  std::string criteria_system;
  std::string criteria_codesystem_json;

  const detail::FactDef* fact(std::string_view id) const {
    auto it = fact_index.find(std::string(id));
    return it == fact_index.end() ? nullptr : &facts[it->second];
  }

  // Whether a status rule makes `resource` void. `use` selects a special-purpose rule
  // (falling back to the general rule for the type when there is none).
  bool is_void(const fhir::Json& resource, std::string_view use = {}) const;
  // Whether a status rule says the resource is unconfirmed (a provisional, differential or
  // unconfirmed Condition): it stands, but does not establish what it names.
  bool is_unconfirmed(const fhir::Json& resource) const;
  // Whether a lesion location is known: in some organ, or at a site outside every organ.
  bool placed(const fhir::Json& location) const;

  // The organ an order's billing code treats, or nullptr.
  const detail::Organ* organ_for_billing(std::string_view cpt) const;
};

}  // namespace cryo::mappings

namespace cryo::mappings::detail {

// questionnaire_answers.cc: an answer in the record's questionnaire responses for a fact the
// rest of the record left unknown replaces `fact`; documents supplied as attachments count
// as found.
void read_questionnaire_answer(const MappingSet::Data& d, const fhir::ResourceIndex& record,
                               std::string_view patient_id, const FactDef& f, Fact& fact);
void read_questionnaire_documents(const MappingSet::Data& d, const fhir::ResourceIndex& record,
                                  std::string_view patient_id, const fhir::DateRange& window,
                                  std::vector<DocumentFinding>& findings);

}  // namespace cryo::mappings::detail
