// Fuzz target: the CDS client token path — the JWK Set parser on the whole input, and the
// token verifier on the input as a bearer token (whole, and as the compact JWS a client would
// send) against a trust configuration holding the Inferno CRD test kit's keys. Invariant: no
// input verifies (the fuzzer holds no private key, and every forged token must be refused).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "security/jwks.h"
#include "security/token_verifier.h"
#include "tests/fuzz/invariant.h"

namespace {

cryo::security::TokenVerifier& verifier() {
  static cryo::security::TokenVerifier* v = [] {
    cryo::security::TrustConfig config;
    config.issuers.push_back({.iss = "https://inferno.healthit.gov/suites/custom/crd_server",
                              .jwks_file = CRYO_FUZZ_JWKS_FILE});
    auto made = cryo::security::TokenVerifier::create(config);
    CRYO_FUZZ_REQUIRE(made.ok());
    return made->release();
  }();
  return *v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cryo::security::parse_jwk_set(text, "fuzz input");
  const std::string audience = "http://127.0.0.1:8080/cds-services/order-sign-crd";
  CRYO_FUZZ_REQUIRE(!verifier().verify(text, audience));
  CRYO_FUZZ_REQUIRE(!verifier().verify("Bearer " + std::string(text), audience));
  return 0;
}
