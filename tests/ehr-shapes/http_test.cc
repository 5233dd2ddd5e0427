// Real-shaped records and every golden scenario, decided by the real cryo-crd server over
// HTTP with no prefetch at all: the server asks the EHR's FHIR server (tests/fhir-server,
// which refuses patient-only Observation searches as Epic does) with the queries it declares.
//
// One FHIR server serves one record at a time (loaded before the call, unloaded after, under
// ids prefixed per record: "g12-pat1", "c3-tumor-2"); the draft order goes in the hook's
// context, as an EHR sends it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "server_process.h"
#include "tests/fhirclient/support/fhir_server_process.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;
using rapidjson::Document;
using rapidjson::Value;

const fs::path kSource = CRYO_SOURCE_DIR;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string write(const Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

std::string str(const Value& v, const char* key) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

// Prefixes every resource id and every relative "Type/id" reference with `prefix`; the ids of
// resources whose type is `keep_type` stay (the draft orders the expectations name).
void prefix_ids(Value& v, const std::string& prefix, Document::AllocatorType& a,
                const std::string& keep_type = "") {
  if (v.IsArray()) {
    for (auto& x : v.GetArray()) prefix_ids(x, prefix, a, keep_type);
    return;
  }
  if (!v.IsObject()) return;
  const std::string type = str(v, "resourceType");
  for (auto& m : v.GetObject()) {
    std::string name = m.name.GetString();
    if (m.value.IsString() && name == "id" && !type.empty() && type != keep_type) {
      m.value.SetString((prefix + m.value.GetString()).c_str(), a);
    } else if (m.value.IsString() && name == "reference") {
      std::string ref = m.value.GetString();
      size_t slash = ref.find('/');
      if (!ref.empty() && ref[0] != '#' && ref.find("://") == std::string::npos &&
          slash != std::string::npos && ref.find('/', slash + 1) == std::string::npos) {
        m.value.SetString((ref.substr(0, slash + 1) + prefix + ref.substr(slash + 1)).c_str(), a);
      }
    } else {
      prefix_ids(m.value, prefix, a, keep_type);
    }
  }
}

struct Case {
  std::string name;
  std::string patient_id;               // prefixed
  std::string orders_json;              // the draftOrders Bundle
  Document expected;                    // {"ServiceRequest/x": {covered, pa-needed, ...} | null}
  std::vector<std::string> card_texts;  // what the card must say
  std::string resources;                // the record (without the order), a Bundle
};

// The cases: the golden scenarios (`conformance/scenarios/*.json` with a record) and the
// corpus records marked "http".
class Data {
 public:
  Data() {
    auto add_resources = [&](Value& record, const std::string& prefix) {
      Document bundle;
      bundle.SetObject();
      auto& a = bundle.GetAllocator();
      bundle.AddMember("resourceType", "Bundle", a);
      bundle.AddMember("type", "collection", a);
      Value entries(rapidjson::kArrayType);
      for (auto& r : record.GetArray()) {
        if (str(r, "resourceType") == "ServiceRequest") continue;  // goes in the context
        Value copy(r, a);
        prefix_ids(copy, prefix, a);
        Value e(rapidjson::kObjectType);
        e.AddMember("resource", copy, a);
        entries.PushBack(e, a);
      }
      bundle.AddMember("entry", entries, a);
      return write(bundle);
    };
    std::vector<fs::path> scenarios;
    for (const auto& e : fs::directory_iterator(kSource / "conformance" / "scenarios")) {
      scenarios.push_back(e.path());
    }
    std::sort(scenarios.begin(), scenarios.end());
    int n = 0;
    for (const fs::path& p : scenarios) {
      Document s;
      std::string text = read(p);
      s.Parse(text.c_str());
      if (s.HasParseError() || !s.HasMember("record") || !s.HasMember("draftOrders") ||
          str(s, "hook") != "order-sign") {
        continue;
      }
      const std::string prefix = "g" + std::to_string(++n) + "-";
      Case c;
      c.name = p.stem().string();
      c.patient_id = prefix + str(s, "patientId");
      c.resources = add_resources(s["record"], prefix);
      c.orders_json = orders(s["draftOrders"], prefix);
      c.expected.CopyFrom(s["expected"]["orders"], c.expected.GetAllocator());
      golden.push_back(std::move(c));
    }
    n = 0;
    for (const auto& e : fs::directory_iterator(kSource / "tests" / "ehr-shapes" / "records")) {
      Document s;
      std::string text = read(e.path());
      s.Parse(text.c_str());
      if (s.HasParseError() || !s.HasMember("http")) continue;
      const std::string prefix = "c" + std::to_string(++n) + "-";
      Case c;
      c.name = e.path().stem().string();
      Value orders_list(rapidjson::kArrayType);
      std::string patient;
      for (auto& r : s["record"].GetArray()) {
        if (str(r, "resourceType") == "ServiceRequest")
          orders_list.PushBack(Value(r, s.GetAllocator()), s.GetAllocator());
        if (str(r, "resourceType") == "Patient") patient = str(r, "id");
      }
      c.patient_id = prefix + patient;
      c.resources = add_resources(s["record"], prefix);
      c.orders_json = orders(orders_list, prefix);
      auto& ea = c.expected.GetAllocator();
      c.expected.SetObject();
      Value decision(s["decision"], ea);
      c.expected.AddMember("ServiceRequest/sr-1", decision, ea);
      if (s.HasMember("notes")) {
        for (const auto& [fact, texts] : s["notes"].GetObject()) {
          for (const auto& t : texts.GetArray()) {
            std::string want = t.GetString();
            size_t slash = want.find('/');
            if (slash != std::string::npos) want.insert(slash + 1, prefix);
            c.card_texts.push_back(want);
          }
        }
      }
      corpus.push_back(std::move(c));
    }
  }

  static std::string orders(Value& list, const std::string& prefix) {
    Document b;
    b.SetObject();
    auto& a = b.GetAllocator();
    b.AddMember("resourceType", "Bundle", a);
    b.AddMember("type", "collection", a);
    Value entries(rapidjson::kArrayType);
    for (auto& r : list.GetArray()) {
      Value copy(r, a);
      prefix_ids(copy, prefix, a, "ServiceRequest");
      Value e(rapidjson::kObjectType);
      e.AddMember("resource", copy, a);
      entries.PushBack(e, a);
    }
    b.AddMember("entry", entries, a);
    return write(b);
  }

  std::vector<Case> golden;
  std::vector<Case> corpus;
};

class NoPrefetch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("cryo-crd-ehr-shapes-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    data_ = std::make_unique<Data>();
    FhirServerProcess::Options o;
    o.token = "ehr-token";
    ehr_ = std::make_unique<FhirServerProcess>(o);
    ASSERT_TRUE(ehr_->start()) << ehr_->error();
    std::ofstream(dir_ / "crd.json")
        << R"({"fhir": {"query_missing_data": true, "request_timeout_ms": 3000, "total_budget_ms": 4000}})";
    crd_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--config", (dir_ / "crd.json").string(), "--no-store"});
    stored_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--config", (dir_ / "crd.json").string(), "--data", (dir_ / "store").string()});
  }
  static void TearDownTestSuite() {
    crd_.reset();
    stored_.reset();
    ehr_.reset();
    data_.reset();
    fs::remove_all(dir_);
  }
  void SetUp() override { ASSERT_TRUE(ehr_->reset()); }

  // Serves `c`'s record, runs the hook call, and takes the record away again.
  static httplib::Result call(const Case& c, const ServerProcess* server = nullptr) {
    httplib::Client control("127.0.0.1", ehr_->port());
    auto loaded = control.Post("/__control/load", c.resources, "application/json");
    EXPECT_TRUE(loaded && loaded->status == 200) << c.name;
    httplib::Result r = hook(c, server != nullptr ? *server : *crd_);
    auto unloaded = control.Post("/__control/unload", c.resources, "application/json");
    EXPECT_TRUE(unloaded && unloaded->status == 200) << c.name;
    return r;
  }

  static httplib::Result hook(const Case& c, const ServerProcess& server) {
    static int n = 0;
    std::string body =
        R"({"hook":"order-sign","hookInstance":"ehr-shapes-)" + std::to_string(::getpid()) + "-" +
        std::to_string(++n) + R"(","fhirServer":")" + ehr_->base_url() +
        R"(","fhirAuthorization":{"access_token":"ehr-token","token_type":"Bearer","expires_in":300,"scope":"user/*.read","subject":"cryo-crd"},"context":{"userId":"Practitioner/dr-1","patientId":")" +
        c.patient_id + R"(","draftOrders":)" + c.orders_json + "}}";
    httplib::Client http("127.0.0.1", server.port());
    http.set_read_timeout(20, 0);
    return http.Post("/cds-services/order-sign-crd", body, "application/json");
  }

  // Compares the coverage-information of each expected order with the answer.
  static void expect_decisions(const Case& c, const httplib::Result& r) {
    ASSERT_TRUE(r) << c.name << ": no answer";
    ASSERT_EQ(r->status, 200) << c.name << ": " << r->body.substr(0, 600);
    Document doc;
    doc.Parse(r->body.c_str());
    ASSERT_FALSE(doc.HasParseError()) << c.name;
    std::map<std::string, std::map<std::string, std::string>> got;
    if (doc.HasMember("systemActions")) {
      for (const auto& action : doc["systemActions"].GetArray()) {
        const Value& res = action["resource"];
        std::string key = str(res, "resourceType") + "/" + str(res, "id");
        for (const auto& ext : res["extension"].GetArray()) {
          if (!ext.HasMember("extension")) continue;
          for (const auto& sub : ext["extension"].GetArray()) {
            if (sub.HasMember("valueCode"))
              got[key][str(sub, "url")] = sub["valueCode"].GetString();
          }
        }
      }
    }
    for (const auto& [order, want] : c.expected.GetObject()) {
      const std::string key = order.GetString();
      if (want.IsNull()) {
        EXPECT_EQ(got.count(key), 0u) << c.name << ": " << key << " should get no annotation";
        continue;
      }
      ASSERT_EQ(got.count(key), 1u)
          << c.name << ": " << key << " not annotated: " << r->body.substr(0, 600);
      for (const char* field :
           {"covered", "pa-needed", "doc-needed", "doc-purpose", "info-needed"}) {
        const Value& w = want[field];
        auto it = got[key].find(field);
        std::string have = it == got[key].end() ? "" : it->second;
        EXPECT_EQ(have, w.IsNull() ? "" : w.GetString()) << c.name << ": " << key << " " << field;
      }
    }
  }

  // No search the service sent asked for Observations by patient alone.
  static void expect_no_bare_observation_search() {
    for (const std::string& u : ehr_->request_urls()) {
      if (u.find("/Observation?") == std::string::npos) continue;
      EXPECT_TRUE(u.find("code=") != std::string::npos || u.find("category=") != std::string::npos)
          << u;
    }
  }

  static fs::path dir_;
  static std::unique_ptr<Data> data_;
  static std::unique_ptr<FhirServerProcess> ehr_;
  static std::unique_ptr<ServerProcess> crd_;
  static std::unique_ptr<ServerProcess> stored_;  // the same, with the audit store (DTR)
};
fs::path NoPrefetch::dir_;
std::unique_ptr<ServerProcess> NoPrefetch::stored_;
std::unique_ptr<Data> NoPrefetch::data_;
std::unique_ptr<FhirServerProcess> NoPrefetch::ehr_;
std::unique_ptr<ServerProcess> NoPrefetch::crd_;

TEST_F(NoPrefetch, TheTestServerRefusesBareObservationSearchesAsEpicDoes) {
  httplib::Client http("127.0.0.1", ehr_->port());
  httplib::Headers auth{{"Authorization", "Bearer ehr-token"}};
  const Case& c = data_->golden.front();
  httplib::Client control("127.0.0.1", ehr_->port());
  ASSERT_TRUE(control.Post("/__control/load", c.resources, "application/json"));
  const std::string patient = "/fhir/Observation?patient=" + c.patient_id;
  auto bare = http.Get(patient, auth);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 400);
  EXPECT_NE(bare->body.find("OperationOutcome"), std::string::npos);
  auto coded = http.Get(patient + "&code=http://loinc.org|21889-1", auth);
  ASSERT_TRUE(coded);
  EXPECT_EQ(coded->status, 200);
  auto categorised = http.Get(patient + "&category=imaging", auth);
  ASSERT_TRUE(categorised);
  EXPECT_EQ(categorised->status, 200);
  ASSERT_TRUE(control.Post("/__control/unload", c.resources, "application/json"));
}

TEST_F(NoPrefetch, EveryGoldenScenarioDecidesTheSameWithoutPrefetch) {
  ASSERT_GE(data_->golden.size(), 100u);
  for (const Case& c : data_->golden) expect_decisions(c, call(c));
  expect_no_bare_observation_search();
}

// The payer's questions for a call that read its record from the FHIR server are decided on
// that same record (kept with the call), even once the EHR no longer serves it.
TEST_F(NoPrefetch, QuestionsForACallThatReadItsRecordAreDecidedOnThatRecord) {
  size_t conditional = 0;
  for (const Case& c : data_->golden) {
    bool wanted = false;
    for (const auto& [order, want] : c.expected.GetObject())
      wanted |= want.IsObject() && str(want, "covered") == "conditional";
    if (!wanted) continue;
    auto signed_call = call(c, stored_.get());  // the record is taken away afterwards
    ASSERT_TRUE(signed_call && signed_call->status == 200) << c.name;
    const std::string marker = R"("url":"coverage-assertion-id","valueString":")";
    size_t at = signed_call->body.find(marker);
    ASSERT_NE(at, std::string::npos) << c.name;
    at += marker.size();
    const std::string assertion =
        signed_call->body.substr(at, signed_call->body.find('"', at) - at);
    httplib::Client http("127.0.0.1", stored_->port());
    auto pkg = http.Post("/Questionnaire/$questionnaire-package",
                         R"({"resourceType":"Parameters","parameter":[{"name":"context",)"
                         R"("valueString":")" +
                             assertion + R"("}]})",
                         "application/fhir+json");
    ASSERT_TRUE(pkg);
    ASSERT_EQ(pkg->status, 200) << c.name << ": " << pkg->body.substr(0, 400);
    Document p;
    p.Parse(pkg->body.c_str());
    ASSERT_FALSE(p.HasParseError());
    const Value& first = p["parameter"][0];
    if (str(first, "name") != "PackageBundle") continue;  // a program's own rules decide
    // The draft, sent back unanswered: every question "not known", the same decision.
    std::string draft;
    {
      rapidjson::StringBuffer b;
      rapidjson::Writer<rapidjson::StringBuffer> w(b);
      first["resource"]["entry"][1]["resource"].Accept(w);
      draft = b.GetString();
    }
    auto next = http.Post(
        "/Questionnaire/$next-question",
        R"({"resourceType":"Parameters","parameter":[{"name":"in","resource":)" + draft + "}]}",
        "application/fhir+json");
    ASSERT_TRUE(next);
    ASSERT_EQ(next->status, 200) << c.name << ": " << next->body.substr(0, 400);
    EXPECT_NE(next->body.find(R"("url":"covered","valueCode":"conditional")"), std::string::npos)
        << c.name << ": " << next->body.substr(0, 600);
    ++conditional;
  }
  EXPECT_GE(conditional, 10u);

  // A policy analyst's replay decides these calls again on the same record, though the EHR
  // no longer serves it and the replay reads no FHIR server.
  const fs::path report = dir_ / "replay.json";
  CommandResult r = run_command({CRYO_CRD_BINARY, "policies", "replay", "--candidate",
                                 (kSource / "policies/data").string(), "--data",
                                 (dir_ / "store").string(), "--report", report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream in(report);
  std::stringstream text;
  text << in.rdbuf();
  Document d;
  d.Parse(text.str().c_str());
  ASSERT_FALSE(d.HasParseError()) << text.str();
  EXPECT_GE(d["calls"].GetInt64(), static_cast<std::int64_t>(conditional));
  EXPECT_EQ(d["notRedecided"].GetInt64(), 0) << text.str().substr(0, 600);
}

TEST_F(NoPrefetch, RealShapedRecordsDecideAsAClinicianDoes) {
  ASSERT_GE(data_->corpus.size(), 4u);
  for (const Case& c : data_->corpus) {
    auto r = call(c);
    expect_decisions(c, r);
    for (const std::string& t : c.card_texts) {
      EXPECT_NE(r->body.find(t), std::string::npos) << c.name << ": the card does not say " << t;
    }
  }
  expect_no_bare_observation_search();
}

TEST_F(NoPrefetch, AResourceTypeTheEhrDoesNotOfferIsAbsentNotFatal) {
  // Epic offers no BodyStructure: the searches are refused, the decision still comes, the
  // card says what could not be read, and a focus that cannot be read is still a lesion.
  ASSERT_TRUE(ehr_->set_controls(R"({"unsupported": ["BodyStructure"]})"));
  const Case* right_lobe = nullptr;
  for (const Case& c : data_->corpus) {
    if (c.name == "mcode-right-lobe-6cm-pacificsource") right_lobe = &c;
  }
  ASSERT_NE(right_lobe, nullptr);
  auto r = call(*right_lobe);
  expect_decisions(*right_lobe, r);
  EXPECT_NE(r->body.find("bodyStructures"), std::string::npos) << r->body.substr(0, 800);
  bool asked = false;
  for (const auto& u : ehr_->request_urls()) asked |= u.find("/BodyStructure") != std::string::npos;
  EXPECT_TRUE(asked);
}

}  // namespace
}  // namespace cryo::testing
