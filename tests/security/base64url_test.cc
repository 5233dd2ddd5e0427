#include "security/base64url.h"

#include <gtest/gtest.h>

namespace cryo::security {
namespace {

TEST(Base64UrlTest, RoundTrips) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    auto decoded = base64url_decode(base64url_encode(s));
    ASSERT_TRUE(decoded) << s;
    EXPECT_EQ(*decoded, s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Base64UrlTest, DecodingIsStrict) {
  EXPECT_FALSE(base64url_decode("Zm9v="));  // padding
  EXPECT_FALSE(base64url_decode("Zm+v"));   // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm/v"));
  EXPECT_FALSE(base64url_decode("Zm9 v"));  // whitespace
  EXPECT_FALSE(base64url_decode("Z"));      // impossible length
  EXPECT_FALSE(base64url_decode("Zh"));     // non-zero unused bits ("Zg" is canonical)
  EXPECT_TRUE(base64url_decode("Zg"));
  EXPECT_FALSE(base64url_decode(std::string("Zg\0", 3)));
}

}  // namespace
}  // namespace cryo::security
