#include "conformance/testing/broken_server.h"

#include <chrono>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/url.h"
#include "security/base64url.h"

namespace cryo::conformance::testing {
namespace {

using Json = rapidjson::Value;
using rapidjson::Document;

constexpr const char* kCoverageInfoUrl =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

// Part `index` of a compact JWS (0: header, 1: claims), decoded; "" when it does not decode.
std::string segment(const std::string& jwt, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = jwt.find('.', start) + 1;
  size_t end = jwt.find('.', start);
  return security::base64url_decode(std::string_view(jwt).substr(start, end - start)).value_or("");
}

std::string serialise(const Json& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

void error(httplib::Response& res, int status, const char* text, bool plain) {
  res.status = status;
  if (plain) {
    res.set_content(text, "text/plain");
    return;
  }
  Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("resourceType", "OperationOutcome", a);
  Json issue(rapidjson::kObjectType);
  issue.AddMember("severity", "error", a);
  issue.AddMember("code", "invalid", a);
  issue.AddMember("diagnostics", Json(text, a), a);
  Json issues(rapidjson::kArrayType);
  issues.PushBack(issue, a);
  d.AddMember("issue", issues, a);
  res.set_content(serialise(d), "application/fhir+json");
}

void sub(Json& subs, const char* url, const char* type, const std::string& value,
         Document::AllocatorType& a) {
  Json e(rapidjson::kObjectType);
  e.AddMember("url", Json(url, a), a);
  e.AddMember(Json(type, a), Json(value.c_str(), a), a);
  subs.PushBack(e, a);
}

const char* kDiscovery = R"({"services":[{"hook":"order-sign","id":"test-order-sign",
  "title":"Coverage requirements","description":"Coverage requirements for orders",
  "prefetch":{"patient":"Patient/{{context.patientId}}",
              "coverage":"Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor"},
  "extension":{"davinci-crd.configuration-options":[
    {"code":"coverage-info","type":"boolean","name":"Coverage information","description":"Return coverage information","default":true},
    {"code":"guideline","type":"boolean","name":"Guidelines","description":"Return guideline cards","default":true},
    {"code":"claim","type":"boolean","name":"Claim","description":"Return claim cards","default":true},
    {"code":"max-cards","type":"integer","name":"Maximum cards","description":"Most cards returned","default":10}]}}]})";

}  // namespace

BrokenServer::BrokenServer(Defect defect, std::shared_ptr<RequestSigner> verifier)
    : defect_(defect), verifier_(std::move(verifier)) {
  server_.Get("/cds-services", [this](const httplib::Request&, httplib::Response& res) {
    Document d;
    d.Parse(kDiscovery);
    auto& a = d.GetAllocator();
    Json& svc = d["services"][0];
    if (defect_ == Defect::kBadPrefetchTemplate)
      svc["prefetch"].AddMember("orders",
                                "ServiceRequest?_id={{context.draftOrders.ServiceRequest.id}}", a);
    if (defect_ == Defect::kBadConfigurationOption) {
      Json& opt = svc["extension"]["davinci-crd.configuration-options"][1];
      opt.RemoveMember("default");
      opt["type"] = "string";
    }
    res.set_content(serialise(d), "application/json");
  });
  server_.Post(R"(/cds-services/(.*))", [this](const httplib::Request& req,
                                               httplib::Response& res) { handle_post(req, res); });
  // Connections stay open for any number of calls, and each accepted one is counted (so a
  // test can tell whether the runner reuses them).
  server_.set_keep_alive_max_count(100000);
  server_.set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    ++connections_;
  });
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

BrokenServer::~BrokenServer() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

std::string BrokenServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string BrokenServer::first_authorization() const {
  MutexLock lock(mu_);
  return first_authorization_;
}

bool BrokenServer::authorised(const httplib::Request& req) const {
  std::string h = req.get_header_value("Authorization");
  {
    MutexLock lock(mu_);
    if (!h.empty() && first_authorization_.empty()) first_authorization_ = h;
  }
  if (!verifier_ || defect_ == Defect::kAcceptsAnyToken) return true;
  if (h.rfind("Bearer ", 0) != 0) return false;
  std::string jwt = h.substr(7);
  if (defect_ == Defect::kFollowsAnyJku) {
    // Trusts whatever key set the token points to: fetches its jku and lets it in.
    Document header;
    header.Parse(segment(jwt, 0).c_str());
    if (header.IsObject() && header.HasMember("jku") && header["jku"].IsString()) {
      if (auto url = parse_http_url(header["jku"].GetString())) {
        httplib::Client c(url->origin());
        auto r = c.Get(url->target());
        if (r && r->status == 200) return true;
      }
    }
  }
  if (!verifier_->verify(jwt)) return false;
  // exp: decode the claims segment.
  std::string claims = segment(jwt, 1);
  Document d;
  d.Parse(claims.c_str());
  if (d.HasParseError() || !d.HasMember("exp") || !d["exp"].IsInt64()) return false;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return d["exp"].GetInt64() > now && d.HasMember("jti") && d.HasMember("aud");
}

namespace {

using Allocator = Document::AllocatorType;

// What the EHR asked for in the davinci-crd.configuration extension.
struct CrdConfiguration {
  bool coverage_info = true;
  bool guideline = true;
  bool claim = true;
  int max_cards = 10;
};

CrdConfiguration read_configuration(const Json& in, Defect defect) {
  CrdConfiguration c;
  if (!in.HasMember("extension") || !in["extension"].IsObject() ||
      !in["extension"].HasMember("davinci-crd.configuration") ||
      defect == Defect::kIgnoresConfiguration) {
    return c;
  }
  const Json& cfg = in["extension"]["davinci-crd.configuration"];
  if (cfg.HasMember("coverage-info") && cfg["coverage-info"].IsBool())
    c.coverage_info = cfg["coverage-info"].GetBool();
  if (cfg.HasMember("guideline") && cfg["guideline"].IsBool())
    c.guideline = cfg["guideline"].GetBool();
  if (cfg.HasMember("claim") && cfg["claim"].IsBool()) c.claim = cfg["claim"].GetBool();
  if (cfg.HasMember("max-cards") && cfg["max-cards"].IsInt())
    c.max_cards = cfg["max-cards"].GetInt();
  return c;
}

// The guideline card, with the card-level defects applied.
Json guideline_card(Defect defect, Allocator& a) {
  Document card;
  card.Parse(R"({"uuid":"c1","summary":"Cryoablation criteria met","indicator":"info",
      "detail":"The documented findings meet the policy.",
      "source":{"label":"Test Payer","topic":{"system":"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp","code":"guideline"}},
      "selectionBehavior":"at-most-one",
      "suggestions":[{"label":"Add a note","uuid":"s1","actions":[{"type":"create","description":"Create a task","resource":{"resourceType":"Task","status":"draft","intent":"order"}}]}],
      "links":[{"label":"Policy","url":"https://payer.example/policy","type":"absolute"},
               {"label":"App","url":"https://payer.example/app","type":"smart","appContext":"x"}]})");
  if (defect == Defect::kLongSummary)
    card["summary"].SetString(std::string(150, 'x').c_str(), card.GetAllocator());
  if (defect == Defect::kSuggestionWithoutUuid) card["suggestions"][0].RemoveMember("uuid");
  if (defect == Defect::kBadIndicator) card["indicator"] = "hard-stop";
  if (defect == Defect::kRelativeLink) card["links"][0]["url"] = "/portal";
  if (defect == Defect::kAppContextOnAbsoluteLink)
    card["links"][0].AddMember("appContext", "x", card.GetAllocator());
  if (defect == Defect::kMissingSourceTopic) card["source"].RemoveMember("topic");
  if (defect == Defect::kNoSelectionBehavior) card.RemoveMember("selectionBehavior");
  return Json(card, a);
}

Json claim_card(Allocator& a) {
  Document card;
  card.Parse(R"({"summary":"Bill with the cryoablation code","indicator":"info",
      "source":{"label":"Test Payer","topic":{"system":"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp","code":"claim"}}})");
  return Json(card, a);
}

// The coverage-information extension for the n-th draft order, with its defects applied.
Json coverage_information(int n, Defect defect, Allocator& a) {
  Json subs(rapidjson::kArrayType);
  sub(subs, "coverage", "valueReference", "", a);
  subs[0]["valueReference"].SetObject();
  subs[0]["valueReference"].AddMember("reference", "Coverage/cov1", a);
  std::string covered = defect == Defect::kWrongDecision                  ? "not-covered"
                        : defect == Defect::kNotCoveredWithPaNeeded       ? "not-covered"
                        : defect == Defect::kConditionalWithoutInfoNeeded ? "conditional"
                                                                          : "covered";
  sub(subs, "covered", "valueCode", covered, a);
  if (covered == "covered" || defect == Defect::kNotCoveredWithPaNeeded)
    sub(subs, "pa-needed", "valueCode", "no-auth", a);
  if (covered != "covered") {
    Json reason(rapidjson::kObjectType);
    reason.AddMember("url", "reason", a);
    Json cc(rapidjson::kObjectType);
    cc.AddMember("text", "Criteria not met", a);
    reason.AddMember("valueCodeableConcept", cc, a);
    subs.PushBack(reason, a);
  }
  sub(subs, "date", "valueDate", "2025-06-01", a);
  if (defect != Defect::kCoverageInfoWithoutAssertionId) {
    std::string id = "assertion-1";
    if (defect == Defect::kTwoAssertionIdsForOneCoverage) id += "-" + std::to_string(n);
    sub(subs, "coverage-assertion-id", "valueString", id, a);
  }
  Json ext(rapidjson::kObjectType);
  ext.AddMember("url", Json(kCoverageInfoUrl, a), a);
  ext.AddMember("extension", subs, a);
  return ext;
}

// The update action that annotates one draft order, with the order-level defects applied.
Json coverage_action(const Json& order, int n, Defect defect, Allocator& a) {
  Json resource(order, a);
  if (!resource.HasMember("extension"))
    resource.AddMember("extension", Json(rapidjson::kArrayType), a);
  resource["extension"].PushBack(coverage_information(n, defect, a), a);
  if (defect == Defect::kDropsDraftElement) resource.RemoveMember("authoredOn");
  if (defect == Defect::kAddsElementToOrder) {
    Json note(rapidjson::kArrayType);
    Json text(rapidjson::kObjectType);
    text.AddMember("text", "added by the payer", a);
    note.PushBack(text, a);
    resource.AddMember("note", note, a);
  }
  Json action(rapidjson::kObjectType);
  action.AddMember("type", "update", a);
  if (defect != Defect::kActionWithoutDescription)
    action.AddMember("description", "Coverage information for the order", a);
  action.AddMember("resource", resource, a);
  return action;
}

Json coverage_actions(const Json& ctx, Defect defect, Allocator& a) {
  Json actions(rapidjson::kArrayType);
  if (!ctx.HasMember("draftOrders") || !ctx["draftOrders"].IsObject() ||
      !ctx["draftOrders"].HasMember("entry") || !ctx["draftOrders"]["entry"].IsArray()) {
    return actions;
  }
  int n = 0;
  for (auto& e : ctx["draftOrders"]["entry"].GetArray()) {
    if (!e.IsObject() || !e.HasMember("resource")) continue;
    actions.PushBack(coverage_action(e["resource"], n, defect, a), a);
    ++n;
  }
  return actions;
}

}  // namespace

void BrokenServer::handle_post(const httplib::Request& req, httplib::Response& res) {
  const bool plain = defect_ == Defect::kPlainTextErrors;
  if (!authorised(req)) return error(res, 401, "unauthorized", plain);
  if (req.matches[1] != "test-order-sign" && defect_ != Defect::kUnknownServiceAnswers200)
    return error(res, 404, "unknown service", plain);
  Document in;
  in.Parse(req.body.c_str());
  if (in.HasParseError() || !in.IsObject()) {
    if (defect_ == Defect::kAcceptsBadJson) {
      res.set_content(R"({"cards":[]})", "application/json");
      return;
    }
    return error(res, 400, "not JSON", plain);
  }
  if (!in.HasMember("hookInstance") || !in.HasMember("context") || !in["context"].IsObject())
    return error(res, 400, "hookInstance and context are required", plain);
  const bool has_prefetch =
      in.HasMember("prefetch") && in["prefetch"].IsObject() && in["prefetch"].HasMember("coverage");
  if (!has_prefetch && !in.HasMember("fhirServer") && defect_ != Defect::kNo412WithoutPrefetch)
    return error(res, 412, "no coverage data", plain);

  const CrdConfiguration cfg = read_configuration(in, defect_);
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  Json cards(rapidjson::kArrayType);
  if (cfg.guideline) cards.PushBack(guideline_card(defect_, a), a);
  if (cfg.claim) cards.PushBack(claim_card(a), a);
  while (static_cast<int>(cards.Size()) > cfg.max_cards) cards.PopBack();
  if (defect_ != Defect::kMissingCards) out.AddMember("cards", cards, a);

  Json actions(rapidjson::kArrayType);
  if (cfg.coverage_info) actions = coverage_actions(in["context"], defect_, a);
  if (!actions.Empty()) out.AddMember("systemActions", actions, a);
  res.set_content(serialise(out), "application/json");
}

}  // namespace cryo::conformance::testing
