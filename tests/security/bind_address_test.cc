#include "security/bind_address.h"

#include <gtest/gtest.h>

namespace cryo::security {
namespace {

TEST(BindAddressTest, LoopbackAddresses) {
  for (const char* a :
       {"127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "[::1]", "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1", "localhost", "LOCALHOST", "localhost."}) {
    EXPECT_TRUE(is_loopback_address(a)) << a;
  }
}

TEST(BindAddressTest, EverythingElseIsNot) {
  for (const char* a :
       {"", "0.0.0.0", "::", "[::]", "128.0.0.1", "10.0.0.1", "192.168.1.1", "::2",
        "::ffff:10.0.0.1", "127.1", "127.0.0.1 ", " 127.0.0.1", "localhost.example.org",
        "mylocalhost", "crd.example.org", "[::1", "127.0.0.1:8080"}) {
    EXPECT_FALSE(is_loopback_address(a)) << a;
  }
}

}  // namespace
}  // namespace cryo::security
