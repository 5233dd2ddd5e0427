// The one reader of absolute http(s) URLs: what it accepts, how it normalises, and what it
// refuses, for every caller (FHIR server bases and links, JWK Set URLs, origins, --base-url).
#include "base/url.h"

#include <gtest/gtest.h>

namespace cryo {
namespace {

TEST(HttpUrl, SplitsSchemeHostPortPathAndQuery) {
  auto u = parse_http_url("HTTPS://EHR.Example.org/fhir/R4/?page=2&_count=50");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "ehr.example.org");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/fhir/R4/");
  EXPECT_EQ(u->query, "page=2&_count=50");
  EXPECT_EQ(u->origin(), "https://ehr.example.org:443");
  EXPECT_EQ(u->target(), "/fhir/R4/?page=2&_count=50");

  auto bare = parse_http_url("http://127.0.0.1:8080");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->port, 8080);
  EXPECT_EQ(bare->path, "");
  EXPECT_FALSE(bare->query);
  EXPECT_EQ(bare->target(), "/");

  auto query_only = parse_http_url("http://ehr?x=1");
  ASSERT_TRUE(query_only);
  EXPECT_EQ(query_only->host, "ehr");
  EXPECT_EQ(query_only->target(), "/?x=1");
}

TEST(HttpUrl, KeepsIpv6BracketsInTheHostAndDropsThemInTheBareHost) {
  auto u = parse_http_url("http://[::1]:9000/jwks.json");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "[::1]");
  EXPECT_EQ(u->bare_host(), "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(parse_http_url("http://[::1]")->port, 80);
}

TEST(HttpUrl, RefusesWhatAnotherReaderCouldReadDifferently) {
  for (const char* bad : {
           "",
           "ehr.example.org/fhir",      // no scheme
           "ftp://ehr/fhir",            // another scheme
           "https:///jwks.json",        // no host
           "https://user:pw@ehr/fhir",  // user info
           "https://ehr/fhir#frag",     // fragment
           "https://ehr:99999/",        // port out of range
           "https://ehr:0/",            // port zero
           "https://ehr:/",             // empty port
           "https://ehr:80:90/",        // colon in an unbracketed host
           "https://ehr:8x/",           // port not a number
           "http://[]/",                // empty IPv6 literal
           "http://[::1/",              // unclosed bracket
           "http://[::1]x/",            // junk after the bracket
           "https://ehr/a b",           // space
           "https://ehr/a\tb",          // control character
           "https://ehr\\@evil/",       // backslash
           "https://ehr/\x7f",          // DEL
       }) {
    EXPECT_FALSE(parse_http_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace cryo
