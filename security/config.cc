#include "security/config.h"

#include <cmath>
#include <set>

#include "security/bind_address.h"
#include "security/url.h"

namespace cryo::security {
namespace {

constexpr std::string_view kConfigurableAlgorithms[] = {"ES384", "RS384", "ES256", "RS256"};

// Builds error locations such as "config.json: trust.issuers[0].jwks_url".
class Where {
 public:
  Where(std::string_view source, std::string path) : source_(source), path_(std::move(path)) {}
  Where member(std::string_view name) const {
    return Where(source_, path_ + "." + std::string(name));
  }
  Where index(size_t i) const { return Where(source_, path_ + "[" + std::to_string(i) + "]"); }
  Error error(std::string message) const {
    return Error{source_.empty() ? path_ : std::string(source_) + ": " + path_, std::move(message)};
  }

 private:
  std::string_view source_;
  std::string path_;
};

Status check_members(const rapidjson::Value& object, const Where& where,
                     std::initializer_list<std::string_view> known) {
  std::set<std::string_view> seen;
  for (const auto& m : object.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    bool is_known = false;
    for (auto k : known) is_known = is_known || k == name;
    if (!is_known) return where.member(name).error("unknown setting");
    if (!seen.insert(name).second) return where.member(name).error("given more than once");
  }
  return Status::Ok();
}

Result<std::string> get_string(const rapidjson::Value& v, const Where& where) {
  if (!v.IsString()) return where.error("must be a string");
  std::string s(v.GetString(), v.GetStringLength());
  if (s.empty()) return where.error("must not be empty");
  return s;
}

Result<std::vector<std::string>> get_string_array(const rapidjson::Value& v, const Where& where) {
  if (!v.IsArray()) return where.error("must be an array of strings");
  std::vector<std::string> out;
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    auto s = get_string(v[i], where.index(i));
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  return out;
}

// A whole number of seconds within [min, max].
Result<std::chrono::seconds> get_seconds(const rapidjson::Value& v, const Where& where, int64_t min,
                                         int64_t max) {
  if (!v.IsInt64()) return where.error("must be a whole number of seconds");
  int64_t n = v.GetInt64();
  if (n < min || n > max) {
    return where.error("must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return std::chrono::seconds(n);
}

Result<bool> get_bool(const rapidjson::Value& v, const Where& where) {
  if (!v.IsBool()) return where.error("must be true or false");
  return v.GetBool();
}

Result<IssuerConfig> parse_issuer(const rapidjson::Value& v, const Where& where,
                                  const std::filesystem::path& base_dir) {
  if (!v.IsObject()) return where.error("must be an object");
  if (auto s = check_members(v, where, {"iss", "jwks_file", "jwks_url", "jku_allowlist"}); !s) {
    return s.error();
  }
  IssuerConfig out;
  if (!v.HasMember("iss")) return where.member("iss").error("is required");
  auto iss = get_string(v["iss"], where.member("iss"));
  if (!iss) return iss.error();
  out.iss = std::move(*iss);

  bool has_file = v.HasMember("jwks_file");
  bool has_url = v.HasMember("jwks_url");
  if (has_file == has_url) {
    return where.error("needs exactly one of jwks_file and jwks_url");
  }
  if (has_file) {
    auto file = get_string(v["jwks_file"], where.member("jwks_file"));
    if (!file) return file.error();
    std::filesystem::path p(*file);
    if (p.is_relative() && !base_dir.empty()) p = base_dir / p;
    out.jwks_file = p.string();
  } else {
    Where w = where.member("jwks_url");
    auto url = get_string(v["jwks_url"], w);
    if (!url) return url.error();
    if (!is_acceptable_jwks_url(*url)) {
      return w.error("must be an https:// URL (http:// only for loopback hosts)");
    }
    out.jwks_url = std::move(*url);
  }
  if (v.HasMember("jku_allowlist")) {
    Where w = where.member("jku_allowlist");
    auto list = get_string_array(v["jku_allowlist"], w);
    if (!list) return list.error();
    for (size_t i = 0; i < list->size(); ++i) {
      if (!is_acceptable_jwks_url((*list)[i])) {
        return w.index(i).error("must be an https:// URL (http:// only for loopback hosts)");
      }
    }
    out.jku_allowlist = std::move(*list);
  }
  return out;
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
  auto url = detail::parse_http_url(s);
  if (!url) return false;
  if (s.ends_with("/") || s.find('?') != std::string_view::npos) return false;
  size_t after_scheme = s.find("://") + 3;
  if (s.find('/', after_scheme) != std::string_view::npos) return false;
  for (char c : url->host) {
    if (c >= 'A' && c <= 'Z') return false;  // browsers send lower-case hosts
  }
  return true;
}

}  // namespace

bool is_acceptable_jwks_url(std::string_view url) {
  auto parsed = detail::parse_http_url(url);
  if (!parsed) return false;
  if (parsed->scheme == "https") return true;
  return is_loopback_address(parsed->bare_host());
}

Result<TrustConfig> parse_trust_config(const rapidjson::Value& trust, std::string_view source,
                                       const std::filesystem::path& base_dir) {
  Where where(source, "trust");
  if (!trust.IsObject()) return where.error("must be an object");
  if (auto s = check_members(
          trust, where,
          {"issuers", "algorithms", "clock_skew_seconds", "max_token_lifetime_seconds",
           "replay_cache_capacity", "jwks_min_refresh_interval_seconds", "jwks_max_age_seconds",
           "jwks_fetch_timeout_seconds"});
      !s) {
    return s.error();
  }
  TrustConfig out;
  if (!trust.HasMember("issuers")) return where.member("issuers").error("is required");
  const auto& issuers = trust["issuers"];
  Where wi = where.member("issuers");
  if (!issuers.IsArray()) return wi.error("must be an array of issuer objects");
  std::set<std::string> seen;
  for (rapidjson::SizeType i = 0; i < issuers.Size(); ++i) {
    auto issuer = parse_issuer(issuers[i], wi.index(i), base_dir);
    if (!issuer) return issuer.error();
    if (!seen.insert(issuer->iss).second) {
      return wi.index(i).member("iss").error("issuer '" + issuer->iss + "' is listed twice");
    }
    out.issuers.push_back(std::move(*issuer));
  }
  if (trust.HasMember("algorithms")) {
    Where w = where.member("algorithms");
    auto algs = get_string_array(trust["algorithms"], w);
    if (!algs) return algs.error();
    if (algs->empty()) return w.error("must name at least one algorithm");
    for (size_t i = 0; i < algs->size(); ++i) {
      bool known = false;
      for (auto k : kConfigurableAlgorithms) known = known || k == (*algs)[i];
      if (!known) {
        return w.index(i).error("'" + (*algs)[i] +
                                "' is not allowed (choose from ES384, RS384, ES256, RS256)");
      }
    }
    out.algorithms = std::move(*algs);
  }
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
    if (!trust.HasMember(f.name)) continue;
    auto v = get_seconds(trust[f.name], where.member(f.name), f.min, f.max);
    if (!v) return v.error();
    *f.target = *v;
  }
  if (trust.HasMember("replay_cache_capacity")) {
    Where w = where.member("replay_cache_capacity");
    const auto& v = trust["replay_cache_capacity"];
    if (!v.IsUint64() || v.GetUint64() < 16 || v.GetUint64() > 100'000'000) {
      return w.error("must be a whole number between 16 and 100000000");
    }
    out.replay_cache_capacity = static_cast<size_t>(v.GetUint64());
  }
  return out;
}

Result<CorsConfig> parse_cors_config(const rapidjson::Value& cors, std::string_view source) {
  Where where(source, "cors");
  if (!cors.IsObject()) return where.error("must be an object");
  if (auto s = check_members(cors, where,
                             {"allowed_origins", "allowed_methods", "allowed_headers",
                              "exposed_headers", "allow_credentials", "max_age_seconds"});
      !s) {
    return s.error();
  }
  CorsConfig out;
  if (cors.HasMember("allow_credentials")) {
    auto b = get_bool(cors["allow_credentials"], where.member("allow_credentials"));
    if (!b) return b.error();
    out.allow_credentials = *b;
  }
  if (cors.HasMember("allowed_origins")) {
    Where w = where.member("allowed_origins");
    auto list = get_string_array(cors["allowed_origins"], w);
    if (!list) return list.error();
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& o = (*list)[i];
      if (o == "*") {
        if (list->size() != 1) return w.index(i).error("\"*\" must be the only entry");
        if (out.allow_credentials) {
          return w.index(i).error("\"*\" cannot be combined with allow_credentials: true");
        }
        continue;
      }
      if (o == "null") return w.index(i).error("the \"null\" origin cannot be allowed");
      if (!is_origin(o)) {
        return w.index(i).error("'" + o +
                                "' is not an origin (scheme://host[:port], lower case, no path)");
      }
    }
    out.allowed_origins = std::move(*list);
  }
  struct ListField {
    const char* name;
    std::vector<std::string>* target;
  };
  const ListField lists[] = {{"allowed_methods", &out.allowed_methods},
                             {"allowed_headers", &out.allowed_headers},
                             {"exposed_headers", &out.exposed_headers}};
  for (const auto& f : lists) {
    if (!cors.HasMember(f.name)) continue;
    Where w = where.member(f.name);
    auto list = get_string_array(cors[f.name], w);
    if (!list) return list.error();
    for (size_t i = 0; i < list->size(); ++i) {
      if ((*list)[i] == "*") return w.index(i).error("wildcards are not allowed; list names");
      if (!is_token((*list)[i])) return w.index(i).error("not a valid HTTP token");
    }
    *f.target = std::move(*list);
  }
  if (cors.HasMember("max_age_seconds")) {
    auto v = get_seconds(cors["max_age_seconds"], where.member("max_age_seconds"), 0, 86400);
    if (!v) return v.error();
    out.max_age = *v;
  }
  return out;
}

}  // namespace cryo::security
