// Ids the service hands out: RFC 9562 shape, uniqueness, and time order for version 7.
#include "base/ids.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>

namespace cryo {
namespace {

const std::regex kV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kV7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

TEST(Ids, RandomUuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {  // more than one 4 KiB draw from the random source
    std::string id = random_uuid();
    ASSERT_TRUE(std::regex_match(id, kV4)) << id;
    ASSERT_TRUE(seen.insert(id).second) << "repeated: " << id;
  }
}

TEST(Ids, TimeOrderedUuidsCarryTheTimeAndSortByIt) {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string first = time_ordered_uuid();
  ASSERT_TRUE(std::regex_match(first, kV7)) << first;
  // The first 48 bits are the Unix time in milliseconds.
  std::string hex = first.substr(0, 8) + first.substr(9, 4);
  long long ms = std::stoll(hex, nullptr, 16);
  EXPECT_GE(ms, before);
  EXPECT_LE(ms, before + 1000);

  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  std::set<std::string> seen{first};
  std::string later;
  for (int i = 0; i < 5000; ++i) {
    later = time_ordered_uuid();
    ASSERT_TRUE(std::regex_match(later, kV7)) << later;
    ASSERT_TRUE(seen.insert(later).second) << "repeated: " << later;
  }
  EXPECT_LT(first, later);  // a later millisecond sorts after
  // Within one millisecond the rest is random: ids still differ in their random bits.
  EXPECT_NE(later.substr(19), first.substr(19));
}

}  // namespace
}  // namespace cryo
