// Connects the HTTP layer to the audit store.
//
// make_recorder() turns hook outcomes into audit records (the request without
// fhirAuthorization, the response, one determination per order with every criterion and its
// evidence), answers EHR retries from the store only for the same client and patient, and
// stores card feedback once, refusing uuids no response handed out.
// assertion_routes() serves the payer staff's look-up — GET /assertions/{id} (JSON, or HTML
// for text/html) and GET /assertions?patient=...&since=... — behind the admin bearer token,
// compared in constant time against its configured SHA-256 digest. Every look-up is logged.
//
// Thread safety: the returned callables may run concurrently (the store is thread-safe).
#pragma once

#include <memory>
#include <string>

#include "audit/admin_auth.h"
#include "audit/store.h"
#include "cds/http_server.h"
#include "security/replay_cache.h"

namespace cryo::cds {

HookRecorder make_recorder(audit::AuditStore& store, std::string service_version);

// What the store keeps of one order's determination: every criterion with its evidence, the
// claim-matching details, the code version and data that decided, and whether it revises an
// assertion id handed out before (OrderDetermination::continues_assertion).
audit::DeterminationRecord determination_record(const HookOutcome& outcome,
                                                const OrderDetermination& od,
                                                std::string_view service_version);

// Registers the admin look-up routes on `server`.
void add_assertion_routes(HttpServer& server, audit::AuditStore& store,
                          audit::AdminCredential credential);

// The client token replay check shared through the store (replicas on one PostgreSQL
// database refuse a token another replica accepted). While the store does not answer, only
// this replica's own check applies (no hook call can be recorded then anyway).
std::shared_ptr<security::SharedReplayCheck> make_shared_replay_check(audit::AuditStore& store);

// The request as kept for audit: the same JSON without `fhirAuthorization`.
std::string request_for_audit(const fhir::Json& request);

}  // namespace cryo::cds
