// What the service counts and logs about its work: the metric families of GET /metrics and
// the one structured log line per hook call.
//
// Families (all prefixed cryo_crd_):
//   hook_calls_total{service,status}, hook_call_duration_seconds{service,status} (histogram)
//   determinations_total{payer,line_of_business,outcome,pa_needed}
//   cards_total{service,type}                   type = the card's source.topic code
//   fhir_fetches_total{resource_type}, fhir_fetch_failures_total{resource_type,reason},
//   fhir_fetch_duration_seconds{resource_type}
//   patient_cache_lookups_total{resource_type,result}   result = hit | miss: patient-scoped
//     queries a call needed answered from what encounter-start fetched, or fetched again
//   store_commit_duration_seconds, store_commit_failures_total, store_commit_group_size
//   token_refusals_total{reason}                reason = a fixed category (refusal_category)
//   answers_within_5s_ratio{hook}, answers_within_500ms_ratio{hook}   (CRD metric 6: share
//     of 200 answers faster than 5 s, and than CDS Hooks' 500 ms, per hook)
//   reloads_total{result}
// Label values are bounded: unknown services, malformed card topics and unusual resource
// types are folded into "other".
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cds/http_server.h"
#include "metrics/registry.h"

namespace cryo::cds {

class ServiceMetrics {
 public:
  explicit ServiceMetrics(metrics::Registry& registry);

  // One answered hook call: calls, latency, determinations, cards.
  void observe_call(const CallSummary& call);
  // One FHIR request series (a prefetch query or a read) made to fill missing data.
  // `failure` is "" when it succeeded, else the error kind ("timeout", "unauthorized", ...).
  void observe_fetch(std::string_view resource_type, double seconds, std::string_view failure);
  // One patient-scoped query a call needed: answered from the patient data cache (hit) or
  // not (miss).
  void patient_cache_lookup(std::string_view resource_type, bool hit);
  // One refused client token; `reason` is the verifier's text.
  void token_refused(std::string_view reason);
  // One audit store commit as the call saw it (including waiting for its group).
  void store_commit(double seconds, bool ok);
  void store_group(size_t records);
  void reload(bool ok);

  // A fixed category for a token refusal reason ("expired", "signature", "replayed", ...).
  static std::string_view refusal_category(std::string_view reason);
  // The resource type a FHIR query or reference names ("Coverage?patient=1" -> "Coverage"),
  // or "other".
  static std::string resource_type_of(std::string_view query_or_reference);

 private:
  metrics::Counter calls_;
  metrics::Histogram call_seconds_;
  metrics::Counter determinations_;
  metrics::Counter cards_;
  metrics::Counter fetches_;
  metrics::Counter fetch_failures_;
  metrics::Histogram fetch_seconds_;
  metrics::Counter cache_lookups_;
  metrics::Histogram commit_seconds_;
  metrics::Counter commit_failures_;
  metrics::Histogram group_size_;
  metrics::Counter refusals_;
  metrics::Counter reloads_;
};

// Writes the call's log line: request id, hookInstance, service, client, status, outcome per
// order and latency. Never a token, never clinical content.
void log_call(const CallSummary& call);

}  // namespace cryo::cds
