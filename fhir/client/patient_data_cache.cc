#include "fhir/client/patient_data_cache.h"

#include <list>
#include <map>
#include <tuple>
#include <utility>

#include "base/thread_annotations.h"

namespace cryo::fhir::client {
namespace {

using Clock = std::chrono::steady_clock;

std::string_view without_trailing_slash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

}  // namespace

struct PatientDataCache::State {
  struct Document {
    std::shared_ptr<const std::string> text;  // shared with calls reading it
    Clock::time_point fetched;
  };
  using EntryKey = std::tuple<std::string, std::string, std::string>;
  struct Entry {
    EntryKey key;
    std::map<std::string, Document, std::less<>> documents;  // by expanded query
    size_t bytes = 0;
  };

  mutable Mutex mu;
  std::list<Entry> lru GUARDED_BY(mu);  // most recently used first
  std::map<EntryKey, std::list<Entry>::iterator> index GUARDED_BY(mu);
  size_t bytes GUARDED_BY(mu) = 0;
  PatientDataCacheStats counts GUARDED_BY(mu);

  static EntryKey entry_key(const Key& k) {
    return {k.client, std::string(without_trailing_slash(k.fhir_server)), k.patient};
  }

  // The entry for `k`, moved to the front; lru.end() when absent.
  std::list<Entry>::iterator touch(const EntryKey& k) REQUIRES(mu) {
    auto it = index.find(k);
    if (it == index.end()) return lru.end();
    lru.splice(lru.begin(), lru, it->second);
    return it->second;
  }

  void drop_document(Entry& e, std::map<std::string, Document, std::less<>>::iterator d)
      REQUIRES(mu) {
    e.bytes -= d->second.text->size();
    bytes -= d->second.text->size();
    e.documents.erase(d);
  }

  void drop_entry(std::list<Entry>::iterator e) REQUIRES(mu) {
    bytes -= e->bytes;
    index.erase(e->key);
    lru.erase(e);
  }

  // Drops every document older than `ttl`, and entries left empty.
  void sweep(Clock::time_point now, std::chrono::seconds ttl) REQUIRES(mu) {
    for (auto e = lru.begin(); e != lru.end();) {
      for (auto d = e->documents.begin(); d != e->documents.end();) {
        auto next = std::next(d);
        if (now - d->second.fetched >= ttl) {
          drop_document(*e, d);
          ++counts.expired;
        }
        d = next;
      }
      auto next = std::next(e);
      if (e->documents.empty()) drop_entry(e);
      e = next;
    }
  }

  // Evicts least recently used entries other than `keep` until `extra` more bytes fit and
  // the entry count is within bounds.
  void make_room(size_t extra, size_t max_bytes, size_t max_entries,
                 std::list<Entry>::iterator keep) REQUIRES(mu) {
    while (!lru.empty() && (bytes + extra > max_bytes || lru.size() > max_entries)) {
      auto victim = std::prev(lru.end());
      if (victim == keep) {
        if (lru.size() == 1) break;
        victim = std::prev(victim);
      }
      drop_entry(victim);
      ++counts.evictions;
    }
  }
};

PatientDataCache::PatientDataCache(PatientDataCacheOptions options)
    : options_(std::move(options)), state_(std::make_unique<State>()) {
  if (!options_.clock) options_.clock = [] { return Clock::now(); };
}

PatientDataCache::~PatientDataCache() = default;

bool PatientDataCache::cacheable(std::string_view query) {
  return query.find("{{context.patientId}}") != std::string_view::npos;
}

std::vector<PrefetchTemplate> PatientDataCache::serve(const Key& key,
                                                      std::span<const PrefetchTemplate> templates,
                                                      const Json* context, ResourceIndex& record) {
  std::vector<PrefetchTemplate> rest;
  if (!enabled() || key.patient.empty()) {
    rest.assign(templates.begin(), templates.end());
    return rest;
  }
  const Clock::time_point now = options_.clock();
  // The texts are found under the lock and parsed outside it.
  std::vector<std::pair<const PrefetchTemplate*, std::shared_ptr<const std::string>>> found;
  std::vector<std::string> queries;
  {
    MutexLock lock(state_->mu);
    auto entry = state_->touch(State::entry_key(key));
    for (const PrefetchTemplate& t : templates) {
      std::shared_ptr<const std::string> text;
      std::optional<std::string> query;
      if (cacheable(t.query)) query = expand_template(t.query, context);
      if (query && entry != state_->lru.end()) {
        auto d = entry->documents.find(*query);
        if (d != entry->documents.end() && now - d->second.fetched >= options_.ttl) {
          state_->drop_document(*entry, d);
          ++state_->counts.expired;
        } else if (d != entry->documents.end()) {
          text = d->second.text;
        }
      }
      found.emplace_back(&t, std::move(text));
      queries.push_back(query.value_or(""));
    }
    if (entry != state_->lru.end() && entry->documents.empty()) state_->drop_entry(entry);
  }
  const ParseLimits limits{options_.max_bytes, 64};
  size_t hits = 0, misses = 0;
  for (size_t i = 0; i < found.size(); ++i) {
    const auto& [t, text] = found[i];
    bool hit = false;
    if (text) {
      auto doc = std::make_unique<JsonDocument>();
      if (!parse_copy(*text, *doc, limits)) {
        const JsonDocument& kept = record.adopt(std::move(doc));
        record.add(kept, "cache:" + queries[i]);
        hit = true;
      }
    }
    if (hit) {
      ++hits;
    } else {
      if (cacheable(t->query)) ++misses;
      rest.push_back(*t);
    }
  }
  MutexLock lock(state_->mu);
  state_->counts.hits += hits;
  state_->counts.misses += misses;
  return rest;
}

void PatientDataCache::keep(const Key& key, std::span<const PrefetchTemplate> templates,
                            const Json* context, const FetchReport& report) {
  if (!enabled() || key.patient.empty()) return;
  const Clock::time_point now = options_.clock();
  MutexLock lock(state_->mu);
  state_->sweep(now, options_.ttl);
  const State::EntryKey ek = State::entry_key(key);
  auto entry = state_->lru.end();
  for (size_t i = 0; i < templates.size() && i < report.results.size(); ++i) {
    const FetchResult& r = report.results[i];
    if (!cacheable(templates[i].query) || !r.document || r.error || r.truncated) continue;
    std::optional<std::string> query = expand_template(templates[i].query, context);
    if (!query) continue;
    std::string text = fhir::to_string(*r.document);
    if (text.size() > options_.max_bytes) continue;
    if (entry == state_->lru.end()) {
      entry = state_->touch(ek);
      if (entry == state_->lru.end()) {
        state_->lru.push_front(State::Entry{ek, {}, 0});
        entry = state_->lru.begin();
        state_->index.emplace(ek, entry);
      }
    }
    if (auto d = entry->documents.find(*query); d != entry->documents.end())
      state_->drop_document(*entry, d);
    state_->make_room(text.size(), options_.max_bytes, options_.max_entries, entry);
    if (state_->bytes + text.size() > options_.max_bytes) continue;
    entry->bytes += text.size();
    state_->bytes += text.size();
    entry->documents.insert_or_assign(
        *query, State::Document{std::make_shared<const std::string>(std::move(text)), now});
  }
  if (entry != state_->lru.end() && entry->documents.empty()) state_->drop_entry(entry);
}

void PatientDataCache::forget(const Key& key) {
  MutexLock lock(state_->mu);
  auto it = state_->index.find(State::entry_key(key));
  if (it != state_->index.end()) state_->drop_entry(it->second);
}

PatientDataCacheStats PatientDataCache::stats() const {
  MutexLock lock(state_->mu);
  PatientDataCacheStats s = state_->counts;
  s.entries = state_->lru.size();
  s.bytes = state_->bytes;
  return s;
}

}  // namespace cryo::fhir::client
