// The real cryo-crd server querying a real FHIR server (Medplum's FHIR router on Node.js) for
// what prefetch did not bring: the same decision as with full prefetch, every failure mode
// answered as CDS Hooks and CRD prescribe within the time budget, and the order-dispatch and
// appointment-book hooks annotating the orders they reference.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "server_process.h"
#include "tests/fhirclient/support/fhir_server_process.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const fs::path kSource = CRYO_SOURCE_DIR;

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

// The example order-sign request (full prefetch), to be trimmed by each test.
rapidjson::Document example_request() {
  rapidjson::Document d;
  d.Parse(read(kSource / "docs/examples/order-sign-florida-blue.json").c_str());
  return d;
}

// The example patient's order-dispatch call for ServiceRequest/sr-ehr-1, with the dispatched
// orders under `orders_key` (the hook's table and its example spell it differently).
rapidjson::Document order_dispatch_request(const char* orders_key) {
  auto request = example_request();
  auto& a = request.GetAllocator();
  request["hook"] = "order-dispatch";
  rapidjson::Value context(rapidjson::kObjectType);
  context.AddMember("patientId", "pat-1", a);
  context.AddMember("performer", "Organization/radiology-1", a);
  rapidjson::Value orders(rapidjson::kArrayType);
  orders.PushBack("ServiceRequest/sr-ehr-1", a);
  context.AddMember(rapidjson::StringRef(orders_key), orders, a);
  request["context"] = context;
  return request;
}

struct Decision {
  int status = 0;
  std::string covered, pa, doc, purpose, info, reason, order_id;
  std::string body;
};

Decision decision_of(const httplib::Result& r) {
  Decision d;
  if (!r) return d;
  d.status = r->status;
  d.body = r->body;
  if (r->status != 200) return d;
  rapidjson::Document doc;
  doc.Parse(r->body.c_str());
  if (!doc.HasMember("systemActions") || doc["systemActions"].Empty()) return d;
  const auto& resource = doc["systemActions"][0]["resource"];
  d.order_id = resource["id"].GetString();
  for (const auto& ext : resource["extension"].GetArray()) {
    if (!ext.HasMember("extension")) continue;
    for (const auto& sub : ext["extension"].GetArray()) {
      std::string url = sub["url"].GetString();
      auto code = [&] { return std::string(sub["valueCode"].GetString()); };
      if (url == "covered") d.covered = code();
      if (url == "pa-needed") d.pa = code();
      if (url == "doc-needed") d.doc = code();
      if (url == "doc-purpose") d.purpose = code();
      if (url == "info-needed") d.info = code();
      if (url == "reason")
        d.reason += std::string(sub["valueCodeableConcept"]["text"].GetString()) + " ";
    }
  }
  return d;
}

class FhirServerEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    FhirServerProcess::Options o;
    o.load = {(kSource / "tests/integration/data/ehr-florida-blue-patient.json").string()};
    o.token = "ehr-access-token";
    ehr_ = std::make_unique<FhirServerProcess>(o);
    ASSERT_TRUE(ehr_->start()) << ehr_->error();
    config_dir_ = fs::temp_directory_path() / ("cryo-crd-fhir-e2e-" + std::to_string(::getpid()));
    fs::create_directories(config_dir_);
    std::ofstream(config_dir_ / "crd.json")
        << R"({"fhir": {"query_missing_data": true, "request_timeout_ms": 700, "total_budget_ms": 1200}})";
    crd_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--config", (config_dir_ / "crd.json").string(), "--no-store"});
  }
  static void TearDownTestSuite() {
    crd_.reset();
    ehr_.reset();
    fs::remove_all(config_dir_);
  }
  void SetUp() override { ASSERT_TRUE(ehr_->reset()); }

  // Posts `request` to `service` with the EHR's FHIR server and token.
  httplib::Result call(rapidjson::Document& request, const std::string& service = "order-sign-crd",
                       const std::string& token = "ehr-access-token",
                       std::string fhir_server = "") {
    auto& a = request.GetAllocator();
    if (fhir_server.empty()) fhir_server = ehr_->base_url();
    request.RemoveMember("fhirServer");
    request.RemoveMember("fhirAuthorization");
    request.AddMember("fhirServer", rapidjson::Value(fhir_server.c_str(), a), a);
    rapidjson::Value auth(rapidjson::kObjectType);
    auth.AddMember("access_token", rapidjson::Value(token.c_str(), a), a);
    auth.AddMember("token_type", "Bearer", a);
    auth.AddMember("expires_in", 30, a);
    auth.AddMember("scope", "user/*.read", a);
    auth.AddMember("subject", "cryo-crd", a);
    request.AddMember("fhirAuthorization", auth, a);
    // A fresh hookInstance for every call.
    static int n = 0;
    std::string instance = "fhir-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    request["hookInstance"].SetString(instance.c_str(), a);
    httplib::Client c("127.0.0.1", crd_->port());
    c.set_read_timeout(15, 0);
    return c.Post(("/cds-services/" + service).c_str(), write(request), "application/json");
  }

  static Decision full_prefetch_decision() {
    auto request = example_request();
    httplib::Client c("127.0.0.1", crd_->port());
    return decision_of(c.Post("/cds-services/order-sign-crd", write(request), "application/json"));
  }

  static std::unique_ptr<FhirServerProcess> ehr_;
  static std::unique_ptr<ServerProcess> crd_;
  static fs::path config_dir_;
};
std::unique_ptr<FhirServerProcess> FhirServerEndToEnd::ehr_;
std::unique_ptr<ServerProcess> FhirServerEndToEnd::crd_;
fs::path FhirServerEndToEnd::config_dir_;

void expect_same(const Decision& a, const Decision& b) {
  EXPECT_EQ(a.status, b.status) << b.body.substr(0, 400);
  EXPECT_EQ(a.covered, b.covered);
  EXPECT_EQ(a.pa, b.pa);
  EXPECT_EQ(a.doc, b.doc);
  EXPECT_EQ(a.purpose, b.purpose);
  EXPECT_EQ(a.info, b.info);
}

TEST_F(FhirServerEndToEnd, NoPrefetchGivesTheSameDecisionAsFullPrefetch) {
  Decision full = full_prefetch_decision();
  ASSERT_EQ(full.status, 200) << full.body;
  ASSERT_EQ(full.covered, "covered");
  auto request = example_request();
  request.RemoveMember("prefetch");
  Decision fetched = decision_of(call(request));
  expect_same(full, fetched);
  bool asked_for_coverage = false;
  for (const auto& u : ehr_->request_urls())
    asked_for_coverage |= u.find("/Coverage?") != std::string::npos;
  EXPECT_TRUE(asked_for_coverage);
  for (const auto& a : ehr_->request_auth()) EXPECT_EQ(a, "match");
}

TEST_F(FhirServerEndToEnd, PartialPrefetchFetchesOnlyWhatIsMissing) {
  auto request = example_request();
  request["prefetch"].RemoveMember("observations");
  request["prefetch"].RemoveMember("documents");
  Decision fetched = decision_of(call(request));
  expect_same(full_prefetch_decision(), fetched);
  auto urls = ehr_->request_urls();
  ASSERT_FALSE(urls.empty());
  // The completed questionnaires (an optional key the request left out) are read along.
  bool questionnaires = false;
  for (const auto& u : urls) {
    questionnaires |= u.find("/QuestionnaireResponse?") != std::string::npos;
    EXPECT_TRUE(u.find("/Observation") != std::string::npos ||
                u.find("/DocumentReference") != std::string::npos ||
                u.find("/QuestionnaireResponse?") != std::string::npos)
        << u;
  }
  EXPECT_TRUE(questionnaires);
}

TEST_F(FhirServerEndToEnd, AnOptionalKeyLeftOutIsNotFetchedOnItsOwn) {
  auto request = example_request();
  ASSERT_FALSE(request["prefetch"].HasMember("questionnaireResponses"));
  Decision fetched = decision_of(call(request));
  expect_same(full_prefetch_decision(), fetched);
  EXPECT_TRUE(ehr_->request_urls().empty());
}

TEST_F(FhirServerEndToEnd, OperationOutcomeInPrefetchIsTreatedAsMissingData) {
  auto request = example_request();
  auto& a = request.GetAllocator();
  rapidjson::Document outcome(&a);
  outcome.Parse(
      R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception","diagnostics":"search failed"}]})");
  request["prefetch"]["conditions"].CopyFrom(outcome, a);
  Decision fetched = decision_of(call(request));
  expect_same(full_prefetch_decision(), fetched);
  bool asked = false;
  for (const auto& u : ehr_->request_urls()) asked |= u.find("/Condition") != std::string::npos;
  EXPECT_TRUE(asked);
}

TEST_F(FhirServerEndToEnd, PaginatedResultsAreGathered) {
  ASSERT_TRUE(ehr_->set_controls(R"({"pageSize": 1})"));
  auto request = example_request();
  request.RemoveMember("prefetch");
  expect_same(full_prefetch_decision(), decision_of(call(request)));
  size_t document_pages = 0;
  for (const auto& u : ehr_->request_urls())
    document_pages += u.find("DocumentReference") != std::string::npos;
  EXPECT_GE(document_pages, 3u);  // three documents, one per page
}

TEST_F(FhirServerEndToEnd, AnUnauthorizedTokenMeansTheCoverageCannotBeHad) {
  auto request = example_request();
  request.RemoveMember("prefetch");
  auto r = call(request, "order-sign-crd", "wrong-token");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412) << r->body;
  EXPECT_NE(r->body.find("OperationOutcome"), std::string::npos);
  EXPECT_NE(r->body.find("unauthorized"), std::string::npos) << r->body;
  EXPECT_EQ(crd_->log().find("wrong-token"), std::string::npos);  // never logged
  EXPECT_EQ(crd_->log().find("ehr-access-token"), std::string::npos);
}

TEST_F(FhirServerEndToEnd, AServerThatIsDownIsPreconditionFailedQuickly) {
  auto request = example_request();
  request.RemoveMember("prefetch");
  auto start = Clock::now();
  auto r = call(request, "order-sign-crd", "ehr-access-token", "http://127.0.0.1:9/fhir");
  auto elapsed = Clock::now() - start;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412) << r->body;
  EXPECT_NE(r->body.find("unreachable"), std::string::npos) << r->body;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST_F(FhirServerEndToEnd, ASlowServerIsAbandonedWithinTheBudget) {
  // Everything slower than the whole budget: the Coverage cannot be had.
  ASSERT_TRUE(ehr_->set_controls(R"({"delayMs": 4000})"));
  auto request = example_request();
  request.RemoveMember("prefetch");
  auto start = Clock::now();
  auto r = call(request);
  auto elapsed = Clock::now() - start;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412) << r->body;
  EXPECT_NE(r->body.find("timeout"), std::string::npos) << r->body;
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));  // budget 1200 ms, nowhere near 4 s
}

TEST_F(FhirServerEndToEnd, ASlowSearchLeavesItsFactsUndocumentedButStillAnswers) {
  ASSERT_TRUE(ehr_->set_controls(R"({"delays": {"Observation": 4000}})"));
  auto request = example_request();
  request["prefetch"].RemoveMember("observations");
  auto start = Clock::now();
  Decision d = decision_of(call(request));
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.covered, "conditional");  // resectability could not be read
  EXPECT_EQ(d.info, "OTH");
  EXPECT_FALSE(d.reason.empty());
  EXPECT_NE(d.body.find("could not supply"), std::string::npos);
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
}

TEST_F(FhirServerEndToEnd, OrderDispatchAnnotatesTheDispatchedOrder) {
  auto request = order_dispatch_request("dispatchedOrders");
  Decision d = decision_of(call(request, "order-dispatch-crd"));
  EXPECT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.order_id, "sr-ehr-1");
  EXPECT_EQ(d.covered, "covered");
}

TEST_F(FhirServerEndToEnd, AppointmentBookAnnotatesTheAppointmentAndTheOrderBehindIt) {
  auto request = example_request();
  auto& a = request.GetAllocator();
  request["hook"] = "appointment-book";
  rapidjson::Document appointments(&a);
  appointments.Parse(
      R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Appointment","id":"appt-1","status":"proposed","basedOn":[{"reference":"ServiceRequest/sr-ehr-1"}],"start":"2026-03-01T09:00:00Z","end":"2026-03-01T11:00:00Z","participant":[{"actor":{"reference":"Patient/pat-1"},"status":"accepted"}]}}]})");
  rapidjson::Value context(rapidjson::kObjectType);
  context.AddMember("userId", "Practitioner/dr-1", a);
  context.AddMember("patientId", "pat-1", a);
  rapidjson::Value copy;
  copy.CopyFrom(appointments, a);
  context.AddMember("appointments", copy, a);
  request["context"] = context;
  Decision d = decision_of(call(request, "appointment-book-crd"));
  EXPECT_EQ(d.status, 200) << d.body;
  // CRD 2.0.1: the Appointment carries the coverage-information, and so does its order.
  rapidjson::Document body;
  body.Parse(d.body.c_str());
  ASSERT_TRUE(body.HasMember("systemActions"));
  std::set<std::string> updated;
  for (const auto& action : body["systemActions"].GetArray())
    updated.insert(std::string(action["resource"]["resourceType"].GetString()) + "/" +
                   action["resource"]["id"].GetString());
  EXPECT_EQ(updated, (std::set<std::string>{"Appointment/appt-1", "ServiceRequest/sr-ehr-1"}));
  EXPECT_EQ(d.covered, "covered");
}

TEST_F(FhirServerEndToEnd, OrderDispatchWithoutAFhirServerIsPreconditionFailed) {
  auto request = order_dispatch_request("dispatched-orders");
  httplib::Client c("127.0.0.1", crd_->port());
  auto r = c.Post("/cds-services/order-dispatch-crd", write(request), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412) << r->body;
  EXPECT_NE(r->body.find("ServiceRequest/sr-ehr-1"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace cryo::testing
