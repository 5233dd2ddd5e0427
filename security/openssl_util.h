// Internal to security/: owning handles for OpenSSL objects and error text.
//
// Not part of the module's public surface; other modules use the headers that name a concept
// (token_verifier.h, jwks.h, tls.h, cors.h, config.h, token_signer.h).
//
// Thread safety: plain handles; the functions read only the calling thread's OpenSSL error queue.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

namespace cryo::security::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

// Shares ownership of an EVP_PKEY (taken over from `raw`).
std::shared_ptr<EVP_PKEY> share_pkey(EVP_PKEY* raw);

// The oldest error on this thread's OpenSSL error queue as text (or `fallback`), and clears
// the queue.
std::string take_openssl_error(std::string_view fallback);

// BIGNUM from big-endian bytes.
BnPtr bn_from_bytes(std::string_view bytes);

// Digest for a JWS algorithm's hash ("ES384"/"RS384" -> SHA-384, "ES256"/"RS256" -> SHA-256),
// or nullptr for anything else.
const EVP_MD* digest_for_alg(std::string_view alg);

// Size in bytes of one coordinate (and of R or S) for a JWS ECDSA algorithm: 48 for ES384,
// 32 for ES256, 0 otherwise.
size_t ec_coordinate_size(std::string_view alg);

}  // namespace cryo::security::detail
