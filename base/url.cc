#include "base/url.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cryo {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool has_forbidden_character(std::string_view url) {
  return std::any_of(url.begin(), url.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '\\' || c == '#';
  });
}

std::optional<int> parse_port(std::string_view text) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port <= 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return port;
}

// "host", "host:port", "[v6]" or "[v6]:port" into `out`.
bool read_authority(std::string_view authority, HttpUrl& out) {
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
    }
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return false;
  out.host = lower(host);
  out.port = out.scheme == "https" ? 443 : 80;
  if (port) {
    std::optional<int> number = parse_port(*port);
    if (!number) return false;
    out.port = *number;
  }
  return true;
}

}  // namespace

std::string HttpUrl::origin() const {
  return scheme + "://" + host + ":" + std::to_string(port);
}

std::string HttpUrl::bare_host() const {
  if (host.size() > 2 && host.front() == '[') return host.substr(1, host.size() - 2);
  return host;
}

std::string HttpUrl::target() const {
  std::string out = path.empty() ? "/" : path;
  if (query) out += "?" + *query;
  return out;
}

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  if (has_forbidden_character(url)) return std::nullopt;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  HttpUrl out;
  out.scheme = lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(sep + 3);
  size_t end = rest.find_first_of("/?");
  if (!read_authority(rest.substr(0, end), out)) return std::nullopt;
  if (end == std::string_view::npos) return out;
  rest = rest.substr(end);
  size_t question = rest.find('?');
  out.path = std::string(rest.substr(0, question));
  if (question != std::string_view::npos) out.query = std::string(rest.substr(question + 1));
  return out;
}

}  // namespace cryo
