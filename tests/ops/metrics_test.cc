#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cds/service_metrics.h"
#include "metrics/registry.h"

namespace cryo::metrics {
namespace {

TEST(MetricsRegistry, CountsFromManyThreadsAddUp) {
  Registry registry;
  Counter calls = registry.counter("test_calls_total", "Calls.", {"service"});
  Histogram latency =
      registry.histogram("test_duration_seconds", "Latency.", {"service"}, {0.01, 0.1, 1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        calls.inc({t % 2 == 0 ? "even" : "odd"});
        latency.observe({"all"}, i % 10 == 0 ? 0.5 : 0.005);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string text = registry.expose();
  EXPECT_NE(text.find("test_calls_total{service=\"even\"} 4000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_calls_total{service=\"odd\"} 4000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_duration_seconds_bucket{service=\"all\",le=\"0.01\"} 7200\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test_duration_seconds_bucket{service=\"all\",le=\"0.1\"} 7200\n"),
            std::string::npos);
  EXPECT_NE(text.find("test_duration_seconds_bucket{service=\"all\",le=\"1\"} 8000\n"),
            std::string::npos);
  EXPECT_NE(text.find("test_duration_seconds_bucket{service=\"all\",le=\"+Inf\"} 8000\n"),
            std::string::npos);
  EXPECT_NE(text.find("test_duration_seconds_count{service=\"all\"} 8000\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE test_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("# HELP test_calls_total Calls.\n"), std::string::npos);
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  Registry registry;
  Counter c = registry.counter("test_total", "Line one\nline \\ two.", {"reason"});
  c.inc({"a \"quoted\"\nvalue\\"});
  std::string text = registry.expose();
  EXPECT_NE(text.find("# HELP test_total Line one\\nline \\\\ two.\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_total{reason=\"a \\\"quoted\\\"\\nvalue\\\\\"} 1\n"), std::string::npos)
      << text;
}

TEST(MetricsRegistry, GaugesAreComputedAtScrape) {
  Registry registry;
  double value = 1;
  registry.gauge("test_open", "Open things.", {}, [&] {
    return std::vector<GaugeSample>{{{}, value}};
  });
  EXPECT_NE(registry.expose().find("test_open 1\n"), std::string::npos);
  value = 3.5;
  EXPECT_NE(registry.expose().find("test_open 3.5\n"), std::string::npos);
}

TEST(MetricsRegistry, SeparateRegistriesDoNotMix) {
  Registry a, b;
  Counter ca = a.counter("test_a_total", "A.", {});
  Counter cb = b.counter("test_b_total", "B.", {});
  ca.inc({});
  cb.inc({}, 2);
  EXPECT_NE(a.expose().find("test_a_total 1\n"), std::string::npos);
  EXPECT_EQ(a.expose().find("test_b_total"), std::string::npos);
  EXPECT_NE(b.expose().find("test_b_total 2\n"), std::string::npos);
}

TEST(ServiceMetrics, RefusalReasonsFoldIntoFixedCategories) {
  using cds::ServiceMetrics;
  EXPECT_EQ(ServiceMetrics::refusal_category("no Authorization header"), "missing");
  EXPECT_EQ(ServiceMetrics::refusal_category("token expired"), "expired");
  EXPECT_EQ(ServiceMetrics::refusal_category("jti replayed"), "replayed");
  EXPECT_EQ(ServiceMetrics::refusal_category("bad signature"), "signature");
  EXPECT_EQ(ServiceMetrics::refusal_category("unknown kid"), "unknown-key");
  EXPECT_EQ(ServiceMetrics::refusal_category("issuer not trusted"), "issuer");
  EXPECT_EQ(ServiceMetrics::refusal_category("aud does not name this endpoint"), "audience");
  EXPECT_EQ(ServiceMetrics::refusal_category("something new"), "other");
}

TEST(ServiceMetrics, ResourceTypesComeFromQueriesAndReferences) {
  using cds::ServiceMetrics;
  EXPECT_EQ(ServiceMetrics::resource_type_of("Coverage?patient={{context.patientId}}"), "Coverage");
  EXPECT_EQ(ServiceMetrics::resource_type_of("Organization/payer-1"), "Organization");
  EXPECT_EQ(ServiceMetrics::resource_type_of("Patient"), "Patient");
  EXPECT_EQ(ServiceMetrics::resource_type_of("../etc"), "other");
  EXPECT_EQ(ServiceMetrics::resource_type_of("lowercase?x=1"), "other");
}

}  // namespace
}  // namespace cryo::metrics
