#include "cds/audit_recorder.h"

#include <chrono>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "audit/assertion_page.h"
#include "cds/determination_record.h"
#include "base/log.h"
#include "cds/assertion_lookup.h"
#include "cds/operation_outcome.h"
#include "fhir/datetime.h"

namespace cryo::cds {
namespace {

using fhir::Json;

// At most this many determinations per export call.
constexpr size_t kMaxExportRows = 50000;

// "YYYY-MM-DD".
bool is_day(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

HttpServer::Reply outcome_reply(int status, std::string_view code, std::string_view message) {
  return {status, "application/fhir+json", operation_outcome(code, message)};
}

// The answer to a reused hookInstance that is not a retry of the stored call. It says nothing
// of that call (not whose it was, nor what differs).
RecordedCall conflict() {
  RecordedCall c;
  c.found = true;
  c.status = 409;
  c.body = operation_outcome("conflict",
                             "this hookInstance was already used for another hook call; every hook "
                             "call needs its own hookInstance");
  return c;
}

class StoreReplayCheck final : public security::SharedReplayCheck {
 public:
  explicit StoreReplayCheck(audit::AuditStore& store) : store_(store) {}
  security::ReplayCache::Outcome remember(std::string_view issuer, std::string_view jti,
                                          security::ReplayCache::TimePoint expires_at,
                                          security::ReplayCache::TimePoint now) override {
    using std::chrono::time_point_cast;
    auto fresh = store_.remember_token_id(issuer, jti,
                                          time_point_cast<std::chrono::milliseconds>(expires_at),
                                          time_point_cast<std::chrono::milliseconds>(now));
    if (!fresh) {
      // The store is down: this replica's own check (already passed) stands. While it is down
      // no hook call can be answered anyway (nothing can be recorded).
      log::warn("shared replay check unavailable; this replica's own check applies",
                {{"error", fresh.error().to_string()}});
      return security::ReplayCache::kFresh;
    }
    return *fresh ? security::ReplayCache::kFresh : security::ReplayCache::kReplayed;
  }

 private:
  audit::AuditStore& store_;
};

}  // namespace

std::shared_ptr<security::SharedReplayCheck> make_shared_replay_check(audit::AuditStore& store) {
  return std::make_shared<StoreReplayCheck>(store);
}

std::string request_for_audit(const Json& request) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  if (!request.IsObject()) {
    request.Accept(w);
    return {buffer.GetString(), buffer.GetSize()};
  }
  w.StartObject();
  for (auto it = request.MemberBegin(); it != request.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (name == "fhirAuthorization") continue;  // an access token is never kept
    it->name.Accept(w);
    it->value.Accept(w);
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

audit::DeterminationRecord determination_record(const HookOutcome& outcome,
                                                const OrderDetermination& od,
                                                std::string_view service_version) {
  // The code version and the policy and mapping data that decided (after a reload, the data
  // this call was answered with).
  std::string version(service_version);
  if (!outcome.data_hash.empty()) version += " (data " + outcome.data_hash + ")";
  audit::DeterminationRecord rec = make_determination_record(
      od.order_reference, od.coverage_assertion_id, od.determination, version);
  rec.continues_assertion = od.continues_assertion;
  fill_lookup(outcome, od, rec);  // for payer staff's look-up
  return rec;
}

HookRecorder make_recorder(audit::AuditStore& store, std::string service_version) {
  HookRecorder r;
  r.record = [&store, service_version](const HookOutcome& outcome, const Json& request,
                                       std::string_view issuer,
                                       std::string_view service_id) -> Result<RecordedCall> {
    audit::HookRecord rec;
    rec.hook_instance = outcome.hook_instance;
    rec.hook = outcome.hook;
    rec.service_id = std::string(service_id);
    rec.received_at = std::chrono::time_point_cast<std::chrono::milliseconds>(audit::Clock::now());
    rec.client_iss = std::string(issuer);
    rec.patient_id = outcome.patient_id;
    rec.payer_id = outcome.payer_id;
    rec.line_of_business = outcome.line_of_business;
    rec.request_json = request_for_audit(request);
    rec.response_json = outcome.body;
    rec.fetched_json = outcome.fetched_json;
    rec.card_uuids.emplace();
    for (const SentCard& card : outcome.cards) rec.card_uuids->push_back(card.uuid);
    for (const auto& od : outcome.orders)
      rec.determinations.push_back(determination_record(outcome, od, service_version));
    auto stored = store.record(std::move(rec));
    if (!stored) return stored.error();
    if (stored->conflict) return conflict();
    RecordedCall answer;
    if (stored->duplicate && stored->existing) {
      // A concurrent retry won: hand out what it stored, never ids that were not kept.
      answer.found = true;
      answer.body = stored->existing->response_json;
    }
    return answer;
  };
  r.feedback = [&store](std::string_view service_id, const Json& item) -> Status {
    audit::FeedbackRecord f;
    f.service_id = std::string(service_id);
    f.card_uuid = std::string(fhir::string_or_empty(fhir::member(item, "card")));
    f.outcome = std::string(fhir::string_or_empty(fhir::member(item, "outcome")));
    f.outcome_timestamp =
        std::string(fhir::string_or_empty(fhir::member(item, "outcomeTimestamp")));
    auto json_of = [](const Json* v) {
      rapidjson::StringBuffer b;
      rapidjson::Writer<rapidjson::StringBuffer> w(b);
      v->Accept(w);
      return std::string(b.GetString(), b.GetSize());
    };
    const Json* accepted = fhir::member(item, "acceptedSuggestions");
    f.accepted_suggestions_json = accepted ? json_of(accepted) : "[]";
    const Json* reason = fhir::member(item, "overrideReason");
    f.override_reason_json = reason ? json_of(reason) : "";
    auto stored = store.record_feedback(std::move(f));
    if (!stored) return stored.error();
    if (*stored == audit::FeedbackOutcome::kUnknownCard) {
      return Error{"feedback.card",
                   "no card with uuid '" +
                       std::string(fhir::string_or_empty(fhir::member(item, "card"))) +
                       "' was handed out by this service"};
    }
    return {};
  };
  return r;
}

void add_assertion_routes(HttpServer& server, audit::AuditStore& store,
                          audit::AdminCredential credential) {
  auto authorized = [credential](std::string_view authorization) {
    auto token = audit::bearer_token(authorization);
    return token.has_value() && credential.accepts(*token);
  };
  server.add_get(R"(/assertions/([A-Za-z0-9._-]+))",
                 [&store, authorized](
                     const std::string& path, const std::map<std::string, std::string>&,
                     std::string_view authorization, std::string_view accept) -> HttpServer::Reply {
                   std::string id = path.substr(path.rfind('/') + 1);
                   if (!authorized(authorization)) {
                     log::warn("admin look-up refused", {{"assertion", id}});
                     return outcome_reply(401, "login", "an admin bearer token is required");
                   }
                   log::info("admin look-up", {{"assertion", id}});
                   auto found = store.find_assertion(id);
                   if (!found)
                     return outcome_reply(503, "transient", "the audit store is unavailable");
                   if (found->empty())
                     return outcome_reply(404, "not-found", "no coverage assertion '" + id + "'");
                   if (accept.find("text/html") != std::string_view::npos) {
                     return {200, "text/html; charset=utf-8", audit::render_assertion_page(*found)};
                   }
                   return {200, "application/json", audit::to_json(*found)};
                 });
  server.add_get(
      "/assertions",
      [&store, authorized](const std::string&, const std::map<std::string, std::string>& query,
                           std::string_view authorization, std::string_view) -> HttpServer::Reply {
        if (!authorized(authorization)) {
          log::warn("admin look-up refused", {{"query", "patient"}});
          return outcome_reply(401, "login", "an admin bearer token is required");
        }
        if (auto m = query.find("member"); m != query.end()) {
          // Payer staff matching a claim: the member id and a date-of-service range.
          if (m->second.empty()) return outcome_reply(400, "required", "'member' is empty");
          std::string from = query.contains("from") ? query.at("from") : "";
          std::string to = query.contains("to") ? query.at("to") : "";
          if ((!from.empty() && !is_day(from)) || (!to.empty() && !is_day(to)))
            return outcome_reply(400, "value", "'from' and 'to' must be dates (YYYY-MM-DD)");
          log::info("admin look-up", {{"member", m->second}});
          auto found = store.find_by_member(m->second, from, to);
          if (!found) return outcome_reply(503, "transient", "the audit store is unavailable");
          return {200, "application/json", audit::to_json(*found)};
        }
        auto patient = query.find("patient");
        if (patient == query.end() || patient->second.empty()) {
          return outcome_reply(400, "required", "the 'patient' or 'member' parameter is required");
        }
        audit::TimePoint since{};
        if (auto s = query.find("since"); s != query.end()) {
          auto range = fhir::parse_fhir_date(s->second);
          if (!range) return outcome_reply(400, "value", "'since' must be a FHIR date or dateTime");
          since = std::chrono::time_point_cast<std::chrono::milliseconds>(range->begin);
        }
        log::info("admin look-up", {{"patient", patient->second}});
        auto found = store.find_assertions(patient->second, since);
        if (!found) return outcome_reply(503, "transient", "the audit store is unavailable");
        return {200, "application/json", audit::to_json(*found)};
      });
  // The claims export: every determination with a date of service in [from, to], one JSON
  // object per line.
  server.add_get(
      "/assertions.ndjson",
      [&store, authorized](const std::string&, const std::map<std::string, std::string>& query,
                           std::string_view authorization, std::string_view) -> HttpServer::Reply {
        if (!authorized(authorization)) {
          log::warn("admin look-up refused", {{"query", "export"}});
          return outcome_reply(401, "login", "an admin bearer token is required");
        }
        auto from = query.find("from");
        auto to = query.find("to");
        if (from == query.end() || to == query.end() || !is_day(from->second) ||
            !is_day(to->second) || to->second < from->second) {
          return outcome_reply(400, "value",
                               "'from' and 'to' are required dates (YYYY-MM-DD), from <= to");
        }
        log::info("admin export", {{"from", from->second}, {"to", to->second}});
        auto found = store.find_by_date_of_service(from->second, to->second, kMaxExportRows + 1);
        if (!found) return outcome_reply(503, "transient", "the audit store is unavailable");
        if (found->size() > kMaxExportRows) {
          return outcome_reply(413, "too-costly",
                               "more than " + std::to_string(kMaxExportRows) +
                                   " determinations in the range; export a shorter range");
        }
        return {200, "application/x-ndjson", audit::to_ndjson(*found)};
      });
}

}  // namespace cryo::cds
