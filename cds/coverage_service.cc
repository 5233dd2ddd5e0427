#include "cds/coverage_service.h"

#include <utility>

#include "base/ids.h"
#include "base/text.h"
#include "cds/assertion_lookup.h"
#include "cds/crd_version.h"
#include "cds/dtr.h"
#include "cds/hook_body.h"
#include "cds/operation_outcome.h"
#include "cds/record_completion.h"
#include "cds/response_writer.h"
#include "mappings/coverage_reader.h"
#include "policies/coverage_information.h"
#include "policies/questions.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

HookOutcome failure(HookOutcome out, const Refusal& refusal) {
  out.status = refusal.status;
  out.body = operation_outcome(refusal.code, refusal.message);
  out.error = refusal.message;
  return out;
}

// A determination whose coverage-information CRD forbids is never sent: the call is answered
// 500 (invariant), naming the order, the policy and the rule broken.
std::optional<Refusal> forbidden_coverage(const std::vector<OrderDetermination>& orders) {
  for (const OrderDetermination& od : orders) {
    auto typed = policies::coverage_information_of(od.determination);
    if (!typed) {
      return Refusal{
          500, "invariant",
          "the determination for " + od.order_reference + " under policy " +
              od.determination.policy_id +
              " breaks a CRD coverage-information rule and was not sent: " + typed.error().message};
    }
  }
  return std::nullopt;
}

// The CRD version the request asks for, or the 400 that lists those served.
std::optional<Refusal> unserved_version(const HookRequest& request, const CrdVersion*& version) {
  version = find_crd_version(request.requested_version);
  if (version != nullptr) return std::nullopt;
  std::string served;
  for (const auto& v : crd_versions())
    served += (served.empty() ? "" : ", ") + std::string(v.label);
  return Refusal{400, "not-supported",
                 "CRD version '" + std::string(request.requested_version) +
                     "' is not served (davinci-crd.requestedVersion); served: " + served};
}

// The plan the call is decided under: one Coverage, a payer this service handles and the line
// of business (CRD 2.1: 400 when any of them cannot be settled). Fills the outcome's plan
// fields.
std::optional<Refusal> identify_plan(const CompleteRecord& complete,
                                     const policies::PolicyLibrary& library, HookOutcome& out,
                                     const policies::Payer*& payer) {
  const mappings::CoverageReading& coverage = complete.coverage;
  if (coverage.status != mappings::CoverageReading::kOne) {
    return Refusal{400, "business-rule",
                   coverage.problem.empty()
                       ? std::string("no single active Coverage for the patient")
                       : coverage.problem};
  }
  out.coverage_reference = coverage.reference;
  out.member_id = std::string(string_or_empty(member(coverage.coverage, "subscriberId")));
  for (const Json& id : fhir::items(member(coverage.coverage, "identifier"))) {
    if (!out.member_id.empty()) break;
    out.member_id = std::string(string_or_empty(member(id, "value")));
  }
  payer = library.payer_for(coverage.payer_identifiers);
  if (payer == nullptr) {
    std::string ids;
    for (const auto& id : coverage.payer_identifiers) {
      if (!ids.empty()) ids += ", ";
      ids += id.system + "|" + id.value;
    }
    return Refusal{400, "business-rule",
                   "the Coverage's payer is not handled by this service (payer identifiers: " +
                       (ids.empty() ? std::string("none") : ids) + ")"};
  }
  out.payer_id = payer->id;
  out.line_of_business =
      library.line_of_business(*payer, coverage.plan_codes, coverage.coverage_type);
  return std::nullopt;
}

// What the call's record says, for the policy library: the mappings over the record.
class MappedRecord final : public policies::RecordFacts {
 public:
  MappedRecord(const mappings::MappingSet& mappings, const fhir::ResourceIndex& record,
               std::string_view patient_id)
      : mappings_(mappings), record_(record), patient_id_(patient_id) {}

  mappings::FactSheet facts(const mappings::OrderContext& order,
                            std::span<const std::string> fact_ids) const override {
    return mappings_.extract(record_, order, fact_ids);
  }
  std::vector<mappings::DocumentFinding> documents(const mappings::OrderContext& order,
                                                   std::span<const std::string> codes,
                                                   int months) const override {
    return mappings_.find_documents(
        record_, codes, fhir::months_before(order.date_of_service, months), patient_id_);
  }

 private:
  const mappings::MappingSet& mappings_;
  const fhir::ResourceIndex& record_;
  std::string_view patient_id_;
};

}  // namespace

CoverageService::CoverageService(const mappings::MappingSet& mappings,
                                 const policies::PolicyLibrary& library, ServiceOptions options)
    : CoverageService(
          std::make_shared<const ServiceData>(ServiceData{
              std::shared_ptr<const mappings::MappingSet>(&mappings, [](const auto*) {}),
              std::shared_ptr<const policies::PolicyLibrary>(&library, [](const auto*) {}), ""}),
          std::move(options)) {}

CoverageService::CoverageService(std::shared_ptr<const ServiceData> data, ServiceOptions options)
    : data_(std::move(data)), options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/')
    options_.base_url.pop_back();
}

void CoverageService::replace_data(std::shared_ptr<const ServiceData> data) {
  auto now = std::chrono::steady_clock::now();
  std::shared_ptr<const ServiceData> old = data_.exchange(std::move(data));
  MutexLock lock(retired_mutex_);
  std::erase_if(retired_, [now](const auto& r) { return now - r.first > kRetiredGrace; });
  retired_.emplace_back(now, std::move(old));
}

void CoverageService::set_base_url(std::string base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  options_.base_url = std::move(base_url);
}

void CoverageService::set_fetcher(MissingDataFetcher fetcher) {
  fetcher_ = std::move(fetcher);
}

void CoverageService::set_assertion_check(AssertionOwnerCheck check) {
  assertion_check_ = std::move(check);
}

std::string CoverageService::discovery() const {
  return discovery_json(data_.load()->mappings->prefetch_templates(),
                        !options_.dtr_launch_url.empty());
}

HookOutcome CoverageService::call(std::string_view service_id, std::string& body,
                                  std::chrono::system_clock::time_point received) const {
  const ServiceDefinition* service = find_service(service_id);
  if (service == nullptr) {
    return failure(
        {}, Refusal{404, "not-found",
                    "no CDS service '" + std::string(service_id) + "'; see GET /cds-services"});
  }
  fhir::JsonDocument doc;
  if (auto refused = parse_hook_body(body, doc, BodyLimits{.parse = options_.limits})) {
    return failure({}, *refused);
  }
  return call(*service, doc, received);
}

HookOutcome CoverageService::call(const ServiceDefinition& service, const Json& request_json,
                                  std::chrono::system_clock::time_point received,
                                  std::string_view client, const Json* answers,
                                  const Json* fetched) const {
  // The data this call is answered with, whatever reloads happen meanwhile.
  const std::shared_ptr<const ServiceData> data = data_.load();
  HookOutcome out;
  out.data_hash = data->library->data_hash();

  // The validated request, as the service's hook reads it, and the CRD version it asks for.
  auto request = read_hook_request(request_json, *service.adapter);
  if (!request) {
    return failure(std::move(out), {400, "invalid",
                                    "not a valid " + std::string(service.hook) +
                                        " request: " + request.error().to_string()});
  }
  request->client = client;
  out.hook = std::string(request->hook);
  out.hook_instance = std::string(request->hook_instance);
  out.patient_id = std::string(request->patient_id);
  const CrdVersion* version = nullptr;
  if (auto refused = unserved_version(*request, version)) return failure(std::move(out), *refused);

  // The complete record: what prefetch did not bring is read from the FHIR server (or 412).
  auto completed = RecordCompletion(*data->mappings, fetcher_)
                       .complete(*request, service, StoredRecord{answers, fetched});
  if (const Refusal* refused = std::get_if<Refusal>(&completed)) {
    return failure(std::move(out), *refused);
  }
  const CompleteRecord& complete = std::get<CompleteRecord>(completed);

  // Coverage, payer, line of business; then one determination per in-scope order.
  const policies::Payer* payer = nullptr;
  if (auto refused = identify_plan(complete, *data->library, out, payer)) {
    return failure(std::move(out), *refused);
  }
  const fhir::Instant received_s = std::chrono::floor<std::chrono::seconds>(received);
  out.orders = decide_orders(*data, service, *request, complete, *payer, out.line_of_business,
                             received_s, answers == nullptr);
  if (auto refused = forbidden_coverage(out.orders)) {
    out.orders.clear();
    return failure(std::move(out), *refused);
  }

  // What was read for this call, kept with its record; then the answer.
  if (answers == nullptr) out.fetched_json = fetched_documents_json(complete.record);
  out.body = respond(service, *request, complete, version, fhir::day_text(received_s), out);
  out.status = 200;
  return out;
}

std::vector<OrderDetermination> CoverageService::decide_orders(
    const ServiceData& data, const ServiceDefinition& service, const HookRequest& request,
    const CompleteRecord& complete, const policies::Payer& payer, std::string_view lob,
    fhir::Instant received, bool may_revise) const {
  const MappedRecord facts(*data.mappings, complete.record, request.patient_id);
  const policies::DecisionContext context{.payer = &payer,
                                          .line_of_business = lob,
                                          .received = received,
                                          .asks_for_documentation = service.adapter->primary,
                                          .unreadable = complete.problems};
  const std::string assertion_id = time_ordered_uuid();
  std::vector<OrderDetermination> orders;
  for (const Json* order : service.adapter->orders_in_scope(request, complete.record, nullptr)) {
    std::optional<policies::OrderDecision> decision = data.library->decide(*order, context, facts);
    if (!decision) continue;  // no policy for this order: no card, no action
    OrderDetermination od;
    od.order = order;
    od.order_reference = fhir::ResourceIndex::key_of(*order);
    od.date_of_service = date_of_service_text(*order);
    od.coverage_assertion_id = assertion_id;
    if (may_revise && assertion_check_) {
      // Answers to the payer's questions: the decision they settle revises that assertion.
      std::string answered =
          answered_assertion(complete.record, od.order_reference, request.patient_id);
      if (!answered.empty() &&
          assertion_check_(answered, od.order_reference, request.patient_id, request.client)) {
        od.coverage_assertion_id = std::move(answered);
        od.continues_assertion = true;
      }
    }
    od.determination = std::move(decision->determination);
    od.facts = std::move(decision->facts);
    od.policy_url = options_.base_url + "/policies/" + od.determination.policy_id;
    if (policies::has_questions(od.determination)) {
      od.questionnaire_url =
          questionnaire_canonical(options_.base_url, od.determination.policy_id) + "|" +
          od.determination.policy_revision;
    }
    orders.push_back(std::move(od));
  }
  return orders;
}

std::string CoverageService::respond(const ServiceDefinition& service, const HookRequest& request,
                                     const CompleteRecord& complete, const CrdVersion* version,
                                     std::string_view assertion_date, HookOutcome& out) const {
  const HookAdapter& hook = *service.adapter;
  ResponseInput input;
  input.orders = out.orders;
  input.coverage_reference = out.coverage_reference;
  input.configuration = &request.configuration;
  input.base_url = options_.base_url;
  input.dtr_launch_url = options_.dtr_launch_url;
  input.assertion_date = assertion_date;
  input.secondary_hook = !hook.primary;
  input.version = version;
  input.shape.technical_problem = !complete.problems.empty();
  input.shape.technical_text = join(complete.problems, "; ");
  input.card_types = service.card_types;
  input.always_system_actions = hook.primary;
  input.discharge = hook.documentation_check;
  std::vector<std::string> in_scope;
  for (const auto& od : out.orders) in_scope.push_back(od.order_reference);
  for (AnnotatedResource& a : hook.annotated_resources(request, complete.record, in_scope))
    input.containers.push_back({a.resource, std::move(a.orders)});
  return write_response(input, out.cards);
}

}  // namespace cryo::cds
