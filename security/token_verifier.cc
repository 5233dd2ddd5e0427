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
  // --- Authorization: Bearer <token>
  if (authorization_header.empty()) return refuse("no Authorization header");
  size_t space = authorization_header.find(' ');
  if (space == std::string_view::npos ||
      !iequals(authorization_header.substr(0, space), "Bearer")) {
    return refuse("Authorization is not a Bearer token");
  }
  std::string_view token = authorization_header.substr(space);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return refuse("malformed token: empty");
  if (token.size() > kMaxTokenSize) return refuse("token larger than 16 KiB");

  // --- Compact JWS: three base64url parts.
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return refuse("malformed token: not three parts");
  }
  std::string_view signing_input = token.substr(0, dot2);
  auto header_json = base64url_decode(token.substr(0, dot1));
  auto payload_json = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header_json || !payload_json || !signature) return refuse("malformed token: base64url");

  rapidjson::Document header;
  if (!parse_object(*header_json, header)) return refuse("malformed token: header");
  rapidjson::Document claims;
  if (!parse_object(*payload_json, claims)) return refuse("malformed token: claims");

  // What the log may name about the token, read before any check so that every refusal
  // from here on says which client, key and token it was about.
  Verdict verdict;
  bool bad = false;
  auto alg = string_member(header, "alg", bad);
  auto typ = string_member(header, "typ", bad);
  auto kid = string_member(header, "kid", bad);
  auto jku = string_member(header, "jku", bad);
  const bool bad_header = bad;
  bad = false;
  auto iss = string_member(claims, "iss", bad);
  auto jti = string_member(claims, "jti", bad);
  const bool bad_claims = bad;
  if (iss) verdict.issuer = loggable_claim(*iss);
  if (kid) verdict.kid = loggable_claim(*kid);
  if (jti) verdict.jti = loggable_claim(*jti);
  auto fail = [&](std::string reason) {
    verdict.ok = false;
    verdict.reason = std::move(reason);
    return verdict;
  };

  if (signature->empty()) return fail("unsigned token");

  // --- Header.
  if (bad_header) return fail("malformed token: header member types");
  if (!alg) return fail("header has no alg");
  bool allowed_alg = false;
  for (const auto& a : config_.algorithms) allowed_alg = allowed_alg || a == *alg;
  if (!allowed_alg) return fail("algorithm not allowed: " + loggable_claim(*alg));
  if (!typ || *typ != "JWT") return fail("header typ is not JWT");
  if (!kid) return fail("header has no kid");
  if (header.HasMember("crit")) return fail("header has crit");

  // --- Claims.
  if (bad_claims) return fail("malformed token: claim types");
  if (!iss) return fail("no iss");
  auto issuer_it = issuers_.find(*iss);
  if (issuer_it == issuers_.end()) return fail("issuer not trusted");
  Issuer& issuer = issuer_it->second;

  auto aud = claims.FindMember("aud");
  if (aud == claims.MemberEnd()) return fail("no aud");
  if (!audience_matches(aud->value, audience_url)) return fail("aud does not name this endpoint");

  auto exp = numeric_date(claims, "exp");
  auto iat = numeric_date(claims, "iat");
  if (!exp) return fail("no valid exp");
  if (!iat) return fail("no valid iat");
  std::optional<int64_t> nbf;
  if (claims.HasMember("nbf")) {
    nbf = numeric_date(claims, "nbf");
    if (!nbf) return fail("malformed token: nbf");
  }
  if (!jti) return fail("no jti");
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  const int64_t skew = config_.clock_skew.count();
  if (*exp + skew <= now_s) return fail("token expired");
  if (*iat - skew > now_s) return fail("iat in the future");
  if (nbf && *nbf - skew > now_s) return fail("token not yet valid (nbf)");
  if (*exp < *iat) return fail("exp before iat");
  if (*exp - *iat > config_.max_token_lifetime.count()) return fail("token lifetime too long");

  // --- Key. A jku that is the issuer's jwks_url or on its allowlist selects that set; any
  // other jku is only a hint and is never fetched: the issuer's configured set (jwks_file or
  // jwks_url) is authoritative, and the key must be found there.
  std::shared_ptr<JwksSource> source = issuer.keys;
  bool jku_not_configured = false;
  if (jku) {
    auto it = issuer.jku.find(*jku);
    if (it != issuer.jku.end()) {
      source = it->second;
    } else if (issuer.config.jwks_url != *jku) {
      jku_not_configured = true;
    }
  }
  auto set = source->current();
  std::vector<const VerificationKey*> keys;
  if (set) keys = set->find(*kid, *alg);
  if (keys.empty()) {
    source->refresh();  // rate-limited; another thread may also have just reloaded
    set = source->current();
    if (set) keys = set->find(*kid, *alg);
  }
  if (keys.empty()) {
    return fail(jku_not_configured ? "unknown kid (jku not configured for the issuer: not fetched)"
                                   : "unknown kid");
  }

  // --- Signature (no lock held).
  bool verified = false;
  for (const VerificationKey* k : keys) {
    if (verify_signature(k->pkey.get(), *alg, signing_input, *signature)) {
      verified = true;
      break;
    }
  }
  if (!verified) return fail("bad signature");

  // --- Replay.
  auto expires = std::chrono::system_clock::time_point(std::chrono::seconds(*exp + skew));
  switch (replay_.remember(*iss, *jti, expires, now())) {
    case ReplayCache::kReplayed:
      return fail("jti replayed");
    case ReplayCache::kFull:
      return fail("replay cache full");
    case ReplayCache::kFresh:
      break;
  }
  if (shared_replay_) {
    switch (shared_replay_->remember(*iss, *jti, expires, now())) {
      case ReplayCache::kReplayed:
        return fail("jti replayed (accepted by another replica)");
      case ReplayCache::kFull:
        return fail("shared replay check unavailable");
      case ReplayCache::kFresh:
        break;
    }
  }
  verdict.ok = true;
  verdict.reason.clear();
  return verdict;
}

}  // namespace cryo::security
