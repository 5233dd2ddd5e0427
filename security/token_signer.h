// Signing CDS client tokens: what a CDS client does before calling a CDS service.
//
// Used by the conformance runner (which calls our service as a CDS client would) and by
// tests. A SigningKey is a private key from a JWK (with "d") or freshly generated; it signs
// JWS compact tokens with ES256/ES384 (raw R||S signatures, RFC 7518 §3.4) or RS256/RS384.
//
//   auto key = SigningKey::from_jwk_set_file("crd_jwks.json", "ES384");
//   ClientTokenClaims claims{.iss = "https://ehr.example.org",
//                            .aud = {"https://crd.example.org/cds-services"}};
//   std::string jwt = sign_client_token(*key, claims).value();
//   // send "Authorization: Bearer " + jwt
//
// Thread safety: a SigningKey is immutable after creation and may sign from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "base/result.h"

namespace cryo::security {

class SigningKey {
 public:
  // From one JWK object's JSON text; "d" is required. `alg` is the JWS algorithm to sign with;
  // empty means the JWK's "alg", or ES384/ES256 by curve, or RS384 for RSA.
  static Result<SigningKey> from_jwk_json(std::string_view jwk_json, std::string_view alg = {});

  // The first JWK in a JWK Set file that has private parameters, suits `alg`, and (when
  // given) has this `kid`.
  static Result<SigningKey> from_jwk_set_file(const std::string& path, std::string_view alg,
                                              std::string_view kid = {});

  // A new key: P-384 for ES384, P-256 for ES256, RSA of `rsa_bits` for RS256/RS384.
  static Result<SigningKey> generate(std::string_view alg, std::string kid, int rsa_bits = 2048);

  // Wraps an existing private key; an Error unless it suits `alg`.
  static Result<SigningKey> from_pkey(std::string kid, std::string alg,
                                      std::shared_ptr<EVP_PKEY> pkey);

  const std::string& kid() const { return kid_; }
  const std::string& alg() const { return alg_; }
  EVP_PKEY* pkey() const { return pkey_.get(); }

  // The public half as a JWK object (kty, crv/x/y or n/e, kid, alg, use "sig",
  // key_ops ["verify"]); never includes private parameters.
  std::string public_jwk_json() const;

  // The public key as PEM SubjectPublicKeyInfo.
  std::string public_key_pem() const;

  // The JWS signature over `signing_input` (raw R||S for ES*, PKCS#1 v1.5 for RS*).
  Result<std::string> sign(std::string_view signing_input) const;

 private:
  SigningKey(std::string kid, std::string alg, std::shared_ptr<EVP_PKEY> pkey)
      : kid_(std::move(kid)), alg_(std::move(alg)), pkey_(std::move(pkey)) {}

  std::string kid_;
  std::string alg_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

// The claims a CDS client puts in its token (CDS Hooks 2.0).
struct ClientTokenClaims {
  std::string iss{};
  std::vector<std::string> aud{};  // one entry is written as a string, more as an array
  std::string jti{};               // empty: a fresh random one
  int64_t iat = 0;                 // 0: now
  int64_t exp = 0;                 // 0: iat + 300
  std::optional<int64_t> nbf{};    // not before (RFC 7519 4.1.5); absent by default
  std::optional<std::string> jku{};
  std::optional<std::string> tenant{};
};

// base64url(header) "." base64url(payload) "." base64url(signature): the header and payload
// JSON are used verbatim (callers building unusual tokens control every byte).
Result<std::string> sign_jws(const SigningKey& key, std::string_view header_json,
                             std::string_view payload_json);

// A CDS client token: header {"alg", "typ": "JWT", "kid", ["jku"]} and claims {"iss", "aud",
// "exp", "iat", ["nbf"], "jti", ["tenant"]} (the order the Inferno CRD test kit writes them).
Result<std::string> sign_client_token(const SigningKey& key, const ClientTokenClaims& claims);

// The header and payload JSON sign_client_token() would sign (for tests that alter them).
std::string client_token_header_json(const SigningKey& key, const ClientTokenClaims& claims);
std::string client_token_payload_json(const ClientTokenClaims& claims);

// 128 random bits, base64url.
std::string random_jti();

// {"keys": [...]} with the public JWKs of `keys`.
std::string public_jwk_set_json(const std::vector<const SigningKey*>& keys);

}  // namespace cryo::security
