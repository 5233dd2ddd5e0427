// PatientDataCache: what an encounter-start call read from the EHR's FHIR server, kept for a
// few minutes so the order-sign that follows in the same encounter need not read it again.
//
// An entry belongs to one calling client (the verified token issuer; unsigned calls have
// their own key), one FHIR server base URL and one patient, so a client never sees data
// another client fetched and one patient's data never answers for another. Inside an entry
// each document is filed under the expanded query that fetched it
// ("Condition?patient=pat-1"), so a hit answers exactly the query a later call would send.
// Only patient-scoped prefetch queries (those naming {{context.patientId}}) are kept, and only
// complete answers (no error, no page left out). Access tokens are never part of a key or an
// entry.
//
// Bounded three ways: each document expires `ttl` after it was fetched, the number of entries
// (client, server, patient) and the bytes of all documents are capped; past a cap the least
// recently used entries go first.
//
//   PatientDataCache cache({.ttl = std::chrono::minutes(5)});
//   PatientDataCache::Key key{issuer, fhir_server, patient_id};
//   std::vector<PrefetchTemplate> rest = cache.serve(key, templates, context, record);  // hits
//   FetchReport report = fetcher.fetch({... .templates = rest ...});
//   if (warming) cache.keep(key, rest, context, report);   // before report.add_to(record)
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/client/prefetch_fetcher.h"
#include "fhir/json.h"
#include "fhir/resource_index.h"

namespace cryo::fhir::client {

struct PatientDataCacheOptions {
  std::chrono::seconds ttl{300};        // 0: the cache is off
  size_t max_entries = 1000;            // (client, FHIR server, patient) entries
  size_t max_bytes = 64 * 1024 * 1024;  // JSON text of every document kept
  std::function<std::chrono::steady_clock::time_point()> clock{};  // tests; default steady
};

struct PatientDataCacheStats {
  size_t entries = 0;
  size_t bytes = 0;
  size_t hits = 0;       // queries answered from the cache
  size_t misses = 0;     // cacheable queries that had to be fetched
  size_t evictions = 0;  // entries dropped to stay within max_entries or max_bytes
  size_t expired = 0;    // documents dropped because they were older than ttl
};

class PatientDataCache {
 public:
  struct Key {
    std::string client;       // the verified token issuer; "" for an unsigned call
    std::string fhir_server;  // the request's fhirServer (a trailing '/' is ignored)
    std::string patient;      // context.patientId
  };

  explicit PatientDataCache(PatientDataCacheOptions options = {});
  ~PatientDataCache();
  PatientDataCache(const PatientDataCache&) = delete;
  PatientDataCache& operator=(const PatientDataCache&) = delete;

  bool enabled() const { return options_.ttl.count() > 0 && options_.max_entries > 0; }

  // Whether `query` is kept at all: a patient-scoped prefetch template.
  static bool cacheable(std::string_view query);

  // Adds to `record` every template whose answer the cache holds for `key` (origin
  // "cache:<query>") and returns the templates it does not hold, in order.
  std::vector<PrefetchTemplate> serve(const Key& key, std::span<const PrefetchTemplate> templates,
                                      const Json* context, ResourceIndex& record);

  // Keeps the complete answers of `report` to the cacheable `templates` (report.results[i]
  // answers templates[i]). Call before report.add_to(), which moves the documents out.
  void keep(const Key& key, std::span<const PrefetchTemplate> templates, const Json* context,
            const FetchReport& report);

  // Drops everything held for `key`: the patient's record changed in a way the cache cannot
  // see (DTR answers completed, which the EHR stores next).
  void forget(const Key& key);

  PatientDataCacheStats stats() const;

 private:
  struct State;
  PatientDataCacheOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace cryo::fhir::client
