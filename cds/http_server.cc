#include "cds/http_server.h"

#include <atomic>
#include <chrono>
#include <map>

#include <httplib.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/log.h"
#include "cds/operation_outcome.h"
#include "fhir/json.h"
#include "security/tls.h"

namespace cryo::cds {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kFhirJson = "application/fhir+json";

void reply_outcome(httplib::Response& res, int status, std::string_view code,
                   std::string_view message) {
  res.status = status;
  res.set_content(operation_outcome(code, message), kFhirJson);
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

}  // namespace

struct HttpServer::Impl {
  const CoverageService& service;
  ServerOptions options;
  std::unique_ptr<httplib::Server> http;
  Authenticator authenticator;
  HookRecorder recorder;
  std::optional<security::CorsPolicy> cors;
  std::vector<std::pair<std::string, GetHandler>> extra_gets;
  int port = 0;

  Impl(const CoverageService& s, ServerOptions o) : service(s), options(std::move(o)) {}

  std::string audience(const httplib::Request& req) const {
    return service.options().base_url + req.path;
  }

  // Authenticates; answers 401 itself and returns false when refused.
  bool authenticate(const httplib::Request& req, httplib::Response& res,
                    std::string& issuer) const {
    if (!authenticator) return true;
    AuthDecision d = authenticator(req.get_header_value("Authorization"), audience(req));
    if (!d.ok) {
      log::warn("refused client token", {{"path", req.path},
                                         {"reason", d.reason},
                                         {"iss", d.issuer},
                                         {"kid", d.kid},
                                         {"jti", d.jti}});
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer");
      res.set_content(operation_outcome("login", "authentication required"), kFhirJson);
      return false;
    }
    issuer = std::move(d.issuer);
    return true;
  }

  void add_cors(const httplib::Request& req, httplib::Response& res) const {
    if (!cors || !req.has_header("Origin")) return;
    for (const auto& h : cors->response_headers(req.get_header_value("Origin")))
      res.set_header(h.name, h.value);
  }

  void preflight(const httplib::Request& req, httplib::Response& res) const {
    if (!cors) {
      reply_outcome(res, 403, "forbidden", "cross-origin requests are not enabled");
      return;
    }
    auto answer = cors->preflight(req.get_header_value("Origin"),
                                  req.get_header_value("Access-Control-Request-Method"),
                                  req.get_header_value("Access-Control-Request-Headers"));
    for (const auto& h : answer.headers) res.set_header(h.name, h.value);
    if (!answer.allowed) {
      reply_outcome(res, answer.status, "forbidden",
                    "this origin, method or header is not allowed");
      return;
    }
    res.status = answer.status;
  }

  void handle_hook(const httplib::Request& req, httplib::Response& res, std::string& hook,
                   std::string& instance) {
    std::string issuer;
    if (!authenticate(req, res, issuer)) return;
    std::string service_id = req.matches[1];
    const ServiceDefinition* definition = find_service(service_id);
    if (definition == nullptr) {
      reply_outcome(res, 404, "not-found",
                    "no CDS service '" + service_id + "'; see GET /cds-services");
      return;
    }
    // The body is parsed once, in place: the request object belongs to this handler and is
    // not read again after it returns, so its buffer is reused rather than copied.
    std::string& body = const_cast<std::string&>(req.body);
    fhir::JsonDocument doc;
    if (auto err = fhir::parse_in_place(body, doc, service.options().limits)) {
      bool too_large = err->kind == fhir::ParseError::kTooLarge;
      reply_outcome(res, too_large ? 413 : 400, too_large ? "too-long" : "structure",
                    "the request body is not acceptable JSON: " + err->message);
      return;
    }
    if (recorder.lookup && doc.IsObject()) {
      // An EHR retry (same hookInstance) gets the determination already handed out.
      std::string_view id = fhir::string_or_empty(fhir::member(doc, "hookInstance"));
      if (!id.empty()) {
        RecordedCall earlier = recorder.lookup(id, issuer, doc);
        if (earlier.found) {
          instance = std::string(id);
          hook = std::string(fhir::string_or_empty(fhir::member(doc, "hook")));
          res.status = earlier.status;
          res.set_content(earlier.body, earlier.status == 200 ? kJson : kFhirJson);
          return;
        }
      }
    }

    HookOutcome out = service.call(*definition, doc, std::chrono::system_clock::now());
    hook = out.hook;
    instance = out.hook_instance;
    if (out.status != 200 && !out.error.empty()) {
      log::info("hook call refused", {{"hookInstance", instance},
                                      {"status", std::to_string(out.status)},
                                      {"reason", out.error}});
    }
    if (recorder.record && out.status == 200) {
      // The answer carries coverage-assertion-ids: it leaves only once its record is durable.
      auto stored = recorder.record(out, doc, issuer, service_id);
      if (!stored) {
        log::error("could not record hook call; answer withheld",
                   {{"hookInstance", instance}, {"error", stored.error().to_string()}});
        reply_outcome(res, 503, "transient",
                      "the determination could not be recorded; retry the call");
        return;
      }
      if (stored->found) {  // a concurrent retry's answer, or 409 for someone else's
        out.status = stored->status;
        out.body = std::move(stored->body);
      }
    }
    res.status = out.status;
    res.set_content(std::move(out.body), out.status == 200 ? kJson : kFhirJson);
  }

  void handle_feedback(const httplib::Request& req, httplib::Response& res) {
    std::string issuer;
    if (!authenticate(req, res, issuer)) return;
    std::string service_id = req.matches[1];
    if (find_service(service_id) == nullptr) {
      reply_outcome(res, 404, "not-found", "no CDS service '" + service_id + "'");
      return;
    }
    fhir::JsonDocument doc;
    std::string& body = const_cast<std::string&>(req.body);
    if (auto err = fhir::parse_in_place(body, doc, service.options().limits)) {
      reply_outcome(res, err->kind == fhir::ParseError::kTooLarge ? 413 : 400, "structure",
                    "the feedback body is not acceptable JSON: " + err->message);
      return;
    }
    const fhir::Json* items = fhir::member(doc, "feedback");
    if (items == nullptr || !items->IsArray()) {
      reply_outcome(res, 400, "invalid", "feedback: an array 'feedback' is required");
      return;
    }
    size_t i = 0;
    for (const auto& item : items->GetArray()) {
      if (std::string p = feedback_problem(item, i++); !p.empty()) {
        reply_outcome(res, 400, "invalid", p);
        return;
      }
    }
    if (recorder.feedback) {
      for (const auto& item : items->GetArray()) {
        Status s = recorder.feedback(service_id, item);
        if (!s) {
          reply_outcome(res, 400, "not-found", s.error().to_string());
          return;
        }
      }
    }
    res.status = 200;
    res.set_content("{}", kJson);
  }

  void install_routes() {
    auto& s = *http;

    s.Get("/cds-services", [this](const httplib::Request& req, httplib::Response& res) {
      std::string issuer;
      if (!authenticate(req, res, issuer)) return;
      res.set_content(service.discovery(), kJson);
    });
    s.Post(R"(/cds-services/([A-Za-z0-9._-]+))",
           [this](const httplib::Request& req, httplib::Response& res) {
             std::string hook, instance;
             auto start = std::chrono::steady_clock::now();
             handle_hook(req, res, hook, instance);
             auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
             log::info("hook", {{"service", req.matches[1].str()},
                                {"hook", hook},
                                {"hookInstance", instance},
                                {"status", std::to_string(res.status)},
                                {"latency_ms", std::to_string(static_cast<double>(us) / 1000.0)}});
           });
    s.Post(
        R"(/cds-services/([A-Za-z0-9._-]+)/feedback)",
        [this](const httplib::Request& req, httplib::Response& res) { handle_feedback(req, res); });
    s.Get("/CodeSystem/criteria", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(service.mappings().criteria_codesystem_json(), kFhirJson);
    });
    s.Get(R"(/policies/([A-Za-z0-9._-]+))",
          [this](const httplib::Request& req, httplib::Response& res) {
            std::string html = service.library().policy_page_html(req.matches[1].str());
            if (html.empty()) {
              reply_outcome(res, 404, "not-found", "no policy '" + req.matches[1].str() + "'");
              return;
            }
            res.set_content(html, "text/html; charset=utf-8");
          });
    s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", kJson);
    });
    for (auto& [pattern, handler] : extra_gets) {
      GetHandler h = handler;
      s.Get(pattern, [h](const httplib::Request& req, httplib::Response& res) {
        std::map<std::string, std::string> query;
        for (const auto& [k, v] : req.params) query.emplace(k, v);
        Reply r = h(req.path, query, req.get_header_value("Authorization"),
                    req.get_header_value("Accept"));
        res.status = r.status;
        res.set_content(std::move(r.body), r.content_type);
      });
    }
    s.Options(R"(.*)",
              [this](const httplib::Request& req, httplib::Response& res) { preflight(req, res); });
    s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.method != "OPTIONS") add_cors(req, res);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Cache-Control", "no-store");
    });
    // One line per request; hook calls log their own line, with hook, hookInstance and
    // latency. Headers (where tokens travel) and query strings are never logged.
    s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      const std::string_view prefix = "/cds-services/";
      bool hook_call = req.method == "POST" && req.path.rfind(prefix, 0) == 0 &&
                       req.path.find('/', prefix.size()) == std::string::npos;
      if (hook_call) return;
      log::info(
          "request",
          {{"method", req.method}, {"path", req.path}, {"status", std::to_string(res.status)}});
    });
    // Anything the router or the transport refused still gets an OperationOutcome.
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string message;
      switch (res.status) {
        case 404:
          message = "no such endpoint: " + req.method + " " + req.path;
          break;
        case 413:
          message = "the request body is larger than this service accepts";
          break;
        case 400:
          message = "the HTTP request is malformed";
          break;
        default:
          message = "the request could not be served (HTTP " + std::to_string(res.status) + ")";
      }
      res.set_content(operation_outcome(issue_code_for_status(res.status), message), kFhirJson);
    });
    s.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown error";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          log::error("request failed", {{"path", req.path}, {"error", what}});
          reply_outcome(res, 500, "exception", "the service failed to process the request");
        });
  }

  Status make_server() {
    if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
      if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
        return Error{"--tls-cert/--tls-key",
                     "both a certificate and a key file are needed for HTTPS"};
      }
      auto ssl = security::make_https_server({options.tls_cert_file, options.tls_key_file});
      if (!ssl) return ssl.error();
      http = std::move(*ssl);
    } else {
      http = std::make_unique<httplib::Server>();
    }
    size_t threads = std::max<size_t>(1, options.threads);
    http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http->set_payload_max_length(options.max_body_bytes);
    http->set_read_timeout(options.read_timeout_seconds, 0);
    http->set_write_timeout(options.write_timeout_seconds, 0);
    http->set_keep_alive_timeout(options.keep_alive_seconds);
    // EHRs keep connections open for many calls; reconnecting every few requests costs a TCP
    // (and TLS) handshake and, under load, queueing on the listen backlog.
    http->set_keep_alive_max_count(1000);
    // A response goes out in more than one write (headers, body): without TCP_NODELAY, on a
    // kept-alive connection each answer would wait for the client's delayed ACK (40 ms).
    http->set_tcp_nodelay(true);
    install_routes();
    return {};
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
void HttpServer::add_get(std::string pattern, GetHandler handler) {
  impl_->extra_gets.emplace_back(std::move(pattern), std::move(handler));
}

Status HttpServer::bind() {
  if (auto s = impl_->make_server(); !s) return s;
  auto& o = impl_->options;
  if (o.port == 0) {
    impl_->port = impl_->http->bind_to_any_port(o.bind);
    if (impl_->port <= 0) return Error{"--bind", "cannot bind " + o.bind};
  } else {
    if (!impl_->http->bind_to_port(o.bind, o.port)) {
      return Error{"--port", "cannot bind " + o.bind + ":" + std::to_string(o.port)};
    }
    impl_->port = o.port;
  }
  return {};
}

void HttpServer::serve() {
  impl_->http->listen_after_bind();
}

Status HttpServer::listen() {
  if (auto s = bind(); !s) return s;
  serve();
  return {};
}

int HttpServer::bound_port() const {
  return impl_->port;
}

void HttpServer::stop() {
  if (impl_ && impl_->http) impl_->http->stop();
}

}  // namespace cryo::cds
