#include "security/replay_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace cryo::security {
namespace {

using std::chrono::seconds;
using TimePoint = ReplayCache::TimePoint;

TEST(ReplayCacheTest, RemembersUntilExpiry) {
  ReplayCache cache(1000);
  TimePoint t0(seconds(1'000'000));
  EXPECT_EQ(cache.remember("iss", "a", t0 + seconds(60), t0), ReplayCache::kFresh);
  EXPECT_EQ(cache.remember("iss", "a", t0 + seconds(60), t0 + seconds(59)), ReplayCache::kReplayed);
  EXPECT_EQ(cache.remember("other-iss", "a", t0 + seconds(60), t0), ReplayCache::kFresh);
  // After expiry the entry is purged (the exp check refuses such a token anyway).
  EXPECT_EQ(cache.remember("iss", "a", t0 + seconds(200), t0 + seconds(61)), ReplayCache::kFresh);
  EXPECT_EQ(cache.remember("iss", "b", t0 + seconds(300), t0 + seconds(250)), ReplayCache::kFresh);
}

TEST(ReplayCacheTest, FullCacheFailsClosed) {
  ReplayCache cache(16);  // one entry per shard
  TimePoint t0(seconds(1'000'000));
  int full = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = cache.remember("iss", "jti-" + std::to_string(i), t0 + seconds(60), t0);
    if (r == ReplayCache::kFull) ++full;
  }
  EXPECT_GT(full, 0);
  EXPECT_LE(cache.size(), 16u);
  // Once entries expire there is room again.
  EXPECT_EQ(cache.remember("iss", "late", t0 + seconds(200), t0 + seconds(61)),
            ReplayCache::kFresh);
}

TEST(ReplayCacheTest, ConcurrentUseAcceptsEachJtiOnce) {
  ReplayCache cache(100000);
  TimePoint t0(seconds(1'000'000));
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (cache.remember("iss", std::to_string(i), t0 + seconds(60), t0) == ReplayCache::kFresh) {
          ++fresh;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(fresh.load(), 2000);
}

}  // namespace
}  // namespace cryo::security
