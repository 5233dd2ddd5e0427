// PolicyLibrary: the payer registry and every payer policy, loaded from data files.
//
// policies/data/payers.json names each payer (id, display name, identifiers, plan codes and
// the line of business each stands for, how a Coverage without a plan code maps to a plan),
// and policies/data/<policy>.json each hold one policy document: source document and
// revision, lines of business rules, sections (indication, CPT codes, criteria tree),
// prior-authorization rule, documentation rules and interpretation notes. load() validates
// every file against the MappingSet (each fact id, category, unit and ordinal value must
// exist, thresholds must be plausible, sections reachable); check() reports every problem
// with file, line, column, field and reason, load() refuses a directory with any. A policy file
// may hold several revisions: policy_for() picks the one in force on the date of service.
//
// A hook call's orders are decided through one entry point, decide(): it plans the order (the
// policy revision in force on the date of service, for the first billing code a policy lists;
// the facts and documents that policy reads), asks the caller's RecordFacts for them, and
// evaluates:
//
//   Result<PolicyLibrary> lib = PolicyLibrary::load("policies/data", mappings);
//   const Payer* payer = lib->payer_for(coverage.payer_identifiers);
//   std::string lob = lib->line_of_business(*payer, coverage.plan_codes, coverage.coverage_type);
//   std::optional<OrderDecision> d = lib->decide(order, {payer, lob, received}, record_facts);
//
// The steps are public too (policy_for, facts_used, document_codes, document_window_months,
// evaluate), for the analyst's tools and tests that decide on given facts.
//
// Thread safety: immutable after load(); all methods may be called concurrently.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "fhir/datetime.h"
#include "mappings/coverage_reader.h"
#include "mappings/mapping_set.h"
#include "policies/determination.h"
#include "policies/fact_vocabulary.h"

namespace cryo::policies {

// A plan code of a payer (Coverage.class of type "plan") and what it stands for.
struct Plan {
  std::string code;           // "BCN65"
  std::string name;           // "BCN65 (Medicare complementary)"
  std::string coverage_type;  // "medicare"; "" for programs with their own rules (FEP, SAO)
};

struct Payer {
  std::string id;    // "florida-blue"
  std::string name;  // "Florida Blue"
  std::vector<mappings::Identifier> identifiers;
  std::vector<Plan> plans;  // plan codes the payer uses
  // Plan code a Coverage without a known plan code maps to, by coverage type
  // ("commercial" -> "BCN-HMO"); empty when the payer has none.
  std::map<std::string, std::string> default_plans;

  const Plan* plan(std::string_view code) const;
};

class Policy;  // opaque: the parsed policy document (policies/policy.h is internal)

// What the record says about an order, as decide() asks for it. The caller reads its record
// (the mappings over the call's FHIR resources); the library never reads FHIR.
class RecordFacts {
 public:
  virtual ~RecordFacts() = default;
  // The facts with these ids for the order (MappingSet::extract).
  virtual mappings::FactSheet facts(const mappings::OrderContext& order,
                                    std::span<const std::string> fact_ids) const = 0;
  // For each document type in `codes`, whether the record holds one dated within `months`
  // calendar months before the order's date of service (MappingSet::find_documents).
  virtual std::vector<mappings::DocumentFinding> documents(const mappings::OrderContext& order,
                                                           std::span<const std::string> codes,
                                                           int months) const = 0;
};

// What an order is decided under besides the order itself.
struct DecisionContext {
  const Payer* payer = nullptr;
  std::string_view line_of_business;
  fhir::Instant received;  // the hook's arrival: the date of service of an undated order
  // An advisory answer (CRD secondary hooks) asks for no documentation: doc-needed and
  // doc-purpose stay empty.
  bool asks_for_documentation = true;
  // What the record could not get from the EHR ("coverage: timed out after 1500 ms"): each is
  // a notice, and a conditional determination says the record was incomplete.
  std::span<const std::string> unreadable;
};

// The decision for one order.
struct OrderDecision {
  mappings::OrderContext context;  // the order, the billing code that decided, date of service
  mappings::FactSheet facts;       // what the record showed
  Determination determination;
};

// One problem in a policy or payer file, located.
struct PolicyProblem {
  std::string file;
  int line = 0;  // 1-based; 0 when the file could not be read at all
  int column = 0;
  std::string field;  // JSON path, e.g. "sections[0].criteria.all[1].value"; "" = the file
  std::string message;
  // "policies/data/x.json:12:9: sections[0].criteria.all[1].value: 700 is not ..."
  std::string to_string() const;
};

// Summary of a policy revision for listing and for the policy page.
struct PolicySummary {
  std::string id;
  std::string title;
  std::string document;
  std::string revision;
  std::string effective_from;  // "" = since always
  std::string effective_to;    // "" = until further notice
  std::vector<std::string> payer_ids;
  std::vector<std::string> billing_codes;
};

class PolicyLibrary {
 public:
  PolicyLibrary();
  ~PolicyLibrary();
  PolicyLibrary(PolicyLibrary&&) noexcept;
  PolicyLibrary& operator=(PolicyLibrary&&) noexcept;

  static Result<PolicyLibrary> load(const std::filesystem::path& dir,
                                    const mappings::MappingSet& mappings);
  // Same, validating against any fact vocabulary (tests, tools).
  static Result<PolicyLibrary> load(const std::filesystem::path& dir,
                                    const FactVocabulary& vocabulary);
  // Every problem of every file in `dir` (empty when load() would succeed).
  static std::vector<PolicyProblem> check(const std::filesystem::path& dir,
                                          const FactVocabulary& vocabulary);

  // The payer with one of these identifiers (system + value), or nullptr.
  const Payer* payer_for(std::span<const mappings::Identifier> identifiers) const;

  // The payer's policy that lists `billing_code`, in the revision in force on `day`
  // ("YYYY-MM-DD", the date of service; "" = the current revision), or nullptr (out of scope:
  // no card, also when no revision was in force that day).
  const Policy* policy_for(const Payer& payer, std::string_view billing_code,
                           std::string_view day = {}) const;

  // The line of business: a plan code the payer lists (e.g. "FEP", "BCN65"), else the
  // payer's default plan for the coverage type (e.g. BCN commercial -> "BCN-HMO"), else the
  // generic coverage type ("commercial", "medicare-advantage", "medicare", "medicaid").
  std::string line_of_business(const Payer& payer, std::span<const std::string> plan_codes,
                               std::string_view coverage_type) const;

  // Fact ids a policy's criteria and conditions use (what extract() must produce).
  std::span<const std::string> facts_used(const Policy& policy) const;
  // LOINC document codes a policy may check (what find_documents() must look for).
  std::span<const std::string> document_codes(const Policy& policy) const;
  // How many calendar months before the date of service a document may be dated
  // (fhir::months_before(dos, n) is the window for find_documents()); 0 when the policy
  // checks no documents.
  int document_window_months(const Policy& policy) const;
  // The policy's id, for logs and audit.
  static const std::string& policy_id(const Policy& policy);
  // Members of category fact `fact` that the policy's criteria name (tests build fact sheets
  // with them).
  std::vector<std::string> members_named(const Policy& policy, std::string_view fact) const;

  // The hash of the policy and mapping data this library decides with (policies/data_hash.h);
  // every Determination carries it. "" until set.
  void set_data_hash(std::string hash);
  const std::string& data_hash() const;

  // Decides one order of a hook call: the policy in force on its date of service for the first
  // of its billing codes that one lists, evaluated on what `record` says. nullopt when no
  // policy applies (the order is out of scope: no card, no annotation).
  std::optional<OrderDecision> decide(const fhir::Json& order, const DecisionContext& context,
                                      const RecordFacts& record) const;

  // Evaluates one order. `documents` are the findings for document_codes(policy).
  Determination evaluate(const Policy& policy, const Payer& payer, std::string_view lob,
                         const mappings::OrderContext& order, const mappings::FactSheet& facts,
                         std::span<const mappings::DocumentFinding> documents) const;

  std::vector<PolicySummary> summaries() const;

  // A readable HTML page of one policy (criteria, codes, documentation, source document,
  // interpretation notes), or "" when `policy_id` is unknown.
  std::string policy_page_html(std::string_view policy_id) const;

  const std::vector<Payer>& payers() const;

 private:
  static PolicyLibrary load_all(const std::filesystem::path& dir, const FactVocabulary& vocabulary,
                                std::vector<PolicyProblem>& problems);
  void adopt(std::vector<Payer> payers, std::vector<std::unique_ptr<Policy>> policies);
  struct Data;
  std::unique_ptr<Data> data_;
};

}  // namespace cryo::policies
