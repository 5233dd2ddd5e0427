// Internal to security/: EVP_PKEY from the parameters of one JWK (RFC 7518 §6).
//
// Shared by jwks.cc (public keys for verification) and token_signer.cc (private keys for
// signing). EC keys must be P-256 or P-384 with full-length coordinates; RSA keys must have
// a modulus of 2048 to 16384 bits. Keys are checked with EVP_PKEY_public_check (and
// EVP_PKEY_pairwise_check for private keys).
//
// Thread safety: pure functions.
#pragma once

#include <memory>
#include <string_view>

#include <openssl/evp.h>
#include <rapidjson/document.h>

#include "base/result.h"

namespace cryo::security::detail {

// Maps "P-256"/"P-384" to OpenSSL group names; nullptr for other curves.
const char* ec_group_for_crv(std::string_view crv);

// The key described by `jwk` ("kty" EC or RSA). With `want_private`, the private members
// ("d", and for RSA the CRT members when present) are required and imported too; without it
// they are ignored.
Result<std::shared_ptr<EVP_PKEY>> import_jwk(const rapidjson::Value& jwk, bool want_private,
                                             std::string_view where);

}  // namespace cryo::security::detail
