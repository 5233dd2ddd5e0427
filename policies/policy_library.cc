#include "policies/policy_library.h"

#include <algorithm>
#include <set>
#include <utility>

#include "base/text.h"
#include "fhir/datetime.h"
#include "policies/policy.h"

namespace cryo::policies {

const Plan* Payer::plan(std::string_view code) const {
  for (const Plan& p : plans) {
    if (p.code == code) return &p;
  }
  return nullptr;
}

struct PolicyLibrary::Data {
  std::vector<Payer> payers;
  std::vector<std::unique_ptr<Policy>> policies;  // every revision of every policy
  std::string data_hash;
};

PolicyLibrary::PolicyLibrary() : data_(std::make_unique<Data>()) {}
PolicyLibrary::~PolicyLibrary() = default;
PolicyLibrary::PolicyLibrary(PolicyLibrary&&) noexcept = default;
PolicyLibrary& PolicyLibrary::operator=(PolicyLibrary&&) noexcept = default;

Result<PolicyLibrary> PolicyLibrary::load(const std::filesystem::path& dir,
                                          const mappings::MappingSet& mappings) {
  MappingVocabulary vocabulary(mappings);
  return load(dir, vocabulary);
}

namespace {

bool is_test_file(const std::filesystem::path& p) {
  std::string n = p.filename().string();
  return n.size() > 11 && n.compare(n.size() - 11, 11, ".tests.json") == 0;
}

void collect_facts(const Criterion& c, std::string_view fact, std::set<std::string>& out) {
  if (c.fact == fact) out.insert(c.members.begin(), c.members.end());
  for (const Criterion& child : c.children) collect_facts(child, fact, out);
}

// What the context of the call adds to a determination: the data the record lacks, and no
// documentation request from an advisory answer.
void qualify(Determination& d, const DecisionContext& context) {
  for (const std::string& p : context.unreadable)
    d.notices.push_back("Data the EHR could not supply: " + p);
  if (!context.unreadable.empty() && d.covered == Covered::kConditional) {
    d.reasons.push_back("Part of the record could not be read from the EHR's FHIR server (" +
                        join({context.unreadable.begin(), context.unreadable.end()}, "; ") + ").");
  }
  if (!context.asks_for_documentation) {
    // Secondary hooks never ask for clinical or administrative documentation (CRD).
    d.doc_needed = DocNeeded::kAbsent;
    d.doc_purpose = DocPurpose::kAbsent;
  }
}

}  // namespace

std::string PolicyProblem::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!field.empty()) s += field + ": ";
  return s + message;
}

bool Policy::in_force(std::string_view day) const {
  if (day.empty()) return effective_to.empty();
  if (!effective_from.empty() && day < effective_from) return false;
  if (!effective_to.empty() && day > effective_to) return false;
  return true;
}

Result<PolicyLibrary> PolicyLibrary::load(const std::filesystem::path& dir,
                                          const FactVocabulary& vocabulary) {
  std::vector<PolicyProblem> problems;
  PolicyLibrary lib = load_all(dir, vocabulary, problems);
  if (!problems.empty()) {
    const PolicyProblem& p = problems.front();
    std::string where = p.file;
    if (p.line > 0) where += ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
    if (!p.field.empty()) where += ": " + p.field;
    std::string more = problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) +
                                                 " more; cryo-crd policies check lists them)"
                                           : "";
    return Error{where, p.message + more};
  }
  return lib;
}

std::vector<PolicyProblem> PolicyLibrary::check(const std::filesystem::path& dir,
                                                const FactVocabulary& vocabulary) {
  std::vector<PolicyProblem> problems;
  load_all(dir, vocabulary, problems);
  return problems;
}

// Loads what can be loaded from `dir`, every problem into `problems`.
PolicyLibrary PolicyLibrary::load_all(const std::filesystem::path& dir,
                                      const FactVocabulary& vocabulary,
                                      std::vector<PolicyProblem>& problems) {
  PolicyLibrary lib;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    problems.push_back({dir.generic_string(), 0, 0, "", "not a directory of policy files"});
    return lib;
  }
  std::vector<Payer> payers =
      parse_payers(dir / "payers.json", vocabulary.coverage_types(), problems);

  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::filesystem::path& p = entry.path();
    if (entry.is_regular_file() && p.extension() == ".json" && p.filename() != "payers.json" &&
        !is_test_file(p)) {
      files.push_back(p);
    }
  }
  if (ec) {
    problems.push_back(
        {dir.generic_string(), 0, 0, "", "cannot list the directory: " + ec.message()});
  }
  std::sort(files.begin(), files.end());

  std::vector<std::unique_ptr<Policy>> loaded;
  for (const std::filesystem::path& file : files) {
    std::vector<Policy> revisions = parse_policy(file, payers, vocabulary, problems);
    if (revisions.empty()) continue;
    std::string name = file.generic_string();
    bool clash = false;
    for (const auto& other : loaded) {
      if (other->file == name) continue;
      const Policy& policy = revisions.front();
      if (other->id == policy.id) {
        problems.push_back(
            {name, 0, 0, "id", "policy id '" + policy.id + "' is also used by " + other->file});
        clash = true;
        break;
      }
      // One policy per payer and code, or the answer would depend on file order.
      for (const std::string& payer : policy.payers) {
        if (std::find(other->payers.begin(), other->payers.end(), payer) == other->payers.end()) {
          continue;
        }
        for (const Procedure& proc : policy.procedures) {
          if (other->lists_code(proc.code) && !clash) {
            problems.push_back({name, 0, 0, "procedures",
                                "code " + proc.code + " of payer '" + payer +
                                    "' is also covered by " + other->file});
            clash = true;
          }
        }
      }
      if (clash) break;
    }
    if (clash) continue;
    std::vector<std::string> history;
    for (const Policy& r : revisions) {
      std::string h = r.revision;
      if (!r.effective_from.empty() || !r.effective_to.empty()) {
        h += " (" + (r.effective_from.empty() ? std::string("…") : r.effective_from) + " to " +
             (r.effective_to.empty() ? std::string("today") : r.effective_to) + ")";
      }
      history.push_back(std::move(h));
    }
    for (Policy& r : revisions) {
      r.revision_history = history;
      loaded.push_back(std::make_unique<Policy>(std::move(r)));
    }
  }
  lib.adopt(std::move(payers), std::move(loaded));
  return lib;
}

void PolicyLibrary::adopt(std::vector<Payer> payers,
                          std::vector<std::unique_ptr<Policy>> policies) {
  data_->payers = std::move(payers);
  data_->policies = std::move(policies);
}

const Payer* PolicyLibrary::payer_for(std::span<const mappings::Identifier> identifiers) const {
  for (const Payer& payer : data_->payers) {
    for (const mappings::Identifier& mine : payer.identifiers) {
      for (const mappings::Identifier& theirs : identifiers) {
        if (mine.system == theirs.system && mine.value == theirs.value) return &payer;
      }
    }
  }
  return nullptr;
}

const Policy* PolicyLibrary::policy_for(const Payer& payer, std::string_view billing_code,
                                        std::string_view day) const {
  for (const auto& policy : data_->policies) {
    if (std::find(policy->payers.begin(), policy->payers.end(), payer.id) == policy->payers.end()) {
      continue;
    }
    if (policy->lists_code(billing_code) && policy->in_force(day)) return policy.get();
  }
  return nullptr;
}

std::string PolicyLibrary::line_of_business(const Payer& payer,
                                            std::span<const std::string> plan_codes,
                                            std::string_view coverage_type) const {
  for (const std::string& code : plan_codes) {
    if (payer.plan(code) != nullptr) return code;
  }
  std::string type = coverage_type.empty() ? "commercial" : std::string(coverage_type);
  auto it = payer.default_plans.find(type);
  if (it != payer.default_plans.end()) return it->second;
  return type;
}

std::span<const std::string> PolicyLibrary::facts_used(const Policy& policy) const {
  return policy.facts_used;
}

std::span<const std::string> PolicyLibrary::document_codes(const Policy& policy) const {
  return policy.document_codes;
}

int PolicyLibrary::document_window_months(const Policy& policy) const {
  return policy.documentation.window_months;
}

const std::string& PolicyLibrary::policy_id(const Policy& policy) {
  return policy.id;
}

Determination PolicyLibrary::evaluate(const Policy& policy, const Payer& payer,
                                      std::string_view lob, const mappings::OrderContext& order,
                                      const mappings::FactSheet& facts,
                                      std::span<const mappings::DocumentFinding> documents) const {
  Determination d = evaluate_policy(policy, payer, lob, order, facts, documents);
  d.data_hash = data_->data_hash;
  return d;
}

std::optional<OrderDecision> PolicyLibrary::decide(const fhir::Json& order,
                                                   const DecisionContext& context,
                                                   const RecordFacts& record) const {
  // The plan: the policy revision in force on the date of service, for the first billing code
  // the payer has a policy for.
  OrderDecision out;
  out.context.order = &order;
  out.context.date_of_service = mappings::MappingSet::date_of_service(order, context.received);
  const std::string day = fhir::day_text(out.context.date_of_service.begin);
  const Policy* policy = nullptr;
  for (const std::string& code : mappings::MappingSet::billing_codes(order)) {
    if ((policy = policy_for(*context.payer, code, day)) != nullptr) {
      out.context.billing_code = code;
      break;
    }
  }
  if (policy == nullptr) return std::nullopt;
  // What the policy reads from the record, then the evaluation.
  out.facts = record.facts(out.context, facts_used(*policy));
  std::vector<mappings::DocumentFinding> documents;
  if (int months = document_window_months(*policy); months > 0)
    documents = record.documents(out.context, document_codes(*policy), months);
  out.determination = evaluate(*policy, *context.payer, context.line_of_business, out.context,
                               out.facts, documents);
  qualify(out.determination, context);
  return out;
}

std::vector<std::string> PolicyLibrary::members_named(const Policy& policy,
                                                      std::string_view fact) const {
  std::set<std::string> out;
  for (const Section& s : policy.sections) {
    if (s.has_indication) collect_facts(s.indication, fact, out);
    collect_facts(s.criteria, fact, out);
  }
  for (const RequiredDocument& d : policy.documentation.required_documents) {
    if (d.has_condition) collect_facts(d.required_unless, fact, out);
  }
  return {out.begin(), out.end()};
}

void PolicyLibrary::set_data_hash(std::string hash) {
  data_->data_hash = std::move(hash);
}

const std::string& PolicyLibrary::data_hash() const {
  return data_->data_hash;
}

std::vector<PolicySummary> PolicyLibrary::summaries() const {
  std::vector<PolicySummary> out;
  for (const auto& p : data_->policies) {
    PolicySummary s{p->id,           p->title,  p->document, p->revision, p->effective_from,
                    p->effective_to, p->payers, {}};
    for (const Procedure& proc : p->procedures) s.billing_codes.push_back(proc.code);
    out.push_back(std::move(s));
  }
  return out;
}

std::string PolicyLibrary::policy_page_html(std::string_view policy_id) const {
  // The revision in force today (the one without an end), else the latest.
  const Policy* page = nullptr;
  for (const auto& p : data_->policies) {
    if (p->id != policy_id) continue;
    if (page == nullptr || p->in_force("") ||
        (!page->in_force("") && p->effective_from > page->effective_from)) {
      page = p.get();
    }
  }
  return page == nullptr ? "" : render_policy_page(*page, data_->payers);
}

const std::vector<Payer>& PolicyLibrary::payers() const {
  return data_->payers;
}

}  // namespace cryo::policies
