// encounter-start warms the patient data the order hooks that follow would read, end to end:
// the real cryo-crd binary (two trusted CDS clients signing with generated keys) querying the
// real FHIR server of tests/fhir-server, which logs every request it is sent. After an
// encounter-start that had to read the record, the same client's order-sign for the same
// patient reads nothing and answers as an uncached call does; another client or another
// patient reads the record itself; what the request carries is never replaced by the cache;
// documents expire after the configured TTL and the entry bound evicts.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include "security/token_signer.h"
#include "server_process.h"
#include "tests/fhirclient/support/fhir_server_process.h"
#include "tests/support/token_minter.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = CRYO_SOURCE_DIR;
const std::string kClientA = "https://ehr-a.example.org";
const std::string kClientB = "https://ehr-b.example.org";
const std::string kAccessToken = "ehr-access-token-for-cache";
// The admin token for /metrics and its SHA-256 (admin.token_sha256).
const std::string kAdminToken = "cache-metrics-admin";
const std::string kAdminSha256 = "f09bcd557a3f0f594415c5db113a040ef6424e578f37d4c9f485d5b3fe5b96fa";

// The encounter, added to the example patient's record.
const char kEncounterRecord[] = R"({"resourceType":"Bundle","type":"collection","entry":[
 {"resource":{"resourceType":"Encounter","id":"enc-1","status":"in-progress",
  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
  "subject":{"reference":"Patient/pat-1"}}}]})";

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string write(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

// The example order-sign request (full prefetch).
rapidjson::Document order_sign(const std::string& patient = "pat-1") {
  rapidjson::Document d;
  d.Parse(read(kSource / "docs/examples/order-sign-florida-blue.json").c_str());
  d["context"]["patientId"].SetString(patient.c_str(), d.GetAllocator());
  return d;
}

// An encounter-start call for `patient` in enc-1, with no prefetch at all.
rapidjson::Document encounter_start(const std::string& patient = "pat-1") {
  rapidjson::Document d = order_sign(patient);
  auto& a = d.GetAllocator();
  d["hook"] = "encounter-start";
  d.RemoveMember("prefetch");
  rapidjson::Value context(rapidjson::kObjectType);
  context.AddMember("userId", "Practitioner/dr-1", a);
  context.AddMember("patientId", rapidjson::Value(patient.c_str(), a), a);
  context.AddMember("encounterId", "enc-1", a);
  d["context"] = context;
  return d;
}

// What an answer decided, without what differs per call (ids, dates).
struct Answer {
  int status = 0;
  std::string decisions;  // covered/pa/doc/info of each updated resource, in order
  std::string cards;      // indicator and summary of each card, in order
  std::string body;
};

Answer answer_of(const httplib::Result& r) {
  Answer a;
  if (!r) return a;
  a.status = r->status;
  a.body = r->body;
  if (r->status != 200) return a;
  rapidjson::Document doc;
  doc.Parse(r->body.c_str());
  for (const auto& card : doc["cards"].GetArray())
    a.cards +=
        std::string(card["indicator"].GetString()) + " " + card["summary"].GetString() + "\n";
  for (const auto& action : doc["systemActions"].GetArray()) {
    const auto& resource = action["resource"];
    a.decisions +=
        std::string(resource["resourceType"].GetString()) + "/" + resource["id"].GetString() + ":";
    for (const auto& ext : resource["extension"].GetArray()) {
      if (!ext.HasMember("extension")) continue;
      for (const auto& sub : ext["extension"].GetArray()) {
        std::string url = sub["url"].GetString();
        if (sub.HasMember("valueCode"))
          a.decisions += " " + url + "=" + sub["valueCode"].GetString();
      }
    }
    a.decisions += "\n";
  }
  return a;
}

class PatientCacheEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    FhirServerProcess::Options o;
    o.load = {(kSource / "tests/integration/data/ehr-florida-blue-patient.json").string()};
    o.token = kAccessToken;
    ehr_ = std::make_unique<FhirServerProcess>(o);
    ASSERT_TRUE(ehr_->start()) << ehr_->error();
    httplib::Client c("127.0.0.1", ehr_->port());
    auto loaded = c.Post("/__control/load", kEncounterRecord, "application/json");
    ASSERT_TRUE(loaded && loaded->status == 200) << (loaded ? loaded->body : "no answer");

    dir_ = fs::temp_directory_path() / ("cryo-crd-cache-e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    minter_a_ = std::make_unique<TokenMinter>(TokenMinter::generate("ES384", "a-1").value());
    minter_b_ = std::make_unique<TokenMinter>(TokenMinter::generate("ES384", "b-1").value());
    std::ofstream(dir_ / "a.json") << security::public_jwk_set_json({&minter_a_->key()});
    std::ofstream(dir_ / "b.json") << security::public_jwk_set_json({&minter_b_->key()});
    // Two trusted clients; at most two (client, server, patient) entries.
    std::ofstream(dir_ / "signed.json")
        << R"({"trust": {"issuers": [{"iss": ")" << kClientA
        << R"(", "jwks_file": "a.json"}, {"iss": ")" << kClientB << R"(", "jwks_file": "b.json"}]},
              "fhir": {"request_timeout_ms": 2000, "total_budget_ms": 4000},
              "cache": {"ttl_seconds": 300, "max_entries": 2},
              "admin": {"token_sha256": ")"
        << kAdminSha256 << R"("}})";
    // Unsigned calls (loopback), documents kept two seconds.
    std::ofstream(dir_ / "short.json")
        << R"({"fhir": {"request_timeout_ms": 2000, "total_budget_ms": 4000},
              "cache": {"ttl_seconds": 2}})";
    signed_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--config", (dir_ / "signed.json").string(), "--no-store"});
    short_ttl_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--config", (dir_ / "short.json").string(), "--no-store"});
  }
  static void TearDownTestSuite() {
    signed_.reset();
    short_ttl_.reset();
    ehr_.reset();
    fs::remove_all(dir_);
  }
  void SetUp() override { ASSERT_TRUE(ehr_->reset()); }

  // Posts `request` to `server` as `client` ("" = unsigned), naming the FHIR server and token.
  static Answer call(const ServerProcess& server, const std::string& client,
                     rapidjson::Document& request) {
    auto& a = request.GetAllocator();
    request.RemoveMember("fhirServer");
    request.RemoveMember("fhirAuthorization");
    request.AddMember("fhirServer", rapidjson::Value(ehr_->base_url().c_str(), a), a);
    rapidjson::Value auth(rapidjson::kObjectType);
    auth.AddMember("access_token", rapidjson::Value(kAccessToken.c_str(), a), a);
    auth.AddMember("token_type", "Bearer", a);
    auth.AddMember("expires_in", 300, a);
    auth.AddMember("scope", "user/*.read", a);
    auth.AddMember("subject", "cryo-crd", a);
    request.AddMember("fhirAuthorization", auth, a);
    static int n = 0;
    std::string instance = "cache-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    request["hookInstance"].SetString(instance.c_str(), a);
    const std::string path = "/cds-services/" + std::string(request["hook"].GetString()) + "-crd";
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(15, 0);
    httplib::Headers headers;
    if (!client.empty()) {
      const TokenMinter& minter = client == kClientA ? *minter_a_ : *minter_b_;
      TokenSpec spec{.iss = client,
                     .aud = {"http://127.0.0.1:" + std::to_string(server.port()) + path}};
      headers.emplace("Authorization", "Bearer " + minter.mint(spec));
    }
    return answer_of(c.Post(path, headers, write(request), "application/json"));
  }

  // The FHIR requests since the last reset, and clears the log.
  static std::vector<std::string> fhir_reads() {
    auto urls = ehr_->request_urls();
    EXPECT_TRUE(ehr_->reset());
    return urls;
  }

  static std::string metrics() {
    httplib::Client c("127.0.0.1", signed_->port());
    auto r = c.Get("/metrics", {{"Authorization", "Bearer " + kAdminToken}});
    return r && r->status == 200 ? r->body : std::string();
  }

  static std::unique_ptr<FhirServerProcess> ehr_;
  static std::unique_ptr<ServerProcess> signed_, short_ttl_;
  static std::unique_ptr<TokenMinter> minter_a_, minter_b_;
  static fs::path dir_;
};
std::unique_ptr<FhirServerProcess> PatientCacheEndToEnd::ehr_;
std::unique_ptr<ServerProcess> PatientCacheEndToEnd::signed_;
std::unique_ptr<ServerProcess> PatientCacheEndToEnd::short_ttl_;
std::unique_ptr<TokenMinter> PatientCacheEndToEnd::minter_a_;
std::unique_ptr<TokenMinter> PatientCacheEndToEnd::minter_b_;
fs::path PatientCacheEndToEnd::dir_;

bool any_contains(const std::vector<std::string>& urls, const std::string& part) {
  for (const auto& u : urls)
    if (u.find(part) != std::string::npos) return true;
  return false;
}

// The sum of the samples of `family` whose labels contain `label`.
double metric_sum(const std::string& text, const std::string& family, const std::string& label) {
  double sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0 || line.find(label) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

TEST_F(PatientCacheEndToEnd, AfterEncounterStartTheOrderSignReadsNothingAndAnswersTheSame) {
  const std::string before = metrics();
  auto start = encounter_start();
  Answer started = call(*signed_, kClientA, start);
  ASSERT_EQ(started.status, 200) << started.body;
  auto warm_reads = fhir_reads();
  EXPECT_TRUE(any_contains(warm_reads, "/Encounter/enc-1"));
  EXPECT_TRUE(any_contains(warm_reads, "/Coverage?")) << warm_reads.size();
  EXPECT_TRUE(any_contains(warm_reads, "/Condition?"));

  auto request = order_sign();
  request.RemoveMember("prefetch");
  Answer cached = call(*signed_, kClientA, request);
  ASSERT_EQ(cached.status, 200) << cached.body;
  auto cached_reads = fhir_reads();
  EXPECT_TRUE(cached_reads.empty()) << cached_reads.front();

  // The same call from a client that never started the encounter reads the record itself
  // and decides the same.
  auto uncached_request = order_sign();
  uncached_request.RemoveMember("prefetch");
  Answer uncached = call(*signed_, kClientB, uncached_request);
  ASSERT_EQ(uncached.status, 200) << uncached.body;
  auto uncached_reads = fhir_reads();
  EXPECT_TRUE(any_contains(uncached_reads, "/Coverage?"));
  EXPECT_TRUE(any_contains(uncached_reads, "/Observation?"));
  EXPECT_EQ(cached.decisions, uncached.decisions);
  EXPECT_EQ(cached.cards, uncached.cards);
  EXPECT_NE(cached.decisions.find("covered=covered"), std::string::npos) << cached.decisions;

  const std::string after = metrics();
  const std::string family = "cryo_crd_patient_cache_lookups_total";
  EXPECT_GE(
      metric_sum(after, family, "result=\"hit\"") - metric_sum(before, family, "result=\"hit\""),
      7.0);  // every shared prefetch query of the order-sign
  EXPECT_GE(
      metric_sum(after, family, "result=\"miss\"") - metric_sum(before, family, "result=\"miss\""),
      7.0);  // the encounter-start's own, and client B's
  EXPECT_EQ(signed_->log().find(kAccessToken), std::string::npos);  // never logged
}

TEST_F(PatientCacheEndToEnd, AnotherPatientOfTheSameClientGetsNoCachedData) {
  auto start = encounter_start();
  ASSERT_EQ(call(*signed_, kClientA, start).status, 200);
  fhir_reads();
  auto request = order_sign("pat-9");
  request.RemoveMember("prefetch");
  Answer other = call(*signed_, kClientA, request);
  auto reads = fhir_reads();
  EXPECT_TRUE(any_contains(reads, "/Coverage?patient=pat-9")) << reads.size();
  EXPECT_TRUE(any_contains(reads, "/Condition?patient=pat-9"));
  EXPECT_FALSE(any_contains(reads, "pat-1"));
  // pat-9 has no Coverage on that server: nothing of pat-1's answered for it.
  EXPECT_NE(other.status, 200) << other.body;
}

TEST_F(PatientCacheEndToEnd, WhatTheRequestCarriesIsNeverReplacedByTheCache) {
  auto start = encounter_start();
  ASSERT_EQ(call(*signed_, kClientA, start).status, 200);
  fhir_reads();
  // The request's own conditions say nothing of the liver tumour the cached ones hold; its
  // observations are missing and come from the cache.
  auto carried = [] {
    auto r = order_sign();
    auto& a = r.GetAllocator();
    rapidjson::Value empty(rapidjson::kObjectType);
    empty.AddMember("resourceType", "Bundle", a);
    empty.AddMember("type", "searchset", a);
    empty.AddMember("entry", rapidjson::Value(rapidjson::kArrayType), a);
    r["prefetch"]["conditions"] = empty;
    r["prefetch"].RemoveMember("observations");
    return r;
  };
  auto cached_request = carried();
  Answer cached = call(*signed_, kClientA, cached_request);
  ASSERT_EQ(cached.status, 200) << cached.body;
  EXPECT_TRUE(fhir_reads().empty());
  auto uncached_request = carried();
  Answer uncached = call(*signed_, kClientB, uncached_request);
  auto reads = fhir_reads();
  EXPECT_TRUE(any_contains(reads, "/Observation?"));
  EXPECT_FALSE(any_contains(reads, "/Condition?"));
  EXPECT_EQ(cached.decisions, uncached.decisions);
  EXPECT_EQ(cached.decisions.find("covered=covered"), std::string::npos) << cached.decisions;
}

TEST_F(PatientCacheEndToEnd, TheEntryBoundEvictsTheLeastRecentlyWarmedPatient) {
  auto start = encounter_start();
  ASSERT_EQ(call(*signed_, kClientA, start).status, 200);
  for (const char* patient : {"pat-2", "pat-3"}) {  // no record there: kept as empty answers
    auto other = encounter_start(patient);
    call(*signed_, kClientA, other);
  }
  fhir_reads();
  auto request = order_sign();
  request.RemoveMember("prefetch");
  Answer evicted = call(*signed_, kClientA, request);
  EXPECT_EQ(evicted.status, 200) << evicted.body;
  auto reads = fhir_reads();
  EXPECT_TRUE(any_contains(reads, "/Coverage?patient=pat-1")) << reads.size();
  EXPECT_GE(metric_sum(metrics(), "cryo_crd_patient_cache_dropped", "reason=\"evicted\""), 1.0);
  EXPECT_LE(metric_sum(metrics(), "cryo_crd_patient_cache_size", "unit=\"entries\""), 2.0);
}

TEST_F(PatientCacheEndToEnd, DocumentsExpireAfterTheTtl) {
  auto start = encounter_start();
  ASSERT_EQ(call(*short_ttl_, "", start).status, 200);  // an unsigned client has its own key
  fhir_reads();
  auto fresh_request = order_sign();
  fresh_request.RemoveMember("prefetch");
  Answer fresh = call(*short_ttl_, "", fresh_request);
  EXPECT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_TRUE(fhir_reads().empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  auto stale_request = order_sign();
  stale_request.RemoveMember("prefetch");
  Answer stale = call(*short_ttl_, "", stale_request);
  EXPECT_EQ(stale.status, 200) << stale.body;
  EXPECT_TRUE(any_contains(fhir_reads(), "/Coverage?patient=pat-1"));
  EXPECT_EQ(fresh.decisions, stale.decisions);
}

}  // namespace
}  // namespace cryo::testing
