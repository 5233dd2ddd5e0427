// crd-conformance: tests any CDS Hooks 2.0 / Da Vinci CRD server from the outside, acting as
// a CDS client (an EHR). It reads discovery, sends every scenario in a directory with its
// prefetch filled from the scenario's patient record, validates each answer against CDS Hooks
// and CRD rules and the scenario's expected decision, probes error handling, and measures
// latency. See conformance/README.md.
//
//   crd-conformance --base-url http://127.0.0.1:8080 --scenarios conformance/scenarios
//       [--jwks FILE --iss ISS [--kid KID] [--alg ES384|RS384] [--jku URL | --no-jku]]
//       [--report FILE] [--junit FILE] [--no-fhir-server]
//
// `cryo-crd conformance ...` calls run_conformance() with the same arguments.
//
// Thread safety: run() may be called from several threads with different options; each run
// owns its HTTP clients and its in-process FHIR server.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace cryo::conformance {

struct Options {
  std::string base_url;       // the server's root; `/cds-services` is appended
  std::string scenarios_dir;  // directory of *.json scenarios; empty = discovery + negatives only
  std::string jwks_path;      // JWK Set with the private signing key (optional)
  std::string issuer;         // `iss` of the client JWT
  std::string kid;            // key to sign with (empty: the first private key for `alg`)
  std::string alg;            // ES384 or RS384 (empty: by kid, else ES384)
  // The `jku` header, as the Inferno CRD test kit sends it: "<iss>/jwks.json" by default.
  std::string jku;           // empty: the default
  bool send_jku = true;      // false: no jku header
  std::string report_path;   // JSON report (optional)
  std::string junit_path;    // JUnit XML (optional)
  bool serve_fhir = true;    // expose each scenario's record as `fhirServer`
  int timeout_seconds = 30;  // per HTTP call
  std::string ca_cert_path;  // PEM CA certificates to trust for an https:// base URL
};

struct Check {
  // kSkip: the check could not run (nothing to measure, not applicable); never counted as a
  // pass.
  enum class Outcome { kPass, kFail, kWarn, kSkip };
  std::string group;  // "discovery", "scenario <name>", "negative", "latency"
  std::string name;   // one line, e.g. "fb-commercial-covered: cards"
  Outcome outcome = Outcome::kPass;
  std::string reason;  // why it failed (or what was measured, or why it was skipped)
  // For a failed check that rests on one HTTP call: the request (method, path, headers with
  // the token elided, body) and the response (status, headers, body), each bounded.
  std::string request;
  std::string response;
};

struct Call {
  std::string label;
  int status = 0;  // -1 when no HTTP answer
  double ms = 0;
};

struct Report {
  std::string base_url;
  std::vector<Check> checks;
  std::vector<Call> calls;  // service calls (POST), for the latency figures
  double p50 = 0, p90 = 0, p99 = 0;
  int http_calls = 0;   // every HTTP call the runner made
  int connections = 0;  // TCP connections those calls used (keep-alive reuses them)

  int passed() const;
  int failed() const;
  int warnings() const;
  int skipped() const;
  // Checks that failed and whose name contains `name_part` and reason contains `reason_part`.
  std::vector<const Check*> failures(const std::string& name_part,
                                     const std::string& reason_part) const;
};

// Runs every check against the server; writes one line per check to `out` (when not null)
// and the JSON/JUnit files named in the options.
Report run(const Options& options, std::ostream* out);

// Command-line entry point: parses argv (argv[0] is ignored), runs, prints the summary and
// the final line "N passed, M failed, K skipped". Returns 0 when nothing failed, 1 on failures, 2
// on usage errors.
int run_conformance(int argc, char** argv);

}  // namespace cryo::conformance
