#include "security/token_signer.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>

#include "security/base64url.h"
#include "security/jwks.h"

namespace cryo::security {
namespace {

TEST(TokenSignerTest, GeneratedKeysPublishPublicJwksOnly) {
  for (const char* alg : {"ES384", "ES256", "RS384", "RS256"}) {
    auto key = SigningKey::generate(alg, std::string("kid-") + alg);
    ASSERT_TRUE(key) << alg;
    std::string jwk = key->public_jwk_json();
    EXPECT_EQ(jwk.find("\"d\""), std::string::npos) << jwk;
    auto set = parse_jwk_set(public_jwk_set_json({&*key}), "test");
    ASSERT_TRUE(set) << set.error().to_string();
    ASSERT_EQ(set->find(std::string("kid-") + alg, alg).size(), 1u) << alg;
  }
}

TEST(TokenSignerTest, EcSignaturesAreRawFixedWidth) {
  auto key = SigningKey::generate("ES384", "k").value();
  for (int i = 0; i < 20; ++i) {
    auto sig = key.sign("input " + std::to_string(i));
    ASSERT_TRUE(sig);
    EXPECT_EQ(sig->size(), 96u);
  }
  EXPECT_EQ(SigningKey::generate("ES256", "k").value().sign("x").value().size(), 64u);
}

TEST(TokenSignerTest, ClientTokenHasTheCdsHooksShape) {
  auto key = SigningKey::generate("ES384", "k1").value();
  auto token = sign_client_token(key, {.iss = "https://ehr.example.org",
                                       .aud = {"https://crd.example.org/cds-services"},
                                       .iat = 1000,
                                       .jku = "https://ehr.example.org/jwks.json"});
  ASSERT_TRUE(token);
  size_t dot = token->find('.');
  auto header = base64url_decode(token->substr(0, dot)).value();
  auto payload = base64url_decode(token->substr(dot + 1, token->rfind('.') - dot - 1)).value();
  rapidjson::Document h, p;
  h.Parse(header.c_str());
  p.Parse(payload.c_str());
  EXPECT_STREQ(h["alg"].GetString(), "ES384");
  EXPECT_STREQ(h["typ"].GetString(), "JWT");
  EXPECT_STREQ(h["kid"].GetString(), "k1");
  EXPECT_STREQ(h["jku"].GetString(), "https://ehr.example.org/jwks.json");
  EXPECT_STREQ(p["aud"].GetString(), "https://crd.example.org/cds-services");
  EXPECT_EQ(p["iat"].GetInt64(), 1000);
  EXPECT_EQ(p["exp"].GetInt64(), 1300);
  EXPECT_GE(p["jti"].GetStringLength(), 20u);
}

TEST(TokenSignerTest, LoadsInfernoPrivateKeys) {
  if (!std::filesystem::exists(CRYO_INFERNO_JWKS)) GTEST_SKIP() << "no " << CRYO_INFERNO_JWKS;
  auto es = SigningKey::from_jwk_set_file(CRYO_INFERNO_JWKS, "ES384");
  ASSERT_TRUE(es) << es.error().to_string();
  EXPECT_EQ(es->kid(), "4b49a739d1eb115b3225f4cf9beb6d1b");
  auto rs = SigningKey::from_jwk_set_file(CRYO_INFERNO_JWKS, "RS384");
  ASSERT_TRUE(rs) << rs.error().to_string();
  EXPECT_EQ(rs->kid(), "b41528b6f37a9500edb8a905a595bdd7");
  EXPECT_FALSE(SigningKey::from_jwk_set_file(CRYO_INFERNO_JWKS, "ES256"));
}

}  // namespace
}  // namespace cryo::security
