// The real cryo-crd server, over real HTTP on loopback: discovery, hook calls for each payer
// and line of business, configuration options, refusals with OperationOutcomes, feedback, the
// criteria CodeSystem and the policy pages.
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

#include "hook_request_builder.h"
#include "server_process.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  EXPECT_FALSE(d.HasParseError()) << body.substr(0, 400);
  return d;
}

// The coverage-information sub-extension values of a system action's resource.
std::map<std::string, std::vector<std::string>> coverage_information(
    const rapidjson::Value& resource) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& ext : resource["extension"].GetArray()) {
    if (std::string(ext["url"].GetString()) !=
        "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information")
      continue;
    for (const auto& sub : ext["extension"].GetArray()) {
      std::string url = sub["url"].GetString();
      if (sub.HasMember("valueCode")) out[url].push_back(sub["valueCode"].GetString());
      if (sub.HasMember("valueString")) out[url].push_back(sub["valueString"].GetString());
      if (sub.HasMember("valueDate")) out[url].push_back(sub["valueDate"].GetString());
      if (sub.HasMember("valueReference"))
        out[url].push_back(sub["valueReference"]["reference"].GetString());
      if (sub.HasMember("valueCodeableConcept") && sub["valueCodeableConcept"].HasMember("text")) {
        out[url].push_back(sub["valueCodeableConcept"]["text"].GetString());
      }
      if (sub.HasMember("valueCoding")) out[url].push_back(sub["valueCoding"]["code"].GetString());
    }
  }
  return out;
}

std::string first(const std::map<std::string, std::vector<std::string>>& ci,
                  const std::string& key) {
  auto it = ci.find(key);
  return it == ci.end() || it->second.empty() ? "" : it->second.front();
}

class HttpApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<ServerProcess>(); }
  static void TearDownTestSuite() { server_.reset(); }

  httplib::Result post(const std::string& path, const std::string& body) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    return c.Post(path.c_str(), body, "application/json");
  }
  httplib::Result get(const std::string& path) {
    httplib::Client c("127.0.0.1", server_->port());
    return c.Get(path.c_str());
  }
  // Posts an order-sign call and returns the parsed 200 response.
  rapidjson::Document sign(const HookRequestBuilder& b) {
    auto r = post("/cds-services/order-sign-crd", b.json());
    EXPECT_TRUE(r);
    if (!r) return rapidjson::Document();
    EXPECT_EQ(r->status, 200) << r->body;
    return parse(r->body);
  }
  void expect_outcome(const httplib::Result& r, int status, const std::string& fragment) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    auto d = parse(r->body);
    ASSERT_TRUE(d.IsObject());
    EXPECT_STREQ(d["resourceType"].GetString(), "OperationOutcome");
    std::string diagnostics = d["issue"][0]["diagnostics"].GetString();
    EXPECT_NE(diagnostics.find(fragment), std::string::npos) << diagnostics;
    // The server stays up.
    auto health = get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }

  static std::unique_ptr<ServerProcess> server_;
};
std::unique_ptr<ServerProcess> HttpApi::server_;

// A Florida Blue patient with an unresectable HCC and all documents dated before 2026-03-01.
HookRequestBuilder florida_blue_hcc() {
  HookRequestBuilder b("florida-blue");
  b.unresectable_hcc_with_documents().order("47383");
  return b;
}

TEST_F(HttpApi, DiscoveryListsServicesWithPrefetchAndConfigurationOptions) {
  auto r = get("/cds-services");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto d = parse(r->body);
  std::set<std::string> hooks;
  for (const auto& s : d["services"].GetArray()) {
    hooks.insert(s["hook"].GetString());
    EXPECT_TRUE(s.HasMember("id") && s.HasMember("description") && s.HasMember("title"));
    ASSERT_TRUE(s.HasMember("prefetch"));
    EXPECT_TRUE(s["prefetch"].HasMember("coverage"));
    std::string coverage = s["prefetch"]["coverage"].GetString();
    EXPECT_NE(coverage.find("{{context.patientId}}"), std::string::npos);
    std::set<std::string> codes;
    for (const auto& o : s["extension"]["davinci-crd.configuration-options"].GetArray()) {
      codes.insert(o["code"].GetString());
      EXPECT_TRUE(o.HasMember("default") && o.HasMember("name") && o.HasMember("description"));
    }
    // One option per card type the service returns; the discharge check returns no
    // coverage card.
    if (std::string(s["hook"].GetString()) != "encounter-discharge") {
      EXPECT_TRUE(codes.contains("coverage-info"));
    }
    EXPECT_TRUE(codes.contains("guideline"));
    EXPECT_TRUE(codes.contains("instructions"));
    EXPECT_TRUE(codes.contains("max-cards"));
    std::set<std::string> versions;
    for (const auto& v : s["extension"]["davinci-crd.version"].GetArray())
      versions.insert(v.GetString());
    EXPECT_EQ(versions, (std::set<std::string>{"2.0", "2.1", "2.2"}));
  }
  for (const char* hook : {"order-sign", "order-select", "order-dispatch", "appointment-book",
                           "encounter-start", "encounter-discharge"})
    EXPECT_TRUE(hooks.contains(hook)) << hook;
}

// The request `b` builds, with `edit` applied to its parsed document.
template <typename Edit>
std::string edited(const HookRequestBuilder& b, Edit edit) {
  rapidjson::Document doc;
  doc.Parse(b.json().c_str());
  edit(doc);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  doc.Accept(w);
  return sb.GetString();
}

TEST_F(HttpApi, ReSigningAnUnchangedAnnotatedOrderGetsNoUpdate) {
  auto first_call = sign(florida_blue_hcc());
  ASSERT_EQ(first_call["systemActions"].Size(), 1u);
  const auto& annotated = first_call["systemActions"][0]["resource"];
  std::string id = first(coverage_information(annotated), "coverage-assertion-id");
  ASSERT_FALSE(id.empty());
  // The EHR applied the update and signs the same order again: nothing is new.
  std::string body = edited(florida_blue_hcc(), [&](rapidjson::Document& doc) {
    auto& entry = doc["context"]["draftOrders"]["entry"][0];
    entry["resource"].CopyFrom(annotated, doc.GetAllocator());
  });
  auto r = post("/cds-services/order-sign-crd", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = parse(r->body);
  ASSERT_TRUE(d.HasMember("systemActions"));
  EXPECT_EQ(d["systemActions"].Size(), 0u) << r->body.substr(0, 400);
  // The coverage card names the assertion the order already carries.
  bool named = false;
  for (const auto& card : d["cards"].GetArray())
    named |= std::string(card["detail"].GetString()).find(id) != std::string::npos;
  EXPECT_TRUE(named);
}

TEST_F(HttpApi, AnswersInTheRequestedCrdVersion) {
  auto with_version = [&](const char* version) {
    return edited(florida_blue_hcc(), [&](rapidjson::Document& doc) {
      rapidjson::Value ext(rapidjson::kObjectType);
      ext.AddMember("davinci-crd.requestedVersion", rapidjson::Value(version, doc.GetAllocator()),
                    doc.GetAllocator());
      doc.AddMember("extension", ext, doc.GetAllocator());
    });
  };
  auto detail_of = [](const rapidjson::Value& response) -> const rapidjson::Value* {
    for (const auto& sub :
         response["systemActions"][0]["resource"]["extension"][0]["extension"].GetArray())
      if (std::string(sub["url"].GetString()) == "detail") return &sub;
    return nullptr;
  };
  auto r22 = post("/cds-services/order-sign-crd", with_version("2.2"));
  ASSERT_TRUE(r22);
  ASSERT_EQ(r22->status, 200) << r22->body;
  auto d22 = parse(r22->body);
  const rapidjson::Value* detail = detail_of(d22);
  ASSERT_NE(detail, nullptr);
  EXPECT_STREQ((*detail)["extension"][0]["url"].GetString(), "category");
  EXPECT_STREQ((*detail)["extension"][0]["valueCode"].GetString(), "cat-other");
  // None requested: CRD 2.0.1, which has no policy-link detail.
  auto d201 = sign(florida_blue_hcc());
  EXPECT_EQ(detail_of(d201), nullptr);
  auto r10 = post("/cds-services/order-sign-crd", with_version("1.0"));
  expect_outcome(r10, 400, "not served");
}

TEST_F(HttpApi, FloridaBlueCoveredWithAllDocumentsNeedsNothingMore) {
  auto d = sign(florida_blue_hcc());
  ASSERT_EQ(d["systemActions"].Size(), 1u);
  const auto& action = d["systemActions"][0];
  EXPECT_STREQ(action["type"].GetString(), "update");
  EXPECT_TRUE(action.HasMember("description"));
  auto ci = coverage_information(action["resource"]);
  EXPECT_EQ(first(ci, "covered"), "covered");
  EXPECT_EQ(first(ci, "pa-needed"), "no-auth");
  EXPECT_EQ(first(ci, "doc-needed"), "");
  EXPECT_EQ(first(ci, "coverage"), "Coverage/cov-1");
  EXPECT_EQ(first(ci, "billingCode"), "47383");
  EXPECT_FALSE(first(ci, "coverage-assertion-id").empty());
  EXPECT_FALSE(first(ci, "date").empty());
  // A coverage card and a policy card, both readable.
  ASSERT_GE(d["cards"].Size(), 2u);
  const auto& card = d["cards"][0];
  std::string summary = card["summary"].GetString();
  EXPECT_LT(summary.size(), 140u);
  EXPECT_NE(summary.find("Florida Blue"), std::string::npos);
  EXPECT_NE(summary.find("covered"), std::string::npos);
  EXPECT_STREQ(card["indicator"].GetString(), "info");
  EXPECT_STREQ(card["source"]["label"].GetString(), "Florida Blue");
  EXPECT_STREQ(card["source"]["topic"]["code"].GetString(), "coverage-info");
  std::string detail = card["detail"].GetString();
  EXPECT_NE(detail.find("Observation/o-res"), std::string::npos) << detail;
  EXPECT_NE(detail.find("DocumentReference/d-hp"), std::string::npos) << detail;
  const auto& policy_card = d["cards"][1];
  std::string url = policy_card["links"][0]["url"].GetString();
  EXPECT_EQ(url.rfind("http", 0), 0u);
  EXPECT_STREQ(policy_card["links"][0]["type"].GetString(), "absolute");
}

TEST_F(HttpApi, FloridaBlueMissingDocumentsAreListed) {
  HookRequestBuilder b("florida-blue");
  b.resource(condition("c-hcc", "C22.0"))
      .resource(resectability("o-res", true))
      .resource(document("d-hp", "28626-0", "2025-06-01"))  // older than six months
      .order("47383");
  auto d = sign(b);
  auto ci = coverage_information(d["systemActions"][0]["resource"]);
  EXPECT_EQ(first(ci, "covered"), "covered");
  EXPECT_EQ(first(ci, "doc-needed"), "clinical");
  EXPECT_EQ(first(ci, "doc-purpose"), "withclaim");
  std::string detail = d["cards"][0]["detail"].GetString();
  EXPECT_NE(detail.find("— **missing**"), std::string::npos) << detail;
}

TEST_F(HttpApi, FloridaBlueFederalEmployeeProgramFollowsItsOwnGuidelines) {
  auto b = florida_blue_hcc();
  b.plan("FEP");
  auto d = sign(b);
  auto ci = coverage_information(d["systemActions"][0]["resource"]);
  EXPECT_EQ(first(ci, "covered"), "conditional");
  EXPECT_EQ(first(ci, "pa-needed"), "conditional");
  EXPECT_EQ(first(ci, "info-needed"), "OTH");
  EXPECT_EQ(first(ci, "doc-needed"), "");
  EXPECT_FALSE(first(ci, "reason").empty());
}

TEST_F(HttpApi, UnknownFactsMakeTheDecisionConditionalAndNameWhatToDocument) {
  HookRequestBuilder b("florida-blue");
  b.resource(condition("c-hcc", "C22.0")).order("47383");  // resectability not documented
  auto d = sign(b);
  auto ci = coverage_information(d["systemActions"][0]["resource"]);
  EXPECT_EQ(first(ci, "covered"), "conditional");
  EXPECT_EQ(first(ci, "info-needed"), "OTH");
  EXPECT_EQ(first(ci, "doc-needed"), "clinical");
  EXPECT_FALSE(first(ci, "reason").empty());
}

TEST_F(HttpApi, RhodeIslandNeverCoversAndWarnsAboutMemberBilling) {
  HookRequestBuilder b("bcbsri");
  b.resource(condition("c-hcc", "C22.0")).resource(resectability("o-res", true)).order("47371");
  auto d = sign(b);
  auto ci = coverage_information(d["systemActions"][0]["resource"]);
  EXPECT_EQ(first(ci, "covered"), "not-covered");
  EXPECT_EQ(first(ci, "pa-needed"), "");
  EXPECT_EQ(first(ci, "doc-needed"), "");
  EXPECT_FALSE(first(ci, "reason").empty());
  // The policy says the member may not be billed without written consent.
  EXPECT_STREQ(d["cards"][0]["indicator"].GetString(), "critical");
  std::string detail = d["cards"][0]["detail"].GetString();
  EXPECT_NE(detail.find("writing"), std::string::npos) << detail;
}

TEST_F(HttpApi, PacificSourceCommercialNeedsPriorAuthorizationWithDocuments) {
  HookRequestBuilder b("pacificsource");
  b.resource(condition("c-hcc", "C22.0"))
      .resource(resectability("o-res", true))
      .resource(boolean_observation("o-wait", "awaiting-liver-transplant", false))
      .resource(liver_lesion("l1"))
      .resource(tumor_size("o-size", 42, "mm", "l1"))
      .order("47383");
  auto d = sign(b);
  auto ci = coverage_information(d["systemActions"][0]["resource"]);
  EXPECT_EQ(first(ci, "covered"), "covered");
  EXPECT_EQ(first(ci, "pa-needed"), "auth-needed");
  EXPECT_EQ(first(ci, "doc-needed"), "clinical");
  EXPECT_EQ(first(ci, "doc-purpose"), "withpa");
}

TEST_F(HttpApi, MedicalMutualDoesNotListPercutaneousCodeForHepatocellularCarcinoma) {
  HookRequestBuilder b("medical-mutual");
  b.resource(condition("c-hcc", "C22.0"))
      .resource(resectability("o-res", true))
      .resource(boolean_observation("o-acc", "location-accessible", true))
      .resource(tumor_size("o-size", 3, "cm"))
      .resource(lesion_count("o-count", 1))
      .order("47383");
  auto d = sign(b);
  auto ci = coverage_information(d["systemActions"][0]["resource"]);
  EXPECT_EQ(first(ci, "covered"), "not-covered");
  EXPECT_NE(first(ci, "reason").find("47383"), std::string::npos) << first(ci, "reason");
}

TEST_F(HttpApi, OrdersOutsideThePoliciesGetNothing) {
  HookRequestBuilder b("florida-blue");
  b.resource(condition("c-hcc", "C22.0")).order("99213", "visit-1");
  auto d = sign(b);
  EXPECT_EQ(d["cards"].Size(), 0u);
  // order-sign is a primary hook: the array is always there, here empty.
  ASSERT_TRUE(d.HasMember("systemActions"));
  EXPECT_EQ(d["systemActions"].Size(), 0u);
}

TEST_F(HttpApi, OrdersUnderOneCoverageShareTheAssertionIdWhichIsNewPerResponse) {
  auto b = florida_blue_hcc();
  b.order("47371", "sr-2").order("99213", "visit-1");
  auto d1 = sign(b);
  ASSERT_EQ(d1["systemActions"].Size(), 2u);
  std::string id1 =
      first(coverage_information(d1["systemActions"][0]["resource"]), "coverage-assertion-id");
  std::string id2 =
      first(coverage_information(d1["systemActions"][1]["resource"]), "coverage-assertion-id");
  EXPECT_EQ(id1, id2);
  auto d2 = sign(florida_blue_hcc());
  EXPECT_NE(
      first(coverage_information(d2["systemActions"][0]["resource"]), "coverage-assertion-id"),
      id1);
}

TEST_F(HttpApi, TheUpdatedOrderKeepsEveryOriginalElement) {
  HookRequestBuilder b("florida-blue");
  b.resource(condition("c-hcc", "C22.0")).resource(resectability("o-res", true));
  b.raw_order(
      R"({"resourceType":"ServiceRequest","id":"sr-9","meta":{"versionId":"3"},"extension":[{"url":"http://example.org/keep","valueString":"kept"}],"status":"draft","intent":"order","priority":"routine","code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"47383","display":"Ablation liver tumor percutaneous cryo"}],"text":"Liver cryoablation"},"subject":{"reference":"Patient/pat-1"},"authoredOn":"2026-02-20","requester":{"reference":"Practitioner/dr-1"},"note":[{"text":"segment VII"}]})");
  auto d = sign(b);
  const auto& resource = d["systemActions"][0]["resource"];
  EXPECT_STREQ(resource["id"].GetString(), "sr-9");
  EXPECT_STREQ(resource["meta"]["versionId"].GetString(), "3");
  EXPECT_STREQ(resource["priority"].GetString(), "routine");
  EXPECT_STREQ(resource["note"][0]["text"].GetString(), "segment VII");
  EXPECT_STREQ(resource["code"]["text"].GetString(), "Liver cryoablation");
  ASSERT_EQ(resource["extension"].Size(), 2u);
  EXPECT_STREQ(resource["extension"][0]["url"].GetString(), "http://example.org/keep");
}

TEST_F(HttpApi, ConfigurationOptionsAreHonoured) {
  auto off = florida_blue_hcc();
  off.configuration(R"({"coverage-info": false, "unknown-option": 3})");
  auto d = sign(off);
  ASSERT_TRUE(d.HasMember("systemActions"));
  EXPECT_EQ(d["systemActions"].Size(), 0u);
  for (const auto& c : d["cards"].GetArray())
    EXPECT_STRNE(c["source"]["topic"]["code"].GetString(), "coverage-info");

  auto no_policy = florida_blue_hcc();
  no_policy.configuration(R"({"guideline": false})");
  auto d2 = sign(no_policy);
  ASSERT_EQ(d2["cards"].Size(), 1u);
  EXPECT_STREQ(d2["cards"][0]["source"]["topic"]["code"].GetString(), "coverage-info");

  auto one = florida_blue_hcc();
  one.order("47371", "sr-2").configuration(R"({"max-cards": 1})");
  auto d3 = sign(one);
  EXPECT_EQ(d3["cards"].Size(), 1u);
  EXPECT_EQ(d3["systemActions"].Size(), 2u);
}

TEST_F(HttpApi, OrderSelectNeverAsksForDocumentationAndOnlyCoversSelections) {
  HookRequestBuilder b("florida-blue", "order-select");
  b.resource(condition("c-hcc", "C22.0")).resource(resectability("o-res", true));
  b.order("47383", "sr-1").order("47371", "sr-2").select("ServiceRequest/sr-2");
  auto r = post("/cds-services/order-select-crd", b.json());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = parse(r->body);
  ASSERT_EQ(d["systemActions"].Size(), 1u);
  EXPECT_STREQ(d["systemActions"][0]["resource"]["id"].GetString(), "sr-2");
  auto ci = coverage_information(d["systemActions"][0]["resource"]);
  EXPECT_EQ(first(ci, "covered"), "covered");
  EXPECT_EQ(first(ci, "doc-needed"), "");
}

TEST_F(HttpApi, MalformedRequestsGetOperationOutcomes) {
  expect_outcome(post("/cds-services/order-sign-crd", "{not json"), 400, "JSON");
  expect_outcome(
      post("/cds-services/order-sign-crd", std::string(200, '[') + std::string(200, ']')), 400,
      "deep");
  expect_outcome(post("/cds-services/order-sign-crd", R"({"hook":"order-sign","context":{}})"), 400,
                 "hookInstance");
  expect_outcome(
      post(
          "/cds-services/order-sign-crd",
          R"({"hook":"order-sign","hookInstance":"x","context":{"draftOrders":{"resourceType":"Bundle"}}})"),
      400, "patientId");
  expect_outcome(post("/cds-services/order-sign-crd",
                      R"({"hook":"order-sign","hookInstance":"x","context":{"patientId":"p"}})"),
                 400, "draftOrders");
  expect_outcome(post("/cds-services/order-sign-crd",
                      R"({"hook":"order-select","hookInstance":"x","context":{"patientId":"p"}})"),
                 400, "hook");
  expect_outcome(post("/cds-services/no-such-service", florida_blue_hcc().json()), 404,
                 "no-such-service");
  expect_outcome(post("/cds-services/order-sign-crd", "[]"), 400, "object");
  expect_outcome(get("/nothing-here"), 404, "no such endpoint");
}

TEST_F(HttpApi, MissingPrefetchIsPreconditionFailed) {
  auto b = florida_blue_hcc();
  b.omit_prefetch("observations");
  expect_outcome(post("/cds-services/order-sign-crd", b.json()), 412, "observations");
}

TEST_F(HttpApi, CoverageThatCannotBeSettledIsRefused) {
  auto none = florida_blue_hcc();
  none.coverage_count(0);
  expect_outcome(post("/cds-services/order-sign-crd", none.json()), 400, "Coverage");
  auto two = florida_blue_hcc();
  two.coverage_count(2);
  expect_outcome(post("/cds-services/order-sign-crd", two.json()), 400, "Coverage");
  HookRequestBuilder unknown("acme-health");
  unknown.order("47383");
  expect_outcome(post("/cds-services/order-sign-crd", unknown.json()), 400, "payer");
}

TEST_F(HttpApi, FeedbackOnHandedOutCardsIsStoredOnceAndValidated) {
  auto d = sign(florida_blue_hcc());
  std::string card = d["cards"][0]["uuid"].GetString();
  std::string ok =
      R"({"feedback":[{"card":")" + card +
      R"(","outcome":"overridden","overrideReason":{"userComment":"patient declined"},"outcomeTimestamp":"2026-03-01T10:00:00Z"}]})";
  auto r = post("/cds-services/order-sign-crd/feedback", ok);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  auto again = post("/cds-services/order-sign-crd/feedback", ok);  // the same feedback twice
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  expect_outcome(
      post(
          "/cds-services/order-sign-crd/feedback",
          R"({"feedback":[{"card":"9d0b2a3c-3f64-4c2e-9d8f-0a1b2c3d4e5f","outcome":"accepted","outcomeTimestamp":"2026-03-01T10:00:00Z"}]})"),
      400, "9d0b2a3c-3f64-4c2e-9d8f-0a1b2c3d4e5f");
  expect_outcome(
      post(
          "/cds-services/order-sign-crd/feedback",
          R"({"feedback":[{"card":"x","outcome":"maybe","outcomeTimestamp":"2026-03-01T10:00:00Z"}]})"),
      400, "outcome");
  expect_outcome(post("/cds-services/order-sign-crd/feedback", R"({"nothing":1})"), 400,
                 "feedback");
  expect_outcome(post("/cds-services/nope/feedback", ok), 404, "nope");
}

TEST_F(HttpApi, AnEhrRetryGetsTheSameDetermination) {
  auto b = florida_blue_hcc();
  auto first_answer = post("/cds-services/order-sign-crd", b.json());
  auto retry = post("/cds-services/order-sign-crd", b.json());
  ASSERT_TRUE(first_answer && retry);
  ASSERT_EQ(first_answer->status, 200);
  ASSERT_EQ(retry->status, 200);
  EXPECT_EQ(first_answer->body, retry->body);
  auto fresh = sign(florida_blue_hcc());  // a new hookInstance: a new assertion
  auto d = parse(first_answer->body);
  EXPECT_NE(
      first(coverage_information(d["systemActions"][0]["resource"]), "coverage-assertion-id"),
      first(coverage_information(fresh["systemActions"][0]["resource"]), "coverage-assertion-id"));
}

TEST_F(HttpApi, CriteriaCodeSystemIsServed) {
  auto r = get("/CodeSystem/criteria");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto d = parse(r->body);
  EXPECT_STREQ(d["resourceType"].GetString(), "CodeSystem");
  EXPECT_STREQ(d["url"].GetString(), "http://cryocrd.org/fhir/CodeSystem/criteria");
  std::set<std::string> codes;
  for (const auto& c : d["concept"].GetArray()) codes.insert(c["code"].GetString());
  EXPECT_TRUE(codes.contains("resectability"));
  EXPECT_TRUE(codes.contains("hepatic-lesion-count"));
  EXPECT_TRUE(codes.contains("prostate-t-stage"));
}

TEST_F(HttpApi, PolicyPagesAreLinkedFromCards) {
  auto d = sign(florida_blue_hcc());
  std::string url = d["cards"][1]["links"][0]["url"].GetString();
  std::string path = url.substr(url.find("/policies/"));
  auto r = get(path);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(r->body.find("28626-0"), std::string::npos);
  expect_outcome(get("/policies/no-such-policy"), 404, "no-such-policy");
}

TEST_F(HttpApi, ForeignExampleRequestsGetAValidAnswer) {
  fs::path reference = fs::path(CRYO_SOURCE_DIR) / ".." / "shared" / "reference";
  if (!fs::exists(reference))
    GTEST_SKIP() << "shared reference material is not beside the checkout";
  std::vector<fs::path> files;
  for (auto dir : {"davinci-crd-2.1.0", "inferno-crd-test-kit/fixtures"}) {
    for (const auto& e : fs::directory_iterator(reference / dir)) {
      std::string name = e.path().filename().string();
      if (name.find("request") != std::string::npos || name.find("Request") != std::string::npos)
        files.push_back(e.path());
    }
  }
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    for (auto service : {"order-sign-crd", "order-select-crd"}) {
      auto r = post(std::string("/cds-services/") + service, ss.str());
      ASSERT_TRUE(r) << f;
      EXPECT_TRUE(r->status == 200 || r->status == 400 || r->status == 412)
          << f << ": " << r->status;
      auto d = parse(r->body);
      ASSERT_TRUE(d.IsObject()) << f;
      if (r->status != 200) {
        EXPECT_STREQ(d["resourceType"].GetString(), "OperationOutcome") << f;
      }
    }
  }
  auto health = get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(HttpLimits, OversizedBodiesAreRefusedWith413) {
  ServerProcess small({"--max-body", "2048"});
  httplib::Client c("127.0.0.1", small.port());
  auto r = c.Post("/cds-services/order-sign-crd", florida_blue_hcc().json(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  auto d = parse(r->body);
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["resourceType"].GetString(), "OperationOutcome");
  EXPECT_TRUE(small.running());
}

}  // namespace
}  // namespace cryo::testing
