#include "security/config.h"

#include <gtest/gtest.h>

#include "base/json_file.h"

namespace cryo::security {
namespace {

// The text as the "trust" (or "cors") object of config.json.
json::File json(const char* text) {
  auto f = json::File::parse("config.json", text);
  EXPECT_TRUE(f) << text;
  return std::move(*f);
}

Error trust_error(const char* text) {
  auto d = json(text);
  auto r = parse_trust_config(json::Node(d.root().value(), "trust"), "/etc/cryo");
  EXPECT_FALSE(r) << text;
  return r ? Error{} : r.error();
}

TEST(TrustConfigTest, ParsesFullExample) {
  auto d = json(R"({
    "issuers": [
      {"iss": "https://inferno.healthit.gov/suites/custom/crd_server",
       "jwks_file": "keys/inferno-crd-jwks.json"},
      {"iss": "https://ehr.example.org",
       "jwks_url": "https://ehr.example.org/.well-known/jwks.json",
       "jku_allowlist": ["https://ehr.example.org/jwks/2026.json"]}
    ],
    "algorithms": ["ES384", "RS384", "ES256"],
    "clock_skew_seconds": 30,
    "max_token_lifetime_seconds": 600,
    "replay_cache_capacity": 5000,
    "jwks_min_refresh_interval_seconds": 60,
    "jwks_max_age_seconds": 7200,
    "jwks_fetch_timeout_seconds": 3
  })");
  auto r = parse_trust_config(json::Node(d.root().value(), "trust"), "/etc/cryo");
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->issuers.size(), 2u);
  EXPECT_EQ(r->issuers[0].jwks_file, "/etc/cryo/keys/inferno-crd-jwks.json");
  EXPECT_EQ(r->issuers[1].jwks_url, "https://ehr.example.org/.well-known/jwks.json");
  EXPECT_EQ(r->issuers[1].jku_allowlist.size(), 1u);
  EXPECT_EQ(r->algorithms.size(), 3u);
  EXPECT_EQ(r->clock_skew.count(), 30);
  EXPECT_EQ(r->max_token_lifetime.count(), 600);
  EXPECT_EQ(r->replay_cache_capacity, 5000u);
  EXPECT_EQ(r->jwks_min_refresh_interval.count(), 60);
  EXPECT_EQ(r->jwks_max_age.count(), 7200);
  EXPECT_EQ(r->jwks_fetch_timeout.count(), 3);
}

TEST(TrustConfigTest, Defaults) {
  auto d = json(R"({"issuers": []})");
  auto r = parse_trust_config(json::Node(d.root().value(), "trust"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->algorithms, (std::vector<std::string>{"ES384", "RS384"}));
  EXPECT_EQ(r->clock_skew.count(), 60);
  EXPECT_EQ(r->jwks_min_refresh_interval.count(), 30);
}

TEST(TrustConfigTest, ErrorsNameTheField) {
  EXPECT_EQ(trust_error(R"([])").where, "trust");
  EXPECT_EQ(trust_error(R"({})").where, "trust.issuers");
  EXPECT_EQ(trust_error(R"({"issuers": [], "skew": 5})").where, "trust.skew");
  EXPECT_EQ(trust_error(R"({"issuers": [{"jwks_file": "a.json"}]})").where, "trust.issuers[0].iss");
  EXPECT_EQ(trust_error(R"({"issuers": [{"iss": "a"}]})").where, "trust.issuers[0]");
  EXPECT_EQ(
      trust_error(R"({"issuers": [{"iss": "a", "jwks_file": "a", "jwks_url": "https://x/"}]})")
          .where,
      "trust.issuers[0]");
  Error e = trust_error(
      R"({"issuers": [{"iss": "a", "jwks_file": "a.json"},
                      {"iss": "b", "jwks_url": "http://ehr.example.org/jwks.json"}]})");
  EXPECT_EQ(e.where, "trust.issuers[1].jwks_url");
  EXPECT_NE(e.message.find("https"), std::string::npos);
  EXPECT_EQ(trust_error(R"({"issuers": [{"iss": "a", "jwks_url": "https://x/j",
                                         "jku_allowlist": ["https://x/j", "ftp://x/j"]}]})")
                .where,
            "trust.issuers[0].jku_allowlist[1]");
  EXPECT_EQ(trust_error(R"({"issuers": [{"iss": "a", "jwks_file": "a"},
                                        {"iss": "a", "jwks_file": "b"}]})")
                .where,
            "trust.issuers[1].iss");
  EXPECT_EQ(trust_error(R"({"issuers": [], "algorithms": ["ES384", "HS256"]})").where,
            "trust.algorithms[1]");
  EXPECT_EQ(trust_error(R"({"issuers": [], "algorithms": ["none"]})").where, "trust.algorithms[0]");
  EXPECT_EQ(trust_error(R"({"issuers": [], "algorithms": []})").where, "trust.algorithms");
  EXPECT_EQ(trust_error(R"({"issuers": [], "clock_skew_seconds": -1})").where,
            "trust.clock_skew_seconds");
  EXPECT_EQ(trust_error(R"({"issuers": [], "clock_skew_seconds": "60"})").where,
            "trust.clock_skew_seconds");
  EXPECT_EQ(trust_error(R"({"issuers": [], "replay_cache_capacity": 0})").where,
            "trust.replay_cache_capacity");
}

TEST(TrustConfigTest, OneWordingForUnknownAndMissingKeys) {
  Error unknown = trust_error(R"({"issuers": [], "skew": 5})");
  EXPECT_EQ(unknown.message,
            "unknown key 'skew' (expected one of: issuers, algorithms, clock_skew_seconds, "
            "max_token_lifetime_seconds, replay_cache_capacity, "
            "jwks_min_refresh_interval_seconds, jwks_max_age_seconds, "
            "jwks_fetch_timeout_seconds)");
  EXPECT_EQ(trust_error(R"({})").message, "missing required key 'issuers'");
  EXPECT_EQ(trust_error(R"({"issuers": [{"jwks_file": "a.json"}]})").message,
            "missing required key 'iss'");
  EXPECT_EQ(
      trust_error(R"({"issuers": [{"iss": "a", "jwks_file": "a", "jwsk_url": "b"}]})").to_string(),
      "trust.issuers[0].jwsk_url: unknown key 'jwsk_url' (expected one of: iss, jwks_file, "
      "jwks_url, jku_allowlist)");
}

TEST(TrustConfigTest, HttpJwksUrlOnlyForLoopback) {
  EXPECT_TRUE(is_acceptable_jwks_url("https://ehr.example.org/jwks.json"));
  EXPECT_TRUE(is_acceptable_jwks_url("http://127.0.0.1:8081/jwks.json"));
  EXPECT_TRUE(is_acceptable_jwks_url("http://localhost/jwks.json"));
  EXPECT_TRUE(is_acceptable_jwks_url("http://[::1]:9000/jwks.json"));
  EXPECT_FALSE(is_acceptable_jwks_url("http://ehr.example.org/jwks.json"));
  EXPECT_FALSE(is_acceptable_jwks_url("https://user@ehr.example.org/jwks.json"));
  EXPECT_FALSE(is_acceptable_jwks_url("https://ehr.example.org/jwks.json#frag"));
  EXPECT_FALSE(is_acceptable_jwks_url("https:///jwks.json"));
  EXPECT_FALSE(is_acceptable_jwks_url("https://ehr.example.org:99999/"));
  EXPECT_FALSE(is_acceptable_jwks_url("file:///etc/passwd"));
}

TEST(CorsConfigTest, ParsesAndNamesBadFields) {
  auto d = json(R"({"allowed_origins": ["https://ehr.example.org", "http://localhost:3000"],
                    "allowed_methods": ["POST", "OPTIONS"],
                    "allowed_headers": ["Authorization", "Content-Type"],
                    "allow_credentials": true, "max_age_seconds": 300})");
  auto r = parse_cors_config(json::Node(d.root().value(), "cors"));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->allowed_origins.size(), 2u);
  EXPECT_TRUE(r->allow_credentials);
  EXPECT_EQ(r->max_age.count(), 300);

  auto bad = [](const char* text) {
    auto doc = json(text);
    auto res = parse_cors_config(json::Node(doc.root().value(), "cors"));
    EXPECT_FALSE(res) << text;
    return res ? std::string() : res.error().where;
  };
  EXPECT_EQ(bad(R"({"allowed_origins": ["*"], "allow_credentials": true})"),
            "cors.allowed_origins[0]");
  EXPECT_EQ(bad(R"({"allowed_origins": ["https://a.example", "https://b.example/"]})"),
            "cors.allowed_origins[1]");
  // An origin is what a browser sends: lower case, no path, no query.
  EXPECT_EQ(bad(R"({"allowed_origins": ["https://EHR.example.org"]})"), "cors.allowed_origins[0]");
  EXPECT_EQ(bad(R"({"allowed_origins": ["HTTPS://ehr.example.org"]})"), "cors.allowed_origins[0]");
  EXPECT_EQ(bad(R"({"allowed_origins": ["https://ehr.example.org?a=1"]})"),
            "cors.allowed_origins[0]");
  EXPECT_EQ(bad(R"({"allowed_origins": ["https://ehr.example.org/app"]})"),
            "cors.allowed_origins[0]");
  EXPECT_EQ(bad(R"({"allowed_headers": ["*"]})"), "cors.allowed_headers[0]");
  EXPECT_EQ(bad(R"({"allow_credentials": "yes"})"), "cors.allow_credentials");
  EXPECT_EQ(bad(R"({"origins": []})"), "cors.origins");
}

}  // namespace
}  // namespace cryo::security
