// CoverageService: one CDS Hooks call, from request body to response body.
//
// The pipeline runs in one direction, through a few named steps:
//   parse_hook_body (cds/hook_body.h) -> read_hook_request, as the service's hook adapter reads
//   it (cds/hook_adapters.h) -> RecordCompletion (cds/record_completion.h: the record from
//   prefetch, the hook's resources and the FHIR server, or 412) -> Coverage + payer + line of
//   business -> per in-scope order: PolicyLibrary::decide (the policy in force, the facts and
//   documents it reads from the record, the Determination) -> write_response (cards +
//   coverage-information, and what the hook annotates) -> HookOutcome.
// The HTTP layer adds authentication, the audit record and transport; `cryo-crd evaluate`
// calls the same pipeline offline.
//
//   CoverageService service(mappings, library, {.base_url = "https://crd.example.org"});
//   HookOutcome out = service.call("order-sign-crd", body, std::chrono::system_clock::now());
//   reply(out.status, out.body);
//
// Thread safety: call() is const and may run concurrently; the service holds no per-request
// state. The data (mappings and policies) is an immutable snapshot replaced as a whole by
// replace_data() (reload); each call reads the snapshot once, with one atomic load, and
// finishes on the set it started with.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/thread_annotations.h"
#include "cds/catalog.h"
#include "cds/hook_request.h"
#include "fhir/datetime.h"
#include "fhir/fetch_summary.h"
#include "fhir/json.h"
#include "fhir/resource_index.h"
#include "mappings/mapping_set.h"
#include "policies/determination.h"
#include "policies/policy_library.h"

namespace cryo::cds {

struct CompleteRecord;  // cds/record_completion.h
struct CrdVersion;      // cds/crd_version.h

// The determination for one in-scope order.
struct OrderDetermination {
  // The order: in the request, or in a document the call fetched, so valid during call() only.
  const fhir::Json* order = nullptr;
  std::string order_reference;  // "ServiceRequest/sr-1"
  std::string date_of_service;  // "2026-11-22" as the order states it, "" when it does not
  std::string coverage_assertion_id;
  // The id was handed out before for this order, patient and client, and this determination
  // revises it: a completed QuestionnaireResponse in the record answers that assertion's
  // questions (cds/dtr.h answered_assertion) and the store confirmed it (AssertionOwnerCheck).
  bool continues_assertion = false;
  std::string card_uuid;  // the coverage card's uuid ("" when no card was sent)
  // The coverage-assertion-id already on the order when its decision is unchanged (no update
  // is sent for it then); "" otherwise.
  std::string current_assertion_id;
  std::string policy_url;  // absolute URL of the policy page
  policies::Determination determination;
  mappings::FactSheet facts;  // what the record showed, for the DTR questions (cds/dtr.h)
  // The DTR questionnaire asking what the determination still needs ("canonical|version"),
  // "" when there is nothing to ask (policies/questions.h).
  std::string questionnaire_url;
};

// Everything one call produced: the HTTP answer and what the audit record keeps.
// One card of a response, as written: its uuid and its CRD card type (catalog.h: kCoverageInfoType,
// kInstructionsType, kGuidelineType).
struct SentCard {
  std::string uuid;
  std::string_view type;
};

struct HookOutcome {
  int status = 200;
  std::string body;   // the CDS Hooks response, or an OperationOutcome
  std::string error;  // for the log: why a 4xx/5xx was returned
  std::string hook;
  std::string hook_instance;
  std::string patient_id;
  std::string payer_id;
  std::string line_of_business;
  std::string coverage_reference;
  std::string member_id;  // the Coverage's subscriberId, else its first identifier
  std::string data_hash;  // the policy and mapping data that decided (policies::data_hash)
  std::vector<OrderDetermination> orders;
  std::vector<SentCard> cards;  // every card in the response, in order
  // What was read from the client's FHIR server (or the patient data cache) for this call,
  // as a JSON array of the documents; "" when nothing was. Kept with the call's record.
  std::string fetched_json;
};

// What a call could not find in its prefetch: template keys to run and resources to read.
struct MissingData {
  std::vector<mappings::PrefetchTemplate> templates;  // declared keys absent or OperationOutcome
  std::vector<std::string> references;                // "ServiceRequest/123" not in the request
};

// Fetches missing data from the client's FHIR server into `record`. Installed by the server
// when FHIR queries are enabled; without one, missing data answers 412.
using MissingDataFetcher = std::function<fhir::FetchSummary(
    const HookRequest& request, const MissingData& missing, fhir::ResourceIndex& record)>;

// Whether coverage-assertion-id `id` was handed out for order `order_ref` of patient
// `patient_id` to client `issuer` ("" for unsigned calls). The server installs one backed by
// the audit store; false when it cannot tell.
using AssertionOwnerCheck =
    std::function<bool(std::string_view id, std::string_view order_ref, std::string_view patient_id,
                       std::string_view issuer)>;

struct ServiceOptions {
  std::string base_url = "http://127.0.0.1:8080";  // public URL, for absolute links
  fhir::ParseLimits limits;
  std::string service_version = "0.1.0";
  // The deployment's DTR SMART app launch URL ("" = none: no dtr-launch option or card).
  std::string dtr_launch_url;
};

// The data calls are answered with: mappings and the policies loaded against them, and the
// hash of their files (policies::data_hash).
struct ServiceData {
  std::shared_ptr<const mappings::MappingSet> mappings;
  std::shared_ptr<const policies::PolicyLibrary> library;
  std::string hash;
};

class CoverageService {
 public:
  // Answers with data the caller keeps alive for the service's lifetime.
  CoverageService(const mappings::MappingSet& mappings, const policies::PolicyLibrary& library,
                  ServiceOptions options);
  CoverageService(std::shared_ptr<const ServiceData> data, ServiceOptions options);

  // Installs the fetcher for missing prefetch data (optional).
  void set_fetcher(MissingDataFetcher fetcher);

  // Installs the check that lets an order-sign revise the assertion a completed
  // QuestionnaireResponse in its record answers (optional: without it every call hands out
  // new ids).
  void set_assertion_check(AssertionOwnerCheck check);

  // GET /cds-services.
  std::string discovery() const;

  // POST /cds-services/{service_id}. `body` is parsed in place (it is modified).
  HookOutcome call(std::string_view service_id, std::string& body,
                   std::chrono::system_clock::time_point received) const;

  // The same for an already parsed request document (used by `evaluate`). `client` is the
  // verified token issuer ("" for an unsigned call); the fetcher sees it as request.client.
  // With `answers` (a QuestionnaireResponse: DTR), the stored request of an earlier call is
  // decided again with the answers added to its record; nothing is fetched then (the call's
  // token is gone): the record is what the request held and, in `fetched` (its
  // HookOutcome::fetched_json, parsed), what it read from the FHIR server. With `fetched`
  // alone (a policy replay), the stored call is decided again on that same record.
  HookOutcome call(const ServiceDefinition& service, const fhir::Json& request,
                   std::chrono::system_clock::time_point received, std::string_view client = {},
                   const fhir::Json* answers = nullptr, const fhir::Json* fetched = nullptr) const;

  // Sets the public base URL (absolute links, JWT audiences). Call before serving.
  void set_base_url(std::string base_url);

  // Replaces the data for calls that start from now on. Calls already running keep theirs;
  // a replaced snapshot stays alive at least kRetiredGrace after its replacement, so the
  // references mappings() and library() handed out before stay valid for any request.
  void replace_data(std::shared_ptr<const ServiceData> data);
  std::shared_ptr<const ServiceData> data() const { return data_.load(); }
  static constexpr std::chrono::minutes kRetiredGrace{10};

  const ServiceOptions& options() const { return options_; }
  // The current data (for pages served outside call()).
  const mappings::MappingSet& mappings() const { return *data_.load()->mappings; }
  const policies::PolicyLibrary& library() const { return *data_.load()->library; }

 private:
  // One determination per in-scope order that a policy applies to.
  std::vector<OrderDetermination> decide_orders(const ServiceData& data,
                                                const ServiceDefinition& service,
                                                const HookRequest& request,
                                                const CompleteRecord& complete,
                                                const policies::Payer& payer, std::string_view lob,
                                                fhir::Instant received, bool may_revise) const;
  // The CDS Hooks response: cards and coverage-information (fills out.cards).
  std::string respond(const ServiceDefinition& service, const HookRequest& request,
                      const CompleteRecord& complete, const CrdVersion* version,
                      std::string_view assertion_date, HookOutcome& out) const;

  std::atomic<std::shared_ptr<const ServiceData>> data_;
  Mutex retired_mutex_;  // reload only
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<const ServiceData>>>
      retired_ GUARDED_BY(retired_mutex_);
  ServiceOptions options_;
  MissingDataFetcher fetcher_;
  AssertionOwnerCheck assertion_check_;
};

}  // namespace cryo::cds
