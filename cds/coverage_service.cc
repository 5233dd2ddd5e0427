#include "cds/coverage_service.h"

#include <algorithm>
#include <set>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/ids.h"
#include "base/text.h"
#include "cds/assertion_lookup.h"
#include "cds/crd_version.h"
#include "cds/dtr.h"
#include "cds/operation_outcome.h"
#include "cds/response_writer.h"
#include "mappings/coverage_reader.h"
#include "policies/questions.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

HookOutcome failure(HookOutcome out, int status, std::string_view code, std::string message) {
  out.status = status;
  out.body = operation_outcome(code, message);
  out.error = std::move(message);
  return out;
}

bool is_operation_outcome(const Json& value) {
  return value.IsObject() && string_or_empty(member(value, "resourceType")) == "OperationOutcome";
}

// Declared prefetch keys the request did not satisfy: absent, or answered with an
// OperationOutcome (the client could not get the data).
std::vector<mappings::PrefetchTemplate> missing_prefetch(
    const HookRequest& request, std::span<const mappings::PrefetchTemplate> templates) {
  std::vector<mappings::PrefetchTemplate> missing;
  for (const auto& t : templates) {
    const Json* value = member(request.prefetch, t.key);
    if (value == nullptr || is_operation_outcome(*value)) missing.push_back(t);
  }
  return missing;
}

// The orders this call is about: every draft order (order-sign), the selected ones
// (order-select), or the referenced ones (order-dispatch, appointment-book) as resolved in
// `record`. `unresolved` receives references not found.
std::vector<const Json*> orders_in_scope_of_hook(const HookRequest& request,
                                                 const fhir::ResourceIndex& record,
                                                 std::vector<std::string>* unresolved) {
  std::vector<const Json*> orders;
  if (request.hook == "encounter-start" || request.hook == "encounter-discharge") {
    // The orders placed in the encounter (read with the encounterOrders template).
    const std::string encounter = "Encounter/" + std::string(request.encounter_id);
    for (const Json* order : record.of_type("ServiceRequest")) {
      if (string_or_empty(member(member(order, "encounter"), "reference")) == encounter &&
          string_or_empty(member(member(order, "subject"), "reference")) ==
              "Patient/" + std::string(request.patient_id))
        orders.push_back(order);
    }
    return orders;
  }
  if (!request.order_references.empty() || request.hook == "order-dispatch" ||
      request.hook == "appointment-book") {
    std::set<std::string> seen;
    for (std::string_view ref : request.order_references) {
      const Json* order = record.resolve(ref);
      if (order == nullptr) {
        if (unresolved) unresolved->emplace_back(ref);
        continue;
      }
      if (seen.insert(fhir::ResourceIndex::key_of(*order)).second) orders.push_back(order);
    }
    return orders;
  }
  std::set<std::string, std::less<>> selected(request.selections.begin(), request.selections.end());
  for (const Json& entry : fhir::items(member(request.draft_orders, "entry"))) {
    const Json* resource = member(entry, "resource");
    if (resource == nullptr || !resource->IsObject()) continue;
    if (request.hook == "order-select") {
      std::string key = fhir::ResourceIndex::key_of(*resource);
      if (!selected.contains(key)) continue;
    }
    orders.push_back(resource);
  }
  return orders;
}

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
  HookOutcome out;
  const ServiceDefinition* service = find_service(service_id);
  if (service == nullptr) {
    return failure(std::move(out), 404, "not-found",
                   "no CDS service '" + std::string(service_id) + "'; see GET /cds-services");
  }
  fhir::JsonDocument doc;
  if (auto err = fhir::parse_in_place(body, doc, options_.limits)) {
    int status = err->kind == fhir::ParseError::kTooLarge ? 413 : 400;
    std::string_view code = err->kind == fhir::ParseError::kTooLarge ? "too-long" : "structure";
    return failure(std::move(out), status, code,
                   "the request body is not acceptable JSON: " + err->message);
  }
  return call(*service, doc, received);
}

HookOutcome CoverageService::call(const ServiceDefinition& service, const Json& request_json,
                                  std::chrono::system_clock::time_point received,
                                  std::string_view client, const Json* answers,
                                  const Json* fetched) const {
  // The data this call is answered with, whatever reloads happen meanwhile.
  const std::shared_ptr<const ServiceData> data = data_.load();
  const mappings::MappingSet& mappings = *data->mappings;
  const policies::PolicyLibrary& library = *data->library;
  HookOutcome out;
  out.data_hash = library.data_hash();
  auto request = read_hook_request(request_json, service.hook);
  if (!request) {
    return failure(
        std::move(out), 400, "invalid",
        "not a valid " + std::string(service.hook) + " request: " + request.error().to_string());
  }
  request->client = client;
  out.hook = std::string(request->hook);
  out.hook_instance = std::string(request->hook_instance);
  out.patient_id = std::string(request->patient_id);

  // Resources: every prefetch value and the draft orders.
  fhir::ResourceIndex record;
  if (request->prefetch != nullptr) {
    for (auto it = request->prefetch->MemberBegin(); it != request->prefetch->MemberEnd(); ++it) {
      if (it->value.IsNull()) continue;
      record.add(it->value,
                 "prefetch." + std::string(it->name.GetString(), it->name.GetStringLength()));
    }
  }
  if (request->draft_orders != nullptr) record.add(*request->draft_orders, "context.draftOrders");

  if (request->appointments != nullptr) record.add(*request->appointments, "context.appointments");
  if (answers != nullptr) record.add(*answers, "questionnaireResponse");
  if (fetched != nullptr) {
    for (const Json& doc : fhir::items(fetched)) record.add(doc, "fetched");
  }

  // What prefetch did not bring comes from the client's FHIR server, or the call cannot be
  // answered (CDS Hooks: 412).
  const CrdVersion* version = find_crd_version(request->requested_version);
  if (version == nullptr) {
    std::string served;
    for (const auto& v : crd_versions())
      served += (served.empty() ? "" : ", ") + std::string(v.label);
    return failure(std::move(out), 400, "not-supported",
                   "CRD version '" + std::string(request->requested_version) +
                       "' is not served (davinci-crd.requestedVersion); served: " + served);
  }
  const std::vector<mappings::PrefetchTemplate> templates =
      prefetch_for(service, mappings.prefetch_templates());
  std::vector<std::string> fetch_problems;
  MissingData missing;
  missing.templates = missing_prefetch(*request, templates);
  orders_in_scope_of_hook(*request, record, &missing.references);
  // Optional data left out is read only together with data that is read anyway.
  const bool required_missing =
      !missing.references.empty() ||
      std::any_of(missing.templates.begin(), missing.templates.end(),
                  [](const mappings::PrefetchTemplate& t) { return !t.optional; });
  // A stored call decided again (DTR answers, a policy replay) has the record it had.
  if (answers == nullptr && fetched == nullptr && required_missing) {
    std::vector<std::string> what;
    for (const auto& m : missing.templates) {
      if (!m.optional) what.push_back("prefetch key " + m.key);
    }
    for (const auto& r : missing.references) what.push_back(r);
    if (request->fhir_server.empty()) {
      return failure(std::move(out), 412, "incomplete",
                     join(what, ", ") + " missing and no fhirServer was given to query");
    }
    if (!fetcher_) {
      return failure(
          std::move(out), 412, "incomplete",
          join(what, ", ") + " missing; this deployment does not query the client's FHIR server");
    }
    FetchReport report = fetcher_(*request, missing, record);
    for (std::string& p : report.problems) {  // optional data that could not be had is no gap
      bool optional = std::any_of(missing.templates.begin(), missing.templates.end(),
                                  [&](const mappings::PrefetchTemplate& t) {
                                    return t.optional && p.starts_with(t.key + ":");
                                  });
      if (!optional) fetch_problems.push_back(std::move(p));
    }
    // CRD: answer with what could be had. Only a Coverage (or, for order-dispatch and
    // appointment-book, every order) that could not be had leaves nothing to answer about.
    bool coverage_missing = false;
    for (const auto& k : report.missing) coverage_missing |= (k == "coverage");
    bool no_order = !request->order_references.empty() &&
                    orders_in_scope_of_hook(*request, record, nullptr).empty();
    if (coverage_missing || no_order) {
      std::string why =
          fetch_problems.empty() ? std::string("no answer") : join(fetch_problems, "; ");
      return failure(std::move(out), 412, "incomplete",
                     join(what, ", ") + " missing and the FHIR server at " +
                         std::string(request->fhir_server) + " could not supply them: " + why);
    }
  }

  // Coverage, payer, line of business (CRD 2.1: 400 when any of them cannot be settled).
  mappings::CoverageReading coverage = mappings::read_coverage(record, mappings);
  if (coverage.status != mappings::CoverageReading::kOne) {
    return failure(std::move(out), 400, "business-rule",
                   coverage.problem.empty()
                       ? std::string("no single active Coverage for the patient")
                       : coverage.problem);
  }
  out.coverage_reference = coverage.reference;
  out.member_id = std::string(string_or_empty(member(coverage.coverage, "subscriberId")));
  if (out.member_id.empty()) {
    for (const Json& id : fhir::items(member(coverage.coverage, "identifier"))) {
      out.member_id = std::string(string_or_empty(member(id, "value")));
      if (!out.member_id.empty()) break;
    }
  }
  if (coverage.payer_identifiers.empty() && fetcher_ && !request->fhir_server.empty()) {
    // The Coverage came without its payor Organization: read it from the FHIR server.
    MissingData payor;
    for (const Json& p : fhir::items(member(coverage.coverage, "payor"))) {
      std::string_view ref = string_or_empty(member(p, "reference"));
      if (!ref.empty() && ref.front() != '#') payor.references.emplace_back(ref);
    }
    if (!payor.references.empty()) {
      FetchReport report = fetcher_(*request, payor, record);
      for (const auto& p : report.problems) fetch_problems.push_back(p);
      coverage = mappings::read_coverage(record, mappings);
    }
  }
  const policies::Payer* payer = library.payer_for(coverage.payer_identifiers);
  if (payer == nullptr) {
    std::string ids;
    for (const auto& id : coverage.payer_identifiers) {
      if (!ids.empty()) ids += ", ";
      ids += id.system + "|" + id.value;
    }
    return failure(std::move(out), 400, "business-rule",
                   "the Coverage's payer is not handled by this service (payer identifiers: " +
                       (ids.empty() ? std::string("none") : ids) + ")");
  }
  out.payer_id = payer->id;
  out.line_of_business =
      library.line_of_business(*payer, coverage.plan_codes, coverage.coverage_type);

  // One determination per in-scope order.
  const std::string assertion_id = time_ordered_uuid();
  const fhir::Instant received_s = std::chrono::floor<std::chrono::seconds>(received);
  for (const Json* order : orders_in_scope_of_hook(*request, record, nullptr)) {
    const policies::Policy* policy = nullptr;
    std::string code;
    // The policy revision in force on the date of service decides.
    const fhir::DateRange dos = mappings::MappingSet::date_of_service(*order, received_s);
    const std::string day = fhir::day_text(dos.begin);
    for (const std::string& c : mappings::MappingSet::billing_codes(*order)) {
      if ((policy = library.policy_for(*payer, c, day)) != nullptr) {
        code = c;
        break;
      }
    }
    if (policy == nullptr) continue;  // no policy for this order: no card, no action
    mappings::OrderContext context{order, code, dos};
    mappings::FactSheet facts = mappings.extract(record, context, library.facts_used(*policy));
    std::vector<mappings::DocumentFinding> documents;
    if (int months = library.document_window_months(*policy); months > 0) {
      fhir::DateRange window = fhir::months_before(context.date_of_service, months);
      documents = mappings.find_documents(record, library.document_codes(*policy), window,
                                          request->patient_id);
    }

    OrderDetermination od;
    od.order = order;
    od.order_reference = fhir::ResourceIndex::key_of(*order);
    od.date_of_service = date_of_service_text(*order);
    od.coverage_assertion_id = assertion_id;
    if (answers == nullptr && assertion_check_) {
      // Answers to the payer's questions: the decision they settle revises that assertion.
      std::string answered = answered_assertion(record, od.order_reference, request->patient_id);
      if (!answered.empty() &&
          assertion_check_(answered, od.order_reference, request->patient_id, client)) {
        od.coverage_assertion_id = std::move(answered);
        od.continues_assertion = true;
      }
    }
    od.determination =
        library.evaluate(*policy, *payer, out.line_of_business, context, facts, documents);
    od.policy_url = options_.base_url + "/policies/" + od.determination.policy_id;
    od.facts = std::move(facts);
    if (policies::has_questions(od.determination)) {
      od.questionnaire_url =
          questionnaire_canonical(options_.base_url, od.determination.policy_id) + "|" +
          od.determination.policy_revision;
    }
    for (const auto& p : fetch_problems)
      od.determination.notices.push_back("Data the EHR could not supply: " + p);
    if (!fetch_problems.empty() && od.determination.covered == "conditional") {
      od.determination.reasons.push_back(
          "Part of the record could not be read from the EHR's FHIR server (" +
          join(fetch_problems, "; ") + ").");
    }
    if (!service.primary) {
      // Secondary hooks never ask for clinical or administrative documentation (CRD).
      od.determination.doc_needed.clear();
      od.determination.doc_purpose.clear();
    }
    out.orders.push_back(std::move(od));
  }

  // What was read for this call, kept with its record.
  if (answers == nullptr) {
    const std::vector<const fhir::JsonDocument*> read = record.adopted();
    if (!read.empty()) {
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
      w.StartArray();
      for (const fhir::JsonDocument* d : read) d->Accept(w);
      w.EndArray();
      out.fetched_json.assign(buffer.GetString(), buffer.GetSize());
    }
  }

  ResponseInput input;
  input.orders = out.orders;
  input.coverage_reference = out.coverage_reference;
  input.configuration = &request->configuration;
  input.base_url = options_.base_url;
  input.dtr_launch_url = options_.dtr_launch_url;
  std::string date = fhir::day_text(received_s);
  input.assertion_date = date;
  input.secondary_hook = !service.primary;
  input.version = version;
  input.shape.technical_problem = !fetch_problems.empty();
  input.shape.technical_text = join(fetch_problems, "; ");
  input.card_types = service.card_types;
  input.always_system_actions = service.primary;
  input.discharge = service.hook == "encounter-discharge";
  std::vector<std::string> in_scope;
  for (const auto& od : out.orders) in_scope.push_back(od.order_reference);
  auto covers = [&](const Json& container, bool by_based_on) {
    ResponseInput::Container c{&container, {}};
    if (by_based_on) {
      for (const Json& b : fhir::items(member(container, "basedOn"))) {
        const Json* order = record.resolve(string_or_empty(member(b, "reference")));
        if (order == nullptr) continue;
        std::string key = fhir::ResourceIndex::key_of(*order);
        if (std::find(in_scope.begin(), in_scope.end(), key) != in_scope.end())
          c.orders.push_back(key);
      }
    } else {
      c.orders = in_scope;
    }
    if (!c.orders.empty()) input.containers.push_back(std::move(c));
  };
  if (service.hook == "appointment-book") {
    // CRD 2.0.1: the Appointment itself carries the coverage-information, beside its orders.
    for (const Json& entry : fhir::items(member(request->appointments, "entry"))) {
      const Json* appointment = member(entry, "resource");
      if (string_or_empty(member(appointment, "resourceType")) == "Appointment")
        covers(*appointment, true);
    }
  }
  if (service.hook == "encounter-start") {
    if (const Json* encounter = record.find("Encounter", request->encounter_id))
      covers(*encounter, false);
  }
  out.body = write_response(input, out.cards);
  out.status = 200;
  return out;
}

}  // namespace cryo::cds
