// URLs of a CDS client's FHIR server: the base URL from `fhirServer`, request targets below
// it, and whether a Bundle link (next page) stays on the same server. Both read URLs with
// base/url.h's parse_http_url, so they refuse what it refuses.
//
//   std::optional<BaseUrl> base = parse_base_url("https://ehr.example.org/fhir/R4/");
//   // base->origin() == "https://ehr.example.org:443", base->path == "/fhir/R4"
//   std::optional<std::string> t = same_server_target(*base, next_link);  // "/fhir/R4/..."
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/url.h"

namespace cryo::fhir::client {

// A parsed base URL (scheme, host, port, origin() as in base/url.h) whose path is "" or
// "/fhir/R4" (no trailing slash) and which has no query.
struct BaseUrl : HttpUrl {
  // origin() + path + "/" + relative (relative without a leading slash).
  std::string url_of(std::string_view relative) const;
};

// An http(s) URL parse_http_url accepts, without a query; trailing slashes dropped.
std::optional<BaseUrl> parse_base_url(std::string_view url);

// The request target ("/fhir/R4/Condition?...") for a link returned by the server, when it is
// on the same origin and under the base path; a relative link is taken relative to the base.
// Returns nullopt for anything else (another host, port or scheme, a path outside the base).
std::optional<std::string> same_server_target(const BaseUrl& base, std::string_view link);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string percent_encode(std::string_view value);

}  // namespace cryo::fhir::client
