#include "security/token_signer.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "base/json_writer.h"
#include "security/base64url.h"
#include "security/jwk_import.h"
#include "security/openssl_util.h"

namespace cryo::security {
namespace {

using detail::BnPtr;
using detail::MdCtxPtr;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Whether a key of this type suits `alg`.
bool key_suits(EVP_PKEY* pkey, std::string_view alg) {
  if (alg == "RS256" || alg == "RS384") return EVP_PKEY_is_a(pkey, "RSA") == 1;
  if (alg == "ES256" || alg == "ES384") {
    if (EVP_PKEY_is_a(pkey, "EC") != 1) return false;
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1) {
      return false;
    }
    return std::string_view(group) == (alg == "ES384" ? "secp384r1" : "prime256v1");
  }
  return false;
}

std::string default_alg(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA") == 1) return "RS384";
  if (key_suits(pkey, "ES256")) return "ES256";
  return "ES384";
}

Result<std::string> bn_param(EVP_PKEY* pkey, const char* name, size_t pad) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    return Error{"", detail::take_openssl_error("cannot read key parameter")};
  }
  BnPtr bn(raw);
  size_t size = pad ? pad : static_cast<size_t>(BN_num_bytes(bn.get()));
  std::string out(size, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size)) <
      0) {
    return Error{"", "key parameter too large"};
  }
  return out;
}

Result<SigningKey> from_jwk_value(const rapidjson::Value& jwk, std::string_view alg,
                                  std::string_view where);

}  // namespace

Result<SigningKey> SigningKey::from_pkey(std::string kid, std::string alg,
                                         std::shared_ptr<EVP_PKEY> pkey) {
  if (!pkey || !key_suits(pkey.get(), alg)) return Error{"", "key cannot sign " + alg};
  return SigningKey(std::move(kid), std::move(alg), std::move(pkey));
}

Result<SigningKey> SigningKey::from_jwk_json(std::string_view jwk_json, std::string_view alg) {
  rapidjson::Document doc;
  doc.Parse(jwk_json.data(), jwk_json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Error{"JWK", "not a JSON object"};
  return from_jwk_value(doc, alg, "JWK");
}

Result<SigningKey> SigningKey::from_jwk_set_file(const std::string& path, std::string_view alg,
                                                 std::string_view kid) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path, "cannot read file"};
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("keys") || !doc["keys"].IsArray()) {
    return Error{path, "not a JWK Set"};
  }
  const auto& keys = doc["keys"];
  for (rapidjson::SizeType i = 0; i < keys.Size(); ++i) {
    const auto& jwk = keys[i];
    if (!jwk.IsObject() || !jwk.HasMember("d")) continue;
    if (!kid.empty() && !(jwk.HasMember("kid") && jwk["kid"].IsString() &&
                          std::string_view(jwk["kid"].GetString()) == kid)) {
      continue;
    }
    if (jwk.HasMember("alg") && jwk["alg"].IsString() &&
        std::string_view(jwk["alg"].GetString()) != alg) {
      continue;
    }
    auto key = from_jwk_value(jwk, alg, path + ": keys[" + std::to_string(i) + "]");
    if (key) return key;
  }
  return Error{path, "no private key for " + std::string(alg) +
                         (kid.empty() ? std::string() : " with kid " + std::string(kid))};
}

Result<SigningKey> SigningKey::generate(std::string_view alg, std::string kid, int rsa_bits) {
  EVP_PKEY* raw = nullptr;
  if (alg == "ES384") {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  } else if (alg == "ES256") {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  } else if (alg == "RS384" || alg == "RS256") {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits));
  } else {
    return Error{"", "cannot generate a key for algorithm '" + std::string(alg) + "'"};
  }
  if (!raw) return Error{"", detail::take_openssl_error("key generation failed")};
  return SigningKey(std::move(kid), std::string(alg), detail::share_pkey(raw));
}

std::string SigningKey::public_jwk_json() const {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  if (EVP_PKEY_is_a(pkey_.get(), "RSA") == 1) {
    write_json_member(w, "kty", "RSA");
    write_json_member(w, "n",
                      base64url_encode(bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_N, 0).value()));
    write_json_member(w, "e",
                      base64url_encode(bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_E, 0).value()));
  } else {
    bool p384 = key_suits(pkey_.get(), "ES384");
    size_t size = p384 ? 48 : 32;
    write_json_member(w, "kty", "EC");
    write_json_member(w, "crv", p384 ? "P-384" : "P-256");
    write_json_member(
        w, "x", base64url_encode(bn_param(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X, size).value()));
    write_json_member(
        w, "y", base64url_encode(bn_param(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, size).value()));
  }
  write_json_member(w, "kid", kid_);
  write_json_member(w, "alg", alg_);
  write_json_member(w, "use", "sig");
  write_json_string(w, "key_ops");
  w.StartArray();
  write_json_string(w, "verify");
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string SigningKey::public_key_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> SigningKey::sign(std::string_view signing_input) const {
  const EVP_MD* md = detail::digest_for_alg(alg_);
  if (!md) return Error{"", "unsupported algorithm '" + alg_ + "'"};
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Error{"", detail::take_openssl_error("signing failed")};
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Error{"", detail::take_openssl_error("signing failed")};
  }
  sig.resize(len);
  size_t n = detail::ec_coordinate_size(alg_);
  if (n == 0) return sig;
  // DER ECDSA-Sig-Value -> fixed-width R||S.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
  detail::EcdsaSigPtr ecdsa(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!ecdsa) return Error{"", "unexpected ECDSA signature encoding"};
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(ecdsa.get(), &r, &s);
  std::string raw(2 * n, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, static_cast<int>(n)) < 0 ||
      BN_bn2binpad(s, out + n, static_cast<int>(n)) < 0) {
    return Error{"", "ECDSA signature too large"};
  }
  return raw;
}

namespace {

Result<SigningKey> from_jwk_value(const rapidjson::Value& jwk, std::string_view alg,
                                  std::string_view where) {
  auto pkey = detail::import_jwk(jwk, /*want_private=*/true, where);
  if (!pkey) return pkey.error();
  std::string chosen(alg);
  if (chosen.empty() && jwk.HasMember("alg") && jwk["alg"].IsString()) {
    chosen = jwk["alg"].GetString();
  }
  if (chosen.empty()) chosen = default_alg(pkey->get());
  if (!key_suits(pkey->get(), chosen)) {
    return Error{std::string(where), "key cannot sign " + chosen};
  }
  std::string kid;
  if (jwk.HasMember("kid") && jwk["kid"].IsString()) kid = jwk["kid"].GetString();
  return SigningKey::from_pkey(std::move(kid), std::move(chosen), std::move(*pkey));
}

}  // namespace

Result<std::string> sign_jws(const SigningKey& key, std::string_view header_json,
                             std::string_view payload_json) {
  std::string input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  auto sig = key.sign(input);
  if (!sig) return sig.error();
  return input + "." + base64url_encode(*sig);
}

std::string client_token_header_json(const SigningKey& key, const ClientTokenClaims& claims) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  write_json_member(w, "alg", key.alg());
  write_json_member(w, "typ", "JWT");
  write_json_member(w, "kid", key.kid());
  if (claims.jku) write_json_member(w, "jku", *claims.jku);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string client_token_payload_json(const ClientTokenClaims& claims) {
  int64_t iat = claims.iat;
  if (iat == 0) {
    iat = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  }
  int64_t exp = claims.exp != 0 ? claims.exp : iat + 300;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  write_json_member(w, "iss", claims.iss);
  write_json_string(w, "aud");
  if (claims.aud.size() == 1) {
    write_json_string(w, claims.aud[0]);
  } else {
    w.StartArray();
    for (const auto& a : claims.aud) write_json_string(w, a);
    w.EndArray();
  }
  write_json_string(w, "exp");
  w.Int64(exp);
  write_json_string(w, "iat");
  w.Int64(iat);
  if (claims.nbf) {
    write_json_string(w, "nbf");
    w.Int64(*claims.nbf);
  }
  write_json_member(w, "jti", claims.jti.empty() ? random_jti() : claims.jti);
  if (claims.tenant) write_json_member(w, "tenant", *claims.tenant);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> sign_client_token(const SigningKey& key, const ClientTokenClaims& claims) {
  return sign_jws(key, client_token_header_json(key, claims), client_token_payload_json(claims));
}

std::string random_jti() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();
  return base64url_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

std::string public_jwk_set_json(const std::vector<const SigningKey*>& keys) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  write_json_string(w, "keys");
  w.StartArray();
  for (const SigningKey* k : keys) {
    std::string jwk = k->public_jwk_json();  // a complete object written by rapidjson
    w.RawValue(jwk.data(), jwk.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace cryo::security
