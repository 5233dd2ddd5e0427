#include "fhir/client/url.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cryo::fhir::client {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

// Splits "scheme://authority/path..." into its parts. `rest` receives path + query.
bool split_absolute(std::string_view url, std::string& scheme, std::string& host, int& port,
                    std::string_view& rest) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return false;
  scheme = lower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") return false;
  std::string_view after = url.substr(sep + 3);
  size_t end = after.find_first_of("/?#");
  std::string_view authority = after.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : after.substr(end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;

  std::string_view host_part = authority;
  std::string_view port_part;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host_part = authority.substr(0, close + 1);
    std::string_view tail = authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':') return false;
      port_part = tail.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host_part = authority.substr(0, colon);
    port_part = authority.substr(colon + 1);
  }
  if (host_part.empty()) return false;
  host = lower(host_part);
  port = scheme == "https" ? 443 : 80;
  if (!port_part.empty()) {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port_part.data(), port_part.data() + port_part.size(), p);
    if (ec != std::errc() || ptr != port_part.data() + port_part.size() || p <= 0 || p > 65535) {
      return false;
    }
    port = p;
  }
  return true;
}

}  // namespace

std::string BaseUrl::origin() const {
  return scheme + "://" + host + ":" + std::to_string(port);
}

std::string BaseUrl::url_of(std::string_view relative) const {
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  return origin() + path + "/" + std::string(relative);
}

std::optional<BaseUrl> parse_base_url(std::string_view url) {
  BaseUrl base;
  std::string_view rest;
  if (!split_absolute(url, base.scheme, base.host, base.port, rest)) return std::nullopt;
  if (rest.find_first_of("?#") != std::string_view::npos) return std::nullopt;
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  base.path = std::string(rest);
  return base;
}

std::optional<std::string> same_server_target(const BaseUrl& base, std::string_view link) {
  if (link.empty() || link.find('#') != std::string_view::npos) return std::nullopt;
  if (!starts_with_ci(link, "http://") && !starts_with_ci(link, "https://")) {
    if (link.find("://") != std::string_view::npos) return std::nullopt;
    if (link.front() == '/') return std::nullopt;  // absolute path: ambiguous, refuse
    return base.path + "/" + std::string(link);
  }
  std::string scheme, host;
  int port = 0;
  std::string_view rest;
  if (!split_absolute(link, scheme, host, port, rest)) return std::nullopt;
  if (scheme != base.scheme || host != base.host || port != base.port) return std::nullopt;
  // The path must be the base path or below it.
  std::string_view path = rest.substr(0, rest.find('?'));
  if (path.substr(0, base.path.size()) != base.path) return std::nullopt;
  if (path.size() > base.path.size() && path[base.path.size()] != '/') return std::nullopt;
  if (path.find("/../") != std::string_view::npos || path.ends_with("/..")) return std::nullopt;
  if (rest.empty()) return std::string("/");
  return std::string(rest);
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
