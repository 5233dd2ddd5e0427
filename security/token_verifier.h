// Verifies the JWT a CDS client sends with every call (CDS Hooks 2.0 "Trusting CDS Clients").
//
// A token is accepted only when all of these hold:
//   - the Authorization header is "Bearer <compact JWS>" (strict base64url, three parts);
//   - header: `alg` is one of the configured algorithms (never "none" or HMAC), `typ` is
//     "JWT", `kid` is present, no `crit`;
//   - payload: `iss` is a configured issuer; `aud` (string or array) contains exactly the URL
//     of the endpoint called; `exp` has not passed, `iat` is not in the future and `nbf`, if
//     present, has been reached (all with the configured skew); exp - iat is within
//     max_token_lifetime; `jti` is present;
//   - the signature verifies with the issuer's key of that `kid`. The key comes from the set
//     at `jku` when `jku` is the issuer's jwks_url or on its jku_allowlist; otherwise (no jku,
//     or a jku not configured) from the issuer's jwks_file or jwks_url. A jku that is not
//     configured is never fetched. An unknown kid triggers one rate-limited reload of the
//     set in use;
//   - (iss, jti) was not accepted before within the token's lifetime.
// Cheap checks run before any key lookup or signature check; the jti is recorded only after
// the signature verified, so forged tokens cannot fill the replay cache.
//
// On failure the Verdict carries a short reason for the server log and the token's iss, kid
// and jti (escaped: bytes outside printable ASCII, `"` and `\` as \xNN or \\, at most 128
// bytes each); it never contains the token. The HTTP layer answers 401 with `WWW-Authenticate:
// Bearer` and no detail.
//
//   auto verifier = TokenVerifier::create(trust_config);
//   if (!verifier) { /* configuration or JWKS file error */ }
//   Verdict v = (*verifier)->verify(req.get_header_value("Authorization"),
//                                   "https://crd.example.org/cds-services/cryo-order-sign");
//   if (!v) log::warn("refused client token", {{"reason", v.reason}, {"iss", v.issuer},
//                                              {"kid", v.kid}, {"jti", v.jti}});
//
// Thread safety: verify() may be called concurrently from any number of threads. No lock is
// held during signature verification; key sets are shared immutable snapshots and the replay
// cache is sharded.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "security/config.h"
#include "security/jwks.h"
#include "security/replay_cache.h"

namespace cryo::security {

// `s` made safe and short for a log line: printable ASCII kept, `\` doubled, other bytes
// (controls, space, `"`, non-ASCII) as \xNN; over 128 bytes it is cut and ends in "...".
std::string loggable_claim(std::string_view s);

struct Verdict {
  bool ok = false;
  std::string issuer;  // the token's iss (unverified when !ok; empty if unreadable)
  std::string kid;     // the header's kid (unverified when !ok; empty if unreadable)
  std::string jti;     // the token's jti (unverified when !ok; empty if unreadable)
  std::string reason;  // why it was refused, for the log; empty when ok

  explicit operator bool() const { return ok; }
};

class TokenVerifier {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Builds a verifier. JWKS files are loaded now (an unreadable or invalid file is an Error
  // naming it); JWKS URLs are fetched on first use. `clock` defaults to the system clock.
  static Result<std::unique_ptr<TokenVerifier>> create(TrustConfig config, Clock clock = {});

  // Checks the value of an Authorization header for a call to the endpoint whose absolute URL
  // is `audience_url` (discovery ".../cds-services", a service ".../cds-services/{id}",
  // feedback ".../cds-services/{id}/feedback").
  Verdict verify(std::string_view authorization_header, std::string_view audience_url);

  // Whether any issuer is configured. With none, no token verifies; the server may then take
  // unsigned calls, but only while it listens on loopback (see bind_address.h).
  bool has_issuers() const { return !issuers_.empty(); }

  // Replicas sharing a database also share the replay check: every jti this process finds
  // fresh is then also recorded there, and refused if another replica accepted it. Set before
  // the first verify().
  void set_shared_replay_check(std::shared_ptr<SharedReplayCheck> check) {
    shared_replay_ = std::move(check);
  }

  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

 private:
  struct Issuer {
    IssuerConfig config;
    std::shared_ptr<JwksSource> keys;                                     // jwks_file or jwks_url
    std::map<std::string, std::shared_ptr<JwksSource>, std::less<>> jku;  // allowlisted jku
  };

  TokenVerifier(TrustConfig config, Clock clock);
  std::chrono::system_clock::time_point now() const;

  const TrustConfig config_;
  const Clock clock_;
  std::map<std::string, Issuer, std::less<>> issuers_;
  ReplayCache replay_;
  std::shared_ptr<SharedReplayCheck> shared_replay_;
};

}  // namespace cryo::security
