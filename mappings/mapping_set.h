// MappingSet: the FHIR -> fact mappings, loaded from data files, and the code that applies them.
//
// The mappings (mappings/data/*.json) say, for every fact a policy may use, which resources
// and codes speak to it and how (a boolean observation, a coded observation, the largest
// measured lesion in an organ, a lesion count, a category derived from diagnoses, an ordinal
// stage ...), plus the reading rules shared by all facts: which statuses void a resource,
// which units convert, which billing codes treat which organ. The C++ here implements each
// kind of rule once; codes, thresholds of recognition and fact names are all data, so a
// policy analyst can add a code or a fact without a compiler.
//
//   Result<MappingSet> m = MappingSet::load("mappings/data");
//   OrderContext order{&service_request, "47383", dos};
//   FactSheet facts = m->extract(index, order, {"unresectable", "largest-liver-lesion"});
//   std::vector<DocumentFinding> docs = m->find_documents(index, {"28626-0"}, window);
//
// Thread safety: immutable after load(); extract() and find_documents() may run concurrently.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "fhir/datetime.h"
#include "fhir/json.h"
#include "fhir/prefetch_template.h"
#include "fhir/resource_index.h"
#include "mappings/coverage_reader.h"
#include "mappings/fact.h"

namespace cryo::mappings {

// The order a determination is made for.
struct OrderContext {
  const fhir::Json* order = nullptr;  // the draft ServiceRequest (may be null in unit tests)
  std::string billing_code;           // the CPT code the policy is keyed on, e.g. "47383"
  fhir::DateRange date_of_service;    // see date_of_service() below
};

// Whether a required document type was found in the record within the window.
struct DocumentFinding {
  std::string code;  // the LOINC document type asked for, e.g. "28626-0"
  bool found = false;
  std::string reference;  // the latest matching DocumentReference/DiagnosticReport
  std::string date;       // its clinical date as written
  std::vector<std::string> outside_window;  // "DocumentReference/x (2024-01-02)": too old/new
};

// One prefetch template the service declares in discovery (fhir/prefetch_template.h).
using fhir::PrefetchTemplate;

// A code of the service's own criteria CodeSystem.
struct CriteriaConcept {
  std::string code;
  std::string display;
  std::string definition;
};

class MappingSet {
 public:
  MappingSet();
  ~MappingSet();
  MappingSet(MappingSet&&) noexcept;
  MappingSet& operator=(MappingSet&&) noexcept;

  // Loads and validates every *.json file in `dir`. Errors name the file, the field (JSON
  // path) and the problem.
  static Result<MappingSet> load(const std::filesystem::path& dir);

  // Facts with the given ids for one order. Ids the mappings do not define are skipped (the
  // policy loader checks ids against has_fact() first).
  FactSheet extract(const fhir::ResourceIndex& record, const OrderContext& order,
                    std::span<const std::string> fact_ids) const;

  // For each LOINC document type in `codes`: whether the record holds a valid document of
  // that type whose clinical date lies inside `window`.
  std::vector<DocumentFinding> find_documents(const fhir::ResourceIndex& record,
                                              std::span<const std::string> codes,
                                              const fhir::DateRange& window) const;
  // Same, for the patient `patient_id` (documents of other patients never count). The form
  // above takes the patient from the record's single Patient resource, if there is one.
  std::vector<DocumentFinding> find_documents(const fhir::ResourceIndex& record,
                                              std::span<const std::string> codes,
                                              const fhir::DateRange& window,
                                              std::string_view patient_id) const;

  // What the policy loader needs to validate criteria.
  bool has_fact(std::string_view id) const;
  std::optional<FactKind> fact_kind(std::string_view id) const;
  // For kMeasure facts: the unit thresholds are written in (e.g. "cm").
  std::string fact_unit(std::string_view id) const;
  // For kCategory facts: whether `member` is one of its categories.
  bool has_category(std::string_view id, std::string_view member) const;
  // For kOrdinal facts: the rank interval of a value of its scale ("T2" -> ranks of T2a..T2c).
  std::optional<fhir::Interval> ordinal_value(std::string_view id, std::string_view value) const;
  // A short human label for a fact ("Largest liver lesion"), for cards and the policy page.
  std::string fact_label(std::string_view id) const;
  // The answers a question about an ordinal or category fact offers (DTR questionnaires):
  // each scale value that can be assessed with its code, or each category member as a code
  // of the criteria CodeSystem; empty for other kinds.
  struct AnswerOption {
    std::string system;
    std::string code;
    std::string display;
  };
  std::vector<AnswerOption> answer_options(std::string_view id) const;

  // The generic coverage types a Coverage is read into ("commercial", "medicare-advantage",
  // "medicare", "medicaid"; data: mappings/data/coverage.json), which policies may name as
  // lines of business besides a payer's plan codes.
  const std::vector<std::string>& coverage_types() const;
  bool is_coverage_type(std::string_view type) const;

  // The prefetch templates to declare in discovery (data: mappings/data/prefetch.json).
  const std::vector<PrefetchTemplate>& prefetch_templates() const;

  // The service's criteria CodeSystem concepts (data: mappings/data/criteria-codesystem.json).
  const std::vector<CriteriaConcept>& criteria_concepts() const;
  // The criteria CodeSystem resource as stored (FHIR JSON), to serve at GET /CodeSystem/criteria,
  // and its canonical URL.
  const std::string& criteria_codesystem_json() const;
  const std::string& criteria_system() const;

  // The organ an order's billing code treats ("liver", "kidney", ...), or "" when none.
  std::string organ_for_billing_code(std::string_view cpt) const;

  // The billing codes (CPT) an order carries: code.coding[] with the CPT system, plus the
  // CRD billing-options extension on `code`.
  static std::vector<std::string> billing_codes(const fhir::Json& order);

  // The order's date of service: occurrenceDateTime, occurrencePeriod.start,
  // occurrenceTiming.event[0], else authoredOn, else `received` (the day the hook arrived).
  static fhir::DateRange date_of_service(const fhir::Json& order, fhir::Instant received);

 private:
  friend CoverageReading read_coverage(const fhir::ResourceIndex& record,
                                       const MappingSet& mappings);

 public:
  struct Data;  // parsed data files (mappings/detail/model.h); opaque to other modules

 private:
  std::unique_ptr<Data> data_;
};

}  // namespace cryo::mappings
