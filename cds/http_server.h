// HttpServer: the CDS Hooks HTTP surface of Cryo CRD.
//
// Routes:
//   GET  /cds-services                     discovery
//   POST /cds-services/{id}                hook call (CoverageService)
//   POST /cds-services/{id}/feedback       CDS Hooks feedback
//   GET  /CodeSystem/criteria              the service's criteria CodeSystem (FHIR JSON)
//   GET  /policies/{policyId}              readable page of an encoded policy (HTML)
//   GET  /healthz                          liveness
// Every 4xx/5xx carries a FHIR OperationOutcome. Request bodies over the limit get 413; the
// worker pool is bounded; every socket read and write has a timeout. One log line per request
// (method, path, hook, hookInstance, status, latency); never a token.
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
#include "security/cors.h"

namespace cryo::cds {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;     // 0: pick a free port (see bound_port())
  size_t threads = 8;  // worker pool size
  size_t max_body_bytes = 5 * 1024 * 1024;
  int read_timeout_seconds = 10;
  int write_timeout_seconds = 10;
  int keep_alive_seconds = 5;
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
  bool found = false;  // for lookup: an earlier call with this hookInstance
  int status = 200;
  std::string body;
};

// The audit store as the HTTP layer sees it.
struct HookRecorder {
  // A response already given for this hookInstance to the same client for the same patient
  // and request (an EHR retry); found with 409 (or 400) when the hookInstance may not be used.
  std::function<RecordedCall(std::string_view hook_instance, std::string_view issuer,
                             const fhir::Json& request)>
      lookup;
  // Durably records a call. An Error makes the request fail with 503 (no assertion id leaves
  // unrecorded); a found RecordedCall is an earlier answer (or a 409) to send instead.
  // `request` is the parsed hook request (the recorder leaves out fhirAuthorization).
  std::function<Result<RecordedCall>(const HookOutcome& outcome, const fhir::Json& request,
                                     std::string_view issuer, std::string_view service_id)>
      record;
  // Feedback for a card: Error with a message naming the unknown uuid, else stored once.
  std::function<Status(std::string_view service_id, const fhir::Json& feedback_item)> feedback;
};

class HttpServer {
 public:
  HttpServer(const CoverageService& service, ServerOptions options);
  ~HttpServer();

  void set_authenticator(Authenticator authenticator);
  void set_recorder(HookRecorder recorder);
  void set_cors(security::CorsPolicy cors);
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

  // Binds and serves until stop(). Fails when the address cannot be bound or TLS files are
  // unusable.
  Status listen();
  // Binds only (for tests and for reporting the chosen port), then serve().
  Status bind();
  void serve();
  int bound_port() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryo::cds
