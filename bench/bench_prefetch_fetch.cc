// Latency of fetching N missing prefetch keys from a FHIR server that answers each request
// after D ms (the Node.js FHIR server in tests/fhir-server, on loopback). The queries run
// concurrently, so the latency should stay near one D for any N up to the worker cap.
//
//   build/bench/bench_prefetch_fetch                     # all cases
//   build/bench/bench_prefetch_fetch --benchmark_filter=Delay/100
//
// Arguments: delay D in ms, number of missing keys N. Reported time: wall clock per fetch.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fhir/client/prefetch_fetcher.h"
#include "tests/fhirclient/support/fhir_server_process.h"

namespace {

using cryo::fhir::PrefetchTemplate;
using cryo::fhir::client::FetchReport;
using cryo::fhir::client::FetchRequest;
using cryo::fhir::client::PrefetchFetcher;

const std::vector<PrefetchTemplate> kQueries = {
    {"patient", "Patient/{{context.patientId}}"},
    {"encounter", "Encounter/{{context.encounterId}}"},
    {"coverage", "Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor"},
    {"conditions", "Condition?patient={{context.patientId}}"},
    {"observations",
     "Observation?patient={{context.patientId}}&code=http://loinc.org|21889-1,"
     "http://cryocrd.org/fhir/CodeSystem/criteria|resectability"},
    {"role", "PractitionerRole/{{userPractitionerRoleId}}"},
    {"organizations", "Organization?_id=payer-1"},
    {"bodySite", "BodyStructure?patient={{context.patientId}}"},
};

// Started on first use, stopped when the program exits.
cryo::testing::FhirServerProcess& server() {
  static cryo::testing::FhirServerProcess s({.load = {CRYO_FHIRCLIENT_DATA_DIR}});
  static const bool started = [] {
    if (!s.start()) std::fprintf(stderr, "%s\n", s.error().c_str());
    return s.running();
  }();
  (void)started;
  return s;
}

void BM_FetchMissingKeys(benchmark::State& state) {
  const int delay = static_cast<int>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  auto& s = server();
  if (!s.running()) {
    state.SkipWithError("the FHIR server did not start");
    return;
  }
  s.set_controls("{\"delayMs\":" + std::to_string(delay) + "}");
  cryo::fhir::JsonDocument context;
  (void)cryo::fhir::parse_copy(
      R"({"patientId":"pat-1","encounterId":"enc-1","userId":"PractitionerRole/role-1"})", context,
      cryo::fhir::ParseLimits{});
  std::vector<PrefetchTemplate> templates(kQueries.begin(), kQueries.begin() + n);
  const std::string base = s.base_url();
  PrefetchFetcher fetcher;
  // Warm the connection pool, as a running service would have.
  (void)fetcher.fetch(FetchRequest{.fhir_server = base,
                                   .access_token = "",
                                   .context = &context,
                                   .templates = templates,
                                   .references = {}});
  size_t failures = 0;
  for (auto _ : state) {
    FetchReport report = fetcher.fetch(FetchRequest{.fhir_server = base,
                                                    .access_token = "",
                                                    .context = &context,
                                                    .templates = templates,
                                                    .references = {}});
    for (const auto& r : report.results) failures += !r.ok();
  }
  state.counters["keys"] = static_cast<double>(n);
  state.counters["failures"] = static_cast<double>(failures);
  state.counters["delay_ms"] = delay;
}

BENCHMARK(BM_FetchMissingKeys)
    ->ArgNames({"delay", "keys"})
    ->ArgsProduct({{0, 50, 200}, {1, 2, 4, 6, 8}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
