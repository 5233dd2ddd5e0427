#include "conformance/signer.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/ids.h"

namespace cryo::conformance {
namespace {

using Bytes = std::vector<unsigned char>;

std::string b64url(const unsigned char* data, size_t n) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (n - i == 1) {
    unsigned v = data[i] << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (n - i == 2) {
    unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::string b64url(const std::string& s) {
  return b64url(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

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

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

class JwksSigner final : public RequestSigner {
 public:
  JwksSigner(Pkey key, bool ec, std::string issuer, std::string kid)
      : key_(std::move(key)), ec_(ec), issuer_(std::move(issuer)), kid_(std::move(kid)) {}

  std::string token(const std::string& audience, Variant variant) override {
    using namespace std::chrono;
    const int64_t now = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
    const int64_t iat = variant == Variant::kExpired ? now - 900 : now;
    const int64_t exp = variant == Variant::kExpired ? now - 600 : now + 300;
    rapidjson::Document header(rapidjson::kObjectType), claims(rapidjson::kObjectType);
    auto& ha = header.GetAllocator();
    header.AddMember("alg", rapidjson::Value(ec_ ? "ES384" : "RS384", ha), ha);
    header.AddMember("typ", "JWT", ha);
    header.AddMember("kid", rapidjson::Value(kid_.c_str(), ha), ha);
    auto& ca = claims.GetAllocator();
    claims.AddMember("iss", rapidjson::Value(issuer_.c_str(), ca), ca);
    claims.AddMember("aud", rapidjson::Value(audience.c_str(), ca), ca);
    claims.AddMember("iat", iat, ca);
    claims.AddMember("exp", exp, ca);
    claims.AddMember("jti", rapidjson::Value(random_uuid().c_str(), ca), ca);
    std::string input = b64url(serialise(header)) + "." + b64url(serialise(claims));
    std::string signature = sign(input);
    if (variant == Variant::kBadSignature && !signature.empty())
      signature[signature.size() / 2] = signature[signature.size() / 2] == 'A' ? 'B' : 'A';
    return input + "." + signature;
  }

  bool verify(const std::string& jwt) const override {
    auto dot = jwt.rfind('.');
    if (dot == std::string::npos || jwt.find('.') == dot) return false;
    const std::string input = jwt.substr(0, dot);
    Bytes sig;
    if (!b64url_decode(jwt.substr(dot + 1), sig)) return false;
    if (ec_) {
      if (sig.size() != 96) return false;
      ECDSA_SIG* es = ECDSA_SIG_new();
      ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), 48, nullptr),
                     BN_bin2bn(sig.data() + 48, 48, nullptr));
      unsigned char* der = nullptr;
      int n = i2d_ECDSA_SIG(es, &der);
      ECDSA_SIG_free(es);
      if (n <= 0) return false;
      sig.assign(der, der + n);
      OPENSSL_free(der);
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok =
        ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha384(), nullptr, key_.get()) == 1 &&
        EVP_DigestVerify(ctx, sig.data(), sig.size(),
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  }

 private:
  static std::string serialise(const rapidjson::Document& d) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    d.Accept(w);
    return sb.GetString();
  }

  std::string sign(const std::string& input) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    Bytes sig;
    size_t len = 0;
    bool ok =
        ctx && EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr, key_.get()) == 1 &&
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
    if (ok) {
      sig.resize(len);
      ok = EVP_DigestSign(ctx, sig.data(), &len,
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
      sig.resize(len);
    }
    EVP_MD_CTX_free(ctx);
    if (!ok) return "";
    if (!ec_) return b64url(sig.data(), sig.size());
    // ECDSA: DER SEQUENCE{r, s} -> raw r || s, 48 bytes each for P-384 (RFC 7518 3.4).
    const unsigned char* p = sig.data();
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    if (!es) return "";
    Bytes raw(96, 0);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw.data(), 48);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw.data() + 48, 48);
    ECDSA_SIG_free(es);
    return b64url(raw.data(), raw.size());
  }

  Pkey key_;
  bool ec_;
  std::string issuer_;
  std::string kid_;
};

// Builds an EVP_PKEY from JWK members; `bn_fields` maps JWK members to OpenSSL parameter names.
Pkey build_key(const rapidjson::Value& jwk, const char* algorithm,
               const std::vector<std::pair<const char*, const char*>>& bn_fields,
               const std::string& group, const Bytes& public_point, std::string& error) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::vector<BIGNUM*> bns;
  bool ok = bld != nullptr;
  for (auto& [member, param] : bn_fields) {
    auto it = jwk.FindMember(member);
    Bytes bytes;
    if (it == jwk.MemberEnd() || !it->value.IsString() ||
        !b64url_decode(it->value.GetString(), bytes)) {
      error = std::string("JWK member '") + member + "' is missing or not base64url";
      ok = false;
      break;
    }
    BIGNUM* bn = BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr);
    bns.push_back(bn);
    ok = ok && bn && OSSL_PARAM_BLD_push_BN(bld, param, bn) == 1;
  }
  if (ok && !group.empty())
    ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0) == 1 &&
         OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, public_point.data(),
                                          public_point.size()) == 1;
  OSSL_PARAM* params = ok ? OSSL_PARAM_BLD_to_param(bld) : nullptr;
  EVP_PKEY* key = nullptr;
  if (params) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1) {
      if (error.empty()) error = "OpenSSL rejected the JWK";
      key = nullptr;
    }
    EVP_PKEY_CTX_free(ctx);
  } else if (error.empty()) {
    error = "could not assemble the key parameters";
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  for (BIGNUM* bn : bns) BN_free(bn);
  return Pkey(key);
}

}  // namespace

Result<std::unique_ptr<RequestSigner>> load_jwks_signer(const std::string& jwks_path,
                                                        const std::string& issuer,
                                                        const std::string& kid) {
  std::ifstream in(jwks_path);
  if (!in) return Error{jwks_path, "cannot read the JWK Set"};
  std::stringstream ss;
  ss << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(ss.str().c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("keys") || !doc["keys"].IsArray())
    return Error{jwks_path, "not a JWK Set (object with a `keys` array)"};
  for (auto& jwk : doc["keys"].GetArray()) {
    if (!jwk.IsObject() || !jwk.HasMember("kid") || !jwk["kid"].IsString() ||
        kid != jwk["kid"].GetString() || !jwk.HasMember("d"))
      continue;
    const std::string kty =
        jwk.HasMember("kty") && jwk["kty"].IsString() ? jwk["kty"].GetString() : "";
    std::string error;
    if (kty == "EC") {
      if (!jwk.HasMember("crv") || !jwk["crv"].IsString() ||
          std::string(jwk["crv"].GetString()) != "P-384")
        return Error{jwks_path, "key '" + kid + "': only EC keys on P-384 (ES384) are supported"};
      Bytes x, y;
      if (!jwk.HasMember("x") || !jwk.HasMember("y") || !jwk["x"].IsString() ||
          !jwk["y"].IsString() || !b64url_decode(jwk["x"].GetString(), x) ||
          !b64url_decode(jwk["y"].GetString(), y))
        return Error{jwks_path, "key '" + kid + "': x/y missing"};
      Bytes point{0x04};
      point.insert(point.end(), x.begin(), x.end());
      point.insert(point.end(), y.begin(), y.end());
      Pkey key = build_key(jwk, "EC", {{"d", OSSL_PKEY_PARAM_PRIV_KEY}}, "P-384", point, error);
      if (!key) return Error{jwks_path, "key '" + kid + "': " + error};
      return std::unique_ptr<RequestSigner>(new JwksSigner(std::move(key), true, issuer, kid));
    }
    if (kty == "RSA") {
      Pkey key = build_key(jwk, "RSA",
                           {{"n", OSSL_PKEY_PARAM_RSA_N},
                            {"e", OSSL_PKEY_PARAM_RSA_E},
                            {"d", OSSL_PKEY_PARAM_RSA_D},
                            {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
                            {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
                            {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
                            {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
                            {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}},
                           "", {}, error);
      if (!key) return Error{jwks_path, "key '" + kid + "': " + error};
      return std::unique_ptr<RequestSigner>(new JwksSigner(std::move(key), false, issuer, kid));
    }
    return Error{jwks_path, "key '" + kid + "': unsupported kty '" + kty + "'"};
  }
  return Error{jwks_path, "no private key (with `d`) has kid '" + kid + "'"};
}

}  // namespace cryo::conformance
