// DTR end to end: for every golden conditional scenario, the real server over real HTTP
// answers order-sign, hands out the questionnaire package for the coverage-assertion-id, and
// $next-question walks the questions an answering clinician's scripted record settles, to the
// decision the policy implies for those answers. Each question asked must be one whose
// answer changes the answer; the completed response, found in the record of the next
// order-sign, decides it the same way and is named as evidence. Refusals carry
// OperationOutcomes.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "audit/store.h"
#include "conformance/record.h"
#include "server_process.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;
using rapidjson::Document;
using rapidjson::Value;

// The admin bearer token and its digest: printf %s "$token" | sha256sum
constexpr const char* kAdminToken = "cryo-e2e-admin-token-5b1f9c2e";
constexpr const char* kAdminTokenSha256 =
    "beb7ee1ff8233c03167fb602f4c6bc42033feef0dd416209cb2217e96f41c149";
constexpr const char* kCoverageInformation =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

std::string text(const Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return std::string(b.GetString(), b.GetSize());
}

Document parse(const std::string& body) {
  Document d;
  d.Parse(body.c_str());
  EXPECT_FALSE(d.HasParseError()) << body.substr(0, 400);
  return d;
}

std::string str(const Value& o, const char* name) {
  return o.IsObject() && o.HasMember(name) && o[name].IsString() ? o[name].GetString() : "";
}

// The coverage-information values of a resource: sub-extension url -> value.
std::map<std::string, std::string> coverage_information(const Value& resource) {
  std::map<std::string, std::string> out;
  if (!resource.HasMember("extension")) return out;
  for (const auto& ext : resource["extension"].GetArray()) {
    if (str(ext, "url") != kCoverageInformation) continue;
    for (const auto& sub : ext["extension"].GetArray()) {
      std::string url = str(sub, "url");
      for (const char* v : {"valueCode", "valueString", "valueCanonical", "valueDate"}) {
        if (sub.HasMember(v)) out[url] = sub[v].GetString();
      }
      if (sub.HasMember("valueReference")) out[url] = str(sub["valueReference"], "reference");
    }
  }
  return out;
}

// Every "Type/id" of the resources a request holds (prefetch, draft orders), at any depth.
void resource_keys(const Value& v, std::set<std::string>& out) {
  if (v.IsObject()) {
    if (!str(v, "resourceType").empty() && !str(v, "id").empty())
      out.insert(str(v, "resourceType") + "/" + str(v, "id"));
    for (const auto& m : v.GetObject()) resource_keys(m.value, out);
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) resource_keys(e, out);
  }
}

constexpr const char* kOrigin =
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin";
constexpr const char* kDerivation = "http://hl7.org/fhir/StructureDefinition/derivation-reference";

// The items of a draft response that come answered: each is answered from the record ("auto")
// with the resources of `request` it was read from, its definition read-only; returns their
// linkIds.
std::vector<std::string> check_prefilled(const Value& qr, const std::string& request) {
  std::set<std::string> keys;
  Document req = parse(request);
  resource_keys(req, keys);
  std::vector<std::string> out;
  if (!qr.HasMember("item")) return out;
  for (const auto& item : qr["item"].GetArray()) {
    if (!item.HasMember("answer") || item["answer"].Empty()) continue;
    const std::string link = str(item, "linkId");
    out.push_back(link);
    const Value& answer = item["answer"][0];
    std::string origin;
    std::vector<std::string> sources;
    for (const auto& e : answer["extension"].GetArray()) {
      if (str(e, "url") == kOrigin) origin = str(e["extension"][0], "valueCode");
      if (str(e, "url") == kDerivation) {
        EXPECT_EQ(str(e["extension"][0], "url"), "reference");
        sources.push_back(str(e["extension"][0]["valueReference"], "reference"));
      }
    }
    EXPECT_EQ(origin, "auto") << link;
    EXPECT_FALSE(sources.empty()) << link << " names no resource it was read from";
    for (const std::string& r : sources) EXPECT_TRUE(keys.contains(r)) << link << ": " << r;
    bool read_only = false;
    for (const auto& def : qr["contained"][0]["item"].GetArray()) {
      if (str(def, "linkId") == link)
        read_only = def.HasMember("readOnly") && def["readOnly"].GetBool();
    }
    EXPECT_TRUE(read_only) << link;
  }
  return out;
}

std::vector<fs::path> conditional_scenarios() {
  std::vector<fs::path> out;
  for (const auto& e :
       fs::directory_iterator(fs::path(CRYO_SOURCE_DIR) / "conformance/scenarios")) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    Document d;
    d.Parse(ss.str().c_str());
    if (d.HasParseError() || !d.HasMember("record") || !d.HasMember("expected")) continue;
    if (d.HasMember("hook") && str(d, "hook") != "order-sign") continue;
    const Value& exp = d["expected"];
    if (!exp.HasMember("orders")) continue;
    bool conditional = false;
    for (auto& o : exp["orders"].GetObject())
      conditional |= str(o.value, "covered") == "conditional";
    if (conditional) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Dtr : public ::testing::TestWithParam<fs::path> {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("cryo-dtr-e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "config.json")
        << R"({"admin": {"token_sha256": ")" << kAdminTokenSha256 << R"("}})";
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--config", (dir_ / "config.json").string(), "--data", (dir_ / "store").string()});
  }
  static void TearDownTestSuite() {
    server_.reset();
    fs::remove_all(dir_);
  }

  // The stored determinations of a coverage-assertion-id (admin look-up).
  static std::string stored(const std::string& assertion) {
    httplib::Client c("127.0.0.1", server_->port());
    auto r = c.Get(("/assertions/" + assertion).c_str(),
                   {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_TRUE(r && r->status == 200);
    return r ? r->body : "";
  }

  // $questionnaire-package for a coverage-assertion-id.
  static httplib::Result package(const std::string& assertion) {
    return post("/Questionnaire/$questionnaire-package",
                R"({"resourceType":"Parameters","parameter":[{"name":"context","valueString":")" +
                    assertion + R"("}]})");
  }

  static httplib::Result post(const std::string& path, const std::string& body) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(20, 0);
    return c.Post(path.c_str(), body, "application/fhir+json");
  }

  // The order-sign request of a scenario, prefetch filled from its record the way an EHR
  // answers the service's templates; `extra` resources join the first searchset.
  static std::string hook_request(const Document& sc, const std::vector<std::string>& extra = {},
                                  const std::string& crd_version = "") {
    httplib::Client c("127.0.0.1", server_->port());
    auto disc = c.Get("/cds-services");
    EXPECT_TRUE(disc && disc->status == 200);
    Document services = parse(disc->body);
    Document req(rapidjson::kObjectType);
    auto& a = req.GetAllocator();
    std::string patient = str(sc, "patientId");
    req.AddMember("hook", "order-sign", a);
    req.AddMember("hookInstance", Value(("dtr-" + std::to_string(++calls_)).c_str(), a), a);
    Value context(rapidjson::kObjectType);
    context.AddMember("userId", "Practitioner/dtr-clinician", a);
    context.AddMember("patientId", Value(patient.c_str(), a), a);
    context.AddMember("draftOrders", conformance::collection_bundle(&sc["draftOrders"], a), a);
    req.AddMember("context", context, a);
    conformance::Record record(sc["record"]);
    Value prefetch(rapidjson::kObjectType);
    bool added = extra.empty();
    for (const auto& s : services["services"].GetArray()) {
      if (str(s, "id") != "order-sign-crd") continue;
      for (auto& m : s["prefetch"].GetObject()) {
        Value value;
        auto q = conformance::fill_template(
            m.value.GetString(),
            {{"patientId", patient}, {"userId", "Practitioner/dtr-clinician"}});
        if (q) record.query(*q, value, a);
        if (!added && value.IsObject() && str(value, "type") == "searchset") {
          for (const std::string& r : extra) {
            Document doc;
            doc.Parse(r.c_str());
            Value entry(rapidjson::kObjectType);
            entry.AddMember("resource", Value(doc, a), a);
            value["entry"].PushBack(entry, a);
          }
          added = true;
        }
        prefetch.AddMember(Value(m.name, a), value, a);
      }
    }
    req.AddMember("prefetch", prefetch, a);
    if (!crd_version.empty()) {
      Value ext(rapidjson::kObjectType);
      ext.AddMember("davinci-crd.requestedVersion", Value(crd_version.c_str(), a), a);
      req.AddMember("extension", ext, a);
    }
    return text(req);
  }

  // order-sign: the coverage-information of the first order's update action.
  static std::map<std::string, std::string> sign(const std::string& request, std::string* body) {
    auto r = post("/cds-services/order-sign-crd", request);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    if (body) *body = r->body;
    Document d = parse(r->body);
    for (const auto& action : d["systemActions"].GetArray()) {
      if (action.HasMember("resource")) return coverage_information(action["resource"]);
    }
    return {};
  }

  static std::string parameters(const char* name, const std::string& resource) {
    return std::string(R"({"resourceType":"Parameters","parameter":[{"name":")") + name +
           R"(","resource":)" + resource + "}]}";
  }

  static std::unique_ptr<ServerProcess> server_;
  static inline fs::path dir_;
  static inline int calls_ = 0;
};

std::unique_ptr<ServerProcess> Dtr::server_;

// The answers a question allows, as the scripted clinician may give them: true and false;
// lesion counts; sizes across every threshold the policies use; each offered code; a
// document attached. The script answers with the first.
std::vector<Value> candidates(const Value& question, rapidjson::Document::AllocatorType& a) {
  std::string type = str(question, "type");
  std::vector<Value> out;
  auto add = [&](const char* name, Value v) {
    Value ans(rapidjson::kObjectType);
    ans.AddMember(Value(name, a), v, a);
    out.push_back(std::move(ans));
  };
  if (type == "boolean") {
    add("valueBoolean", Value(true));
    add("valueBoolean", Value(false));
  } else if (type == "integer") {
    for (int n : {1, 2, 3, 4, 5, 9}) add("valueInteger", Value(n));
  } else if (type == "quantity") {
    std::string unit = str(question["extension"][0]["valueCoding"], "code");
    for (double v : {1.5, 0.5, 2.5, 3.5, 4.5, 5.5, 7.0, 10.0, 40.0}) {
      Value q(rapidjson::kObjectType);
      q.AddMember("value", v, a);
      q.AddMember("unit", Value(unit.c_str(), a), a);
      q.AddMember("system", "http://unitsofmeasure.org", a);
      q.AddMember("code", Value(unit.c_str(), a), a);
      add("valueQuantity", std::move(q));
    }
  } else if (type == "choice") {
    for (const auto& o : question["answerOption"].GetArray())
      add("valueCoding", Value(o["valueCoding"], a));
  } else if (type == "attachment") {
    Value att(rapidjson::kObjectType);
    att.AddMember("contentType", "application/pdf", a);
    att.AddMember("title", Value(str(question, "text").c_str(), a), a);
    att.AddMember("data", "JVBERi0xLjQK", a);
    add("valueAttachment", std::move(att));
  } else {
    ADD_FAILURE() << "unexpected item type " << type;
  }
  return out;
}

struct Step {
  std::string status;
  std::map<std::string, std::string> decision;
  std::vector<std::string> open;  // linkIds asked and not answered yet
};

TEST_P(Dtr, QuestionsSettleTheConditionalDecision) {
  std::ifstream in(GetParam());
  std::stringstream ss;
  ss << in.rdbuf();
  Document sc;
  sc.Parse(ss.str().c_str());
  ASSERT_FALSE(sc.HasParseError());
  const std::string request = hook_request(sc);
  auto first = sign(request, nullptr);
  ASSERT_EQ(first["covered"], "conditional");
  const std::string assertion = first["coverage-assertion-id"];
  ASSERT_FALSE(assertion.empty());

  // The package: an adaptive Questionnaire and the draft response with the first questions;
  // a program's own rules (no clinical answer can change them) leave nothing to ask.
  const bool program_rule = first["pa-needed"] == "conditional";
  auto pkg = package(assertion);
  ASSERT_TRUE(pkg);
  ASSERT_EQ(pkg->status, 200) << pkg->body;
  Document p = parse(pkg->body);
  ASSERT_EQ(str(p, "resourceType"), "Parameters");
  ASSERT_EQ(p["parameter"].Size(), 1u);
  if (program_rule) {
    EXPECT_EQ(str(p["parameter"][0], "name"), "outcome");
    EXPECT_EQ(str(p["parameter"][0]["resource"], "resourceType"), "OperationOutcome");
    for (const char* version : {"2.1", "2.2"}) {
      EXPECT_EQ(sign(hook_request(sc, {}, version), nullptr).count("questionnaire"), 0u);
    }
    return;
  }
  ASSERT_EQ(str(p["parameter"][0], "name"), "PackageBundle");
  const Value& bundle = p["parameter"][0]["resource"];
  ASSERT_EQ(str(bundle, "type"), "collection");
  const Value& questionnaire = bundle["entry"][0]["resource"];
  EXPECT_EQ(str(questionnaire, "resourceType"), "Questionnaire");
  EXPECT_EQ(
      str(questionnaire["extension"][0], "url"),
      "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive");
  Document current;
  current.CopyFrom(bundle["entry"][1]["resource"], current.GetAllocator());
  ASSERT_EQ(str(current, "resourceType"), "QuestionnaireResponse");
  EXPECT_EQ(str(current, "status"), "in-progress");
  EXPECT_EQ(coverage_information(current)["coverage-assertion-id"], assertion);
  // CRD 2.1 and 2.2 name the questionnaire in the coverage-information wherever documentation
  // is asked for; CRD 2.0.1 has no such sub-extension.
  const std::string canonical = str(questionnaire, "url") + "|" + str(questionnaire, "version");
  EXPECT_EQ(first.count("questionnaire"), 0u);
  for (const char* version : {"2.1", "2.2"}) {
    auto shaped = sign(hook_request(sc, {}, version), nullptr);
    if (shaped["doc-needed"].empty()) {
      EXPECT_EQ(shaped.count("questionnaire"), 0u) << version;
    } else {
      EXPECT_EQ(shaped["questionnaire"], canonical) << version;
    }
  }
  if (!first["doc-needed"].empty()) {
    EXPECT_EQ(coverage_information(current)["questionnaire"], canonical);
  }
  // The contained questionnaire is the one-off instance SDC describes: derived from the
  // package's canonical, with no url of its own, naming the base of $next-question.
  const Value& contained = current["contained"][0];
  EXPECT_FALSE(contained.HasMember("url"));
  ASSERT_TRUE(contained.HasMember("derivedFrom"));
  EXPECT_EQ(std::string(contained["derivedFrom"][0].GetString()), canonical);
  EXPECT_EQ(str(questionnaire["extension"][0], "valueUrl"),
            str(contained["extension"][0], "valueUrl"));

  // What the record already answers comes answered, read-only, marked as filled in from the
  // record ("auto") with the resources it was read from, which are in the request's record.
  check_prefilled(current, request);

  // What a response says: its status, decision and the questions left unanswered.
  auto read = [](const Value& qr, Step& step) {
    step.status = str(qr, "status");
    step.decision = coverage_information(qr);
    step.open.clear();
    if (!qr.HasMember("item")) return;
    for (const auto& i : qr["item"].GetArray()) {
      if (!i.HasMember("answer") || i["answer"].Empty()) step.open.push_back(str(i, "linkId"));
    }
  };
  auto ask = [&](const Document& qr, Step& step) {
    auto r = post("/Questionnaire/$next-question", parameters("in", text(qr)));
    Document out;
    EXPECT_TRUE(r);
    if (!r) return out;
    EXPECT_EQ(r->status, 200) << r->body;
    Document d = parse(r->body);
    EXPECT_EQ(str(d["parameter"][0], "name"), "out");
    out.CopyFrom(d["parameter"][0]["resource"], out.GetAllocator());
    read(out, step);
    return out;
  };
  // `qr` with item `link` answered by candidate `choice`.
  auto with_answer = [&](const Value& qr, const std::string& link, size_t choice) {
    Document d;
    d.CopyFrom(qr, d.GetAllocator());
    auto& a = d.GetAllocator();
    const Value* question = nullptr;
    for (const auto& i : qr["contained"][0]["item"].GetArray()) {
      if (str(i, "linkId") == link) question = &i;
    }
    EXPECT_NE(question, nullptr);
    if (question == nullptr) return d;
    std::vector<Value> answers = candidates(*question, a);
    EXPECT_LT(choice, answers.size());
    for (auto& item : d["item"].GetArray()) {
      if (str(item, "linkId") != link) continue;
      Value list(rapidjson::kArrayType);
      if (choice < answers.size()) list.PushBack(answers[choice], a);
      item.RemoveMember("answer");
      item.AddMember("answer", list, a);
    }
    return d;
  };

  // Walk: each round, every open question must be one whose answer alone (the others left
  // unanswered) changes the result; then the script answers them all, until completed.
  Step step;
  read(current, step);
  std::set<std::string> asked;
  bool documents_asked = false;
  for (int round = 0; round < 30 && step.status != "completed"; ++round) {
    ASSERT_FALSE(step.open.empty()) << "in-progress with nothing to answer";
    Document answered;
    answered.CopyFrom(current, answered.GetAllocator());
    for (const std::string& link : step.open) {
      EXPECT_TRUE(asked.insert(link).second) << link << " asked twice";
      if (link.rfind("document-", 0) == 0) {
        documents_asked = true;
      } else {
        Document scratch;
        const Value* question = nullptr;
        for (const auto& i : current["contained"][0]["item"].GetArray()) {
          if (str(i, "linkId") == link) question = &i;
        }
        ASSERT_NE(question, nullptr);
        size_t n = candidates(*question, scratch.GetAllocator()).size();
        ASSERT_GE(n, 2u) << link << " offers fewer than two answers";
        std::set<std::string> results;
        for (size_t c = 0; c < n; ++c) {
          Step s;
          ask(with_answer(current, link, c), s);
          std::string r = s.status + "/" + s.decision["covered"] + "/" + s.decision["doc-needed"];
          for (const auto& o : s.open) r += "/" + o;
          results.insert(r);
        }
        EXPECT_GE(results.size(), 2u)
            << link << " was asked but every answer leads to the same result";
      }
      Document next = with_answer(answered, link, 0);
      answered.Swap(next);
    }
    current = ask(answered, step);
  }
  ASSERT_EQ(step.status, "completed") << text(current);
  EXPECT_EQ(step.decision["coverage-assertion-id"], assertion);
  // The last $next-question decided under the same id: its determination is stored last,
  // with the response as its evidence.
  {
    Document looked_up = parse(stored(assertion));
    const Value& list = looked_up["assertions"];
    ASSERT_GE(list.Size(), 2u);
    const Value& latest = list[list.Size() - 1];
    EXPECT_EQ(str(latest["hookCall"], "hook"), "dtr-next-question");
    EXPECT_EQ(str(latest, "covered"), step.decision["covered"]);
    EXPECT_EQ(str(list[0], "covered"), "conditional");
    if (!asked.empty() && step.decision["covered"] == "covered") {
      EXPECT_NE(text(latest["criteria"]).find("QuestionnaireResponse/" + str(current, "id")),
                std::string::npos)
          << text(latest);
    }
  }
  EXPECT_FALSE(asked.empty());
  EXPECT_NE(step.decision["covered"], "conditional") << text(current);
  if (documents_asked) {
    EXPECT_EQ(step.decision.count("doc-needed"), 0u);
  }

  // The completed response in the record decides the next order-sign the same way, and the
  // card names it as evidence.
  std::string body;
  Document completed;
  completed.CopyFrom(current, completed.GetAllocator());
  auto again = sign(hook_request(sc, {text(completed)}), &body);
  EXPECT_EQ(again["covered"], step.decision["covered"]);
  EXPECT_EQ(again["doc-needed"], step.decision["doc-needed"]);
  // ... under the same coverage-assertion-id: the order-sign revises the assertion.
  EXPECT_EQ(again["coverage-assertion-id"], assertion);
  // The stored determination's evidence names the response wherever the criteria were
  // evaluated (a diagnosis outside every indication leaves no criteria to show).
  std::string record = stored(again["coverage-assertion-id"]);
  if (!asked.empty() && again["covered"] == "covered") {
    EXPECT_NE(record.find("QuestionnaireResponse/" + str(current, "id")), std::string::npos)
        << record;
  }
}

INSTANTIATE_TEST_SUITE_P(GoldenConditional, Dtr, ::testing::ValuesIn(conditional_scenarios()),
                         [](const ::testing::TestParamInfo<fs::path>& info) {
                           std::string name = info.param.stem().string();
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

class DtrRefusals : public Dtr {
 protected:
  // A golden scenario, optionally with its patient renamed everywhere.
  static Document scenario(const std::string& name, const std::string& patient = "") {
    std::ifstream in(fs::path(CRYO_SOURCE_DIR) / "conformance/scenarios" / name);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string json = ss.str();
    if (!patient.empty()) {
      for (size_t at = 0; (at = json.find("pat1", at)) != std::string::npos; at += patient.size())
        json.replace(at, 4, patient);
    }
    return parse(json);
  }

  // A completed response as the EHR keeps it, naming `assertion` for `order` of `patient`.
  static std::string completed_response(const std::string& assertion, const std::string& order,
                                        const std::string& patient) {
    return R"({"resourceType":"QuestionnaireResponse","id":"answered-1","status":"completed",)"
           R"("questionnaire":"#q","contained":[{"resourceType":"Questionnaire","id":"q",)"
           R"("status":"active"}],"subject":{"reference":"Patient/)" +
           patient +
           R"("},"authored":"2026-11-30T10:00:00Z","extension":[)"
           R"({"url":"http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context",)"
           R"("valueReference":{"reference":"Coverage/cov1"}},)"
           R"({"url":"http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context",)"
           R"("valueReference":{"reference":")" +
           order + R"("}},{"url":")" + kCoverageInformation +
           R"(","extension":[{"url":"coverage-assertion-id","valueString":")" + assertion +
           R"("}]}],"item":[]})";
  }
};

TEST_F(DtrRefusals, WhatTheRecordAnswersComesFilledInWithItsSources) {
  Document sc = scenario("bcbsm-medicaid-conditional-extrahepatic-unknown.json");
  const std::string request = hook_request(sc);
  auto first = sign(request, nullptr);
  ASSERT_EQ(first["covered"], "conditional");
  auto pkg = package(first["coverage-assertion-id"]);
  ASSERT_TRUE(pkg && pkg->status == 200);
  Document p = parse(pkg->body);
  const Value& draft = p["parameter"][0]["resource"]["entry"][1]["resource"];
  std::vector<std::string> filled = check_prefilled(draft, request);
  // The record shows the tumour and its size (Observation/size24): both come answered, the
  // size from that observation; what it does not show stays a question.
  EXPECT_GE(filled.size(), 2u) << text(draft);
  EXPECT_NE(text(draft).find(R"("reference":"Observation/size24")"), std::string::npos)
      << text(draft);
  size_t open = 0;
  for (const auto& item : draft["item"].GetArray()) open += !item.HasMember("answer");
  EXPECT_GE(open, 1u);
}

// DTR clients may ask by the order (and Coverage) instead of CRD's context id: the package is
// the one for the latest determination of that order.
TEST_F(DtrRefusals, ThePackageCanBeAskedForByTheOrder) {
  Document sc = scenario("bcbsm-medicaid-conditional-extrahepatic-unknown.json");
  auto first = sign(hook_request(sc), nullptr);
  const std::string assertion = first["coverage-assertion-id"];
  ASSERT_FALSE(assertion.empty());
  const std::string order = text(sc["draftOrders"][0]);
  std::string coverage;
  for (const auto& r : sc["record"].GetArray()) {
    if (str(r, "resourceType") == "Coverage") coverage = text(r);
  }
  ASSERT_FALSE(coverage.empty());
  auto pkg = post("/Questionnaire/$questionnaire-package",
                  R"({"resourceType":"Parameters","parameter":[{"name":"coverage","resource":)" +
                      coverage + R"(},{"name":"order","resource":)" + order + "}]}");
  ASSERT_TRUE(pkg);
  ASSERT_EQ(pkg->status, 200) << pkg->body;
  Document p = parse(pkg->body);
  ASSERT_EQ(str(p["parameter"][0], "name"), "PackageBundle");
  EXPECT_EQ(coverage_information(
                p["parameter"][0]["resource"]["entry"][1]["resource"])["coverage-assertion-id"],
            assertion);
  // An order no determination was made for, or one that names no patient: refused.
  Document unknown = parse(order);
  unknown["id"].SetString("sr-never-signed", unknown.GetAllocator());
  auto none = post("/Questionnaire/$questionnaire-package",
                   R"({"resourceType":"Parameters","parameter":[{"name":"order","resource":)" +
                       text(unknown) + "}]}");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404) << none->body;
  EXPECT_NE(none->body.find("OperationOutcome"), std::string::npos);
  Document anonymous = parse(order);
  anonymous.RemoveMember("subject");
  auto nobody = post("/Questionnaire/$questionnaire-package",
                     R"({"resourceType":"Parameters","parameter":[{"name":"order","resource":)" +
                         text(anonymous) + "}]}");
  ASSERT_TRUE(nobody);
  EXPECT_EQ(nobody->status, 400) << nobody->body;
}

TEST_F(DtrRefusals, OnlyTheSameOrderPatientAndClientReviseAnAssertion) {
  Document sc = scenario("bcbsm-medicaid-conditional-extrahepatic-unknown.json");
  auto first = sign(hook_request(sc), nullptr);
  const std::string assertion = first["coverage-assertion-id"];
  ASSERT_FALSE(assertion.empty());
  // Control: the response for this order and patient continues the assertion.
  auto same = sign(hook_request(sc, {completed_response(assertion, "ServiceRequest/sr1", "pat1")}),
                   nullptr);
  EXPECT_EQ(same["coverage-assertion-id"], assertion);
  // Another order named in the response: a new id.
  auto other_order =
      sign(hook_request(sc, {completed_response(assertion, "ServiceRequest/sr-other", "pat1")}),
           nullptr);
  EXPECT_FALSE(other_order["coverage-assertion-id"].empty());
  EXPECT_NE(other_order["coverage-assertion-id"], assertion);
  // Another patient's call naming this patient's assertion: a new id, and the assertion's
  // determinations are only this patient's.
  Document other = scenario("bcbsm-medicaid-conditional-extrahepatic-unknown.json", "pat-other");
  auto forged =
      sign(hook_request(other, {completed_response(assertion, "ServiceRequest/sr1", "pat-other")}),
           nullptr);
  EXPECT_FALSE(forged["coverage-assertion-id"].empty());
  EXPECT_NE(forged["coverage-assertion-id"], assertion);
  Document looked_up = parse(stored(assertion));
  ASSERT_EQ(looked_up["assertions"].Size(), 2u);
  for (const auto& a : looked_up["assertions"].GetArray())
    EXPECT_EQ(str(a["hookCall"], "patientId"), "pat1");
}

TEST_F(DtrRefusals, UnknownAssertionBadParametersAndForeignItemsAreRefused) {
  auto unknown = post(
      "/Questionnaire/$questionnaire-package",
      R"({"resourceType":"Parameters","parameter":[{"name":"context","valueString":"no-such-id"}]})");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_NE(unknown->body.find("OperationOutcome"), std::string::npos);
  auto no_context =
      post("/Questionnaire/$questionnaire-package", R"({"resourceType":"Parameters"})");
  ASSERT_TRUE(no_context);
  EXPECT_EQ(no_context->status, 400);
  EXPECT_NE(no_context->body.find("OperationOutcome"), std::string::npos);
  auto not_json = post("/Questionnaire/$next-question", "{");
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400);
  auto no_qr = post("/Questionnaire/$next-question", R"({"resourceType":"Parameters"})");
  ASSERT_TRUE(no_qr);
  EXPECT_EQ(no_qr->status, 400);
  EXPECT_NE(no_qr->body.find("OperationOutcome"), std::string::npos);
}

// DTR calls are kept in the audit store beside the hook calls (request and response, never
// a token), and `policies replay` re-decides the hook calls only.
TEST_F(DtrRefusals, CallsAreAuditedAndLeftOutOfReplay) {
  std::ifstream in(
      fs::path(CRYO_SOURCE_DIR) /
      "conformance/scenarios/florida-blue-commercial-conditional-resectability-unknown.json");
  std::stringstream ss;
  ss << in.rdbuf();
  Document sc;
  sc.Parse(ss.str().c_str());
  ASSERT_FALSE(sc.HasParseError());
  auto first = sign(hook_request(sc), nullptr);
  auto pkg = package(first["coverage-assertion-id"]);
  ASSERT_TRUE(pkg && pkg->status == 200);
  Document p = parse(pkg->body);
  std::string qr = text(p["parameter"][0]["resource"]["entry"][1]["resource"]);
  auto next = post("/Questionnaire/$next-question", parameters("questionnire-response-typo", qr));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 400);
  next = post("/Questionnaire/$next-question", parameters("questionnaire-response", qr));
  ASSERT_TRUE(next && next->status == 200);

  auto store = audit::open_store((dir_ / "store").string());
  ASSERT_TRUE(store) << store.error().to_string();
  std::map<std::string, int> hooks;
  auto visited = (*store)->for_each_call({}, "", [&](const audit::HookRecord& call) {
    ++hooks[call.hook];
    if (call.hook.starts_with("dtr-")) {
      EXPECT_EQ(call.service_id, "dtr");
      EXPECT_EQ(call.patient_id, str(sc, "patientId"));
      EXPECT_NE(call.response_json.find("QuestionnaireResponse"), std::string::npos);
    }
    return true;
  });
  ASSERT_TRUE(visited);
  EXPECT_EQ(hooks["order-sign"], 1);
  EXPECT_EQ(hooks["dtr-questionnaire-package"], 1);
  EXPECT_EQ(hooks["dtr-next-question"], 1);  // the refused one is not a call that answered

  fs::path report = dir_ / "replay.json";
  CommandResult r = run_command({CRYO_CRD_BINARY, "policies", "replay", "--candidate",
                                 (fs::path(CRYO_SOURCE_DIR) / "policies/data").string(), "--data",
                                 (dir_ / "store").string(), "--report", report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream rin(report);
  std::stringstream rs;
  rs << rin.rdbuf();
  Document d = parse(rs.str());
  EXPECT_EQ(d["calls"].GetInt64(), 1);
  EXPECT_EQ(d["notRedecided"].GetInt64(), 0);
}

// Covered with documents missing: the package asks for exactly those documents, attaching
// them lifts the documentation request, and the completed response in the record supplies
// them at the next order-sign.
TEST_F(DtrRefusals, MissingDocumentsAreAskedAndAttachingThemLiftsTheRequest) {
  std::ifstream in(fs::path(CRYO_SOURCE_DIR) /
                   "conformance/scenarios/florida-blue-commercial-covered-missing-documents.json");
  std::stringstream ss;
  ss << in.rdbuf();
  Document sc;
  sc.Parse(ss.str().c_str());
  ASSERT_FALSE(sc.HasParseError());
  auto first = sign(hook_request(sc), nullptr);
  ASSERT_EQ(first["covered"], "covered");
  ASSERT_EQ(first["doc-needed"], "clinical");
  auto pkg = package(first["coverage-assertion-id"]);
  ASSERT_TRUE(pkg && pkg->status == 200);
  Document p = parse(pkg->body);
  ASSERT_EQ(str(p["parameter"][0], "name"), "PackageBundle");
  Document qr;
  qr.CopyFrom(p["parameter"][0]["resource"]["entry"][1]["resource"], qr.GetAllocator());
  auto& a = qr.GetAllocator();
  ASSERT_TRUE(qr.HasMember("item") && !qr["item"].Empty());
  // The criteria come answered from the record; what is asked is the documents only.
  size_t documents = 0;
  for (auto& item : qr["item"].GetArray()) {
    if (item.HasMember("answer")) continue;
    EXPECT_EQ(str(item, "linkId").rfind("document-", 0), 0u) << str(item, "linkId");
    ++documents;
  }
  EXPECT_GE(documents, 1u);
  // Declining them all keeps the request; attaching them all lifts it.
  auto next = post("/Questionnaire/$next-question", parameters("in", text(qr)));
  ASSERT_TRUE(next && next->status == 200);
  Document declined = parse(next->body);
  EXPECT_EQ(str(declined["parameter"][0]["resource"], "status"), "completed");
  EXPECT_EQ(coverage_information(declined["parameter"][0]["resource"])["doc-needed"], "clinical");
  for (auto& item : qr["item"].GetArray()) {
    if (item.HasMember("answer")) continue;
    Value att(rapidjson::kObjectType);
    att.AddMember("contentType", "application/pdf", a);
    att.AddMember("data", "JVBERi0xLjQK", a);
    // Written before the date of service, as the policy's document window asks.
    att.AddMember("creation", Value(str(sc["draftOrders"][0], "authoredOn").c_str(), a), a);
    Value ans(rapidjson::kObjectType);
    ans.AddMember("valueAttachment", att, a);
    Value list(rapidjson::kArrayType);
    list.PushBack(ans, a);
    item.AddMember("answer", list, a);
  }
  next = post("/Questionnaire/$next-question", parameters("in", text(qr)));
  ASSERT_TRUE(next && next->status == 200);
  Document attached = parse(next->body);
  const Value& done = attached["parameter"][0]["resource"];
  EXPECT_EQ(str(done, "status"), "completed");
  EXPECT_EQ(coverage_information(done)["covered"], "covered");
  EXPECT_EQ(coverage_information(done).count("doc-needed"), 0u) << text(done);
  // The EHR keeps the completed response; it supplies the documents at the next order-sign.
  auto again = sign(hook_request(sc, {text(done)}), nullptr);
  EXPECT_EQ(again["covered"], "covered");
  EXPECT_EQ(again.count("doc-needed"), 0u);
}

// The DTR launch card: offered in discovery only where the deployment names its DTR app, off by
// default (2.0.1 answers unchanged), and when the client switches it on, a SMART link whose
// appContext names the coverage-assertion-id, the order and the questionnaire.
TEST(DtrLaunch, ASmartLinkCardOnlyWhenConfiguredAndAskedFor) {
  fs::path dir = fs::temp_directory_path() / ("cryo-dtr-launch-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "config.json")
      << R"({"dtr": {"launch_url": "https://dtr.payer.example/launch"}})";
  ServerProcess server(std::vector<std::string>{"--config", (dir / "config.json").string(),
                                                "--data", (dir / "store").string()});
  httplib::Client c("127.0.0.1", server.port());
  auto disc = c.Get("/cds-services");
  ASSERT_TRUE(disc && disc->status == 200);
  Document services = parse(disc->body);
  std::map<std::string, std::string> prefetch;
  bool offered = false;
  for (const auto& s : services["services"].GetArray()) {
    if (str(s, "id") != "order-sign-crd") continue;
    for (auto& m : s["prefetch"].GetObject()) prefetch[m.name.GetString()] = m.value.GetString();
    for (const auto& o : s["extension"]["davinci-crd.configuration-options"].GetArray()) {
      if (str(o, "code") != "dtr-launch") continue;
      offered = true;
      EXPECT_FALSE(o["default"].GetBool());
    }
  }
  EXPECT_TRUE(offered);

  std::ifstream in(
      fs::path(CRYO_SOURCE_DIR) /
      "conformance/scenarios/florida-blue-commercial-conditional-resectability-unknown.json");
  std::stringstream ss;
  ss << in.rdbuf();
  Document sc;
  sc.Parse(ss.str().c_str());
  ASSERT_FALSE(sc.HasParseError());
  auto request = [&](bool launch) {
    Document req(rapidjson::kObjectType);
    auto& a = req.GetAllocator();
    std::string patient = str(sc, "patientId");
    req.AddMember("hook", "order-sign", a);
    req.AddMember("hookInstance", Value(("launch-" + std::to_string(launch)).c_str(), a), a);
    Value context(rapidjson::kObjectType);
    context.AddMember("userId", "Practitioner/dtr-clinician", a);
    context.AddMember("patientId", Value(patient.c_str(), a), a);
    context.AddMember("draftOrders", conformance::collection_bundle(&sc["draftOrders"], a), a);
    req.AddMember("context", context, a);
    conformance::Record record(sc["record"]);
    Value pf(rapidjson::kObjectType);
    for (const auto& [key, tmpl] : prefetch) {
      Value value;
      if (auto q = conformance::fill_template(
              tmpl, {{"patientId", patient}, {"userId", "Practitioner/dtr-clinician"}}))
        record.query(*q, value, a);
      pf.AddMember(Value(key.c_str(), a), value, a);
    }
    req.AddMember("prefetch", pf, a);
    if (launch) {
      Value ext(rapidjson::kObjectType);
      Value conf(rapidjson::kObjectType);
      conf.AddMember("dtr-launch", true, a);
      ext.AddMember("davinci-crd.configuration", conf, a);
      req.AddMember("extension", ext, a);
    }
    return text(req);
  };
  auto off = c.Post("/cds-services/order-sign-crd", request(false), "application/json");
  ASSERT_TRUE(off && off->status == 200);
  EXPECT_EQ(off->body.find("\"smart\""), std::string::npos);
  auto on = c.Post("/cds-services/order-sign-crd", request(true), "application/json");
  ASSERT_TRUE(on && on->status == 200) << (on ? on->body : "");
  Document d = parse(on->body);
  const Value* link = nullptr;
  for (const auto& card : d["cards"].GetArray()) {
    for (const auto& l : card["links"].GetArray()) {
      if (str(l, "type") == "smart") link = &l;
    }
  }
  ASSERT_NE(link, nullptr) << on->body.substr(0, 600);
  EXPECT_EQ(str(*link, "url"), "https://dtr.payer.example/launch");
  Document app;
  app.Parse(str(*link, "appContext").c_str());
  ASSERT_FALSE(app.HasParseError());
  std::string assertion;
  for (const auto& action : d["systemActions"].GetArray()) {
    assertion = coverage_information(action["resource"])["coverage-assertion-id"];
  }
  EXPECT_EQ(str(app, "coverageAssertionId"), assertion);
  EXPECT_EQ(str(app, "order"), "ServiceRequest/" + str(sc["draftOrders"][0], "id"));
  EXPECT_NE(str(app, "questionnaire").find("/Questionnaire/"), std::string::npos);
  server.stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cryo::testing
