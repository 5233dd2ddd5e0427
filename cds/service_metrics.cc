#include "cds/service_metrics.h"

#include <array>
#include <cctype>
#include <string>
#include <utility>

#include "base/log.h"
#include "cds/catalog.h"

namespace cryo::cds {
namespace {

std::string_view known_service(std::string_view id) {
  return find_service(id) != nullptr ? id : std::string_view("other");
}

// A code-like label value (lower-case letters, digits, '-', at most 40), else "other".
std::string_view code_label(std::string_view v) {
  if (v.empty()) return "none";
  if (v.size() > 40) return "other";
  for (char c : v) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      return "other";
  }
  return v;
}

// Hooks whose answers count towards the response-time shares.
std::vector<metrics::GaugeSample> shares(const metrics::Histogram& h, double bound) {
  size_t index = 0;
  while (index < h.bounds().size() && h.bounds()[index] < bound) ++index;
  std::vector<std::pair<std::string, std::pair<std::uint64_t, std::uint64_t>>> per_hook;
  for (const auto& s : h.series()) {
    if (s.label_values.size() < 2 || s.label_values[1] != "200") continue;
    const ServiceDefinition* def = find_service(s.label_values[0]);
    if (def == nullptr) continue;
    std::string hook(def->hook);
    auto it = per_hook.begin();
    while (it != per_hook.end() && it->first != hook) ++it;
    if (it == per_hook.end()) it = per_hook.insert(per_hook.end(), {hook, {0, 0}});
    it->second.first += index < s.cumulative.size() ? s.cumulative[index] : s.count;
    it->second.second += s.count;
  }
  std::vector<metrics::GaugeSample> out;
  for (const auto& [hook, counts] : per_hook) {
    if (counts.second == 0) continue;
    out.push_back({{hook}, static_cast<double>(counts.first) / static_cast<double>(counts.second)});
  }
  return out;
}

}  // namespace

ServiceMetrics::ServiceMetrics(metrics::Registry& r)
    : calls_(r.counter("cryo_crd_hook_calls_total",
                       "Hook calls answered, per service and HTTP status.", {"service", "status"})),
      call_seconds_(
          r.histogram("cryo_crd_hook_call_duration_seconds",
                      "Time from request to answer of hook calls, per service and HTTP status.",
                      {"service", "status"}, metrics::latency_buckets())),
      determinations_(r.counter(
          "cryo_crd_determinations_total",
          "Coverage determinations handed out, per payer, line of business, outcome (covered, "
          "not-covered, conditional) and prior-authorization answer.",
          {"payer", "line_of_business", "outcome", "pa_needed"})),
      cards_(r.counter("cryo_crd_cards_total",
                       "Cards returned, per service and card type (source.topic code).",
                       {"service", "type"})),
      fetches_(r.counter("cryo_crd_fhir_fetches_total",
                         "Queries and reads sent to EHR FHIR servers for data prefetch did not "
                         "bring, per resource type.",
                         {"resource_type"})),
      fetch_failures_(r.counter("cryo_crd_fhir_fetch_failures_total",
                                "FHIR queries and reads that failed, per resource type and reason.",
                                {"resource_type", "reason"})),
      fetch_seconds_(
          r.histogram("cryo_crd_fhir_fetch_duration_seconds",
                      "Duration of FHIR queries and reads (all pages), per resource type.",
                      {"resource_type"}, metrics::latency_buckets())),
      cache_lookups_(r.counter("cryo_crd_patient_cache_lookups_total",
                               "Patient-scoped FHIR queries a call needed, answered from what an "
                               "encounter-start call fetched (hit) or not (miss).",
                               {"resource_type", "result"})),
      commit_seconds_(r.histogram("cryo_crd_store_commit_duration_seconds",
                                  "Time a hook call waited for its audit record to be committed.",
                                  {}, metrics::latency_buckets())),
      commit_failures_(r.counter("cryo_crd_store_commit_failures_total",
                                 "Audit record commits that failed (the call answered 503).", {})),
      group_size_(r.histogram("cryo_crd_store_commit_group_size",
                              "Records committed together in one audit store transaction.", {},
                              {1, 2, 4, 8, 16, 32, 64, 128})),
      refusals_(r.counter("cryo_crd_token_refusals_total",
                          "Client tokens refused, per reason category.", {"reason"})),
      reloads_(r.counter("cryo_crd_reloads_total",
                         "Reloads of policies, mappings and trust (SIGHUP), per result.",
                         {"result"})) {
  const metrics::Histogram h = call_seconds_;
  r.gauge("cryo_crd_answers_within_5s_ratio",
          "Share of 200 answers given within 5 seconds, per hook (CRD metric: responses in under "
          "5 seconds).",
          {"hook"}, [h] { return shares(h, 5.0); });
  r.gauge("cryo_crd_answers_within_500ms_ratio",
          "Share of 200 answers given within 500 milliseconds, per hook (CDS Hooks target).",
          {"hook"}, [h] { return shares(h, 0.5); });
}

void ServiceMetrics::observe_call(const CallSummary& call) {
  const std::string status = std::to_string(call.status);
  const std::string_view service = known_service(call.service_id);
  calls_.inc({service, status});
  call_seconds_.observe({service, status}, static_cast<double>(call.latency.count()) / 1e6);
  if (call.outcome == nullptr || call.status != 200) return;
  for (const auto& order : call.outcome->orders) {
    const auto& d = order.determination;
    determinations_.inc({call.outcome->payer_id, call.outcome->line_of_business,
                         code_label(code(d.covered)), code_label(code(d.pa_needed))});
  }
  // Cards per type, as the response writer wrote them.
  for (const SentCard& card : call.outcome->cards) cards_.inc({service, code_label(card.type)});
}

void ServiceMetrics::observe_fetch(std::string_view resource_type, double seconds,
                                   std::string_view failure) {
  fetches_.inc({resource_type});
  fetch_seconds_.observe({resource_type}, seconds);
  if (!failure.empty()) fetch_failures_.inc({resource_type, code_label(failure)});
}

void ServiceMetrics::patient_cache_lookup(std::string_view resource_type, bool hit) {
  cache_lookups_.inc({resource_type, hit ? "hit" : "miss"});
}

void ServiceMetrics::token_refused(std::string_view reason) {
  refusals_.inc({refusal_category(reason)});
}

void ServiceMetrics::store_commit(double seconds, bool ok) {
  commit_seconds_.observe({}, seconds);
  if (!ok) commit_failures_.inc({});
}

void ServiceMetrics::store_group(size_t records) {
  group_size_.observe({}, static_cast<double>(records));
}

void ServiceMetrics::reload(bool ok) {
  reloads_.inc({ok ? "ok" : "failed"});
}

std::string_view ServiceMetrics::refusal_category(std::string_view reason) {
  // First match wins; the verifier's texts start with these words.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 20> kCategories{{
      {"no Authorization", "missing"},
      {"Authorization is not", "not-bearer"},
      {"malformed", "malformed"},
      {"unsigned", "unsigned"},
      {"algorithm", "algorithm"},
      {"header", "header"},
      {"no iss", "claims"},
      {"issuer", "issuer"},
      {"no aud", "audience"},
      {"aud ", "audience"},
      {"no valid exp", "claims"},
      {"no valid iat", "claims"},
      {"no jti", "claims"},
      {"token expired", "expired"},
      {"iat in the future", "not-yet-valid"},
      {"exp before iat", "claims"},
      {"token lifetime", "lifetime"},
      {"jku", "jku"},
      {"unknown kid", "unknown-key"},
      {"bad signature", "signature"},
  }};
  if (reason.starts_with("jti replayed")) return "replayed";
  if (reason.starts_with("replay cache full")) return "replay-cache-full";
  for (const auto& [prefix, category] : kCategories) {
    if (reason.starts_with(prefix)) return category;
  }
  return "other";
}

std::string ServiceMetrics::resource_type_of(std::string_view q) {
  size_t end = 0;
  while (end < q.size() && std::isalpha(static_cast<unsigned char>(q[end]))) ++end;
  bool ok = end > 0 && end <= 40 && std::isupper(static_cast<unsigned char>(q[0])) &&
            (end == q.size() || q[end] == '?' || q[end] == '/');
  return ok ? std::string(q.substr(0, end)) : std::string("other");
}

void log_call(const CallSummary& call) {
  std::string outcomes;
  std::string payer;
  if (call.outcome != nullptr) {
    payer = call.outcome->payer_id;
    for (const auto& order : call.outcome->orders) {
      if (!outcomes.empty()) outcomes.push_back(' ');
      outcomes += order.order_reference + "=";
      outcomes += code(order.determination.covered);
    }
  }
  char latency[32];
  std::snprintf(latency, sizeof latency, "%.3f",
                static_cast<double>(call.latency.count()) / 1000.0);
  log::Level level = call.status >= 500 ? log::Level::kError : log::Level::kInfo;
  log::write(level, "hook call",
             {{"request_id", call.request_id},
              {"service", call.service_id},
              {"hookInstance", call.hook_instance},
              {"client", !call.client.empty() ? call.client
                         : call.status == 401 ? std::string_view("refused")
                                              : std::string_view("unsigned")},
              {"status", std::to_string(call.status)},
              {"payer", payer},
              {"outcomes", outcomes},
              {"latency_ms", latency}});
}

}  // namespace cryo::cds
