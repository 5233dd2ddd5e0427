#include "security/config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "base/url.h"
#include "security/bind_address.h"

namespace cryo::security {
namespace {

using json::Node;
using json::Object;

constexpr std::string_view kConfigurableAlgorithms[] = {"ES384", "RS384", "ES256", "RS256"};

// A whole number of seconds within [min, max].
Result<std::chrono::seconds> get_seconds(const Node& v, int64_t min, int64_t max) {
  if (!v->IsInt64()) return v.error("must be a whole number of seconds");
  int64_t n = v->GetInt64();
  if (n < min || n > max) {
    return v.error("must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return std::chrono::seconds(n);
}

Result<IssuerConfig> parse_issuer(const Node& v, const std::filesystem::path& base_dir) {
  auto o = Object::of(v, {"iss", "jwks_file", "jwks_url", "jku_allowlist"});
  if (!o) return o.error();
  IssuerConfig out;
  if (Status s = json::into(o->string("iss"), out.iss); !s) return s.error();
  bool has_file = o->has("jwks_file");
  if (has_file == o->has("jwks_url"))
    return o->error("needs exactly one of jwks_file and jwks_url");
  if (has_file) {
    auto file = o->string("jwks_file");
    if (!file) return file.error();
    std::filesystem::path p(*file);
    if (p.is_relative() && !base_dir.empty()) p = base_dir / p;
    out.jwks_file = p.string();
  } else {
    auto url = o->string("jwks_url");
    if (!url) return url.error();
    if (!is_acceptable_jwks_url(*url)) {
      return o->error("jwks_url", "must be an https:// URL (http:// only for loopback hosts)");
    }
    out.jwks_url = std::move(*url);
  }
  auto list = o->optional_strings("jku_allowlist");
  if (!list) return list.error();
  for (size_t i = 0; i < list->size(); ++i) {
    if (!is_acceptable_jwks_url((*list)[i])) {
      return Error{json::index_path(o->at("jku_allowlist"), i),
                   "must be an https:// URL (http:// only for loopback hosts)"};
    }
  }
  out.jku_allowlist = std::move(*list);
  return out;
}

Status parse_issuers(const Object& trust, const std::filesystem::path& base_dir, TrustConfig& out) {
  auto issuers = trust.require("issuers");
  if (!issuers) return issuers.error();
  if (!(*issuers)->IsArray()) return issuers->error("must be an array of issuer objects");
  std::set<std::string> seen;
  for (const Node& entry : issuers->elements()) {
    auto issuer = parse_issuer(entry, base_dir);
    if (!issuer) return issuer.error();
    if (!seen.insert(issuer->iss).second) {
      return Error{json::join_path(entry.path(), "iss"),
                   "issuer '" + issuer->iss + "' is listed twice"};
    }
    out.issuers.push_back(std::move(*issuer));
  }
  return Status::Ok();
}

Status parse_algorithms(const Object& trust, TrustConfig& out) {
  std::optional<Node> node = trust.get("algorithms");
  if (!node) return Status::Ok();
  auto algs = node->strings();
  if (!algs) return algs.error();
  if (algs->empty()) return node->error("must name at least one algorithm");
  for (size_t i = 0; i < algs->size(); ++i) {
    bool known = false;
    for (auto k : kConfigurableAlgorithms) known = known || k == (*algs)[i];
    if (!known) {
      return node->element(i).error("'" + (*algs)[i] +
                                    "' is not allowed (choose from ES384, RS384, ES256, RS256)");
    }
  }
  out.algorithms = std::move(*algs);
  return Status::Ok();
}

Status parse_limits(const Object& trust, TrustConfig& out) {
  struct SecondsField {
    const char* name;
    std::chrono::seconds* target;
    int64_t min, max;
  };
  const SecondsField fields[] = {
      {"clock_skew_seconds", &out.clock_skew, 0, 600},
      {"max_token_lifetime_seconds", &out.max_token_lifetime, 1, 86400},
      {"jwks_min_refresh_interval_seconds", &out.jwks_min_refresh_interval, 0, 86400},
      {"jwks_max_age_seconds", &out.jwks_max_age, 1, 7 * 86400},
      {"jwks_fetch_timeout_seconds", &out.jwks_fetch_timeout, 1, 60},
  };
  for (const auto& f : fields) {
    std::optional<Node> v = trust.get(f.name);
    if (!v) continue;
    auto seconds = get_seconds(*v, f.min, f.max);
    if (!seconds) return seconds.error();
    *f.target = *seconds;
  }
  if (std::optional<Node> v = trust.get("replay_cache_capacity")) {
    if (!(*v)->IsUint64() || (*v)->GetUint64() < 16 || (*v)->GetUint64() > 100'000'000) {
      return v->error("must be a whole number between 16 and 100000000");
    }
    out.replay_cache_capacity = static_cast<size_t>((*v)->GetUint64());
  }
  return Status::Ok();
}

bool is_token(std::string_view s) {  // RFC 9110 token, for method and header names
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// "https://ehr.example.org" or "http://localhost:3000": scheme, host, optional port, nothing
// else (the serialization browsers send in the Origin header).
bool is_origin(std::string_view s) {
  auto url = parse_http_url(s);
  if (!url || !url->path.empty() || url->query) return false;
  // Browsers send the scheme and host in lower case.
  return std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

bool is_acceptable_jwks_url(std::string_view url) {
  auto parsed = parse_http_url(url);
  if (!parsed) return false;
  if (parsed->scheme == "https") return true;
  return is_loopback_address(parsed->bare_host());
}

Result<TrustConfig> parse_trust_config(const json::Node& trust,
                                       const std::filesystem::path& base_dir) {
  auto o = Object::of(
      trust, {"issuers", "algorithms", "clock_skew_seconds", "max_token_lifetime_seconds",
              "replay_cache_capacity", "jwks_min_refresh_interval_seconds", "jwks_max_age_seconds",
              "jwks_fetch_timeout_seconds"});
  if (!o) return o.error();
  TrustConfig out;
  for (Status s :
       {parse_issuers(*o, base_dir, out), parse_algorithms(*o, out), parse_limits(*o, out)}) {
    if (!s) return s.error();
  }
  return out;
}

namespace {

Status parse_origins(const Object& cors, CorsConfig& out) {
  std::optional<Node> node = cors.get("allowed_origins");
  if (!node) return Status::Ok();
  auto list = node->strings();
  if (!list) return list.error();
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string& o = (*list)[i];
    Node at = node->element(i);
    if (o == "*") {
      if (list->size() != 1) return at.error("\"*\" must be the only entry");
      if (out.allow_credentials) {
        return at.error("\"*\" cannot be combined with allow_credentials: true");
      }
      continue;
    }
    if (o == "null") return at.error("the \"null\" origin cannot be allowed");
    if (!is_origin(o)) {
      return at.error("'" + o + "' is not an origin (scheme://host[:port], lower case, no path)");
    }
  }
  out.allowed_origins = std::move(*list);
  return Status::Ok();
}

Status parse_header_lists(const Object& cors, CorsConfig& out) {
  struct ListField {
    const char* name;
    std::vector<std::string>* target;
  };
  const ListField lists[] = {{"allowed_methods", &out.allowed_methods},
                             {"allowed_headers", &out.allowed_headers},
                             {"exposed_headers", &out.exposed_headers}};
  for (const auto& f : lists) {
    std::optional<Node> node = cors.get(f.name);
    if (!node) continue;
    auto list = node->strings();
    if (!list) return list.error();
    for (size_t i = 0; i < list->size(); ++i) {
      if ((*list)[i] == "*") return node->element(i).error("wildcards are not allowed; list names");
      if (!is_token((*list)[i])) return node->element(i).error("not a valid HTTP token");
    }
    *f.target = std::move(*list);
  }
  return Status::Ok();
}

}  // namespace

Result<CorsConfig> parse_cors_config(const json::Node& cors) {
  auto o = Object::of(cors, {"allowed_origins", "allowed_methods", "allowed_headers",
                             "exposed_headers", "allow_credentials", "max_age_seconds"});
  if (!o) return o.error();
  CorsConfig out;
  if (Status s = json::into(o->optional_bool("allow_credentials", false), out.allow_credentials);
      !s) {
    return s.error();
  }
  for (Status s : {parse_origins(*o, out), parse_header_lists(*o, out)}) {
    if (!s) return s.error();
  }
  if (std::optional<Node> v = o->get("max_age_seconds")) {
    auto seconds = get_seconds(*v, 0, 86400);
    if (!seconds) return seconds.error();
    out.max_age = *seconds;
  }
  return out;
}

}  // namespace cryo::security
