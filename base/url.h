// HttpUrl: the one reader of absolute http(s) URLs in the server and its tools: the EHR's
// FHIR server base (`fhirServer`) and the links it returns, JWK Set URLs and allowed origins in
// the trust configuration, the conformance runner's --base-url.
//
//   std::optional<HttpUrl> u = parse_http_url("https://EHR.example.org/fhir/R4?x=1");
//   // u->scheme == "https", u->host == "ehr.example.org", u->port == 443,
//   // u->path == "/fhir/R4", u->query == "x=1", u->origin() == "https://ehr.example.org:443"
//
// Refused (nullopt): another scheme, no host, user info ("user@host"), a fragment, a port that
// is not a number in 1..65535 (an empty one too), a colon in an unbracketed host, and any space,
// control character or backslash anywhere, so nothing a browser or HTTP library would read
// differently gets through.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cryo {

struct HttpUrl {
  std::string scheme;                // "http" or "https", lower case
  std::string host;                  // lower case; IPv6 literals keep their brackets: "[::1]"
  int port = 0;                      // explicit or the scheme's default
  std::string path;                  // as written: "" or "/fhir/R4/"
  std::optional<std::string> query;  // after '?', without it

  // "https://ehr.example.org:443": what a connection is opened to.
  std::string origin() const;
  // The host without IPv6 brackets: "::1".
  std::string bare_host() const;
  // The request target: the path (at least "/") and the query.
  std::string target() const;
};

std::optional<HttpUrl> parse_http_url(std::string_view url);

}  // namespace cryo
