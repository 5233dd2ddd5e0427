// AuditStore: the durable record of every hook call and every coverage determination.
//
// CRD servers SHALL retain logs of all hook invocations and their responses, and the
// coverage-assertion-id handed to an EHR is later quoted on the claim, so an id the service
// hands out must never be lost. The HTTP layer therefore calls record() before it sends a
// response, and record() returns only once the call is durably committed.
//
// Two back ends share one schema and one behaviour:
//   - SQLite (default, embedded): open_store("./var") keeps one file, ./var/cryo-audit.sqlite3,
//     in WAL mode with synchronous=FULL. "sqlite:/path/file.sqlite3" names the file directly.
//   - PostgreSQL: open_store("postgresql://user@host:5432/db?...") so that several server
//     replicas share one store (libpq connection URI; "postgres://" works too).
// The schema is created and migrated on open (table schema_migrations, one row per version).
//
// Concurrency: record() calls from many threads are committed in groups by one writer thread
// (one transaction, one fsync, for everything queued at that moment). Look-ups run on a few
// reader threads with their own connections and never wait for the writer. No caller waits
// longer than StoreOptions::deadline, nor at all while the database does not answer
// (healthy()).
//
//   auto store = cryo::audit::open_store("./var");
//   if (!store) { fail(store.error()); }
//   auto prior = (*store)->find_by_hook_instance(hook_instance);   // EHR retry?
//   if (prior.ok() && *prior) {
//     if (!same_call(**prior, iss, patient, request_digest(request))) return http_409();
//     return (*prior)->response_json;
//   }
//   ... evaluate ...
//   auto rec = (*store)->record(std::move(call));                   // durable after this
//   if (!rec) { return http_503(); }                                // never send unstored ids
//   if (rec->conflict) { return http_409(); }                       // someone else's hookInstance
//   if (rec->duplicate) { return rec->existing->response_json; }   // lost a race with a retry
//
// Only what a dispute needs is kept: the hook call (request without fhirAuthorization, the
// response) and the determination per order. Nothing else about the patient.
//
// Thread safety: every method may be called from any thread at once. Destroying the store
// waits for queued writes; no call may be in progress or follow it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace cryo::audit {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::milliseconds>;

// The determination for one order, as handed out in the coverage-information extension.
struct DeterminationRecord {
  std::string order_ref;              // "ServiceRequest/sr-1"
  std::string coverage_assertion_id;  // one hook call's; shared by its orders under one Coverage
  // The id was handed out by an earlier call for the same order, patient and client, and this
  // determination revises it (the answers to the payer's questions decided it). Look-ups of
  // the id then show every revision, oldest first.
  bool continues_assertion = false;
  std::string covered;      // covered | not-covered | conditional
  std::string pa_needed;    // "" | no-auth | auth-needed | conditional
  std::string doc_needed;   // "" | clinical
  std::string doc_purpose;  // "" | withpa | withclaim
  std::string info_needed;  // "" | OTH
  // Every criterion's value with its evidence references, a JSON array (see
  // criteria_json() in audit/determination_record.h for the shape). "[]" when none.
  std::string criteria_json = "[]";
  std::string policy_id;
  std::string policy_revision;
  std::string service_version;  // the Cryo CRD version that decided
  // For payer staff matching a claim (kept in determination_lookup): the member id on the
  // Coverage, the date of service ("YYYY-MM-DD", "" when the order has none), the billing
  // code, and a JSON object with the claim-matching details (cds/assertion_lookup.h).
  std::string member_id;
  std::string date_of_service;
  std::string billing_code;
  std::string lookup_json = "{}";
};

// One hook call: what was asked, what was answered, and the determinations handed out.
struct HookRecord {
  std::string hook_instance;  // unique: a second record() of the same one is a no-op
  std::string hook;           // "order-sign"
  std::string service_id;     // "cryoablation-crd"
  TimePoint received_at{};    // the epoch (unset) means "now"
  std::string client_iss;     // the client's JWT issuer
  std::string patient_id;
  std::string payer_id;
  std::string line_of_business;
  // The request body. The caller strips fhirAuthorization; record() strips it again if
  // present, so an access token never reaches the store. Must be a JSON object.
  std::string request_json;
  // SHA-256 (hex) of request_json as stored; record() computes it when empty. A hookInstance
  // is answered from the store only for a request with the same digest.
  std::string request_sha256;
  // The response body. The uuid of every card in it is kept (see card_exists()).
  std::string response_json;
  // The uuid of every card in response_json when the caller wrote it and knows them; when
  // unset, record() reads them from response_json.
  std::optional<std::vector<std::string>> card_uuids;
  std::vector<DeterminationRecord> determinations;
  // What the call read from the client's FHIR server (a JSON array of the documents: search
  // Bundles, resources), "" when it read nothing: with request_json, the record it was decided
  // on (the DTR questions decide the stored call again on the same record).
  std::string fetched_json;
};

struct RecordOutcome {
  // True when the hookInstance was already stored for the same client, patient and request (an EHR
  // retry, or a concurrent identical call won the race): nothing was written and `existing` is the
  // stored call.
  bool duplicate = false;
  std::optional<HookRecord> existing;
  // True when the hookInstance was already stored for another client, patient or request: nothing
  // was written and nothing of the stored call is returned (answer 409).
  bool conflict = false;
};

// The metadata of the hook call a determination was made in.
struct HookCallInfo {
  std::string hook_instance;
  std::string hook;
  std::string service_id;
  TimePoint received_at{};
  std::string client_iss;
  std::string patient_id;
  std::string payer_id;
  std::string line_of_business;
};

// A stored determination with the hook call it belongs to (the payer's look-up by the
// coverage-assertion-id quoted on a claim).
struct AssertionRecord {
  HookCallInfo call;
  DeterminationRecord determination;
};

// CDS Hooks feedback for one card.
struct FeedbackRecord {
  std::string service_id;
  std::string card_uuid;
  std::string outcome;                    // "accepted" | "overridden"
  std::string accepted_suggestions_json;  // JSON array of {"id": uuid}; "[]" when none
  std::string override_reason_json;       // JSON object as received; "" when none
  std::string outcome_timestamp;          // as received (ISO 8601)
};

enum class FeedbackOutcome {
  kStored,       // first time this feedback was seen
  kDuplicate,    // same service, card, outcome and outcomeTimestamp already stored
  kUnknownCard,  // no response handed out this card uuid: reject with 400
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Stores the call durably; returns after the commit. Fails (and stores nothing of the call)
  // when the request is not a JSON object, the response is not JSON, an id contains NUL, an
  // assertion id is already taken, or the store cannot commit.
  virtual Result<RecordOutcome> record(HookRecord call) = 0;

  // The stored call for a hookInstance (with its response, to answer a retry identically).
  // Answer a retry from it only when same_call() holds for the retrying request: a
  // hookInstance is not a secret. Ids containing NUL are refused (an Error).
  virtual Result<std::optional<HookRecord>> find_by_hook_instance(std::string_view id) = 0;

  // The determinations handed out under a coverage-assertion-id (one per order it annotated),
  // with their hook call, in the order they were recorded: the first call's, then the
  // revisions later calls made (DeterminationRecord::continues_assertion); empty when the id
  // is unknown.
  virtual Result<std::vector<AssertionRecord>> find_assertion(std::string_view id) = 0;

  // Every determination for a patient whose call was received at or after `since`, oldest
  // first.
  virtual Result<std::vector<AssertionRecord>> find_assertions(std::string_view patient_id,
                                                               TimePoint since) = 0;

  // Every determination for a member whose date of service is in [from, to] ("YYYY-MM-DD",
  // inclusive; "" leaves that end open), by date of service.
  virtual Result<std::vector<AssertionRecord>> find_by_member(std::string_view member_id,
                                                              std::string_view from,
                                                              std::string_view to) = 0;

  // Every determination whose date of service is in [from, to] (inclusive), by date of
  // service, at most `limit` (the claims export).
  virtual Result<std::vector<AssertionRecord>> find_by_date_of_service(std::string_view from,
                                                                       std::string_view to,
                                                                       std::size_t limit) = 0;

  // Stores feedback once per (service, card, outcome, outcomeTimestamp).
  virtual Result<FeedbackOutcome> record_feedback(FeedbackRecord feedback) = 0;

  // Whether a stored response handed out a card with this uuid.
  virtual Result<bool> card_exists(std::string_view card_uuid) = 0;

  // Deletes every hook call received before `cutoff`, with its determinations, cards and
  // feedback. Returns the number of hook calls deleted.
  virtual Result<std::int64_t> purge_before(TimePoint cutoff) = 0;

  // Records a client token id (issuer, jti) until `expires_at`, atomically across every
  // process using the store: true when it was not held (or only expired), false when another
  // call already presented it. Expired ids are purged now and then. PostgreSQL only (replicas
  // share it); the SQLite store answers an Error.
  virtual Result<bool> remember_token_id(std::string_view issuer, std::string_view jti,
                                         TimePoint expires_at, TimePoint now) = 0;

  // Read-only: every stored hook call received at or after `since`, oldest first, with its
  // request and determinations, optionally only of one payer ("" = all). `visit` returns false
  // to stop. Reads in pages, so the store can be of any size. Returns the number visited.
  virtual Result<std::int64_t> for_each_call(
      TimePoint since, std::string_view payer_id,
      const std::function<bool(const HookRecord&)>& visit) = 0;

  // "sqlite" or "postgresql".
  virtual std::string_view backend() const = 0;

  // False while the database does not answer: an operation has been running for longer than
  // the deadline (StoreOptions), or the connection is lost. Operations then fail at once (and
  // waiting ones stop waiting) instead of holding their callers; it turns true as soon as the
  // database answers again (the store probes it). For readiness checks; never blocks.
  virtual bool healthy() const = 0;
};

struct StoreOptions {
  // Longest a caller waits for one store operation (a look-up, a commit) before it gets an
  // Error; well inside CRD's answer budget. Purges wait as long as the database answers.
  std::chrono::milliseconds deadline{1000};
  // Called on the writer thread after each committed group with the number of records in it
  // (for metrics); must be cheap and must not call back into the store.
  std::function<void(std::size_t records)> on_group_committed;
};

// Opens (creating and migrating as needed) the store named by `url_or_dir`:
//   "postgresql://..." or "postgres://..."  PostgreSQL (libpq connection URI)
//   "sqlite:<file>"                         SQLite, that file
//   anything else                           SQLite, <dir>/cryo-audit.sqlite3 (dir created 0700)
// An empty string means "./var".
Result<std::unique_ptr<AuditStore>> open_store(std::string_view url_or_dir,
                                               StoreOptions options = {});

// The store's JSON view of a determination (the admin look-up):
//   {"coverageAssertionId", "order", "covered", "paNeeded", "docNeeded", "docPurpose",
//    "infoNeeded", "criteria": [...], "policy": {"id", "revision"}, "serviceVersion",
//    "hookCall": {"hookInstance", "hook", "serviceId", "receivedAt", "clientIss", "patientId",
//                 "payerId", "lineOfBusiness"}}
// Empty codes are omitted. receivedAt is ISO 8601 UTC with milliseconds.
std::string to_json(const AssertionRecord& assertion);
std::string to_json(const std::vector<AssertionRecord>& assertions);  // {"assertions": [...]}
// One to_json() object per line (the claims export).
std::string to_ndjson(const std::vector<AssertionRecord>& assertions);

// SHA-256 (lower-case hex) of a request as stored (without fhirAuthorization).
std::string request_digest(std::string_view request_json);

// Whether a stored call may be replayed to a new request with the same hookInstance: same
// client, same patient and the same request content (which names the hook). A hookInstance is not a
// secret, so anything else must get nothing of the stored call.
bool same_call(const HookRecord& stored, std::string_view client_iss, std::string_view patient_id,
               std::string_view request_sha256);

// ISO 8601 UTC with milliseconds, e.g. "2026-02-01T10:20:30.123Z".
std::string format_time(TimePoint t);

}  // namespace cryo::audit
