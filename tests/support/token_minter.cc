#include "tests/support/token_minter.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <stdexcept>

#include "security/base64url.h"

namespace cryo::testing {

using security::base64url_encode;

namespace {

std::string header_json(const security::SigningKey& key, const TokenSpec& spec,
                        std::string_view alg) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto member = [&](std::string_view name, std::string_view value) {
    w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  member("alg", alg);
  if (spec.typ) member("typ", *spec.typ);
  member("kid", spec.kid ? *spec.kid : key.kid());
  if (spec.jku) member("jku", *spec.jku);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string payload_json(const TokenSpec& spec) {
  security::ClientTokenClaims claims;
  claims.iss = spec.iss;
  claims.aud = spec.aud;
  claims.iat = spec.iat;
  claims.exp = spec.exp;
  claims.nbf = spec.nbf;
  claims.jti = spec.jti;
  return security::client_token_payload_json(claims);
}

std::string must(Result<std::string> r) {
  if (!r) throw std::runtime_error("token minting failed: " + r.error().to_string());
  return std::move(*r);
}

}  // namespace

Result<TokenMinter> TokenMinter::from_jwk_set_file(const std::string& path, std::string_view alg) {
  auto key = security::SigningKey::from_jwk_set_file(path, alg);
  if (!key) return key.error();
  return TokenMinter(std::move(*key));
}

Result<TokenMinter> TokenMinter::generate(std::string_view alg, std::string kid) {
  auto key = security::SigningKey::generate(alg, std::move(kid));
  if (!key) return key.error();
  return TokenMinter(std::move(*key));
}

std::string TokenMinter::mint_raw(std::string_view header, std::string_view payload) const {
  return must(security::sign_jws(key_, header, payload));
}

std::string TokenMinter::mint(const TokenSpec& spec, Forgery forgery) const {
  std::string alg = spec.alg ? *spec.alg : key_.alg();
  std::string payload = payload_json(spec);
  switch (forgery) {
    case Forgery::kNone:
      return mint_raw(header_json(key_, spec, alg), payload);
    case Forgery::kAlgNone:
      return base64url_encode(header_json(key_, spec, "none")) + "." + base64url_encode(payload) +
             ".";
    case Forgery::kHs384WithPublicKey: {
      std::string input =
          base64url_encode(header_json(key_, spec, "HS384")) + "." + base64url_encode(payload);
      std::string secret = key_.public_key_pem();
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int mac_len = 0;
      HMAC(EVP_sha384(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
      return input + "." +
             base64url_encode(std::string_view(reinterpret_cast<char*>(mac), mac_len));
    }
    case Forgery::kBadSignature: {
      std::string input =
          base64url_encode(header_json(key_, spec, alg)) + "." + base64url_encode(payload);
      std::string sig = must(key_.sign(input));
      sig[sig.size() / 2] = static_cast<char>(sig[sig.size() / 2] ^ 0x01);
      return input + "." + base64url_encode(sig);
    }
    case Forgery::kDerSignature: {
      std::string input =
          base64url_encode(header_json(key_, spec, alg)) + "." + base64url_encode(payload);
      std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
      const EVP_MD* md = key_.alg().ends_with("256") ? EVP_sha256() : EVP_sha384();
      size_t len = 0;
      EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_.pkey());
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size());
      std::string der(len, '\0');
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size());
      der.resize(len);
      return input + "." + base64url_encode(der);
    }
    case Forgery::kEmptySignature: {
      std::string token = mint_raw(header_json(key_, spec, alg), payload);
      return token.substr(0, token.rfind('.') + 1);
    }
    case Forgery::kTamperedPayload: {
      std::string token = mint_raw(header_json(key_, spec, alg), payload);
      size_t dot1 = token.find('.');
      size_t dot2 = token.rfind('.');
      TokenSpec changed = spec;
      changed.jti = spec.jti + "-altered";
      return token.substr(0, dot1 + 1) + base64url_encode(payload_json(changed)) +
             token.substr(dot2);
    }
  }
  return {};
}

std::string bearer(std::string_view token) {
  return "Bearer " + std::string(token);
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace cryo::testing
