// Metrics for the Prometheus text exposition format (version 0.0.4), written by hand.
//
// A Registry holds metric families: counters and histograms recorded on the request path,
// and gauges computed when scraped. Recording never takes a lock shared between threads:
// each thread writes into its own shard (a map guarded by a mutex only the scraper also
// takes), and a scrape merges the shards. Label values are given in the order of the
// family's label names; callers keep their cardinality bounded (known services, payers,
// reason categories — never identifiers of calls, patients or orders).
//
//   metrics::Registry registry;
//   auto calls = registry.counter("cryo_crd_hook_calls_total", "Hook calls answered.",
//                                 {"service", "status"});
//   calls.inc({"order-sign-crd", "200"});
//   auto latency = registry.histogram("cryo_crd_hook_call_duration_seconds", "...",
//                                     {"service", "status"}, metrics::latency_buckets());
//   latency.observe({"order-sign-crd", "200"}, 0.0123);
//   std::string text = registry.expose();  // GET /metrics
//
// Thread safety: every method may be called from any thread. Families are registered before
// serving (registration takes the registry's lock).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/thread_annotations.h"

namespace cryo::metrics {

// Upper bounds (seconds) for request and I/O latencies: 1 ms to 10 s, with 0.5 s and 5 s
// (the CDS Hooks and CRD response-time targets) among them.
std::vector<double> latency_buckets();

// One sample of a scraped gauge.
struct GaugeSample {
  std::vector<std::string> label_values;
  double value = 0;
};

class Registry;

class Counter {
 public:
  void inc(std::initializer_list<std::string_view> label_values, double amount = 1) const;

 private:
  friend class Registry;
  Counter(Registry* r, const void* family) : registry_(r), family_(family) {}
  Registry* registry_;
  const void* family_;
};

// Merged view of one histogram series, for gauges derived from a histogram.
struct HistogramSeries {
  std::vector<std::string> label_values;
  std::vector<std::uint64_t> cumulative;  // per bucket bound, cumulative
  std::uint64_t count = 0;
  double sum = 0;
};

class Histogram {
 public:
  void observe(std::initializer_list<std::string_view> label_values, double value) const;
  // Every series recorded so far, merged over threads.
  std::vector<HistogramSeries> series() const;
  const std::vector<double>& bounds() const;

 private:
  friend class Registry;
  Histogram(Registry* r, const void* family) : registry_(r), family_(family) {}
  Registry* registry_;
  const void* family_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter counter(std::string name, std::string help, std::vector<std::string> label_names);
  Histogram histogram(std::string name, std::string help, std::vector<std::string> label_names,
                      std::vector<double> bounds);
  // A gauge whose samples `collect` computes at each scrape.
  void gauge(std::string name, std::string help, std::vector<std::string> label_names,
             std::function<std::vector<GaugeSample>()> collect);

  // The whole registry in the Prometheus text format.
  std::string expose() const;

 private:
  friend class Counter;
  friend class Histogram;
  struct Family;
  struct Cell;
  struct Shard;
  Shard& local_shard();
  void add(const void* family, std::initializer_list<std::string_view> label_values, double value);
  std::map<std::string, Cell> merged(const Family& family) const;

  const std::uint64_t id_;
  mutable Mutex mu_;  // families and the shard list; never taken when recording
  std::vector<std::unique_ptr<Family>> families_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Shard>> shards_ GUARDED_BY(mu_);
};

// Escapes a label value for the exposition format (backslash, double quote, newline).
std::string escape_label_value(std::string_view value);

}  // namespace cryo::metrics
