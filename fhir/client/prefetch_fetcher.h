// PrefetchFetcher: fetches what a CDS client's prefetch did not bring, from its FHIR server.
//
// CDS Hooks 2.0 lets a client honour none, some or all prefetch templates; the service then
// queries the client's FHIR server itself (`fhirServer`, with `fhirAuthorization.access_token`
// as a Bearer token). This class runs the missing prefetch queries and single reads of
// referenced resources ("Organization/x" for a Coverage payor, "ServiceRequest/z" behind an
// order-dispatch reference) concurrently, within one time budget per hook call, so the whole
// answer stays inside CRD's 5 s.
//
//   PrefetchFetcher fetcher;                        // one per process; holds connection pools
//   FetchRequest req{.fhir_server = request.fhir_server,
//                    .access_token = request.access_token,
//                    .context = request.context,
//                    .templates = missing_templates,   // the keys prefetch did not bring
//                    .references = {"Organization/payer-1"}};
//   FetchReport report = fetcher.fetch(req);
//   FetchSummary summary = report.hand_to(record);   // ResourceIndex; fhir/fetch_summary.h
//   if (!summary.missing.empty() && !summary.reached) answer_412();
//
// Every result is either a parsed, owned document (a resource, or a searchset Bundle with all
// pages gathered and OperationOutcome entries removed) or an error kind. OperationOutcome
// answers are reported as missing data, never as resources.
//
// The access token is used only for the requests of the call it came with: it is neither
// stored in the connection pools nor written to any message.
//
// Thread safety: fetch(), fetch_prefetch() and fetch_references() may run concurrently from
// any number of hook calls; they share one keep-alive connection pool per FHIR server origin.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/fetch_summary.h"
#include "fhir/json.h"
#include "fhir/prefetch_template.h"
#include "fhir/resource_index.h"

namespace cryo::fhir::client {

struct FetchOptions {
  // Each HTTP request (one page, one read) must finish within this.
  std::chrono::milliseconds per_request_timeout{1500};
  // All requests of one fetch() together must finish within this; requests not done by
  // then are abandoned and reported as timeouts.
  std::chrono::milliseconds total_budget{3000};
  // Requests of one fetch() in flight at the same time.
  size_t max_concurrency = 8;
  // Pages followed per search (the first page counts); later pages are left out.
  size_t max_pages = 10;
  // One response body; larger answers are abandoned (kTooLarge).
  size_t max_response_bytes = 20 * 1024 * 1024;
  // All response bodies of one fetch() together.
  size_t max_total_bytes = 64 * 1024 * 1024;
  // JSON nesting allowed in a response.
  size_t max_depth = 64;
  // Idle keep-alive connections kept per FHIR server origin.
  size_t max_idle_connections = 16;
  // Trusted CA certificates (PEM file) for HTTPS; empty = the system's trust store.
  std::string ca_cert_file{};
};

enum class FetchErrorKind {
  kTimeout,       // no complete answer within the per-request timeout or the budget
  kUnreachable,   // connection refused, DNS failure, TLS failure, connection reset
  kUnauthorized,  // 401 or 403
  kHttpError,     // any other non-2xx status
  kBadJson,       // not JSON, too deeply nested, or not a FHIR resource
  kTooLarge,      // response larger than max_response_bytes (or the call's total)
  kMissingData,   // an OperationOutcome instead of data, or 404/410 on a read
  kNotQueryable,  // bad fhirServer URL, a template token without a value or not supported,
                  // a malformed reference
};

// "timeout", "unreachable", "unauthorized", "http-error", "bad-json", "too-large",
// "missing-data", "not-queryable".
std::string_view to_string(FetchErrorKind kind);

struct FetchError {
  FetchErrorKind kind;
  int http_status = 0;  // when an HTTP answer came
  std::string message;  // human-readable; never contains the access token
};

// The outcome of one prefetch key or one reference.
struct FetchResult {
  std::string key;  // the prefetch key, or the reference "Type/id"
  std::string url;  // the first URL requested ("" when nothing was requested)
  // The resource, or a searchset Bundle holding the entries of every page fetched.
  std::unique_ptr<JsonDocument> document;
  std::optional<FetchError> error;  // set when anything failed, also after partial data
  std::vector<std::string> issues;  // texts of OperationOutcome answers and entries
  size_t pages = 0;                 // HTTP answers that contributed
  bool truncated = false;           // pages were left out (page cap, budget, failed page)
  std::chrono::milliseconds elapsed{0};

  bool ok() const { return document != nullptr; }
  // "coverage: timeout: no answer within 1500 ms", for logs and reasons.
  std::string describe() const;
};

struct FetchReport {
  std::vector<FetchResult> results;  // templates first (in the given order), then references
  bool reached = false;              // at least one request got an HTTP answer (any status)
  std::chrono::milliseconds elapsed{0};

  // Hands every fetched document to `index` (adopt + add, origin = the URL) and returns the
  // keys that produced no document. Documents are moved out of the results.
  std::vector<std::string> add_to(ResourceIndex& index);
  // describe() of every result with an error.
  std::vector<std::string> problems() const;
  // add_to(index), then what the fetch came to: reached, the keys that produced no document,
  // problems().
  FetchSummary hand_to(ResourceIndex& index);
};

struct FetchRequest {
  std::string_view fhir_server;                 // base URL, "https://ehr.example.org/fhir/R4"
  std::string_view access_token;                // "" = send no Authorization header
  const Json* context = nullptr;                // the hook's context object, for template tokens
  std::span<const PrefetchTemplate> templates;  // queries to run (the missing keys)
  std::span<const std::string> references;      // "Type/id" to read
};

// Expands the prefetch tokens of `query`: {{context.<field>}} (a primitive root-level context
// field), {{userPractitionerId}}, {{userPractitionerRoleId}}, {{userPatientId}},
// {{userRelatedPersonId}} (the id of context.userId when it names that resource type).
// Values are percent-encoded. Returns nullopt and sets `why` when a token has no value or is
// not a supported token (e.g. CRD 2.1/2.2 FHIRPath expressions).
std::optional<std::string> expand_template(std::string_view query, const Json* context,
                                           std::string* why = nullptr);

class PrefetchFetcher {
 public:
  explicit PrefetchFetcher(FetchOptions options = {});
  ~PrefetchFetcher();
  PrefetchFetcher(const PrefetchFetcher&) = delete;
  PrefetchFetcher& operator=(const PrefetchFetcher&) = delete;

  // Runs every template and every read of `request` concurrently, within one budget.
  FetchReport fetch(const FetchRequest& request) const;

  // Runs the templates whose key is in `missing_keys` (all of them when it is empty is NOT
  // assumed: an empty list fetches nothing).
  FetchReport fetch_prefetch(std::string_view fhir_server, std::string_view access_token,
                             std::span<const PrefetchTemplate> templates,
                             std::span<const std::string> missing_keys, const Json* context) const;

  // Reads each "Type/id" concurrently.
  FetchReport fetch_references(std::string_view fhir_server, std::string_view access_token,
                               std::span<const std::string> references) const;

  const FetchOptions& options() const { return options_; }

 private:
  struct Pools;
  FetchOptions options_;
  std::unique_ptr<Pools> pools_;
};

}  // namespace cryo::fhir::client
