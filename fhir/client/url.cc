#include "fhir/client/url.h"

#include <cctype>
#include <utility>

namespace cryo::fhir::client {

std::string BaseUrl::url_of(std::string_view relative) const {
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  return origin() + path + "/" + std::string(relative);
}

std::optional<BaseUrl> parse_base_url(std::string_view url) {
  std::optional<HttpUrl> parsed = parse_http_url(url);
  if (!parsed || parsed->query) return std::nullopt;
  BaseUrl base{std::move(*parsed)};
  while (!base.path.empty() && base.path.back() == '/') base.path.pop_back();
  return base;
}

std::optional<std::string> same_server_target(const BaseUrl& base, std::string_view link) {
  if (link.empty()) return std::nullopt;
  if (link.find("://") == std::string_view::npos) {
    // Relative to the base; an absolute path is ambiguous, refused.
    if (link.front() == '/' || link.find_first_of("#\\") != std::string_view::npos) {
      return std::nullopt;
    }
    return base.path + "/" + std::string(link);
  }
  std::optional<HttpUrl> parsed = parse_http_url(link);
  if (!parsed) return std::nullopt;
  if (parsed->scheme != base.scheme || parsed->host != base.host || parsed->port != base.port) {
    return std::nullopt;
  }
  // The path must be the base path or below it.
  std::string_view path = parsed->path;
  if (path.substr(0, base.path.size()) != base.path) return std::nullopt;
  if (path.size() > base.path.size() && path[base.path.size()] != '/') return std::nullopt;
  if (path.find("/../") != std::string_view::npos || path.ends_with("/..")) return std::nullopt;
  return parsed->target();
}

std::string percent_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace cryo::fhir::client
