// Cross-origin access for browser-based CDS clients (CDS Hooks 2.0 §CORS, OWASP HTML5).
//
// Origins are compared exactly with the configured list; an origin is never reflected unless
// listed. "*" is possible only without credentials. Every answer that depends on the Origin
// carries "Vary: Origin" so caches keep answers per origin.
//
//   auto cors = CorsPolicy::create(cors_config).value();
//   // OPTIONS preflight:
//   auto answer = cors.preflight(origin, req.get_header_value("Access-Control-Request-Method"),
//                                req.get_header_value("Access-Control-Request-Headers"));
//   res.status = answer.status;
//   for (auto& h : answer.headers) res.set_header(h.name, h.value);
//   // Any other response:
//   for (auto& h : cors.response_headers(origin)) res.set_header(h.name, h.value);
//
// Thread safety: immutable after create(); use from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "security/config.h"

namespace cryo::security {

struct HttpHeader {
  std::string name;
  std::string value;
};

class CorsPolicy {
 public:
  // Checks the configuration again (parse_cors_config() rules) for configs built in code.
  static Result<CorsPolicy> create(CorsConfig config);

  // Whether `origin` (the Origin header value) may make cross-origin calls.
  bool origin_allowed(std::string_view origin) const;

  struct PreflightAnswer {
    bool allowed = false;
    int status = 403;  // 204 when allowed
    std::vector<HttpHeader> headers;
  };

  // The answer to an OPTIONS preflight: allowed only when the origin is allowed, the requested
  // method is listed, and every requested header is listed (case-insensitively).
  PreflightAnswer preflight(std::string_view origin, std::string_view request_method,
                            std::string_view request_headers) const;

  // Headers to add to an actual (non-preflight) response for a request with this Origin
  // (empty origin: a same-origin or non-browser call).
  std::vector<HttpHeader> response_headers(std::string_view origin) const;

 private:
  explicit CorsPolicy(CorsConfig config) : config_(std::move(config)) {}
  bool wildcard() const;
  std::string join(const std::vector<std::string>& items) const;

  CorsConfig config_;
};

}  // namespace cryo::security
