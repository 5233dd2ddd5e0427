#include "security/token_verifier.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <rapidjson/document.h>

#include <cmath>
#include <optional>
#include <set>

#include "base/text.h"
#include "security/base64url.h"
#include "security/openssl_util.h"

namespace cryo::security {
namespace {

using detail::BnPtr;
using detail::EcdsaSigPtr;
using detail::MdCtxPtr;

constexpr size_t kMaxTokenSize = 16 * 1024;
constexpr size_t kMaxClaimLength = 2048;
constexpr size_t kMaxLoggedLength = 128;

Verdict refuse(std::string reason) {
  Verdict v;
  v.reason = std::move(reason);
  return v;
}

// Parses a decoded JOSE header or claims set: a JSON object without duplicate member names.
bool parse_object(std::string_view json, rapidjson::Document& doc) {
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                    json.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  std::set<std::string_view> names;
  for (const auto& m : doc.GetObject()) {
    if (!names.insert(std::string_view(m.name.GetString(), m.name.GetStringLength())).second) {
      return false;
    }
  }
  return true;
}

// The string member `name`, or nullopt if absent; `bad` is set when present but not a
// non-empty string of reasonable length.
std::optional<std::string_view> string_member(const rapidjson::Value& obj, const char* name,
                                              bool& bad) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return std::nullopt;
  if (!it->value.IsString() || it->value.GetStringLength() == 0 ||
      it->value.GetStringLength() > kMaxClaimLength) {
    bad = true;
    return std::nullopt;
  }
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

// A NumericDate claim as whole seconds (fractions truncated toward the past).
std::optional<int64_t> numeric_date(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsNumber()) return std::nullopt;
  if (it->value.IsInt64()) return it->value.GetInt64();
  double d = it->value.GetDouble();
  if (!std::isfinite(d) || d < -1e11 || d > 1e11) return std::nullopt;
  return static_cast<int64_t>(std::floor(d));
}

bool audience_matches(const rapidjson::Value& aud, std::string_view expected) {
  auto eq = [&](const rapidjson::Value& v) {
    return v.IsString() && std::string_view(v.GetString(), v.GetStringLength()) == expected;
  };
  if (aud.IsString()) return eq(aud);
  if (aud.IsArray()) {
    for (const auto& a : aud.GetArray()) {
      if (eq(a)) return true;
    }
  }
  return false;
}

}  // namespace

std::string loggable_claim(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const bool truncated = s.size() > kMaxLoggedLength;
  for (char ch : s.substr(0, kMaxLoggedLength)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c > 0x20 && c < 0x7f && c != '"') {
      out.push_back(ch);
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (truncated) out += "...";
  return out;
}

namespace {

// JWS signature check: RSASSA-PKCS1-v1_5 for RS*, and for ES* the raw R||S of RFC 7518 §3.4
// converted to the DER ECDSA-Sig-Value that EVP expects.
bool verify_signature(EVP_PKEY* key, std::string_view alg, std::string_view signing_input,
                      std::string_view signature) {
  const EVP_MD* md = detail::digest_for_alg(alg);
  if (!md) return false;
  std::string der;
  std::string_view sig = signature;
  if (size_t n = detail::ec_coordinate_size(alg); n != 0) {
    if (signature.size() != 2 * n) return false;
    EcdsaSigPtr ecdsa(ECDSA_SIG_new());
    BnPtr r = detail::bn_from_bytes(signature.substr(0, n));
    BnPtr s = detail::bn_from_bytes(signature.substr(n));
    if (!ecdsa || !r || !s || ECDSA_SIG_set0(ecdsa.get(), r.get(), s.get()) != 1) return false;
    r.release();  // owned by ecdsa now
    s.release();
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(ecdsa.get(), &out);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    sig = der;
  } else if (static_cast<int>(signature.size()) != EVP_PKEY_get_size(key)) {
    return false;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) {
    ERR_clear_error();
    return false;
  }
  bool ok =
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) == 1;
  ERR_clear_error();
  return ok;
}

// A compact JWS taken apart. The optional members point into `header` and `claims`.
struct Token {
  std::string_view signing_input;
  std::optional<std::string> signature;
  rapidjson::Document header;
  rapidjson::Document claims;
  std::optional<std::string_view> alg, typ, kid, jku, iss, jti;
  bool bad_header = false;  // a member the log may name is not a string
  bool bad_claims = false;
  int64_t exp = 0;  // set by check_claims
};

// Each step returns why the token is refused, or nothing when it passes.
using Refusal = std::optional<std::string>;

// Authorization: Bearer <token>.
Refusal bearer_token(std::string_view authorization_header, std::string_view& token) {
  if (authorization_header.empty()) return "no Authorization header";
  size_t space = authorization_header.find(' ');
  if (space == std::string_view::npos ||
      !iequals(authorization_header.substr(0, space), "Bearer")) {
    return "Authorization is not a Bearer token";
  }
  token = authorization_header.substr(space);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return "malformed token: empty";
  if (token.size() > kMaxTokenSize) return "token larger than 16 KiB";
  return std::nullopt;
}

// Compact JWS: three base64url parts, header and claims JSON objects. Also reads the members
// the log may name, before any check, so that every later refusal says which client, key and
// token it was about.
Refusal decode_token(std::string_view token, Token& t) {
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return "malformed token: not three parts";
  }
  t.signing_input = token.substr(0, dot2);
  auto header_json = base64url_decode(token.substr(0, dot1));
  auto payload_json = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  t.signature = base64url_decode(token.substr(dot2 + 1));
  if (!header_json || !payload_json || !t.signature) return "malformed token: base64url";
  if (!parse_object(*header_json, t.header)) return "malformed token: header";
  if (!parse_object(*payload_json, t.claims)) return "malformed token: claims";

  t.alg = string_member(t.header, "alg", t.bad_header);
  t.typ = string_member(t.header, "typ", t.bad_header);
  t.kid = string_member(t.header, "kid", t.bad_header);
  t.jku = string_member(t.header, "jku", t.bad_header);
  t.iss = string_member(t.claims, "iss", t.bad_claims);
  t.jti = string_member(t.claims, "jti", t.bad_claims);
  return std::nullopt;
}

// The signature is present; the header names an allowed alg, typ JWT and a kid, and no crit.
Refusal check_header(const Token& t, const std::vector<std::string>& algorithms) {
  if (t.signature->empty()) return "unsigned token";
  if (t.bad_header) return "malformed token: header member types";
  if (!t.alg) return "header has no alg";
  bool allowed_alg = false;
  for (const auto& a : algorithms) allowed_alg = allowed_alg || a == *t.alg;
  if (!allowed_alg) return "algorithm not allowed: " + loggable_claim(*t.alg);
  if (!t.typ || *t.typ != "JWT") return "header typ is not JWT";
  if (!t.kid) return "header has no kid";
  if (t.header.HasMember("crit")) return "header has crit";
  return std::nullopt;
}

// The claims after the issuer: aud names this endpoint, exp/iat/nbf/jti are present and valid
// and the token is current. Sets t.exp.
Refusal check_claims(Token& t, std::string_view audience_url, const TrustConfig& config,
                     const std::function<std::chrono::system_clock::time_point()>& now) {
  auto aud = t.claims.FindMember("aud");
  if (aud == t.claims.MemberEnd()) return "no aud";
  if (!audience_matches(aud->value, audience_url)) return "aud does not name this endpoint";

  auto exp = numeric_date(t.claims, "exp");
  auto iat = numeric_date(t.claims, "iat");
  if (!exp) return "no valid exp";
  if (!iat) return "no valid iat";
  std::optional<int64_t> nbf;
  if (t.claims.HasMember("nbf")) {
    nbf = numeric_date(t.claims, "nbf");
    if (!nbf) return "malformed token: nbf";
  }
  if (!t.jti) return "no jti";
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  const int64_t skew = config.clock_skew.count();
  if (*exp + skew <= now_s) return "token expired";
  if (*iat - skew > now_s) return "iat in the future";
  if (nbf && *nbf - skew > now_s) return "token not yet valid (nbf)";
  if (*exp < *iat) return "exp before iat";
  if (*exp - *iat > config.max_token_lifetime.count()) return "token lifetime too long";
  t.exp = *exp;
  return std::nullopt;
}

// The keys a token's kid and alg select; `set` keeps them alive.
struct FoundKeys {
  std::shared_ptr<const JwkSet> set;
  std::vector<const VerificationKey*> keys;
  bool jku_not_configured = false;
};

// A jku that is the issuer's jwks_url or on its allowlist selects that set; any other jku is
// only a hint and is never fetched: the issuer's configured set (jwks_file or jwks_url) is
// authoritative, and the key must be found there.
FoundKeys find_keys(
    const Token& t, std::shared_ptr<JwksSource> source,
    const std::map<std::string, std::shared_ptr<JwksSource>, std::less<>>& allowed_jku,
    std::string_view jwks_url) {
  FoundKeys found;
  if (t.jku) {
    auto it = allowed_jku.find(*t.jku);
    if (it != allowed_jku.end()) {
      source = it->second;
    } else if (jwks_url != *t.jku) {
      found.jku_not_configured = true;
    }
  }
  found.set = source->current();
  if (found.set) found.keys = found.set->find(*t.kid, *t.alg);
  if (found.keys.empty()) {
    source->refresh();  // rate-limited; another thread may also have just reloaded
    found.set = source->current();
    if (found.set) found.keys = found.set->find(*t.kid, *t.alg);
  }
  return found;
}

bool any_key_verifies(const FoundKeys& found, const Token& t) {
  for (const VerificationKey* k : found.keys) {
    if (verify_signature(k->pkey.get(), *t.alg, t.signing_input, *t.signature)) return true;
  }
  return false;
}

// The jti is new to this process and, when replicas share the check, to all of them.
Refusal check_replay(ReplayCache& local, SharedReplayCheck* shared, const Token& t,
                     ReplayCache::TimePoint expires,
                     const std::function<std::chrono::system_clock::time_point()>& now) {
  switch (local.remember(*t.iss, *t.jti, expires, now())) {
    case ReplayCache::kReplayed:
      return "jti replayed";
    case ReplayCache::kFull:
      return "replay cache full";
    case ReplayCache::kFresh:
      break;
  }
  if (!shared) return std::nullopt;
  switch (shared->remember(*t.iss, *t.jti, expires, now())) {
    case ReplayCache::kReplayed:
      return "jti replayed (accepted by another replica)";
    case ReplayCache::kFull:
      return "shared replay check unavailable";
    case ReplayCache::kFresh:
      break;
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<TokenVerifier>> TokenVerifier::create(TrustConfig config, Clock clock) {
  for (const auto& alg : config.algorithms) {
    if (!detail::digest_for_alg(alg)) {
      return Error{"trust.algorithms", "'" + alg + "' is not a supported algorithm"};
    }
  }
  std::unique_ptr<TokenVerifier> v(new TokenVerifier(std::move(config), std::move(clock)));
  JwksSource::Options options;
  options.min_refresh_interval = v->config_.jwks_min_refresh_interval;
  options.max_age = v->config_.jwks_max_age;
  options.fetch.timeout = v->config_.jwks_fetch_timeout;
  options.clock = v->clock_;

  // One source per URL, shared by the issuers that name it.
  std::map<std::string, std::shared_ptr<JwksSource>> by_url;
  auto url_source = [&](const std::string& url) {
    auto& s = by_url[url];
    if (!s) s = JwksSource::from_url(url, options);
    return s;
  };
  for (const auto& ic : v->config_.issuers) {
    if (ic.iss.empty()) return Error{"trust.issuers", "an issuer has an empty iss"};
    Issuer issuer;
    issuer.config = ic;
    if (!ic.jwks_file.empty()) {
      issuer.keys = JwksSource::from_file(ic.jwks_file, options);
      if (auto s = issuer.keys->load_now(); !s) {
        return Error{ic.jwks_file, "JWK Set for issuer '" + ic.iss + "' cannot be loaded"};
      }
      auto set = issuer.keys->current();
      if (!set || set->keys.empty()) {
        return Error{ic.jwks_file, "JWK Set for issuer '" + ic.iss + "' has no verification key"};
      }
    } else if (!ic.jwks_url.empty()) {
      issuer.keys = url_source(ic.jwks_url);
    } else {
      return Error{"trust.issuers", "issuer '" + ic.iss + "' has neither jwks_file nor jwks_url"};
    }
    for (const auto& url : ic.jku_allowlist) issuer.jku.emplace(url, url_source(url));
    if (!v->issuers_.emplace(ic.iss, std::move(issuer)).second) {
      return Error{"trust.issuers", "issuer '" + ic.iss + "' is listed twice"};
    }
  }
  return v;
}

TokenVerifier::TokenVerifier(TrustConfig config, Clock clock)
    : config_(std::move(config)),
      clock_(std::move(clock)),
      replay_(config_.replay_cache_capacity) {}

std::chrono::system_clock::time_point TokenVerifier::now() const {
  return clock_ ? clock_() : std::chrono::system_clock::now();
}

Verdict TokenVerifier::verify(std::string_view authorization_header,
                              std::string_view audience_url) {
  std::string_view bearer;
  if (auto refused = bearer_token(authorization_header, bearer)) return refuse(*refused);
  Token t;
  if (auto refused = decode_token(bearer, t)) return refuse(*refused);

  // From here on every refusal names the client, key and token it was about.
  Verdict verdict;
  if (t.iss) verdict.issuer = loggable_claim(*t.iss);
  if (t.kid) verdict.kid = loggable_claim(*t.kid);
  if (t.jti) verdict.jti = loggable_claim(*t.jti);
  auto fail = [&](std::string reason) {
    verdict.ok = false;
    verdict.reason = std::move(reason);
    return verdict;
  };

  if (auto refused = check_header(t, config_.algorithms)) return fail(*refused);
  if (t.bad_claims) return fail("malformed token: claim types");
  if (!t.iss) return fail("no iss");
  auto issuer_it = issuers_.find(*t.iss);
  if (issuer_it == issuers_.end()) return fail("issuer not trusted");
  const Issuer& issuer = issuer_it->second;
  auto clock = [this] { return now(); };
  if (auto refused = check_claims(t, audience_url, config_, clock)) return fail(*refused);

  FoundKeys found = find_keys(t, issuer.keys, issuer.jku, issuer.config.jwks_url);
  if (found.keys.empty()) {
    return fail(found.jku_not_configured
                    ? "unknown kid (jku not configured for the issuer: not fetched)"
                    : "unknown kid");
  }
  if (!any_key_verifies(found, t)) return fail("bad signature");  // no lock held

  auto expires = std::chrono::system_clock::time_point(
      std::chrono::seconds(t.exp + config_.clock_skew.count()));
  if (auto refused = check_replay(replay_, shared_replay_.get(), t, expires, clock)) {
    return fail(*refused);
  }
  verdict.ok = true;
  verdict.reason.clear();
  return verdict;
}

}  // namespace cryo::security
