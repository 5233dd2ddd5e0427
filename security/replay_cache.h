// Remembers token ids (`jti`) until their tokens expire, to refuse replayed tokens.
//
// Entries are keyed by issuer and jti and kept until `expires_at` (the token's exp plus the
// clock skew); after that a replay would fail the exp check anyway. The cache is split into
// shards, each with its own mutex held only for a hash-map update, so concurrent requests
// rarely contend. Capacity is a hard bound: when a shard is full of unexpired entries, new
// tokens are refused (fail closed) rather than forgetting a jti that could then be replayed.
//
//   ReplayCache cache(100000);
//   switch (cache.remember(iss, jti, exp_plus_skew, now)) { case ReplayCache::kFresh: ... }
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/thread_annotations.h"

namespace cryo::security {

class ReplayCache {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  enum Outcome { kFresh, kReplayed, kFull };

  explicit ReplayCache(size_t capacity);

  // Records (issuer, jti) until `expires_at`. kReplayed if it is already recorded and not yet
  // expired at `now`; kFull if there is no room (nothing is recorded then).
  Outcome remember(std::string_view issuer, std::string_view jti, TimePoint expires_at,
                   TimePoint now);

  // Entries currently held, expired or not (for tests and metrics).
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Entry {
    TimePoint expires_at;
    std::string key;
    bool operator>(const Entry& o) const { return expires_at > o.expires_at; }
  };
  struct Shard {
    mutable Mutex mu;
    std::unordered_map<std::string, TimePoint> expiry GUARDED_BY(mu);
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> by_expiry GUARDED_BY(mu);
  };
  static void purge(Shard& shard, TimePoint now) REQUIRES(shard.mu);

  size_t per_shard_capacity_;
  std::array<Shard, kShards> shards_;
};

// A replay check shared by every replica of the service (backed by their common database),
// consulted after the process's own ReplayCache said kFresh. remember() must be atomic across
// processes; kFull means the check could not be made (the token is then refused).
class SharedReplayCheck {
 public:
  virtual ~SharedReplayCheck() = default;
  virtual ReplayCache::Outcome remember(std::string_view issuer, std::string_view jti,
                                        ReplayCache::TimePoint expires_at,
                                        ReplayCache::TimePoint now) = 0;
};

}  // namespace cryo::security
