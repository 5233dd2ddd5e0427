// Record completion: the step that turns a hook request into the complete record a decision is
// made on, before anything is evaluated.
//
// The record is every prefetch value and the hook's own resources (draft orders, appointments),
// plus, for a stored call decided again, the QuestionnaireResponse answered since (DTR) and
// what the call read from the FHIR server then. What prefetch did not bring — a declared key
// absent or answered with an OperationOutcome, an order named by reference that the request
// does not hold — is read from the client's FHIR server through the MissingDataFetcher. The
// 412 rule of CDS Hooks and CRD is applied here: a call that lacks required data, with no
// fhirServer to query or no fetcher, or whose Coverage (or, for hooks naming their orders by
// reference, every order) could not be had, cannot be answered. Otherwise the call is
// answered with what could be had, and what could not is reported (`problems`). Optional data
// (completed questionnaires) is read only together with data read anyway and never makes a
// call unanswerable. A Coverage without its payor Organization gets that read too.
//
//   RecordCompletion completion(mappings, fetcher);
//   auto done = completion.complete(request, service, {});
//   if (const Refusal* r = std::get_if<Refusal>(&done)) return reply(*r);
//   CompleteRecord& record = std::get<CompleteRecord>(done);
//
// Thread safety: complete() is const; the fetcher must allow concurrent calls.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cds/catalog.h"
#include "cds/coverage_service.h"
#include "cds/hook_request.h"
#include "cds/refusal.h"
#include "fhir/json.h"
#include "fhir/resource_index.h"
#include "mappings/coverage_reader.h"
#include "mappings/mapping_set.h"

namespace cryo::cds {

// What a stored call decided again brings beside its request; nothing is fetched for it (the
// call's token is gone).
struct StoredRecord {
  const fhir::Json* answers = nullptr;  // a QuestionnaireResponse (DTR)
  const fhir::Json* fetched = nullptr;  // what the call read then (HookOutcome::fetched_json)
  bool any() const { return answers != nullptr || fetched != nullptr; }
};

// The record a call is decided on.
struct CompleteRecord {
  fhir::ResourceIndex record;
  // The patient's Coverage as the record shows it (its payor Organization read when needed);
  // the service refuses the call unless it found exactly one.
  mappings::CoverageReading coverage;
  // What the FHIR server could not supply, "key: why" (optional data left out): the
  // determinations and the answer say the record was incomplete.
  std::vector<std::string> problems;
};

class RecordCompletion {
 public:
  // `fetcher` may be empty (the deployment does not query FHIR servers); both must outlive this.
  RecordCompletion(const mappings::MappingSet& mappings, const MissingDataFetcher& fetcher)
      : mappings_(mappings), fetcher_(fetcher) {}

  // The call's complete record, or the 412 that says what is missing and why it could not be
  // had. `request` is the validated request of `service`.
  std::variant<CompleteRecord, Refusal> complete(const HookRequest& request,
                                                 const ServiceDefinition& service,
                                                 StoredRecord stored) const;

 private:
  std::optional<Refusal> fetch_missing(const HookRequest& request, const ServiceDefinition& service,
                                       CompleteRecord& out) const;
  void read_coverage(const HookRequest& request, CompleteRecord& out) const;

  const mappings::MappingSet& mappings_;
  const MissingDataFetcher& fetcher_;
};

// What prefetch did not bring for `service`: declared keys absent or answered with an
// OperationOutcome, and orders named by reference that `record` does not hold.
MissingData missing_data(const HookRequest& request, const ServiceDefinition& service,
                         const mappings::MappingSet& mappings, const fhir::ResourceIndex& record);

// The documents the record read from the FHIR server (or the patient data cache), as one JSON
// array; "" when it read none. Kept with the call's audit record.
std::string fetched_documents_json(const fhir::ResourceIndex& record);

}  // namespace cryo::cds
