// Signs CDS Hooks calls the way the Inferno CRD test kit (and most EHRs) do: a JWT in
// `Authorization: Bearer ...` with header {alg, typ: JWT, kid, jku} and claims {iss, aud, exp,
// iat, jti} (CDS Hooks 2.0 "Trusting CDS Clients"): exp five minutes after iat, jti 64 random
// hex digits, jku "<iss>/jwks.json" unless told otherwise; signed ES384 or RS384 with a
// private key taken from a JWK Set.
//
//   auto signer = load_jwks_signer("crd_jwks.json", "https://ehr.example", "4b49...");
//   if (!signer) { report(signer.error()); }
//   std::string jwt = (*signer)->token("https://crd.example/cds-services/order-sign");
//
// Signing is done by security/token_signer.h; this interface adds the deliberately broken
// tokens the runner needs for its negative checks.
//
// Thread safety: token() may be called from one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/result.h"

namespace cryo::conformance {

class RequestSigner {
 public:
  enum class Variant {
    kValid,
    kExpired,       // exp 10 minutes in the past
    kBadSignature,  // signature bytes altered
  };
  virtual ~RequestSigner() = default;
  // A compact JWT whose `aud` is the endpoint being called.
  virtual std::string token(const std::string& audience, Variant variant = Variant::kValid) = 0;
  // True when `jwt` carries a signature this key made (lets a test server stand in for a real
  // one without a second key store).
  virtual bool verify(const std::string& jwt) const = 0;
};

struct SignerSettings {
  std::string jwks_path;  // JWK Set holding the private key
  std::string issuer;     // iss
  std::string kid;        // empty: the first private key suiting `alg`
  std::string alg;        // "ES384" or "RS384"; empty: whichever the kid's key is (ES384 first)
  std::optional<std::string> jku;  // the jku header; nullopt: none
};

// The jku the Inferno CRD test kit sends for issuer `iss`: "<iss>/jwks.json".
std::string inferno_jku(const std::string& iss);

// Reads the JWK Set and picks the private key (member `d`). Supports EC P-384 (ES384) and RSA
// (RS384).
Result<std::unique_ptr<RequestSigner>> load_jwks_signer(const SignerSettings& settings);

// The same with the Inferno kit's jku for `issuer`.
Result<std::unique_ptr<RequestSigner>> load_jwks_signer(const std::string& jwks_path,
                                                        const std::string& issuer,
                                                        const std::string& kid);

}  // namespace cryo::conformance
