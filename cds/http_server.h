// HttpServer: the CDS Hooks HTTP surface of Cryo CRD.
//
// Routes:
//   GET  /cds-services                     discovery
//   POST /cds-services/{id}                hook call (CoverageService)
//   POST /cds-services/{id}/feedback       CDS Hooks feedback
//   GET  /CodeSystem/criteria              the service's criteria CodeSystem (FHIR JSON)
//   GET  /policies/{policyId}              readable page of an encoded policy (HTML)
//   GET  /healthz                          liveness
// Every 4xx/5xx carries a FHIR OperationOutcome. The transport (cds/http_listener.h: Boost.Beast,
// a few I/O threads owning every connection) hands a request to the bounded worker pool only
// once it has fully arrived, with total deadlines, header/body/connection limits and UTF-8
// checks; the routes here cap draft orders, resources and references per call. One log line per
// request (method, path, hook, hookInstance, status, latency), request text escaped and
// truncated; never a token. handle() is the routing alone (request in, reply out), for tests.
//
// Optional collaborators: an Authenticator (CDS client JWTs; without one, calls are accepted
// unsigned — the caller only allows that on loopback), a HookRecorder (the audit store: a
// response carrying a coverage-assertion-id is sent only after its record is committed) and a
// CORS policy.
//
//   HttpServer server(service, {.bind = "127.0.0.1", .port = 8080});
//   if (auto s = server.listen(); !s) { log::error(s.error().to_string()); }
//
// Thread safety: configure before listen(); stop() may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cds/coverage_service.h"
#include "cds/http_listener.h"
#include "security/cors.h"

namespace cryo::cds {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;                                  // 0: pick a free port (see bound_port())
  size_t threads = 8;                               // worker pool size (hook calls run here)
  size_t io_threads = 2;                            // event loop threads owning the connections
  size_t max_body_bytes = 5 * 1024 * 1024;          // decoded body -> 413
  size_t max_header_bytes = 32 * 1024;              // request line + headers -> 431
  size_t max_body_memory_bytes = 24 * 1024 * 1024;  // all bodies being received -> 503
  int header_timeout_seconds = 10;                  // total, for the request headers
  int read_timeout_seconds = 10;                    // total, for the request body
  int write_timeout_seconds = 10;
  int keep_alive_seconds = 5;     // idle kept-alive connection
  size_t max_connections = 2048;  // past it: 503 + Retry-After
  int retry_after_seconds = 1;
  int drain_timeout_seconds = 10;  // stop(): longest wait for calls in flight
  // Per hook call (over it -> 400 naming the limit).
  size_t max_draft_orders = 100;
  size_t max_resources = 2000;
  size_t max_references = 10000;
  std::string tls_cert_file;  // both set: serve HTTPS
  std::string tls_key_file;
};

// What authenticating one request decided.
struct AuthDecision {
  bool ok = true;
  std::string issuer;  // the client's `iss`, for the audit record and log
  std::string reason;  // why it was refused (logged, never sent)
  std::string kid;     // the token's kid and jti, for the log (escaped, bounded)
  std::string jti;
};

// Checks the Authorization header of a call against the endpoint URL it was sent to.
using Authenticator = std::function<AuthDecision(std::string_view authorization_header,
                                                 std::string_view audience_url)>;

// What the audit store answered for a hook call.
struct RecordedCall {
  bool found = false;  // an earlier answer for this hookInstance (or a 409) to send instead
  int status = 200;
  std::string body;
};

// The audit store as the HTTP layer sees it.
struct HookRecorder {
  // Durably records a call. An Error makes the request fail with 503 (no assertion id leaves
  // unrecorded); a found RecordedCall is an earlier answer (or a 409) to send instead: the
  // answer already given to the same client for the same patient and request (an EHR retry),
  // 409 for any other reuse of the hookInstance.
  // `request` is the parsed hook request (the recorder leaves out fhirAuthorization).
  std::function<Result<RecordedCall>(const HookOutcome& outcome, const fhir::Json& request,
                                     std::string_view issuer, std::string_view service_id)>
      record;
  // Feedback for a card: Error with a message naming the unknown uuid, else stored once.
  std::function<Status(std::string_view service_id, const fhir::Json& feedback_item)> feedback;
};

// What one hook call came to, for metrics and the per-call log line.
struct CallSummary {
  std::string_view request_id;  // X-Request-Id (the client's when well-formed, else generated)
  std::string_view service_id;
  std::string_view hook;
  std::string_view hook_instance;
  std::string_view client;  // the verified `iss`; "" when unsigned or refused
  int status = 0;
  std::chrono::microseconds latency{0};
  const HookOutcome* outcome = nullptr;  // when the pipeline ran (its body is in response_body)
  std::string_view response_body;
};
using CallObserver = std::function<void(const CallSummary&)>;

class HttpServer {
 public:
  HttpServer(const CoverageService& service, ServerOptions options);
  ~HttpServer();

  void set_authenticator(Authenticator authenticator);
  void set_recorder(HookRecorder recorder);
  void set_cors(security::CorsPolicy cors);
  // Called once per hook call after it is answered; replaces the default log line.
  void set_call_observer(CallObserver observer);
  // Extra routes (e.g. the admin look-up) registered by the wiring code: GET handlers
  // receiving (path, Authorization header, Accept header) and returning (status,
  // content type, body).
  struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
  };
  using GetHandler =
      std::function<Reply(const std::string& path, const std::map<std::string, std::string>& query,
                          std::string_view authorization, std::string_view accept)>;
  void add_get(std::string pattern, GetHandler handler);
  // Extra POST routes, the same way: (path, query, Authorization header, request body); the
  // body has passed the transport's limits and is valid UTF-8.
  using PostHandler =
      std::function<Reply(const std::string& path, const std::map<std::string, std::string>& query,
                          std::string_view authorization, std::string_view body)>;
  void add_post(std::string pattern, PostHandler handler);

  // The routing alone: one complete request in, its answer out (what the transport calls on a
  // worker thread; tests call it directly).
  HttpResponse handle(HttpRequest& request);
  // Open and idle connections and responses per status, for an operator's metrics endpoint.
  ListenerStats listener_stats() const;

  // Binds and serves until stop() and its drain. Fails when the address cannot be bound or TLS
  // files are unusable.
  Status listen();
  // Binds only (for tests and for reporting the chosen port), then serve().
  Status bind();
  void serve();
  int bound_port() const;
  // Graceful drain: stop accepting, `Connection: close` on each connection's next answer, finish
  // calls in flight (records committed); serve() returns within drain_timeout_seconds.
  // Async-signal-safe (a signal handler may call it).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryo::cds
