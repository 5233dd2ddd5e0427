// Test support: the Node.js FHIR server (tests/fhir-server/server.mjs, Medplum's FHIR router
// over an in-memory repository) run as a child process for the duration of a test suite.
//
//   FhirServerProcess server({.load = {CRYO_FHIRCLIENT_DATA_DIR}});
//   ASSERT_TRUE(server.start()) << server.error();
//   std::string base = server.base_url();          // "http://127.0.0.1:<port>/fhir"
//   server.set_controls(R"({"delayMs": 200, "pageSize": 3})");
//   std::vector<std::string> urls = server.request_urls();   // what the server was asked
//   server.stop();                                  // also done by the destructor
//
// The server needs `node` on PATH (or CRYO_NODE) and `npm ci` run in tests/fhir-server.
//
// Thread safety: use from one thread (the test's).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace cryo::testing {

class FhirServerProcess {
 public:
  struct Options {
    std::vector<std::string> load{};  // files or directories of FHIR resources / Bundles
    std::string base = "/fhir";       // base path of the FHIR endpoint
    std::string token{};              // when set, requests need "Bearer <token>"
    int delay_ms = 0;
    int page_size = 0;
    std::string tls_cert{};  // with tls_key: serve HTTPS
    std::string tls_key{};
    std::chrono::seconds start_timeout{30};
  };

  explicit FhirServerProcess(Options options);
  ~FhirServerProcess();
  FhirServerProcess(const FhirServerProcess&) = delete;
  FhirServerProcess& operator=(const FhirServerProcess&) = delete;

  // Spawns node and waits until the server prints its port. On failure error() says why.
  bool start();
  // SIGTERM, then SIGKILL if it has not exited within two seconds.
  void stop();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string base_url() const;  // "http(s)://127.0.0.1:<port><base>"
  const std::string& error() const { return error_; }

  // POST /__control with a JSON object of controls (delayMs, delays, token, pageSize,
  // outcomeEntry, failStatus, nextLinkBase, refuseBareObservation, unsupported). Returns false
  // when the server refused them.
  bool set_controls(const std::string& json);
  // Restores the start-up controls and clears the request log.
  bool reset();
  // The request targets the server received since the last reset, in order.
  std::vector<std::string> request_urls() const;
  // The "auth" state of each request ("none", "match", "mismatch"), in order.
  std::vector<std::string> request_auth() const;

 private:
  Options options_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  std::string error_;
};

}  // namespace cryo::testing
