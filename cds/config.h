// ServerConfig: everything `cryo-crd serve` can be told, from a JSON file and the command line.
//
//   {
//     "server": {"bind": "0.0.0.0", "port": 8443, "base_url": "https://crd.payer.example",
//                "threads": 16, "max_body_bytes": 5242880,
//                "read_timeout_seconds": 10, "write_timeout_seconds": 10,
//                "io_threads": 2, "header_timeout_seconds": 10, "keep_alive_seconds": 5,
//                "max_header_bytes": 32768, "max_body_memory_bytes": 25165824,
//                "max_connections": 2048, "retry_after_seconds": 1, "drain_timeout_seconds": 10,
//                "max_draft_orders": 100, "max_resources": 2000, "max_references": 10000},
//     "tls":    {"cert_file": "tls/cert.pem", "key_file": "tls/key.pem"},
//     "trust":  { ... see docs/security.md ... },
//     "cors":   { ... see docs/security.md ... },
//     "store":  {"data_dir": "./var"} or {"database_url": "postgresql://..."},
//               plus "retention_days": 2555, "deadline_ms": 1000,
//     "admin":  {"token_sha256": "<hex SHA-256 of the admin bearer token>"},
//     "fhir":   {"query_missing_data": true, "request_timeout_ms": 1500,
//                "total_budget_ms": 3000, "max_pages": 10},
//     "cache":  {"ttl_seconds": 300, "max_entries": 1000, "max_bytes": 67108864},
//               (what encounter-start read from the EHR's FHIR server, per client, FHIR
//               server and patient, for the order hooks that follow; ttl_seconds 0 = off)
//     "demo":   {"enabled": true},
//     "dtr":    {"launch_url": "https://dtr.payer.example/launch"}   (the dtr-launch card)
//     "log":    {"level": "info", "format": "text"}        (debug|info|warn|error, text|json)
//   }
//
// One rule for relative paths: a path in a configuration file (server.policies_dir,
// server.mappings_dir, tls.*_file, store.data_dir, trust.issuers[].jwks_file) is relative to
// the directory of that file; a path on the command line is relative to the working
// directory. Both are made absolute here, so nothing later depends on the working directory.
//
// Every section is optional. Unknown and repeated keys are errors (a typo must not silently
// weaken security). The file is read by base/json_file.h, like every file people write:
// errors name the file, the line and column, the field and the problem, e.g.
// "crd.json:2:15: server.port: must be an integer from 0 to 65535". Command-line options
// given to `serve` override the file.
//
// Thread safety: plain values.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "security/config.h"

namespace cryo::cds {

struct ServerConfig {
  // server
  std::string bind = "127.0.0.1";
  int port = 8080;
  std::string base_url;  // "" -> http(s)://bind:port
  // Worker threads; 0: 32 with an audit store (a worker waits for its call's group commit, and
  // more waiting workers share each commit), 8 without one (the work is all CPU).
  int threads = 0;
  int max_body_bytes = 5 * 1024 * 1024;
  int read_timeout_seconds = 10;  // total deadline for a request body
  int write_timeout_seconds = 10;
  // listener limits (see cds/http_server.h ServerOptions for what each refuses)
  int io_threads = 2;
  int max_header_bytes = 32 * 1024;
  int max_body_memory_bytes = 24 * 1024 * 1024;
  int header_timeout_seconds = 10;
  int keep_alive_seconds = 5;
  int max_connections = 2048;
  int retry_after_seconds = 1;
  int drain_timeout_seconds = 10;
  int max_draft_orders = 100;
  int max_resources = 2000;
  int max_references = 10000;
  // data
  std::string policies_dir;  // "" -> bundled
  std::string mappings_dir;  // "" -> bundled
  // tls
  std::string tls_cert_file;
  std::string tls_key_file;
  // trust and cors
  security::TrustConfig trust;
  security::CorsConfig cors;
  // store
  std::string data_dir = "./var";
  std::string database_url;      // postgresql://... ; overrides data_dir
  int retention_days = 0;        // 0: keep everything
  int store_deadline_ms = 1000;  // longest wait for the store: then 503, store marked down
  bool store_enabled = true;
  // admin look-up
  std::string admin_token_sha256;
  // FHIR queries for missing prefetch data
  bool query_missing_data = true;
  int fhir_request_timeout_ms = 1500;
  int fhir_total_budget_ms = 3000;
  int fhir_max_pages = 10;
  // the per-client, per-patient cache of what encounter-start fetched
  int cache_ttl_seconds = 300;  // 0: off
  int cache_max_entries = 1000;
  int cache_max_bytes = 64 * 1024 * 1024;
  // the /demo try-it page: unset -> on only when bound to loopback without trusted issuers
  std::optional<bool> demo_enabled;
  // DTR: the SMART launch URL of the payer's DTR app for the dtr-launch card ("" = none)
  std::string dtr_launch_url;

  // logging
  std::string log_level = "info";
  std::string log_format = "text";
};

// Reads a configuration file on top of the defaults.
Result<ServerConfig> load_config(const std::filesystem::path& file);

// Applies `serve` command-line options (--bind, --port, --base-url, --policies, --mappings,
// --threads, --max-body, --tls-cert, --tls-key, --data, --db, --retention-days, --log-level,
// --log-format) given as (name, value) pairs. Relative paths are taken from the working
// directory.
Status apply_overrides(ServerConfig& config,
                       const std::vector<std::pair<std::string, std::string>>& options);

// The public base URL: configured, or built from the bind address and port.
std::string effective_base_url(const ServerConfig& config, int bound_port);

}  // namespace cryo::cds
