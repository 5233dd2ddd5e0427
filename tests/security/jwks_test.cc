#include "security/jwks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "security/token_signer.h"
#include "security/token_verifier.h"
#include "tests/security/test_clock.h"
#include "tests/support/jwks_server.h"
#include "tests/support/token_minter.h"

namespace cryo::security {
namespace {

using testing::bearer;
using testing::JwksServer;
using testing::TestClock;
using testing::TokenMinter;
using testing::TokenSpec;

const std::string kService = "https://crd.example.org/cds-services/cryo-order-sign";
const std::string kEhrIss = "https://ehr.example.org";

TEST(JwkSetTest, ParsesInfernoSetUsingOnlyVerificationKeys) {
  if (!std::filesystem::exists(CRYO_INFERNO_JWKS)) GTEST_SKIP() << "no " << CRYO_INFERNO_JWKS;
  JwksSource::Options options;
  auto source = JwksSource::from_file(CRYO_INFERNO_JWKS, options);
  ASSERT_TRUE(source->load_now());
  auto set = source->current();
  ASSERT_TRUE(set);
  EXPECT_EQ(set->keys.size(), 2u);  // the two "verify" entries
  EXPECT_EQ(set->skipped, 2u);      // the two "sign" entries
  EXPECT_TRUE(set->had_private_material);
  EXPECT_EQ(set->find("4b49a739d1eb115b3225f4cf9beb6d1b", "ES384").size(), 1u);
  EXPECT_EQ(set->find("b41528b6f37a9500edb8a905a595bdd7", "RS384").size(), 1u);
  EXPECT_TRUE(set->find("4b49a739d1eb115b3225f4cf9beb6d1b", "RS384").empty());
}

TEST(JwkSetTest, RefusesBrokenKeysAndDocuments) {
  auto key = SigningKey::generate("ES384", "k").value();
  std::string good = public_jwk_set_json({&key});
  EXPECT_TRUE(parse_jwk_set(good, "test"));
  EXPECT_FALSE(parse_jwk_set("{}", "test"));
  EXPECT_FALSE(parse_jwk_set("[]", "test"));
  EXPECT_FALSE(parse_jwk_set("{\"keys\": [1]}", "test"));
  // A point not on the curve.
  std::string x = R"("x":")";
  size_t at = good.find(x) + x.size();
  std::string off_curve = good;
  off_curve[at] = off_curve[at] == 'A' ? 'B' : 'A';
  auto r = parse_jwk_set(off_curve, "test");
  EXPECT_FALSE(r);
  // A truncated coordinate.
  std::string short_x = good;
  short_x.erase(at, 4);
  EXPECT_FALSE(parse_jwk_set(short_x, "test"));
  // Unsupported key types and curves are skipped, not fatal.
  auto skipped = parse_jwk_set(
      R"({"keys":[{"kty":"oct","k":"AAAA","kid":"h"},{"kty":"EC","crv":"P-521","kid":"e"},
          {"kty":"OKP","crv":"Ed25519","kid":"o"}]})",
      "test");
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->keys.size(), 0u);
  EXPECT_EQ(skipped->skipped, 3u);
}

TEST(JwksFetchTest, TimesOutOnSlowServer) {
  JwksServer server;
  server.set_delay(std::chrono::milliseconds(2500));
  auto start = std::chrono::steady_clock::now();
  auto r = fetch_jwks_document(server.url(), {.timeout = std::chrono::seconds(1)});
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r);
  EXPECT_LT(elapsed, std::chrono::milliseconds(2400));
}

TEST(JwksFetchTest, RefusesErrorsAndOversizedBodies) {
  JwksServer server;
  server.set_status(500);
  EXPECT_FALSE(fetch_jwks_document(server.url(), {}));
  server.set_status(200);
  server.set_body(std::string(4096, ' ') + "{\"keys\":[]}");
  EXPECT_FALSE(fetch_jwks_document(server.url(), {.max_bytes = 1024}));
  EXPECT_TRUE(fetch_jwks_document(server.url(), {}));
}

// Key rotation through a JWKS URL: the verifier fetches on first use, refetches on an unknown
// kid at most once per min_refresh_interval, and then accepts the new key.
class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_a_ = std::make_unique<TokenMinter>(TokenMinter::generate("ES384", "key-a").value());
    key_b_ = std::make_unique<TokenMinter>(TokenMinter::generate("RS384", "key-b").value());
    server_.set_body(public_jwk_set_json({&key_a_->key()}));
  }
  std::unique_ptr<TokenVerifier> make(TrustConfig config) {
    auto v = TokenVerifier::create(std::move(config), clock_.fn());
    EXPECT_TRUE(v) << (v ? "" : v.error().to_string());
    return std::move(v).value();
  }
  Verdict verify(const TokenMinter& m, TokenVerifier& v, std::optional<std::string> jku = {}) {
    TokenSpec spec{.iss = kEhrIss, .aud = {kService}, .iat = clock_.now(), .jku = jku};
    return v.verify(bearer(m.mint(spec)), kService);
  }

  TestClock clock_;
  JwksServer server_;
  std::unique_ptr<TokenMinter> key_a_, key_b_;
};

TEST_F(KeyRotationTest, NewKidAcceptedAfterRefreshWithinRateLimit) {
  TrustConfig config;
  config.issuers = {{.iss = kEhrIss, .jwks_url = server_.url()}};
  auto v = make(config);
  EXPECT_EQ(server_.requests(), 0);  // fetched on first use

  EXPECT_TRUE(verify(*key_a_, *v).ok);
  EXPECT_EQ(server_.requests(), 1);
  EXPECT_TRUE(verify(*key_a_, *v).ok);
  EXPECT_EQ(server_.requests(), 1);  // cached

  // The client rotates to key B.
  server_.set_body(public_jwk_set_json({&key_b_->key()}));
  clock_.advance(5);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(verify(*key_b_, *v).reason, "unknown kid");
  EXPECT_EQ(server_.requests(), 1);  // within 30 s of the last fetch: no refetch

  clock_.advance(26);  // 31 s after the first fetch
  EXPECT_TRUE(verify(*key_b_, *v).ok);
  EXPECT_EQ(server_.requests(), 2);

  // Key A is gone from the set; its tokens no longer verify, and another unknown kid right
  // after a fetch does not refetch.
  EXPECT_EQ(verify(*key_a_, *v).reason, "unknown kid");
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(KeyRotationTest, ConcurrentCallersShareOneRefetch) {
  TrustConfig config;
  config.issuers = {{.iss = kEhrIss, .jwks_url = server_.url()}};
  auto v = make(config);
  EXPECT_TRUE(verify(*key_a_, *v).ok);
  server_.set_body(public_jwk_set_json({&key_a_->key(), &key_b_->key()}));
  clock_.advance(31);
  // Tokens are minted up front: verification, not signing, runs concurrently.
  std::vector<std::string> tokens;
  for (int i = 0; i < 32; ++i) {
    const TokenMinter& m = i % 2 ? *key_a_ : *key_b_;
    tokens.push_back(m.mint({.iss = kEhrIss, .aud = {kService}, .iat = clock_.now()}));
  }
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 32; i += 8) {
        if (v->verify(bearer(tokens[i]), kService).ok) ++accepted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted.load(), 32);
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(KeyRotationTest, FailedRefreshKeepsPreviousKeys) {
  TrustConfig config;
  config.issuers = {{.iss = kEhrIss, .jwks_url = server_.url()}};
  auto v = make(config);
  EXPECT_TRUE(verify(*key_a_, *v).ok);
  server_.set_status(503);
  clock_.advance(3601);  // older than jwks_max_age: refetched on use, which fails
  EXPECT_TRUE(verify(*key_a_, *v).ok);
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(KeyRotationTest, StaleSetIsRefetchedAfterMaxAge) {
  TrustConfig config;
  config.issuers = {{.iss = kEhrIss, .jwks_url = server_.url()}};
  auto v = make(config);
  EXPECT_TRUE(verify(*key_a_, *v).ok);
  server_.set_body(public_jwk_set_json({&key_b_->key()}));  // key A revoked
  clock_.advance(3601);
  EXPECT_EQ(verify(*key_a_, *v).reason, "unknown kid");
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(KeyRotationTest, AllowlistedJkuIsFollowed) {
  JwksServer other;  // serves key B; the issuer's configured set has key A only
  other.set_body(public_jwk_set_json({&key_b_->key()}));
  TrustConfig config;
  config.issuers = {{.iss = kEhrIss, .jwks_url = server_.url(), .jku_allowlist = {other.url()}}};
  auto v = make(config);
  EXPECT_TRUE(verify(*key_b_, *v, other.url()).ok);
  EXPECT_EQ(other.requests(), 1);
  EXPECT_EQ(verify(*key_b_, *v).reason, "unknown kid");  // not in the configured set
  // jku equal to the configured jwks_url is accepted without listing it.
  EXPECT_TRUE(verify(*key_a_, *v, server_.url()).ok);
  // Another loopback URL, not allowlisted: never fetched; the configured set decides, and
  // key B is not in it.
  JwksServer stranger;
  stranger.set_body(public_jwk_set_json({&key_b_->key()}));
  EXPECT_EQ(verify(*key_b_, *v, stranger.url()).reason,
            "unknown kid (jku not configured for the issuer: not fetched)");
  EXPECT_TRUE(verify(*key_a_, *v, stranger.url()).ok);  // key A is in the configured set
  EXPECT_EQ(stranger.requests(), 0);
  EXPECT_EQ(other.requests(), 1);
}

}  // namespace
}  // namespace cryo::security
