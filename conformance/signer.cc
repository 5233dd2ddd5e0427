#include "conformance/signer.h"

#include <chrono>
#include <cstdint>
#include <vector>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "security/token_signer.h"

namespace cryo::conformance {
namespace {

using Bytes = std::vector<unsigned char>;

bool b64url_decode(const std::string& in, Bytes& out) {
  out.clear();
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-' || c == '+')
      v = 62;
    else if (c == '_' || c == '/')
      v = 63;
    else if (c == '=')
      break;
    else
      return false;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((buffer >> bits) & 0xFF));
    }
  }
  return true;
}

class JwksSigner final : public RequestSigner {
 public:
  JwksSigner(security::SigningKey key, std::string issuer, std::optional<std::string> jku)
      : key_(std::move(key)), issuer_(std::move(issuer)), jku_(std::move(jku)) {}

  std::string token(const std::string& audience, Variant variant) override {
    using namespace std::chrono;
    const int64_t now = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
    security::ClientTokenClaims claims;
    claims.iss = issuer_;
    claims.aud = {audience};
    claims.iat = variant == Variant::kExpired ? now - 900 : now;
    claims.exp = variant == Variant::kExpired ? now - 600 : now + 300;
    claims.jti = hex_jti();
    claims.jku = jku_;
    auto jwt = security::sign_client_token(key_, claims);
    if (!jwt) return "";
    std::string token = *jwt;
    if (variant == Variant::kBadSignature) {
      size_t i = token.rfind('.') + (token.size() - token.rfind('.')) / 2;
      token[i] = token[i] == 'A' ? 'B' : 'A';
    }
    return token;
  }

  bool verify(const std::string& jwt) const override {
    auto dot = jwt.rfind('.');
    if (dot == std::string::npos || jwt.find('.') == dot) return false;
    const std::string input = jwt.substr(0, dot);
    Bytes sig;
    if (!b64url_decode(jwt.substr(dot + 1), sig)) return false;
    if (key_.alg().rfind("ES", 0) == 0) {
      // Raw R || S (RFC 7518 3.4) -> DER for OpenSSL.
      const int half = static_cast<int>(sig.size() / 2);
      if (half == 0 || sig.size() % 2) return false;
      ECDSA_SIG* es = ECDSA_SIG_new();
      ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), half, nullptr),
                     BN_bin2bn(sig.data() + half, half, nullptr));
      unsigned char* der = nullptr;
      int n = i2d_ECDSA_SIG(es, &der);
      ECDSA_SIG_free(es);
      if (n <= 0) return false;
      sig.assign(der, der + n);
      OPENSSL_free(der);
    }
    const EVP_MD* md = key_.alg().find("256") != std::string::npos ? EVP_sha256() : EVP_sha384();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok =
        ctx && EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key_.pkey()) == 1 &&
        EVP_DigestVerify(ctx, sig.data(), sig.size(),
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  }

 private:
  // Like the kit's SecureRandom.hex(32): 32 random bytes as 64 hex digits.
  static std::string hex_jti() {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return security::random_jti();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
    return out;
  }

  security::SigningKey key_;
  std::string issuer_;
  std::optional<std::string> jku_;
};

}  // namespace

std::string inferno_jku(const std::string& iss) {
  std::string base = iss;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/jwks.json";
}

Result<std::unique_ptr<RequestSigner>> load_jwks_signer(const SignerSettings& settings) {
  const std::string& path = settings.jwks_path;
  const std::string which =
      settings.kid.empty() ? std::string("any kid") : "kid '" + settings.kid + "'";
  Result<security::SigningKey> key = Error{path, "no algorithm tried"};
  if (!settings.alg.empty()) {
    if (settings.alg != "ES384" && settings.alg != "RS384")
      return Error{path, "algorithm '" + settings.alg + "': only ES384 and RS384 are used"};
    key = security::SigningKey::from_jwk_set_file(path, settings.alg, settings.kid);
    if (!key)
      return Error{
          path, "no " + settings.alg + " private key with " + which + ": " + key.error().message};
  } else {
    key = security::SigningKey::from_jwk_set_file(path, "ES384", settings.kid);
    if (!key) {
      auto rsa = security::SigningKey::from_jwk_set_file(path, "RS384", settings.kid);
      if (!rsa)
        return Error{path, "no ES384 or RS384 private key with " + which + ": " +
                               key.error().message + "; " + rsa.error().message};
      key = std::move(rsa);
    }
  }
  return std::unique_ptr<RequestSigner>(
      new JwksSigner(std::move(*key), settings.issuer, settings.jku));
}

Result<std::unique_ptr<RequestSigner>> load_jwks_signer(const std::string& jwks_path,
                                                        const std::string& issuer,
                                                        const std::string& kid) {
  return load_jwks_signer(SignerSettings{jwks_path, issuer, kid, "", inferno_jku(issuer)});
}

}  // namespace cryo::conformance
