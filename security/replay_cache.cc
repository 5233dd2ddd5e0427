#include "security/replay_cache.h"

#include <functional>

namespace cryo::security {

ReplayCache::ReplayCache(size_t capacity)
    : per_shard_capacity_(capacity / kShards > 0 ? capacity / kShards : 1) {}

void ReplayCache::purge(Shard& shard, TimePoint now) {
  while (!shard.by_expiry.empty() && shard.by_expiry.top().expires_at <= now) {
    const Entry& top = shard.by_expiry.top();
    auto it = shard.expiry.find(top.key);
    // A key re-recorded after expiring has a newer deadline; only drop the matching entry.
    if (it != shard.expiry.end() && it->second == top.expires_at) shard.expiry.erase(it);
    shard.by_expiry.pop();
  }
}

ReplayCache::Outcome ReplayCache::remember(std::string_view issuer, std::string_view jti,
                                           TimePoint expires_at, TimePoint now) {
  std::string key;
  key.reserve(issuer.size() + 1 + jti.size());
  key.append(issuer).push_back('\0');
  key.append(jti);
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];

  MutexLock lock(shard.mu);
  purge(shard, now);
  auto it = shard.expiry.find(key);
  if (it != shard.expiry.end()) {
    if (it->second > now) return kReplayed;
    shard.expiry.erase(it);
  }
  if (shard.expiry.size() >= per_shard_capacity_) return kFull;
  shard.expiry.emplace(key, expires_at);
  shard.by_expiry.push(Entry{expires_at, std::move(key)});
  return kFresh;
}

size_t ReplayCache::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    MutexLock lock(s.mu);
    n += s.expiry.size();
  }
  return n;
}

}  // namespace cryo::security
