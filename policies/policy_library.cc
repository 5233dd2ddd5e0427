#include "policies/policy_library.h"

#include <algorithm>
#include <set>
#include <utility>

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
  std::vector<std::unique_ptr<Policy>> policies;
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

Result<PolicyLibrary> PolicyLibrary::load(const std::filesystem::path& dir,
                                          const FactVocabulary& vocabulary) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Error{dir.generic_string(), "not a directory of policy files"};
  }
  Result<std::vector<Payer>> payers = parse_payers(dir / "payers.json");
  if (!payers) return payers.error();

  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::filesystem::path& p = entry.path();
    if (entry.is_regular_file() && p.extension() == ".json" && p.filename() != "payers.json") {
      files.push_back(p);
    }
  }
  if (ec) return Error{dir.generic_string(), "cannot list the directory: " + ec.message()};
  std::sort(files.begin(), files.end());

  PolicyLibrary lib;
  lib.data_->payers = std::move(*payers);
  for (const std::filesystem::path& file : files) {
    Result<Policy> policy = parse_policy(file, lib.data_->payers, vocabulary);
    if (!policy) return policy.error();
    for (const auto& other : lib.data_->policies) {
      if (other->id == policy->id) {
        return Error{file.generic_string() + ": id",
                     "policy id '" + policy->id + "' is also used by " + other->file};
      }
      // One policy per payer and code, or the answer would depend on file order.
      for (const std::string& payer : policy->payers) {
        if (std::find(other->payers.begin(), other->payers.end(), payer) == other->payers.end()) {
          continue;
        }
        for (const Procedure& proc : policy->procedures) {
          if (other->lists_code(proc.code)) {
            return Error{file.generic_string() + ": procedures",
                         "code " + proc.code + " of payer '" + payer + "' is also covered by " +
                             other->file};
          }
        }
      }
    }
    lib.data_->policies.push_back(std::make_unique<Policy>(std::move(*policy)));
  }
  return lib;
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

const Policy* PolicyLibrary::policy_for(const Payer& payer, std::string_view billing_code) const {
  for (const auto& policy : data_->policies) {
    if (std::find(policy->payers.begin(), policy->payers.end(), payer.id) == policy->payers.end()) {
      continue;
    }
    if (policy->lists_code(billing_code)) return policy.get();
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
  return evaluate_policy(policy, payer, lob, order, facts, documents);
}

std::vector<PolicySummary> PolicyLibrary::summaries() const {
  std::vector<PolicySummary> out;
  for (const auto& p : data_->policies) {
    PolicySummary s{p->id, p->title, p->document, p->revision, p->payers, {}};
    for (const Procedure& proc : p->procedures) s.billing_codes.push_back(proc.code);
    out.push_back(std::move(s));
  }
  return out;
}

std::string PolicyLibrary::policy_page_html(std::string_view policy_id) const {
  for (const auto& p : data_->policies) {
    if (p->id == policy_id) return render_policy_page(*p, data_->payers);
  }
  return "";
}

const std::vector<Payer>& PolicyLibrary::payers() const {
  return data_->payers;
}

}  // namespace cryo::policies
