#include "security/token_verifier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "security/base64url.h"
#include "tests/security/test_clock.h"
#include "tests/support/jwks_server.h"
#include "tests/support/token_minter.h"

namespace cryo::security {
namespace {

using testing::bearer;
using testing::Forgery;
using testing::TestClock;
using testing::TokenMinter;
using testing::TokenSpec;

const std::string kBase = "https://crd.example.org";
const std::string kDiscovery = kBase + "/cds-services";
const std::string kService = kBase + "/cds-services/cryo-order-sign";
const std::string kFeedback = kBase + "/cds-services/cryo-order-sign/feedback";
const std::string kInfernoIss = "https://inferno.healthit.gov/suites/custom/crd_server";
const std::string kEhrIss = "https://ehr.example.org";

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("cryo-security-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  return dir;
}

std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

// A verifier trusting kEhrIss with freshly generated ES384 and RS384 keys (from a JWKS file),
// and, when the reference JWK Set is present, the Inferno issuer with that file.
class TokenVerifierTest : public ::testing::Test {
 protected:
  // Keys are generated once for the suite (RSA generation is slow).
  static void SetUpTestSuite() {
    es_ = new TokenMinter(TokenMinter::generate("ES384", "ehr-es-1").value());
    rs_ = new TokenMinter(TokenMinter::generate("RS384", "ehr-rs-1").value());
  }
  static void TearDownTestSuite() {
    delete es_;
    delete rs_;
  }
  void SetUp() override {
    dir_ = temp_dir();
    ehr_jwks_ = write_file(dir_ / "ehr.json", public_jwk_set_json({&es_->key(), &rs_->key()}));
    config_.issuers.push_back({.iss = kEhrIss, .jwks_file = ehr_jwks_});
    if (std::filesystem::exists(CRYO_INFERNO_JWKS)) {
      config_.issuers.push_back({.iss = kInfernoIss, .jwks_file = CRYO_INFERNO_JWKS});
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<TokenVerifier> make() {
    auto v = TokenVerifier::create(config_, clock_.fn());
    EXPECT_TRUE(v) << (v ? "" : v.error().to_string());
    return std::move(v).value();
  }
  TokenSpec spec(std::string aud = kService) {
    return TokenSpec{.iss = kEhrIss, .aud = {std::move(aud)}, .iat = clock_.now()};
  }

  std::filesystem::path dir_;
  TestClock clock_;
  TrustConfig config_;
  std::string ehr_jwks_;
  static TokenMinter* es_;
  static TokenMinter* rs_;
};

TokenMinter* TokenVerifierTest::es_ = nullptr;
TokenMinter* TokenVerifierTest::rs_ = nullptr;

TEST_F(TokenVerifierTest, AcceptsValidTokensForAllThreeEndpoints) {
  auto v = make();
  for (const TokenMinter* m : {es_, rs_}) {
    for (const std::string& aud : {kDiscovery, kService, kFeedback}) {
      Verdict verdict = v->verify(bearer(m->mint(spec(aud))), aud);
      EXPECT_TRUE(verdict.ok) << m->key().alg() << " " << aud << ": " << verdict.reason;
      EXPECT_EQ(verdict.issuer, kEhrIss);
      EXPECT_FALSE(verdict.jti.empty());
      EXPECT_TRUE(verdict.reason.empty());
    }
  }
}

TEST_F(TokenVerifierTest, AcceptsInfernoTokensForAllThreeEndpoints) {
  if (!std::filesystem::exists(CRYO_INFERNO_JWKS)) GTEST_SKIP() << "no " << CRYO_INFERNO_JWKS;
  auto v = make();
  for (const char* alg : {"ES384", "RS384"}) {
    auto minter = TokenMinter::from_jwk_set_file(CRYO_INFERNO_JWKS, alg);
    ASSERT_TRUE(minter) << minter.error().to_string();
    for (const std::string& aud : {kDiscovery, kService, kFeedback}) {
      TokenSpec s{.iss = kInfernoIss, .aud = {aud}, .iat = clock_.now()};
      Verdict verdict = v->verify(bearer(minter->mint(s)), aud);
      EXPECT_TRUE(verdict.ok) << alg << " " << aud << ": " << verdict.reason;
      EXPECT_EQ(verdict.issuer, kInfernoIss);
    }
  }
}

TEST_F(TokenVerifierTest, InfernoForgeriesAreRefused) {
  if (!std::filesystem::exists(CRYO_INFERNO_JWKS)) GTEST_SKIP() << "no " << CRYO_INFERNO_JWKS;
  auto v = make();
  auto minter = TokenMinter::from_jwk_set_file(CRYO_INFERNO_JWKS, "ES384").value();
  TokenSpec s{.iss = kInfernoIss, .aud = {kService}, .iat = clock_.now()};
  for (Forgery f : {Forgery::kAlgNone, Forgery::kHs384WithPublicKey, Forgery::kBadSignature,
                    Forgery::kDerSignature}) {
    EXPECT_FALSE(v->verify(bearer(minter.mint(s, f)), kService).ok);
  }
}

TEST_F(TokenVerifierTest, AcceptsAudienceArrayContainingTheEndpoint) {
  auto v = make();
  TokenSpec s = spec();
  s.aud = {kDiscovery, kService};
  EXPECT_TRUE(v->verify(bearer(es_->mint(s)), kService).ok);
}

TEST_F(TokenVerifierTest, RefusesMissingOrNonBearerAuthorization) {
  auto v = make();
  EXPECT_EQ(v->verify("", kService).reason, "no Authorization header");
  std::string token = es_->mint(spec());
  EXPECT_FALSE(v->verify("Basic " + token, kService).ok);
  EXPECT_FALSE(v->verify(token, kService).ok);
  EXPECT_FALSE(v->verify("Bearer ", kService).ok);
  // The scheme is case-insensitive (RFC 7235).
  EXPECT_TRUE(v->verify("bearer " + token, kService).ok);
}

TEST_F(TokenVerifierTest, RefusesMalformedTokens) {
  auto v = make();
  std::string good = es_->mint(spec());
  size_t dot1 = good.find('.');
  size_t dot2 = good.rfind('.');
  std::string header = good.substr(0, dot1);
  std::string payload = good.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string sig = good.substr(dot2 + 1);
  const std::vector<std::string> malformed = {
      "abc",
      header + "." + payload,
      good + ".x",
      header + "=." + payload + "." + sig,        // padding
      header + "." + payload + "+." + sig,        // base64 (not url) alphabet
      header + "." + payload + "." + sig + " x",  // trailing junk
      base64url_encode("not json") + "." + payload + "." + sig,
      base64url_encode("[1,2]") + "." + payload + "." + sig,
      header + "." + base64url_encode("{\"iss\":") + "." + sig,
      std::string(20000, 'a') + "." + payload + "." + sig,  // oversized
  };
  for (const auto& token : malformed) {
    Verdict verdict = v->verify(bearer(token), kService);
    EXPECT_FALSE(verdict.ok) << token.substr(0, 80);
    EXPECT_EQ(verdict.reason.find(token), std::string::npos);
  }
}

TEST_F(TokenVerifierTest, RefusesDuplicateHeaderMembers) {
  auto v = make();
  std::string payload =
      client_token_payload_json({.iss = kEhrIss, .aud = {kService}, .iat = clock_.now()});
  std::string header = R"({"alg":"ES384","typ":"JWT","kid":"ehr-es-1","kid":"other"})";
  EXPECT_EQ(v->verify(bearer(es_->mint_raw(header, payload)), kService).reason,
            "malformed token: header");
}

TEST_F(TokenVerifierTest, RefusesAlgNone) {
  auto v = make();
  Verdict verdict = v->verify(bearer(es_->mint(spec(), Forgery::kAlgNone)), kService);
  EXPECT_FALSE(verdict.ok);
  EXPECT_EQ(verdict.reason, "unsigned token");
  // Even with a signature attached, "none" is not an allowed algorithm.
  TokenSpec s = spec();
  s.alg = "none";
  EXPECT_EQ(v->verify(bearer(es_->mint(s)), kService).reason, "algorithm not allowed: none");
}

TEST_F(TokenVerifierTest, RefusesHmacWithThePublicKeyAsSecret) {
  auto v = make();
  for (const TokenMinter* m : {es_, rs_}) {
    Verdict verdict = v->verify(bearer(m->mint(spec(), Forgery::kHs384WithPublicKey)), kService);
    EXPECT_FALSE(verdict.ok);
    EXPECT_EQ(verdict.reason, "algorithm not allowed: HS384");
  }
}

TEST_F(TokenVerifierTest, RefusesWrongSignatures) {
  auto v = make();
  for (const TokenMinter* m : {es_, rs_}) {
    for (Forgery f : {Forgery::kBadSignature, Forgery::kTamperedPayload}) {
      Verdict verdict = v->verify(bearer(m->mint(spec(), f)), kService);
      EXPECT_EQ(verdict.reason, "bad signature") << m->key().alg();
    }
    EXPECT_EQ(v->verify(bearer(m->mint(spec(), Forgery::kEmptySignature)), kService).reason,
              "unsigned token");
  }
  // ES signatures are raw R||S; a DER-encoded one is refused.
  EXPECT_EQ(v->verify(bearer(es_->mint(spec(), Forgery::kDerSignature)), kService).reason,
            "bad signature");
  // A signature by another key under a trusted kid.
  auto other = TokenMinter::generate("ES384", "ehr-es-1").value();
  EXPECT_EQ(v->verify(bearer(other.mint(spec())), kService).reason, "bad signature");
}

TEST_F(TokenVerifierTest, RefusesUnknownKid) {
  auto v = make();
  TokenSpec s = spec();
  s.kid = "no-such-key";
  EXPECT_EQ(v->verify(bearer(es_->mint(s)), kService).reason, "unknown kid");
  // A kid of the wrong key type for the algorithm is unknown too (RS384 header, EC kid).
  TokenSpec t = spec();
  t.kid = "ehr-es-1";
  EXPECT_EQ(v->verify(bearer(rs_->mint(t)), kService).reason, "unknown kid");
}

// A jku the issuer did not configure is a hint only: never fetched, and the issuer's
// configured key set decides (a JWKS server counts the requests it gets).
TEST_F(TokenVerifierTest, JkuNotConfiguredIsNeverFetchedAndTheConfiguredSetDecides) {
  auto attacker = TokenMinter::generate("ES384", "attacker-1").value();
  testing::JwksServer hint;
  hint.set_body(public_jwk_set_json({&attacker.key()}));
  auto v = make();
  TokenSpec s = spec();
  s.jku = hint.url();
  EXPECT_TRUE(v->verify(bearer(es_->mint(s)), kService).ok);  // key in the configured file
  s.jku = "https://attacker.example.net/jwks.json";
  EXPECT_TRUE(v->verify(bearer(rs_->mint(s)), kService).ok);
  // The attacker's own key, pointed to by jku: refused, and its set never requested.
  TokenSpec a = spec();
  a.jku = hint.url();
  Verdict refused = v->verify(bearer(attacker.mint(a)), kService);
  EXPECT_EQ(refused.reason, "unknown kid (jku not configured for the issuer: not fetched)");
  EXPECT_EQ(refused.kid, "attacker-1");
  EXPECT_EQ(refused.issuer, kEhrIss);
  EXPECT_FALSE(refused.jti.empty());
  EXPECT_EQ(hint.requests(), 0);
}

// Tokens exactly as the Inferno CRD test kit's JwtHelper builds them: header {alg, typ, kid,
// jku}, claims {iss, aud, exp, iat, jti} with a 64-hex-digit jti, five minutes of life, jku
// "<iss>/jwks.json" (Inferno's own route, not configured here).
std::string inferno_shaped(const TokenMinter& m, const std::string& iss, const std::string& aud,
                           int64_t iat, const std::string& jti) {
  std::string header = R"({"alg":")" + m.key().alg() + R"(","typ":"JWT","kid":")" + m.key().kid() +
                       R"(","jku":")" + iss + R"(/jwks.json"})";
  std::string payload = R"({"iss":")" + iss + R"(","aud":")" + aud + R"(","exp":)" +
                        std::to_string(iat + 300) + R"(,"iat":)" + std::to_string(iat) +
                        R"(,"jti":")" + jti + R"("})";
  return m.mint_raw(header, payload);
}

std::string hex_jti(int n) {
  std::string hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 64; ++i) out.push_back(hex[(n * 7 + i * 13) % 16]);
  return out;
}

TEST_F(TokenVerifierTest, AcceptsInfernoShapedTokensWithJku) {
  auto v = make();
  int n = 0;
  for (const TokenMinter* m : {es_, rs_}) {
    Verdict verdict = v->verify(
        bearer(inferno_shaped(*m, kEhrIss, kService, clock_.now(), hex_jti(++n))), kService);
    EXPECT_TRUE(verdict.ok) << m->key().alg() << ": " << verdict.reason;
  }
  if (!std::filesystem::exists(CRYO_INFERNO_JWKS)) GTEST_SKIP() << "no " << CRYO_INFERNO_JWKS;
  for (const char* alg : {"ES384", "RS384"}) {
    auto m = TokenMinter::from_jwk_set_file(CRYO_INFERNO_JWKS, alg).value();
    Verdict verdict = v->verify(
        bearer(inferno_shaped(m, kInfernoIss, kService, clock_.now(), hex_jti(++n))), kService);
    EXPECT_TRUE(verdict.ok) << alg << ": " << verdict.reason;
    EXPECT_EQ(verdict.issuer, kInfernoIss);
  }
}

TEST_F(TokenVerifierTest, HonoursNotBeforeWithTheSkew) {
  auto v = make();
  TokenSpec s = spec();
  s.nbf = clock_.now() - 10;
  EXPECT_TRUE(v->verify(bearer(es_->mint(s)), kService).ok);
  s.nbf = clock_.now() + 50;  // within the 60 s skew
  EXPECT_TRUE(v->verify(bearer(es_->mint(s)), kService).ok);
  s.nbf = clock_.now() + 61;
  Verdict early = v->verify(bearer(es_->mint(s)), kService);
  EXPECT_EQ(early.reason, "token not yet valid (nbf)");
  // The same token is accepted once its time has come (it was not recorded when refused).
  clock_.advance(2);
  EXPECT_TRUE(
      v->verify(
           bearer(es_->mint(
               {.iss = kEhrIss, .aud = {kService}, .iat = s.iat, .nbf = s.nbf, .jti = early.jti})),
           kService)
          .ok);
  std::string payload = R"({"iss":")" + kEhrIss + R"(","aud":")" + kService + R"(","iat":)" +
                        std::to_string(clock_.now()) + R"(,"exp":)" +
                        std::to_string(clock_.now() + 300) + R"(,"nbf":"soon","jti":"n1"})";
  EXPECT_EQ(
      v->verify(bearer(es_->mint_raw(R"({"alg":"ES384","typ":"JWT","kid":"ehr-es-1"})", payload)),
                kService)
          .reason,
      "malformed token: nbf");
}

// A token of `size` bytes or just under: an extra claim pads the payload.
std::string token_of_size(const TokenMinter& m, const std::string& iss, int64_t iat, size_t size) {
  std::string best;
  for (size_t pad = size * 3 / 4 - 400; pad < size; ++pad) {
    std::string payload = R"({"iss":")" + iss + R"(","aud":")" + kService + R"(","exp":)" +
                          std::to_string(iat + 300) + R"(,"iat":)" + std::to_string(iat) +
                          R"(,"jti":"big-)" + std::to_string(pad) + R"(","ext":")" +
                          std::string(pad, 'x') + R"("})";
    std::string t =
        m.mint_raw(R"({"alg":"ES384","typ":"JWT","kid":")" + m.key().kid() + R"("})", payload);
    if (t.size() > size) break;
    best = std::move(t);
  }
  return best;
}

TEST_F(TokenVerifierTest, AcceptsTokensUpTo16KiB) {
  auto v = make();
  std::string big = token_of_size(*es_, kEhrIss, clock_.now(), 16 * 1024);
  ASSERT_GE(big.size(), 16 * 1024 - 3u);
  ASSERT_LE(big.size(), 16 * 1024u);
  Verdict verdict = v->verify(bearer(big), kService);
  EXPECT_TRUE(verdict.ok) << verdict.reason;
  std::string too_big = token_of_size(*es_, kEhrIss, clock_.now(), 16 * 1024 + 4);
  ASSERT_GT(too_big.size(), 16 * 1024u);
  EXPECT_EQ(v->verify(bearer(too_big), kService).reason, "token larger than 16 KiB");
}

TEST_F(TokenVerifierTest, RefusalsNameIssKidAndJtiEscapedAndBounded) {
  auto v = make();
  TokenSpec s = spec();
  s.iat = clock_.now() - 1000;
  s.exp = clock_.now() - 700;
  s.jti = "expired-1";
  Verdict expired = v->verify(bearer(es_->mint(s)), kService);
  EXPECT_EQ(expired.reason, "token expired");
  EXPECT_EQ(expired.issuer, kEhrIss);
  EXPECT_EQ(expired.kid, "ehr-es-1");
  EXPECT_EQ(expired.jti, "expired-1");
  // Named even when refused for the header.
  TokenSpec n = spec();
  n.jti = "none-1";
  Verdict none = v->verify(bearer(es_->mint(n, Forgery::kAlgNone)), kService);
  EXPECT_EQ(none.reason, "unsigned token");
  EXPECT_EQ(none.kid, "ehr-es-1");
  EXPECT_EQ(none.jti, "none-1");
  // Control characters, quotes, spaces and non-ASCII bytes are escaped; long values cut.
  TokenSpec odd = spec();
  odd.kid = "k\"1\n\\ \xc3\xa9";
  odd.jti = std::string(500, 'j');
  Verdict weird = v->verify(bearer(es_->mint(odd)), kService);
  EXPECT_EQ(weird.reason, "unknown kid");
  EXPECT_EQ(weird.kid, "k\\x221\\x0a\\\\\\x20\\xc3\\xa9");
  EXPECT_EQ(weird.jti, std::string(128, 'j') + "...");
  EXPECT_EQ(weird.reason.find(es_->mint(odd)), std::string::npos);
}

TEST_F(TokenVerifierTest, RefusesUntrustedIssuer) {
  auto v = make();
  TokenSpec s = spec();
  s.iss = "https://ehr.example.org.attacker.net";
  Verdict verdict = v->verify(bearer(es_->mint(s)), kService);
  EXPECT_EQ(verdict.reason, "issuer not trusted");
  EXPECT_EQ(verdict.issuer, s.iss);  // loggable
}

TEST_F(TokenVerifierTest, RefusesAudienceOfAnotherEndpoint) {
  auto v = make();
  EXPECT_EQ(v->verify(bearer(es_->mint(spec(kDiscovery))), kService).reason,
            "aud does not name this endpoint");
  EXPECT_FALSE(v->verify(bearer(es_->mint(spec(kService))), kFeedback).ok);
  EXPECT_FALSE(v->verify(bearer(es_->mint(spec(kService + "/"))), kService).ok);
  EXPECT_FALSE(
      v->verify(bearer(es_->mint(spec("https://other.example.org/cds-services"))), kDiscovery).ok);
}

TEST_F(TokenVerifierTest, RefusesExpiredTokensBeyondSkew) {
  auto v = make();
  TokenSpec s = spec();
  s.iat = clock_.now() - 400;
  s.exp = clock_.now() - 30;  // within the 60 s skew
  EXPECT_TRUE(v->verify(bearer(es_->mint(s)), kService).ok);
  s.exp = clock_.now() - 61;
  EXPECT_EQ(v->verify(bearer(es_->mint(s)), kService).reason, "token expired");
  s.exp = clock_.now() - 60;
  EXPECT_EQ(v->verify(bearer(es_->mint(s)), kService).reason, "token expired");
}

TEST_F(TokenVerifierTest, RefusesIatInTheFuture) {
  auto v = make();
  TokenSpec s = spec();
  s.iat = clock_.now() + 30;  // within skew
  EXPECT_TRUE(v->verify(bearer(es_->mint(s)), kService).ok);
  s.iat = clock_.now() + 120;
  EXPECT_EQ(v->verify(bearer(es_->mint(s)), kService).reason, "iat in the future");
}

TEST_F(TokenVerifierTest, RefusesOverlongLifetimeAndMissingClaims) {
  auto v = make();
  TokenSpec s = spec();
  s.exp = s.iat + 2 * 3600;
  EXPECT_EQ(v->verify(bearer(es_->mint(s)), kService).reason, "token lifetime too long");

  auto raw = [&](const std::string& payload) {
    return v->verify(
        bearer(es_->mint_raw(R"({"alg":"ES384","typ":"JWT","kid":"ehr-es-1"})", payload)),
        kService);
  };
  std::string now = std::to_string(clock_.now());
  std::string later = std::to_string(clock_.now() + 300);
  EXPECT_EQ(raw(R"({"iss":")" + kEhrIss + R"(","aud":")" + kService + R"(","iat":)" + now +
                R"(,"exp":)" + later + "}")
                .reason,
            "no jti");
  EXPECT_EQ(raw(R"({"iss":")" + kEhrIss + R"(","aud":")" + kService + R"(","iat":)" + now +
                R"(,"jti":"j1"})")
                .reason,
            "no valid exp");
  EXPECT_EQ(raw(R"({"iss":")" + kEhrIss + R"(","aud":")" + kService + R"(","iat":)" + now +
                R"(,"exp":")" + later + R"(","jti":"j2"})")
                .reason,
            "no valid exp");
  EXPECT_EQ(
      raw(R"({"aud":")" + kService + R"(","iat":)" + now + R"(,"exp":)" + later + R"(,"jti":"j3"})")
          .reason,
      "no iss");
  EXPECT_EQ(raw(R"({"iss":")" + kEhrIss + R"(","aud":")" + kService + R"(","iat":)" + now +
                R"(,"exp":)" + later + R"(,"jti":"j4"})")
                .ok,
            true);
}

TEST_F(TokenVerifierTest, RefusesHeadersWithoutTypOrKidOrWithCrit) {
  auto v = make();
  TokenSpec s = spec();
  s.typ = std::nullopt;
  EXPECT_EQ(v->verify(bearer(es_->mint(s)), kService).reason, "header typ is not JWT");
  std::string payload =
      client_token_payload_json({.iss = kEhrIss, .aud = {kService}, .iat = clock_.now()});
  EXPECT_EQ(
      v->verify(bearer(es_->mint_raw(R"({"alg":"ES384","typ":"JWT"})", payload)), kService).reason,
      "header has no kid");
  EXPECT_EQ(
      v->verify(bearer(es_->mint_raw(
                    R"({"alg":"ES384","typ":"JWT","kid":"ehr-es-1","crit":["exp"]})", payload)),
                kService)
          .reason,
      "header has crit");
}

TEST_F(TokenVerifierTest, RefusesReplayedJti) {
  auto v = make();
  std::string token = es_->mint(spec());
  EXPECT_TRUE(v->verify(bearer(token), kService).ok);
  Verdict again = v->verify(bearer(token), kService);
  EXPECT_EQ(again.reason, "jti replayed");
  // A new token reusing the jti is a replay too.
  TokenSpec s = spec();
  s.jti = again.jti;
  EXPECT_EQ(v->verify(bearer(es_->mint(s)), kService).reason, "jti replayed");
  // The same jti from another issuer's point of view is separate; a forged token with a fresh
  // jti does not enter the cache.
  TokenSpec forged = spec();
  forged.jti = "fresh-jti";
  EXPECT_FALSE(v->verify(bearer(es_->mint(forged, Forgery::kBadSignature)), kService).ok);
  EXPECT_TRUE(v->verify(bearer(es_->mint(forged)), kService).ok);
}

TEST_F(TokenVerifierTest, ReplayIsDetectedAcrossThreads) {
  auto v = make();
  std::string token = es_->mint(spec());
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (v->verify(bearer(token), kService).ok) ++accepted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
}

TEST_F(TokenVerifierTest, Es256AndRs256OnlyWhenConfigured) {
  auto es256 = TokenMinter::generate("ES256", "ehr-es256").value();
  auto rs256 = TokenMinter::generate("RS256", "ehr-rs256").value();
  write_file(ehr_jwks_,
             public_jwk_set_json({&es_->key(), &rs_->key(), &es256.key(), &rs256.key()}));
  auto v = make();
  EXPECT_EQ(v->verify(bearer(es256.mint(spec())), kService).reason, "algorithm not allowed: ES256");
  EXPECT_EQ(v->verify(bearer(rs256.mint(spec())), kService).reason, "algorithm not allowed: RS256");
  config_.algorithms = {"ES384", "RS384", "ES256", "RS256"};
  auto v2 = make();
  EXPECT_TRUE(v2->verify(bearer(es256.mint(spec())), kService).ok);
  EXPECT_TRUE(v2->verify(bearer(rs256.mint(spec())), kService).ok);
  // The JWK's "alg" binds the key: an RS384 key does not verify an RS256 token.
  TokenSpec s = spec();
  s.alg = "RS256";
  EXPECT_EQ(v2->verify(bearer(rs_->mint(s)), kService).reason, "unknown kid");
}

TEST_F(TokenVerifierTest, CreateFailsOnBadJwksFile) {
  config_.issuers = {{.iss = kEhrIss, .jwks_file = (dir_ / "missing.json").string()}};
  auto v = TokenVerifier::create(config_);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().where, (dir_ / "missing.json").string());

  auto weak = SigningKey::generate("RS384", "weak", 1024).value();
  config_.issuers = {
      {.iss = kEhrIss, .jwks_file = write_file(dir_ / "weak.json", public_jwk_set_json({&weak}))}};
  auto w = TokenVerifier::create(config_);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("no verification key"), std::string::npos);
}

TEST_F(TokenVerifierTest, NoIssuersMeansNothingVerifies) {
  config_.issuers.clear();
  auto v = make();
  EXPECT_FALSE(v->has_issuers());
  EXPECT_EQ(v->verify(bearer(es_->mint(spec())), kService).reason, "issuer not trusted");
}

}  // namespace
}  // namespace cryo::security
