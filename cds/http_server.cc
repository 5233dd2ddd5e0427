#include "cds/http_server.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <regex>

#include "base/ids.h"
#include "base/log.h"
#include "cds/hook_body.h"
#include "cds/operation_outcome.h"
#include "fhir/json.h"

namespace cryo::cds {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kFhirJson = "application/fhir+json";

HttpResponse outcome_response(int status, std::string_view code, std::string_view message) {
  return {status, kFhirJson, {}, operation_outcome(code, message)};
}

// Request text for a log line: escaped, bounded.
std::string logged(std::string_view text) {
  return escape_request_text(text, 200);
}

// Validates one CDS Hooks feedback item; returns "" when valid.
std::string feedback_problem(const fhir::Json& item, size_t index) {
  using fhir::member;
  std::string at = "feedback[" + std::to_string(index) + "]";
  if (!item.IsObject()) return at + " must be an object";
  const fhir::Json* card = member(item, "card");
  if (card == nullptr || !card->IsString() || card->GetStringLength() == 0)
    return at + ".card (the card's uuid) is required";
  const fhir::Json* outcome = member(item, "outcome");
  std::string_view o = fhir::string_or_empty(outcome);
  if (o != "accepted" && o != "overridden")
    return at + ".outcome must be 'accepted' or 'overridden'";
  const fhir::Json* ts = member(item, "outcomeTimestamp");
  if (ts == nullptr || !ts->IsString() || !fhir::parse_fhir_date(fhir::string_or_empty(ts))) {
    return at + ".outcomeTimestamp is required (an ISO 8601 instant)";
  }
  const fhir::Json* accepted = member(item, "acceptedSuggestions");
  if (o == "accepted" && accepted != nullptr) {
    if (!accepted->IsArray()) return at + ".acceptedSuggestions must be an array";
    for (const auto& s : accepted->GetArray()) {
      if (!s.IsObject() || !member(s, "id") || !member(s, "id")->IsString()) {
        return at + ".acceptedSuggestions[] entries need an 'id' (the suggestion uuid)";
      }
    }
  }
  if (const fhir::Json* reason = member(item, "overrideReason")) {
    if (!reason->IsObject()) return at + ".overrideReason must be an object";
  }
  return "";
}

std::string url_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() &&
               std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = url_decode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

ListenerOptions listener_options(const ServerOptions& o) {
  ListenerOptions l;
  l.bind = o.bind;
  l.port = o.port;
  l.io_threads = o.io_threads;
  l.worker_threads = o.threads;
  l.max_header_bytes = o.max_header_bytes;
  l.max_body_bytes = o.max_body_bytes;
  l.max_body_memory_bytes = o.max_body_memory_bytes;
  l.header_timeout = std::chrono::seconds(o.header_timeout_seconds);
  l.body_timeout = std::chrono::seconds(o.read_timeout_seconds);
  l.write_timeout = std::chrono::seconds(o.write_timeout_seconds);
  l.idle_timeout = std::chrono::seconds(o.keep_alive_seconds);
  l.max_connections = o.max_connections;
  l.retry_after_seconds = o.retry_after_seconds;
  l.drain_timeout = std::chrono::seconds(o.drain_timeout_seconds);
  l.tls_cert_file = o.tls_cert_file;
  l.tls_key_file = o.tls_key_file;
  return l;
}

// The id in `<prefix><id><suffix>` when the path is exactly that and the id is made of
// letters, digits, '.', '_' and '-'; empty otherwise.
std::string_view route_id(std::string_view path, std::string_view prefix,
                          std::string_view suffix = {}) {
  if (!path.starts_with(prefix) || !path.ends_with(suffix)) return {};
  if (path.size() <= prefix.size() + suffix.size()) return {};
  std::string_view id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return {};
  }
  return id;
}

// The client's X-Request-Id when it is a short token, else a new one.
std::string request_id_of(const HttpRequest& req) {
  std::string id(req.header("x-request-id"));
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  return ok ? id : random_uuid();
}

}  // namespace

struct HttpServer::Impl {
  const CoverageService& service;
  ServerOptions options;
  Authenticator authenticator;
  HookRecorder recorder;
  std::optional<security::CorsPolicy> cors;
  std::vector<std::pair<std::regex, GetHandler>> extra_gets;
  std::vector<std::pair<std::regex, PostHandler>> extra_posts;
  std::unique_ptr<HttpListener> listener;
  CallObserver observer;

  Impl(const CoverageService& s, ServerOptions o) : service(s), options(std::move(o)) {}

  std::string audience(const HttpRequest& req) const {
    return service.options().base_url + req.path;
  }

  // Authenticates; fills the 401 answer and returns false when refused.
  bool authenticate(const HttpRequest& req, HttpResponse& res, std::string& issuer) const {
    if (!authenticator) return true;
    AuthDecision d = authenticator(req.header("authorization"), audience(req));
    if (!d.ok) {
      log::warn("refused client token", {{"path", logged(req.path)},
                                         {"reason", logged(d.reason)},
                                         {"iss", logged(d.issuer)},
                                         {"kid", logged(d.kid)},
                                         {"jti", logged(d.jti)}});
      res = outcome_response(401, "login", "authentication required");
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return false;
    }
    issuer = std::move(d.issuer);
    return true;
  }

  void add_cors(const HttpRequest& req, HttpResponse& res) const {
    if (!cors || !req.has_header("origin")) return;
    for (const auto& h : cors->response_headers(std::string(req.header("origin"))))
      res.headers.emplace_back(h.name, h.value);
  }

  HttpResponse preflight(const HttpRequest& req) const {
    if (!cors) return outcome_response(403, "forbidden", "cross-origin requests are not enabled");
    auto answer = cors->preflight(std::string(req.header("origin")),
                                  std::string(req.header("access-control-request-method")),
                                  std::string(req.header("access-control-request-headers")));
    HttpResponse res;
    if (!answer.allowed) {
      res = outcome_response(answer.status, "forbidden",
                             "this origin, method or header is not allowed");
    } else {
      res.status = answer.status;
      res.content_type = "text/plain";
    }
    for (const auto& h : answer.headers) res.headers.emplace_back(h.name, h.value);
    return res;
  }

  // What one hook call's body may be: the service's parse limits and the per-call caps.
  BodyLimits body_limits() const {
    BodyLimits limits;
    limits.parse = service.options().limits;
    limits.max_draft_orders = options.max_draft_orders;
    limits.max_resources = options.max_resources;
    limits.max_references = options.max_references;
    limits.refuse_nul_in_hook_instance = true;
    return limits;
  }

  HttpResponse handle_hook(HttpRequest& req, const std::string& service_id, std::string& hook,
                           std::string& instance, std::string& issuer,
                           std::optional<HookOutcome>& outcome) {
    HttpResponse res;
    if (!authenticate(req, res, issuer)) return res;
    const ServiceDefinition* definition = find_service(service_id);
    if (definition == nullptr) {
      return outcome_response(404, "not-found",
                              "no CDS service '" + service_id + "'; see GET /cds-services");
    }
    // The body is parsed once, in place: the request belongs to this call.
    fhir::JsonDocument doc;
    if (auto refused = parse_hook_body(req.body, doc, body_limits())) {
      return outcome_response(refused->status, refused->code, refused->message);
    }

    HookOutcome out = service.call(*definition, doc, std::chrono::system_clock::now(), issuer);
    hook = out.hook;
    instance = out.hook_instance;
    if (out.status != 200 && !out.error.empty()) {
      log::info("hook call refused", {{"hookInstance", logged(instance)},
                                      {"status", std::to_string(out.status)},
                                      {"reason", logged(out.error)}});
    }
    if (recorder.record && out.status == 200) {
      // The answer carries coverage-assertion-ids: it leaves only once its record is durable.
      auto stored = recorder.record(out, doc, issuer, service_id);
      if (!stored) {
        log::error("could not record hook call; answer withheld",
                   {{"hookInstance", logged(instance)}, {"error", stored.error().to_string()}});
        HttpResponse busy = outcome_response(
            503, "transient", "the determination could not be recorded; retry the call");
        busy.headers.emplace_back("Retry-After", std::to_string(options.retry_after_seconds));
        return busy;
      }
      // An EHR retry (this hookInstance already answered, to the same client for the same
      // patient and request) gets the answer handed out then; any other reuse gets 409. The
      // store decides this as it inserts, so a fresh call costs no look-up beforehand.
      if (stored->found) {
        out.status = stored->status;
        out.body = std::move(stored->body);
      }
    }
    HttpResponse answer{out.status, out.status == 200 ? kJson : kFhirJson, {}, std::move(out.body)};
    outcome = std::move(out);
    return answer;
  }

  HttpResponse handle_feedback(HttpRequest& req, const std::string& service_id) {
    HttpResponse res;
    std::string issuer;
    if (!authenticate(req, res, issuer)) return res;
    if (find_service(service_id) == nullptr) {
      return outcome_response(404, "not-found", "no CDS service '" + service_id + "'");
    }
    fhir::JsonDocument doc;
    if (auto err = fhir::parse_in_place(req.body, doc, service.options().limits)) {
      return outcome_response(err->kind == fhir::ParseError::kTooLarge ? 413 : 400, "structure",
                              "the feedback body is not acceptable JSON: " + err->message);
    }
    const fhir::Json* items = fhir::member(doc, "feedback");
    if (items == nullptr || !items->IsArray()) {
      return outcome_response(400, "invalid", "feedback: an array 'feedback' is required");
    }
    size_t i = 0;
    for (const auto& item : items->GetArray()) {
      if (std::string p = feedback_problem(item, i++); !p.empty()) {
        return outcome_response(400, "invalid", p);
      }
    }
    if (recorder.feedback) {
      for (const auto& item : items->GetArray()) {
        Status s = recorder.feedback(service_id, item);
        if (!s) return outcome_response(400, "not-found", s.error().to_string());
      }
    }
    return {200, kJson, {}, "{}"};
  }

  HttpResponse route(HttpRequest& req) {
    const std::string& m = req.method;
    const std::string& path = req.path;
    if (m == "OPTIONS") return preflight(req);
    std::string_view id;
    if (m == "POST" && !(id = route_id(path, "/cds-services/")).empty()) {
      std::string service_id(id), hook, instance, issuer;
      std::optional<HookOutcome> outcome;
      auto start = std::chrono::steady_clock::now();
      const std::string request_id = request_id_of(req);
      HttpResponse res = handle_hook(req, service_id, hook, instance, issuer, outcome);
      res.headers.emplace_back("X-Request-Id", request_id);
      auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start);
      auto us = elapsed.count();
      if (observer) {
        observer(CallSummary{request_id, service_id, hook, instance, issuer, res.status, elapsed,
                             outcome ? &*outcome : nullptr, res.body});
        return res;
      }
      log::info("hook", {{"service", service_id},
                         {"hook", logged(hook)},
                         {"hookInstance", logged(instance)},
                         {"status", std::to_string(res.status)},
                         {"latency_ms", std::to_string(static_cast<double>(us) / 1000.0)}});
      return res;
    }
    HttpResponse res = route_other(req);
    // One line per request; hook calls log their own line (above). Headers (where tokens
    // travel) and query strings are never logged.
    log::info(
        "request",
        {{"method", logged(m)}, {"path", logged(path)}, {"status", std::to_string(res.status)}});
    return res;
  }

  HttpResponse route_other(HttpRequest& req) {
    const std::string& m = req.method;
    const std::string& path = req.path;
    std::string_view id;
    if (m == "POST" && !(id = route_id(path, "/cds-services/", "/feedback")).empty()) {
      return handle_feedback(req, std::string(id));
    }
    if (m == "GET") {
      if (path == "/cds-services") {
        HttpResponse res;
        std::string issuer;
        if (!authenticate(req, res, issuer)) return res;
        return {200, kJson, {}, service.discovery()};
      }
      if (path == "/CodeSystem/criteria") {
        return {200, kFhirJson, {}, service.mappings().criteria_codesystem_json()};
      }
      if (!(id = route_id(path, "/policies/")).empty()) {
        std::string html = service.library().policy_page_html(std::string(id));
        if (html.empty()) {
          return outcome_response(404, "not-found", "no policy '" + std::string(id) + "'");
        }
        return {200, "text/html; charset=utf-8", {}, std::move(html)};
      }
      if (path == "/healthz") return {200, kJson, {}, R"({"status":"ok"})"};
      for (auto& [pattern, handler] : extra_gets) {
        if (!std::regex_match(path, pattern)) continue;
        Reply r = handler(path, parse_query(req.query), req.header("authorization"),
                          req.header("accept"));
        return {r.status, r.content_type, {}, std::move(r.body)};
      }
    }
    if (m == "POST") {
      for (auto& [pattern, handler] : extra_posts) {
        if (!std::regex_match(path, pattern)) continue;
        Reply r = handler(path, parse_query(req.query), req.header("authorization"), req.body);
        return {r.status, r.content_type, std::move(r.headers), std::move(r.body)};
      }
    }
    return outcome_response(404, "not-found",
                            "no such endpoint: " + logged(m) + " " + logged(path));
  }

  HttpResponse handle(HttpRequest& req) {
    HttpResponse res;
    try {
      res = route(req);
    } catch (const std::exception& e) {
      log::error("request failed", {{"path", logged(req.path)}, {"error", e.what()}});
      res = outcome_response(500, "exception", "the service failed to process the request");
    }
    if (req.method != "OPTIONS") add_cors(req, res);
    return res;
  }
};

HttpServer::HttpServer(const CoverageService& service, ServerOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::set_authenticator(Authenticator a) {
  impl_->authenticator = std::move(a);
}
void HttpServer::set_recorder(HookRecorder r) {
  impl_->recorder = std::move(r);
}
void HttpServer::set_cors(security::CorsPolicy c) {
  impl_->cors = std::move(c);
}
void HttpServer::set_call_observer(CallObserver o) {
  impl_->observer = std::move(o);
}
void HttpServer::add_get(std::string pattern, GetHandler handler) {
  impl_->extra_gets.emplace_back(std::regex(pattern), std::move(handler));
}
AuthDecision HttpServer::check_client(std::string_view authorization, std::string_view path) const {
  if (!impl_->authenticator) return {};
  return impl_->authenticator(authorization, impl_->service.options().base_url + std::string(path));
}

void HttpServer::add_post(std::string pattern, PostHandler handler) {
  impl_->extra_posts.emplace_back(std::regex(pattern), std::move(handler));
}

HttpResponse HttpServer::handle(HttpRequest& request) {
  return impl_->handle(request);
}

ListenerStats HttpServer::listener_stats() const {
  return impl_->listener ? impl_->listener->stats() : ListenerStats{};
}

Status HttpServer::bind() {
  impl_->listener = std::make_unique<HttpListener>(
      listener_options(impl_->options), [this](HttpRequest& r) { return impl_->handle(r); });
  return impl_->listener->bind();
}

void HttpServer::serve() {
  if (impl_->listener) impl_->listener->serve();
}

Status HttpServer::listen() {
  if (auto s = bind(); !s) return s;
  serve();
  return {};
}

int HttpServer::bound_port() const {
  return impl_->listener ? impl_->listener->bound_port() : 0;
}

void HttpServer::stop() {
  if (impl_ && impl_->listener) impl_->listener->stop();
}

}  // namespace cryo::cds
