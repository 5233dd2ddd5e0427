// Test support: CDS client tokens, genuine and forged, for unit, integration and conformance
// tests.
//
// Genuine tokens are signed by security::SigningKey (the product's signing code). Forgeries
// cover the classic JWT attacks a CDS service must refuse.
//
//   auto minter = TokenMinter::from_jwk_set_file(inferno_jwks, "ES384").value();
//   TokenSpec spec{.iss = kInfernoIss, .aud = {base + "/cds-services"}};
//   std::string ok = minter.mint(spec);
//   std::string none = minter.mint(spec, Forgery::kAlgNone);
//   verifier->verify(bearer(ok), base + "/cds-services");
//
// Thread safety: a TokenMinter is immutable; mint() may run on any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "security/token_signer.h"

namespace cryo::testing {

enum class Forgery {
  kNone,                // a genuine token
  kAlgNone,             // header alg "none", empty signature
  kHs384WithPublicKey,  // alg HS384, HMAC keyed with the signer's public key (PEM)
  kBadSignature,        // one signature bit flipped
  kDerSignature,        // ES*: the DER ECDSA signature instead of raw R||S
  kEmptySignature,      // genuine header and payload, no signature
  kTamperedPayload,     // payload changed after signing
};

struct TokenSpec {
  std::string iss{};
  std::vector<std::string> aud{};  // one entry: written as a string; more: an array
  int64_t iat = 0;                 // 0: now
  int64_t exp = 0;                 // 0: iat + 300
  std::optional<int64_t> nbf{};    // absent unless set
  std::string jti{};               // empty: random
  std::optional<std::string> jku{};
  std::optional<std::string> kid{};                     // replaces the key's kid in the header
  std::optional<std::string> typ = std::string("JWT");  // nullopt: no typ member
  std::optional<std::string> alg{};  // replaces the header alg (key signs as usual)
};

class TokenMinter {
 public:
  explicit TokenMinter(security::SigningKey key) : key_(std::move(key)) {}

  static Result<TokenMinter> from_jwk_set_file(const std::string& path, std::string_view alg);
  static Result<TokenMinter> generate(std::string_view alg, std::string kid);

  // A compact JWS for `spec`, genuine or forged.
  std::string mint(const TokenSpec& spec, Forgery forgery = Forgery::kNone) const;

  // Signs arbitrary header and payload JSON (verbatim) with this key.
  std::string mint_raw(std::string_view header_json, std::string_view payload_json) const;

  const security::SigningKey& key() const { return key_; }

 private:
  security::SigningKey key_;
};

// "Bearer " + token.
std::string bearer(std::string_view token);

// Seconds since the epoch, now.
int64_t now_seconds();

}  // namespace cryo::testing
