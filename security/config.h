// Security settings from the server's configuration file: the "trust" object (which CDS
// clients may call, and how their tokens are checked) and the "cors" object (which browser
// origins may call). The schema, with a worked example, is in docs/security.md.
//
//   Result<json::File> file = json::File::read("config.json");  // base/json_file.h
//   auto root = json::Object::of(file->root(), {"trust", ...});
//   Result<TrustConfig> trust = parse_trust_config(*root->get("trust"), config_dir);
//   if (!trust) return file->locate(trust.error());
//   // e.g. "config.json:7:9: trust.issuers[0].jwks_url: must be an https:// URL ..."
//
// Errors name the JSON path of the field (where = "trust.issuers[0].jwks_url") in the wording
// of every file people write (base/json_file.h): "unknown key 'x' (expected one of: …)",
// "missing required key 'iss'", …; the reader of the file adds its name, line and column.
//
// Parsing checks shape and values only; it does not read JWKS files or fetch URLs
// (TokenVerifier::create() loads files). Relative jwks_file paths are resolved against
// `base_dir` (normally the directory of the config file).
//
// Thread safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_file.h"
#include "base/result.h"

namespace cryo::security {

// One CDS client we trust: its `iss` and where its public keys come from.
struct IssuerConfig {
  std::string iss{};        // exact match with the token's `iss`
  std::string jwks_file{};  // a JWK Set on disk, or
  std::string jwks_url{};   // a JWK Set fetched over HTTPS (exactly one of the two)
  std::vector<std::string> jku_allowlist{};  // `jku` values accepted from this issuer (exact URLs)
};

struct TrustConfig {
  std::vector<IssuerConfig> issuers;
  // JWS algorithms accepted. Only ES384, RS384, ES256 and RS256 can be configured.
  std::vector<std::string> algorithms = {"ES384", "RS384"};
  std::chrono::seconds clock_skew{60};            // tolerance for exp and iat
  std::chrono::seconds max_token_lifetime{3600};  // tokens with exp - iat above this are refused
  size_t replay_cache_capacity = 100000;          // jti values remembered at most
  std::chrono::seconds jwks_min_refresh_interval{30};  // per JWKS URL or file
  std::chrono::seconds jwks_max_age{3600};     // a cached set older than this is refetched on use
  std::chrono::seconds jwks_fetch_timeout{5};  // connect and read timeout for each fetch
};

struct CorsConfig {
  // Exact origins ("https://ehr.example.org"), or the single entry "*" (then
  // allow_credentials must be false). Empty: no cross-origin access.
  std::vector<std::string> allowed_origins{};
  std::vector<std::string> allowed_methods = {"GET", "POST", "OPTIONS"};
  std::vector<std::string> allowed_headers = {"Authorization", "Content-Type"};
  std::vector<std::string> exposed_headers{};
  bool allow_credentials = false;
  std::chrono::seconds max_age{600};  // how long browsers may cache a preflight answer
};

// Parses the "trust" object (its node's path names it: "trust"); errors are located at a
// field: where = "trust.issuers[0].jwks_url".
Result<TrustConfig> parse_trust_config(const json::Node& trust,
                                       const std::filesystem::path& base_dir = {});

// Parses the "cors" object; errors: where = "cors.allowed_origins[1]".
Result<CorsConfig> parse_cors_config(const json::Node& cors);

// Whether `url` is acceptable as a JWKS location: https://, or http:// to a loopback host
// (127.0.0.0/8, ::1, localhost), with a host and no fragment or credentials.
bool is_acceptable_jwks_url(std::string_view url);

}  // namespace cryo::security
