// Policy: one payer policy document, parsed from policies/data/<file>.json (internal to
// policies/; other modules see the opaque `Policy` and PolicyLibrary's accessors).
//
// The file format is described in docs/policy-format.md. parse_policy() checks every key,
// every fact against the FactVocabulary, every code reference and every threshold's
// plausibility, and reports every problem with its line, column and JSON path. A file with
// several revisions gives one Policy per revision (same id, dates in effective_from/_to).
//
// Thread safety: immutable after parsing.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "mappings/fact.h"
#include "policies/fact_vocabulary.h"
#include "policies/policy_library.h"

namespace cryo::policies {

// One node of a criteria tree.
struct Criterion {
  enum class Kind : unsigned char { kAll, kAny, kNot, kBoolean, kCategory, kCompare };
  Kind kind = Kind::kBoolean;
  std::string label;                // for people; defaulted for all/any/not nodes
  std::string interpretation;       // a reading the policy analyst chose, if any
  std::vector<Criterion> children;  // kAll / kAny / kNot (exactly one)

  // Leaves.
  std::string fact;
  bool expected = true;              // kBoolean: "is": true | false
  std::vector<std::string> members;  // kCategory: "is" / "is_any"
  // kCompare: every comparison must hold (a "between" is two of them). Ordinal values are
  // already translated to ranks.
  std::vector<std::pair<mappings::Comparison, double>> comparisons;
  std::string condition;  // kCompare, for people: "≤ 5 cm", "between T1 and T3"
};

struct Procedure {
  std::string code;
  std::string organ;
  std::string display;
};

struct LobRule {
  enum class Outcome : unsigned char { kCriteria, kNotCovered, kProgramRule };
  std::string payer;                           // "" = every payer of the policy
  std::vector<std::string> lines_of_business;  // "*" = any
  std::vector<std::string> codes;              // empty = every code of the policy
  Outcome outcome = Outcome::kCriteria;
  std::string reason;
  std::string note;
  std::string interpretation;
};

struct Section {
  std::string id;
  std::string title;
  std::string organ;  // "" = any order of the policy
  bool has_indication = false;
  Criterion indication;
  std::vector<std::string> codes;
  Criterion criteria;
  std::string interpretation;
};

struct RequiredDocument {
  std::string title;
  std::vector<std::string> codes;
  bool has_condition = false;
  Criterion required_unless;  // not required when this is true
  std::string note;
};

struct Documentation {
  int window_months = 0;
  std::string window_note;
  std::vector<RequiredDocument> required_documents;
  std::vector<std::string> request_must_include;
  std::string note;
};

class Policy {
 public:
  std::string file;  // where it was loaded from, for messages
  std::string id;
  std::string title;
  std::string document;
  std::string source_file;
  std::string revision;
  std::string revision_note;
  std::string effective_from;  // "YYYY-MM-DD"; "" = since always
  std::string effective_to;    // "YYYY-MM-DD", inclusive; "" = until further notice
  std::vector<std::string> payers;
  std::vector<Procedure> procedures;
  std::vector<LobRule> lob_rules;
  std::vector<Section> sections;
  std::vector<std::string> prior_auth_codes;  // "*" = every code
  std::string prior_auth_note;
  Documentation documentation;
  std::vector<std::string> notices;
  std::vector<std::string> interpretation;

  // Derived at load.
  std::vector<std::string> facts_used;
  std::vector<std::string> document_codes;
  std::map<std::string, std::string> fact_labels;  // from the vocabulary
  // Every revision of the policy's file, oldest first: "2024-09-15 (from 2024-09-15)".
  std::vector<std::string> revision_history;

  // Whether this revision is in force on `day` ("YYYY-MM-DD"; "" = today's revision, the one
  // without an end).
  bool in_force(std::string_view day) const;

  const Procedure* procedure(std::string_view code) const;
  bool lists_code(std::string_view code) const { return procedure(code) != nullptr; }
  bool prior_auth_required(std::string_view code) const;
};

// Payer registry entries with their plans, as parsed from payers.json; problems go to `out`.
// `coverage_types` are the generic lines of business a plan may stand for
// (FactVocabulary::coverage_types()).
std::vector<Payer> parse_payers(const std::filesystem::path& file,
                                const std::vector<std::string>& coverage_types,
                                std::vector<PolicyProblem>& out);

// Parses and validates one policy file: one Policy per revision, or none when `out` received
// problems. `payers` are the registry's payers (each policy payer and each plan code it names
// must exist there).
std::vector<Policy> parse_policy(const std::filesystem::path& file,
                                 const std::vector<Payer>& payers, const FactVocabulary& vocabulary,
                                 std::vector<PolicyProblem>& out);

// The three-valued engine (engine.cc).
Determination evaluate_policy(const Policy& policy, const Payer& payer, std::string_view lob,
                              const mappings::OrderContext& order, const mappings::FactSheet& facts,
                              std::span<const mappings::DocumentFinding> documents);

// The policy page (policy_page.cc).
std::string render_policy_page(const Policy& policy, const std::vector<Payer>& payers);

}  // namespace cryo::policies
