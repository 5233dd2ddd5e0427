#include "security/cors.h"

#include <gtest/gtest.h>

namespace cryo::security {
namespace {

std::string header(const std::vector<HttpHeader>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return "<absent>";
}

CorsPolicy policy(CorsConfig c) {
  auto p = CorsPolicy::create(std::move(c));
  EXPECT_TRUE(p) << (p ? "" : p.error().to_string());
  return std::move(p).value();
}

TEST(CorsPolicyTest, AllowedOriginGetsExactHeaders) {
  auto cors = policy({.allowed_origins = {"https://ehr.example.org"}});
  auto h = cors.response_headers("https://ehr.example.org");
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), "https://ehr.example.org");
  EXPECT_EQ(header(h, "Vary"), "Origin");
  EXPECT_EQ(header(h, "Access-Control-Allow-Credentials"), "<absent>");
}

TEST(CorsPolicyTest, OtherOriginsAreNeverReflected) {
  auto cors = policy({.allowed_origins = {"https://ehr.example.org"}});
  for (const char* o :
       {"https://evil.example.net", "https://ehr.example.org.evil.net", "http://ehr.example.org",
        "https://ehr.example.org:8443", "null", "https://EHR.example.org", ""}) {
    auto h = cors.response_headers(o);
    EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), "<absent>") << o;
    EXPECT_EQ(header(h, "Vary"), "Origin");
    auto pre = cors.preflight(o, "POST", "content-type");
    EXPECT_FALSE(pre.allowed) << o;
    EXPECT_EQ(pre.status, 403);
    EXPECT_EQ(header(pre.headers, "Access-Control-Allow-Origin"), "<absent>");
  }
}

TEST(CorsPolicyTest, PreflightChecksMethodAndHeaders) {
  auto cors = policy(
      {.allowed_origins = {"https://ehr.example.org"}, .max_age = std::chrono::seconds(120)});
  auto ok = cors.preflight("https://ehr.example.org", "POST", "authorization, Content-Type");
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.status, 204);
  EXPECT_EQ(header(ok.headers, "Access-Control-Allow-Origin"), "https://ehr.example.org");
  EXPECT_EQ(header(ok.headers, "Access-Control-Allow-Methods"), "GET, POST, OPTIONS");
  EXPECT_EQ(header(ok.headers, "Access-Control-Allow-Headers"), "Authorization, Content-Type");
  EXPECT_EQ(header(ok.headers, "Access-Control-Max-Age"), "120");
  EXPECT_EQ(header(ok.headers, "Vary"), "Origin");

  EXPECT_FALSE(cors.preflight("https://ehr.example.org", "DELETE", "").allowed);
  EXPECT_FALSE(cors.preflight("https://ehr.example.org", "post", "").allowed);
  EXPECT_FALSE(cors.preflight("https://ehr.example.org", "POST", "X-Custom").allowed);
  EXPECT_TRUE(cors.preflight("https://ehr.example.org", "GET", "").allowed);
}

TEST(CorsPolicyTest, CredentialsOnlyWithExactOrigins) {
  auto cors = policy({.allowed_origins = {"https://ehr.example.org"}, .allow_credentials = true});
  EXPECT_EQ(
      header(cors.response_headers("https://ehr.example.org"), "Access-Control-Allow-Credentials"),
      "true");
  EXPECT_FALSE(CorsPolicy::create({.allowed_origins = {"*"}, .allow_credentials = true}));
}

TEST(CorsPolicyTest, WildcardWithoutCredentials) {
  auto cors = policy({.allowed_origins = {"*"}});
  auto h = cors.response_headers("https://anywhere.example");
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header(h, "Access-Control-Allow-Credentials"), "<absent>");
  EXPECT_EQ(header(cors.response_headers("null"), "Access-Control-Allow-Origin"), "<absent>");
}

TEST(CorsPolicyTest, NoOriginsConfiguredMeansNoCrossOriginAccess) {
  auto cors = policy({});
  EXPECT_FALSE(cors.origin_allowed("https://ehr.example.org"));
  EXPECT_FALSE(cors.preflight("https://ehr.example.org", "POST", "").allowed);
}

TEST(CorsPolicyTest, RefusesBadConfigurations) {
  EXPECT_FALSE(CorsPolicy::create({.allowed_origins = {"null"}}));
  EXPECT_FALSE(CorsPolicy::create({.allowed_origins = {"https://ehr.example.org/"}}));
  EXPECT_FALSE(CorsPolicy::create({.allowed_origins = {"https://ehr.example.org/path"}}));
  EXPECT_FALSE(CorsPolicy::create({.allowed_origins = {"ehr.example.org"}}));
  EXPECT_FALSE(CorsPolicy::create({.allowed_origins = {"*", "https://ehr.example.org"}}));
  EXPECT_FALSE(CorsPolicy::create({.allowed_headers = {"*"}}));
  EXPECT_FALSE(CorsPolicy::create({.allowed_methods = {"PO ST"}}));
}

}  // namespace
}  // namespace cryo::security
