// Internal to security/: splitting the absolute http(s) URLs used for JWK Sets.
//
// Thread safety: pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cryo::security::detail {

struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // as written; IPv6 literals keep their brackets
  int port = 0;        // explicit or the scheme's default
  std::string path;    // path and query, at least "/"

  // "https://host:port", the form httplib::Client accepts.
  std::string origin() const;
  // host without IPv6 brackets.
  std::string bare_host() const;
};

// nullopt unless `url` is http:// or https:// with a host, an optional numeric port, and no
// user info, fragment, whitespace or control characters.
std::optional<HttpUrl> parse_http_url(std::string_view url);

}  // namespace cryo::security::detail
