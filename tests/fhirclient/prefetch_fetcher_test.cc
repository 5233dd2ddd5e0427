// PrefetchFetcher against a real FHIR server (Medplum's FHIR router, tests/fhir-server) on
// loopback: what prefetch did not bring is fetched, within budget, concurrently.
#include "fhir/client/prefetch_fetcher.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fhir/resource_index.h"
#include "tests/fhirclient/support/fhir_server_process.h"
#include "tests/support/self_signed_cert.h"

namespace cryo::fhir::client {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kToken[] = "token-for-pat-1";

const std::vector<PrefetchTemplate> kTemplates = {
    {"patient", "Patient/{{context.patientId}}"},
    {"encounter", "Encounter/{{context.encounterId}}"},
    {"coverage", "Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor"},
    {"conditions", "Condition?patient={{context.patientId}}"},
    {"user", "PractitionerRole/{{userPractitionerRoleId}}"},
};

long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

const FetchResult& result_for(const FetchReport& report, std::string_view key) {
  for (const FetchResult& r : report.results) {
    if (r.key == key) return r;
  }
  ADD_FAILURE() << "no result for " << key;
  static const FetchResult kNone;
  return kNone;
}

// A loopback port nothing listens on.
int closed_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

class PrefetchFetcherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::FhirServerProcess({.load = {CRYO_FHIRCLIENT_DATA_DIR}, .token = kToken});
    if (!server_->start()) {
      start_error_ = server_->error();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(server_->running()) << start_error_;
    ASSERT_TRUE(server_->reset());
    ASSERT_FALSE(parse_copy(R"({"patientId":"pat-1","encounterId":"enc-1",
                                "userId":"PractitionerRole/role-1"})",
                            context_, ParseLimits{}));
  }

  FetchRequest request(std::span<const PrefetchTemplate> templates,
                       std::span<const std::string> references = {}) const {
    return FetchRequest{.fhir_server = base_,
                        .access_token = kToken,
                        .context = &context_,
                        .templates = templates,
                        .references = references};
  }

  static testing::FhirServerProcess* server_;
  static std::string start_error_;
  JsonDocument context_;
  std::string base_ = server_ != nullptr ? server_->base_url() : "";
};

testing::FhirServerProcess* PrefetchFetcherTest::server_ = nullptr;
std::string PrefetchFetcherTest::start_error_;

TEST_F(PrefetchFetcherTest, FetchesEveryKeyWhenNothingWasPrefetched) {
  PrefetchFetcher fetcher;
  FetchReport report = fetcher.fetch(request(kTemplates));
  ASSERT_EQ(report.results.size(), kTemplates.size());
  for (const FetchResult& r : report.results) EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(report.reached);
  EXPECT_TRUE(report.problems().empty());

  ResourceIndex index;
  EXPECT_TRUE(report.add_to(index).empty());
  EXPECT_NE(index.find("Patient", "pat-1"), nullptr);
  EXPECT_NE(index.find("Encounter", "enc-1"), nullptr);
  EXPECT_NE(index.find("PractitionerRole", "role-1"), nullptr);
  ASSERT_EQ(index.of_type("Coverage").size(), 1u);  // status=active only
  EXPECT_NE(index.find("Organization", "payer-1"), nullptr) << "_include=Coverage:payor";
  EXPECT_EQ(index.of_type("Condition").size(), 7u);

  // The token went with every request.
  for (const std::string& auth : server_->request_auth()) EXPECT_EQ(auth, "match");
}

TEST_F(PrefetchFetcherTest, FetchesOnlyTheMissingKeys) {
  PrefetchFetcher fetcher;
  std::vector<std::string> missing = {"coverage"};
  FetchReport report = fetcher.fetch_prefetch(base_, kToken, kTemplates, missing, &context_);
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].key, "coverage");
  EXPECT_TRUE(report.results[0].ok()) << report.results[0].describe();

  std::vector<std::string> urls = server_->request_urls();
  ASSERT_EQ(urls.size(), 1u);
  EXPECT_EQ(urls[0].rfind("/fhir/Coverage?patient=pat-1&status=active", 0), 0u) << urls[0];
}

TEST_F(PrefetchFetcherTest, SkipsTemplatesWhoseTokensHaveNoValue) {
  ASSERT_FALSE(parse_copy(R"({"patientId":"pat-1","userId":"Practitioner/prac-1"})", context_,
                          ParseLimits{}));
  PrefetchFetcher fetcher;
  FetchReport report = fetcher.fetch(request(kTemplates));
  EXPECT_TRUE(result_for(report, "patient").ok());
  const FetchResult& encounter = result_for(report, "encounter");
  ASSERT_TRUE(encounter.error);
  EXPECT_EQ(encounter.error->kind, FetchErrorKind::kNotQueryable);
  EXPECT_TRUE(encounter.url.empty());
  EXPECT_EQ(result_for(report, "user").error->kind, FetchErrorKind::kNotQueryable);
  for (const std::string& url : server_->request_urls()) {
    EXPECT_EQ(url.find("Encounter"), std::string::npos) << url;
  }
}

TEST_F(PrefetchFetcherTest, GathersEveryPageOfAPaginatedSearch) {
  ASSERT_TRUE(server_->set_controls(R"({"pageSize": 3})"));
  PrefetchFetcher fetcher;
  FetchReport report = fetcher.fetch(request(std::span(kTemplates).subspan(3, 1)));
  const FetchResult& r = result_for(report, "conditions");
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.pages, 3u);
  EXPECT_EQ(items(member(*r.document, "entry")).size(), 7u);
  std::vector<std::string> ids;
  for (const Json& e : items(member(*r.document, "entry"))) {
    ids.emplace_back(string_or_empty(member(member(e, "resource"), "id")));
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "no page fetched twice";
  EXPECT_EQ(server_->request_urls().size(), 3u);
}

TEST_F(PrefetchFetcherTest, StopsAtThePageCap) {
  ASSERT_TRUE(server_->set_controls(R"({"pageSize": 2})"));
  PrefetchFetcher fetcher({.max_pages = 2});
  FetchReport report = fetcher.fetch(request(std::span(kTemplates).subspan(3, 1)));
  const FetchResult& r = result_for(report, "conditions");
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(items(member(*r.document, "entry")).size(), 4u);
  EXPECT_EQ(server_->request_urls().size(), 2u);
}

TEST_F(PrefetchFetcherTest, DoesNotFollowNextLinksToAnotherServer) {
  ASSERT_TRUE(server_->set_controls(
      R"({"pageSize": 3, "nextLinkBase": "http://collector.example.org/fhir"})"));
  PrefetchFetcher fetcher;
  FetchReport report = fetcher.fetch(request(std::span(kTemplates).subspan(3, 1)));
  const FetchResult& r = result_for(report, "conditions");
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(items(member(*r.document, "entry")).size(), 3u);
  EXPECT_EQ(server_->request_urls().size(), 1u);
}

TEST_F(PrefetchFetcherTest, ReportsASlowServerAsTimeoutWithinTheBudget) {
  ASSERT_TRUE(server_->set_controls(R"({"delayMs": 2000})"));
  PrefetchFetcher fetcher(
      {.per_request_timeout = milliseconds(300), .total_budget = milliseconds(600)});
  auto start = Clock::now();
  FetchReport report = fetcher.fetch(request(kTemplates));
  long elapsed = ms_since(start);
  EXPECT_LT(elapsed, 600 + 400) << "the budget holds";
  for (const FetchResult& r : report.results) {
    ASSERT_TRUE(r.error) << r.key;
    EXPECT_EQ(r.error->kind, FetchErrorKind::kTimeout) << r.describe();
    EXPECT_FALSE(r.ok());
  }
  EXPECT_FALSE(report.reached);
}

TEST_F(PrefetchFetcherTest, TheTotalBudgetBoundsMoreRequestsThanWorkers) {
  ASSERT_TRUE(server_->set_controls(R"({"delayMs": 400})"));
  // Two workers, five requests of 400 ms each, a 700 ms budget: the first two finish, the
  // rest are abandoned as timeouts, and the call still ends on time.
  PrefetchFetcher fetcher({.per_request_timeout = milliseconds(1000),
                           .total_budget = milliseconds(700),
                           .max_concurrency = 2});
  auto start = Clock::now();
  FetchReport report = fetcher.fetch(request(kTemplates));
  EXPECT_LT(ms_since(start), 700 + 400);
  size_t ok = 0, timeouts = 0;
  for (const FetchResult& r : report.results) {
    ok += r.ok();
    timeouts += r.error && r.error->kind == FetchErrorKind::kTimeout;
  }
  EXPECT_EQ(ok, 2u);
  EXPECT_EQ(timeouts, 3u);
  EXPECT_TRUE(report.reached);
}

TEST_F(PrefetchFetcherTest, ReportsAServerThatIsDownAsUnreachableQuickly) {
  PrefetchFetcher fetcher;
  FetchRequest req = request(kTemplates);
  std::string down = "http://127.0.0.1:" + std::to_string(closed_port()) + "/fhir";
  req.fhir_server = down;
  auto start = Clock::now();
  FetchReport report = fetcher.fetch(req);
  EXPECT_LT(ms_since(start), 500);
  EXPECT_FALSE(report.reached);
  for (const FetchResult& r : report.results) {
    ASSERT_TRUE(r.error) << r.key;
    EXPECT_EQ(r.error->kind, FetchErrorKind::kUnreachable) << r.describe();
  }
}

TEST_F(PrefetchFetcherTest, ReportsAMalformedServerUrlAsNotQueryable) {
  PrefetchFetcher fetcher;
  FetchRequest req = request(kTemplates);
  req.fhir_server = "ehr.example.org/fhir";
  FetchReport report = fetcher.fetch(req);
  for (const FetchResult& r : report.results) {
    EXPECT_EQ(r.error->kind, FetchErrorKind::kNotQueryable) << r.describe();
  }
}

TEST_F(PrefetchFetcherTest, ReportsAWrongTokenAsUnauthorized) {
  PrefetchFetcher fetcher;
  FetchRequest req = request(kTemplates);
  req.access_token = "expired-token";
  FetchReport report = fetcher.fetch(req);
  EXPECT_TRUE(report.reached);
  for (const FetchResult& r : report.results) {
    ASSERT_TRUE(r.error) << r.key;
    EXPECT_EQ(r.error->kind, FetchErrorKind::kUnauthorized) << r.describe();
    EXPECT_EQ(r.error->http_status, 401);
    EXPECT_EQ(r.describe().find("expired-token"), std::string::npos) << "no token in messages";
  }
  req.access_token = "";
  report = fetcher.fetch(req);
  EXPECT_EQ(report.results[0].error->kind, FetchErrorKind::kUnauthorized);
  std::vector<std::string> auth = server_->request_auth();
  EXPECT_EQ(std::count(auth.begin(), auth.end(), "mismatch"), 5);
  EXPECT_EQ(std::count(auth.begin(), auth.end(), "none"), 5);
}

TEST_F(PrefetchFetcherTest, TreatsOperationOutcomesAsMissingData) {
  PrefetchFetcher fetcher;
  // A read of a resource the server does not have: 404 with an OperationOutcome.
  std::vector<std::string> refs = {"Patient/nobody"};
  FetchReport report = fetcher.fetch(request({}, refs));
  ASSERT_TRUE(report.results[0].error);
  EXPECT_EQ(report.results[0].error->kind, FetchErrorKind::kMissingData);
  EXPECT_FALSE(report.results[0].ok());
  EXPECT_FALSE(report.results[0].issues.empty());

  // OperationOutcome entries in a searchset are dropped; the data stays.
  ASSERT_TRUE(server_->set_controls(R"({"outcomeEntry": true})"));
  report = fetcher.fetch(request(std::span(kTemplates).subspan(2, 1)));
  const FetchResult& coverage = result_for(report, "coverage");
  ASSERT_TRUE(coverage.ok()) << coverage.describe();
  EXPECT_EQ(coverage.issues.size(), 1u);
  ResourceIndex index;
  report.add_to(index);
  EXPECT_EQ(index.of_type("OperationOutcome").size(), 0u);
  EXPECT_TRUE(index.outcome_issues().empty());
  EXPECT_EQ(index.of_type("Coverage").size(), 1u);

  // A server error with an OperationOutcome body.
  ASSERT_TRUE(server_->set_controls(R"({"failStatus": {"Coverage": 500}})"));
  report = fetcher.fetch(request(std::span(kTemplates).subspan(2, 1)));
  ASSERT_TRUE(report.results[0].error);
  EXPECT_EQ(report.results[0].error->kind, FetchErrorKind::kHttpError);
  EXPECT_EQ(report.results[0].error->http_status, 500);
  EXPECT_NE(report.results[0].error->message.find("configured to fail"), std::string::npos);
}

TEST_F(PrefetchFetcherTest, ReadsReferencedResources) {
  PrefetchFetcher fetcher;
  std::vector<std::string> refs = {"Organization/payer-1", "BodyStructure/bs-1",
                                   "ServiceRequest/sr-1", "ServiceRequest/gone", "not a reference"};
  FetchReport report = fetcher.fetch_references(base_, kToken, refs);
  ASSERT_EQ(report.results.size(), refs.size());
  EXPECT_TRUE(report.results[0].ok());
  EXPECT_TRUE(report.results[1].ok());
  EXPECT_TRUE(report.results[2].ok());
  EXPECT_EQ(report.results[3].error->kind, FetchErrorKind::kMissingData);
  EXPECT_EQ(report.results[4].error->kind, FetchErrorKind::kNotQueryable);

  ResourceIndex index;
  std::vector<std::string> missing = report.add_to(index);
  EXPECT_EQ(missing, (std::vector<std::string>{"ServiceRequest/gone", "not a reference"}));
  EXPECT_NE(index.resolve("Organization/payer-1"), nullptr);
  EXPECT_NE(index.resolve("BodyStructure/bs-1"), nullptr);
}

TEST_F(PrefetchFetcherTest, RefusesResponsesLargerThanTheLimit) {
  PrefetchFetcher fetcher({.max_response_bytes = 300});
  FetchReport report = fetcher.fetch(request(std::span(kTemplates).subspan(3, 1)));
  ASSERT_TRUE(report.results[0].error);
  EXPECT_EQ(report.results[0].error->kind, FetchErrorKind::kTooLarge);
}

TEST_F(PrefetchFetcherTest, RunsTheQueriesConcurrently) {
  constexpr int kDelay = 400;
  ASSERT_TRUE(server_->set_controls(R"({"delayMs": 400})"));
  std::vector<PrefetchTemplate> six(kTemplates.begin(), kTemplates.end());
  six.push_back({"organization", "Organization?_id=payer-1"});
  ASSERT_EQ(six.size(), 6u);
  PrefetchFetcher fetcher;
  auto start = Clock::now();
  FetchReport report = fetcher.fetch(request(six));
  long elapsed = ms_since(start);
  for (const FetchResult& r : report.results) EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_GE(elapsed, kDelay);
  EXPECT_LT(elapsed, kDelay * 5 / 2) << "six queries at " << kDelay << " ms each, in parallel";
}

TEST_F(PrefetchFetcherTest, ServesConcurrentHookCallsFromOnePool) {
  PrefetchFetcher fetcher;
  std::vector<std::thread> calls;
  std::vector<int> ok(6, 0);
  for (int c = 0; c < 6; ++c) {
    calls.emplace_back([&, c] {
      for (int round = 0; round < 5; ++round) {
        FetchReport report = fetcher.fetch(request(kTemplates));
        bool all = std::all_of(report.results.begin(), report.results.end(),
                               [](const FetchResult& r) { return r.ok(); });
        ok[c] += all;
      }
    });
  }
  for (auto& t : calls) t.join();
  for (int c = 0; c < 6; ++c) EXPECT_EQ(ok[c], 5) << "call " << c;
}

TEST_F(PrefetchFetcherTest, ReusesKeepAliveConnections) {
  PrefetchFetcher fetcher;
  // Warm up, then time repeated calls: each must be fast, proving nothing waits on a stale
  // connection after the server keeps them alive between calls.
  ASSERT_TRUE(fetcher.fetch(request(std::span(kTemplates).subspan(0, 1))).results[0].ok());
  auto start = Clock::now();
  for (int i = 0; i < 20; ++i) {
    FetchReport report = fetcher.fetch(request(std::span(kTemplates).subspan(0, 1)));
    ASSERT_TRUE(report.results[0].ok()) << report.results[0].describe();
  }
  EXPECT_LT(ms_since(start), 2000);
}

// HTTPS: the server's certificate is checked against the trusted CA certificates.
TEST(PrefetchFetcherHttps, VerifiesTheServerCertificate) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cryo-fhirclient-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto cert = testing::write_self_signed_certificate(dir);
  ASSERT_TRUE(cert) << cert.error().to_string();
  testing::FhirServerProcess server(
      {.load = {CRYO_FHIRCLIENT_DATA_DIR}, .tls_cert = cert->cert_file, .tls_key = cert->key_file});
  ASSERT_TRUE(server.start()) << server.error();
  JsonDocument context;
  ASSERT_FALSE(parse_copy(R"({"patientId":"pat-1"})", context, ParseLimits{}));
  std::vector<PrefetchTemplate> coverage = {kTemplates[2]};
  const std::string base = server.base_url();
  FetchRequest req{.fhir_server = base,
                   .access_token = "",
                   .context = &context,
                   .templates = coverage,
                   .references = {}};
  ASSERT_EQ(req.fhir_server.substr(0, 8), "https://");

  PrefetchFetcher trusting({.ca_cert_file = cert->cert_file});
  FetchReport report = trusting.fetch(req);
  EXPECT_TRUE(report.results[0].ok()) << report.results[0].describe();

  PrefetchFetcher untrusting;  // the system's trust store does not know this certificate
  report = untrusting.fetch(req);
  ASSERT_TRUE(report.results[0].error);
  EXPECT_EQ(report.results[0].error->kind, FetchErrorKind::kUnreachable);
  server.stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cryo::fhir::client
