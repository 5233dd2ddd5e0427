#include "cds/dtr.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/text.h"
#include "cds/audit_recorder.h"
#include "cds/catalog.h"
#include "cds/operation_outcome.h"
#include "fhir/coding.h"
#include "fhir/json.h"
#include "policies/questions.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;
using Alloc = rapidjson::Document::AllocatorType;
using Reply = HttpServer::Reply;

constexpr std::string_view kFhirJson = "application/fhir+json";
constexpr std::string_view kAdaptive =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive";
// The adaptive questionnaire as a package hands it out (with its canonical url), and as each
// response contains it (a one-off instance derived from that canonical, with no url: SDC).
constexpr std::string_view kAdaptSearchProfile =
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt-search";
constexpr std::string_view kAdaptProfile =
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt";
constexpr std::string_view kQrProfile =
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse";
constexpr std::string_view kQrContext =
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context";
constexpr std::string_view kIntendedUse =
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/intendedUse";
constexpr std::string_view kCrdTemp = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";
constexpr std::string_view kCoverageInformation =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";
constexpr std::string_view kQuestionnaireUnit =
    "http://hl7.org/fhir/StructureDefinition/questionnaire-unit";
// An answer's origin (DTR): "auto" for what the payer filled in from the record.
constexpr std::string_view kInformationOrigin =
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin";
// The resource an answer was read from (FHIR extensions pack).
constexpr std::string_view kDerivationReference =
    "http://hl7.org/fhir/StructureDefinition/derivation-reference";
constexpr std::string_view kLoinc = "http://loinc.org";
constexpr std::string_view kDocumentPrefix = "document-";
constexpr size_t kMaxAnswers = 200;

Reply outcome(int status, std::string_view code, std::string_view message) {
  return {status, std::string(kFhirJson), operation_outcome(code, message)};
}

std::string to_text(const Json& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return std::string(b.GetString(), b.GetSize());
}

Json str(std::string_view s, Alloc& a) {
  return Json(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Json object() {
  return Json(rapidjson::kObjectType);
}
Json array() {
  return Json(rapidjson::kArrayType);
}

void put(Json& o, std::string_view name, Json v, Alloc& a) {
  o.AddMember(str(name, a), std::move(v), a);
}
void put(Json& o, std::string_view name, std::string_view v, Alloc& a) {
  put(o, name, str(v, a), a);
}

Json coding(std::string_view system, std::string_view code, std::string_view display, Alloc& a) {
  Json c = object();
  put(c, "system", system, a);
  put(c, "code", code, a);
  if (!display.empty()) put(c, "display", display, a);
  return c;
}

Json extension(std::string_view url, std::string_view value_name, Json value, Alloc& a) {
  Json e = object();
  put(e, "url", url, a);
  put(e, value_name, std::move(value), a);
  return e;
}

Json reference(std::string_view ref, Alloc& a) {
  Json r = object();
  put(r, "reference", ref, a);
  return r;
}

// What a QuestionnaireResponse this service handed out answers: the coverage-assertion-id of
// its coverage-information and the orders its context extensions name (the Coverage aside).
struct AnsweredFor {
  std::string assertion_id;
  std::vector<std::string> orders;
};
AnsweredFor answered_for(const Json& qr) {
  AnsweredFor out;
  for (const Json& e : fhir::items(member(qr, "extension"))) {
    std::string_view url = string_or_empty(member(e, "url"));
    if (url == kCoverageInformation) {
      for (const Json& sub : fhir::items(member(e, "extension"))) {
        if (string_or_empty(member(sub, "url")) == "coverage-assertion-id")
          out.assertion_id = std::string(string_or_empty(member(sub, "valueString")));
      }
    } else if (url == kQrContext) {
      std::string_view ref = string_or_empty(member(member(e, "valueReference"), "reference"));
      if (!ref.starts_with("Coverage/")) out.orders.emplace_back(ref);
    }
  }
  return out;
}

// Now, as a FHIR instant in UTC.
std::string now_text() {
  return audit::format_time(
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

// The DTR Parameters value named `name`: the parameter object, or nullptr.
const Json* parameter(const Json& params, std::string_view name) {
  for (const Json& p : fhir::items(member(params, "parameter"))) {
    if (string_or_empty(member(p, "name")) == name) return &p;
  }
  return nullptr;
}

// A determination and the call it came from, decided again.
struct Decided {
  audit::AssertionRecord stored;
  HookOutcome outcome;
  const OrderDetermination* order = nullptr;
  std::string fhir_server;  // the stored hook call's
};

class Dtr {
 public:
  Dtr(const HttpServer& server, const CoverageService& service, audit::AuditStore& store,
      AnswersCompleted completed)
      : server_(server), service_(service), store_(store), completed_(std::move(completed)) {}

  Reply package(std::string_view path, std::string_view authorization, std::string_view body) {
    std::string issuer;
    if (auto refused = authenticate(path, authorization, issuer)) return *refused;
    fhir::JsonDocument doc;
    if (auto r = parse(body, doc)) return *r;
    if (string_or_empty(member(doc, "resourceType")) != "Parameters")
      return outcome(400, "structure", "the input must be a FHIR Parameters resource");
    // The orders asked about (DTR: Request resources) and the patient they name.
    std::vector<std::string> order_refs;
    std::string patient;
    for (const Json& p : fhir::items(member(doc, "parameter"))) {
      if (string_or_empty(member(p, "name")) != "order") continue;
      const Json* r = member(p, "resource");
      if (r == nullptr || !r->IsObject() || string_or_empty(member(*r, "id")).empty())
        return outcome(400, "value", "the 'order' parameter must hold a resource with an id");
      order_refs.push_back(fhir::ResourceIndex::key_of(*r));
      std::string_view subject = string_or_empty(member(member(*r, "subject"), "reference"));
      if (subject.starts_with("Patient/")) patient = std::string(subject.substr(8));
    }
    std::string id(string_or_empty(member(parameter(doc, "context"), "valueString")));
    if (id.empty()) {
      if (order_refs.empty()) {
        return outcome(400, "required",
                       "the 'context' parameter (valueString: the coverage-assertion-id from CRD) "
                       "or the 'order' the questions are for is required");
      }
      if (auto failed = assertion_for_orders(order_refs, patient, issuer, id)) return *failed;
    }
    auto found = store_.find_assertion(id);
    if (!found) return outcome(503, "transient", "the audit store is unavailable");
    if (found->empty() || !same_client(found->front(), issuer))
      return outcome(404, "not-found", "no coverage assertion '" + std::string(id) + "'");
    rapidjson::Document out(rapidjson::kObjectType);
    Alloc& a = out.GetAllocator();
    put(out, "resourceType", "Parameters", a);
    Json params = array();
    std::vector<std::string> nothing_to_ask;
    bool matched = false;
    for (const audit::AssertionRecord* current : current_records(*found)) {
      const audit::AssertionRecord& rec = *current;
      if (!order_refs.empty() && std::find(order_refs.begin(), order_refs.end(),
                                           rec.determination.order_ref) == order_refs.end())
        continue;
      matched = true;
      Decided decided;
      if (auto failed = decide(rec, nullptr, decided)) return *failed;
      if (!policies::has_questions(decided.order->determination)) {
        nothing_to_ask.push_back(rec.determination.order_ref);
        continue;
      }
      Json bundle = package_bundle(decided, a);
      Json p = object();
      put(p, "name", "PackageBundle", a);
      put(p, "resource", std::move(bundle), a);
      params.PushBack(std::move(p), a);
    }
    if (!nothing_to_ask.empty()) {
      // The decision of these orders does not wait for anything a clinician can answer (it is
      // settled, or a program's own rules decide).
      Json issue = object();
      put(issue, "severity", "information", a);
      put(issue, "code", "informational", a);
      std::string orders;
      for (const std::string& o : nothing_to_ask) orders += (orders.empty() ? "" : ", ") + o;
      put(issue, "diagnostics",
          "nothing to ask for " + orders +
              ": no answer can change the decision and no document is missing",
          a);
      Json issues = array();
      issues.PushBack(std::move(issue), a);
      Json oo = object();
      put(oo, "resourceType", "OperationOutcome", a);
      put(oo, "issue", std::move(issues), a);
      Json p = object();
      put(p, "name", "outcome", a);
      put(p, "resource", std::move(oo), a);
      params.PushBack(std::move(p), a);
    }
    if (!matched) {
      std::string orders;
      for (const std::string& o : order_refs) orders += (orders.empty() ? "" : ", ") + o;
      return outcome(404, "not-found", "coverage assertion '" + id + "' holds no order " + orders);
    }
    put(out, "parameter", std::move(params), a);
    std::string text = to_text(out);
    return audited("dtr-questionnaire-package", found->front(), issuer, body, std::move(text));
  }

  Reply next_question(std::string_view path, std::string_view authorization,
                      std::string_view body) {
    std::string issuer;
    if (auto refused = authenticate(path, authorization, issuer)) return *refused;
    fhir::JsonDocument doc;
    if (auto r = parse(body, doc)) return *r;
    const Json* qr = &doc;
    if (string_or_empty(member(doc, "resourceType")) == "Parameters") {
      // DTR names the input "in"; SDC's next-question "questionnaire-response".
      const Json* p = parameter(doc, "in");
      if (p == nullptr) p = parameter(doc, "questionnaire-response");
      qr = p != nullptr ? member(*p, "resource") : nullptr;
    }
    if (qr == nullptr || string_or_empty(member(*qr, "resourceType")) != "QuestionnaireResponse")
      return outcome(400, "required", "the 'in' parameter (a QuestionnaireResponse) is required");
    const AnsweredFor links = answered_for(*qr);
    const std::string& assertion_id = links.assertion_id;
    const std::string order_ref = links.orders.empty() ? std::string() : links.orders.back();
    if (assertion_id.empty() || order_ref.empty()) {
      return outcome(400, "required",
                     "the QuestionnaireResponse must carry the coverage-information extension "
                     "with the coverage-assertion-id and a context extension naming the order, as "
                     "$questionnaire-package handed it out");
    }
    auto found = store_.find_assertion(assertion_id);
    if (!found) return outcome(503, "transient", "the audit store is unavailable");
    const std::vector<const audit::AssertionRecord*> current = current_records(*found);
    auto it = std::find_if(current.begin(), current.end(), [&](const audit::AssertionRecord* r) {
      return r->determination.order_ref == order_ref;
    });
    const audit::AssertionRecord* rec = it == current.end() ? nullptr : *it;
    if (rec == nullptr || !same_client(*rec, issuer)) {
      return outcome(404, "not-found",
                     "no coverage assertion '" + assertion_id + "' for " + order_ref);
    }
    // The answers so far, flattened, checked against what this questionnaire asks.
    std::vector<const Json*> items;
    for (const Json& item : fhir::items(member(*qr, "item"))) {
      items.push_back(&item);
      for (const Json& inner : fhir::items(member(item, "item"))) items.push_back(&inner);
    }
    if (items.size() > kMaxAnswers)
      return outcome(413, "too-costly", "more than " + std::to_string(kMaxAnswers) + " answers");
    Decided before_call;
    if (auto failed = decide(*rec, nullptr, before_call)) return *failed;
    const Decided* before = &before_call;
    std::set<std::string> askable = askable_links(before->order->determination);
    // Every item the client was shown: answered, or left unanswered (not known: not asked
    // again).
    std::vector<std::string> asked;
    for (const Json* item : items) {
      std::string link(string_or_empty(member(*item, "linkId")));
      if (!askable.contains(link)) {
        return outcome(400, "value", "item '" + link + "' is not a question of this questionnaire");
      }
      asked.push_back(link);
    }
    // The answers as evidence: the response as if completed (the mappings read only completed
    // responses), in the stored call's record.
    rapidjson::Document evidence;
    evidence.CopyFrom(*qr, evidence.GetAllocator());
    std::string qr_id(string_or_empty(member(*qr, "id")));
    if (qr_id.empty()) qr_id = "dtr-" + assertion_id;
    Alloc& ea = evidence.GetAllocator();
    evidence.RemoveMember("id");
    evidence.RemoveMember("status");
    evidence.RemoveMember("subject");
    put(evidence, "id", qr_id, ea);
    put(evidence, "status", "completed", ea);
    // Answered now when the response does not say: the date documents are checked on.
    if (!evidence.HasMember("authored")) put(evidence, "authored", now_text(), ea);
    put(evidence, "subject", reference("Patient/" + rec->call.patient_id, ea), ea);
    Decided after_call;
    if (auto failed = decide(*rec, &evidence, after_call)) return *failed;
    const Decided* after = &after_call;

    rapidjson::Document out(rapidjson::kObjectType);
    Alloc& a = out.GetAllocator();
    Json response = respond(*before, *after, qr, asked, qr_id, a);
    // Completed: the answers decided, under the same coverage-assertion-id, with the response
    // as evidence of the stored determination.
    std::vector<audit::DeterminationRecord> decided;
    if (string_or_empty(member(response, "status")) == "completed") {
      decided.push_back(
          determination_record(after->outcome, *after->order, service_.options().service_version));
      decided.back().coverage_assertion_id = assertion_id;
      decided.back().continues_assertion = true;
      if (completed_) completed_(issuer, after->fhir_server, rec->call.patient_id);
    }
    put(out, "resourceType", "Parameters", a);
    Json params = array();
    Json p = object();
    put(p, "name", "out", a);  // DTR next-question output parameter
    put(p, "resource", std::move(response), a);
    params.PushBack(std::move(p), a);
    put(out, "parameter", std::move(params), a);
    std::string text = to_text(out);
    return audited("dtr-next-question", *rec, issuer, body, std::move(text), std::move(decided));
  }

 private:
  // The response to hand back: the client's items (`qr`; nullptr for the package's draft),
  // then, unanswered, the questions that can still change the decision `after` — the one that
  // can settle it first — or, once the criteria are settled, the documents still missing whose
  // supply can lift the documentation request; completed with the decision when there is
  // nothing left to ask. `before` is the decision without answers (the questionnaire's items).
  Json respond(const Decided& before, const Decided& after, const Json* qr,
               const std::vector<std::string>& asked, const std::string& qr_id, Alloc& a) const {
    const policies::Determination& d = after.order->determination;
    auto not_asked = [&](std::string_view link) {
      return std::find(asked.begin(), asked.end(), link) == asked.end();
    };
    std::vector<policies::OpenQuestion> open;
    for (const policies::OpenQuestion& q : policies::open_questions(d)) {
      if (not_asked(q.fact)) open.push_back(q);
    }
    std::vector<const policies::DocumentCheck*> documents;
    if (open.empty()) {
      for (const policies::DocumentCheck* c : policies::missing_documents(d)) {
        if (not_asked(std::string(kDocumentPrefix) + c->codes[0])) documents.push_back(c);
      }
    }
    const bool done = open.empty() && documents.empty();
    Json response = object();
    if (qr != nullptr) {
      response.CopyFrom(*qr, a);
    } else {
      put(response, "resourceType", "QuestionnaireResponse", a);
      Json meta = object();
      Json profiles = array();
      profiles.PushBack(str(kQrProfile, a), a);
      put(meta, "profile", std::move(profiles), a);
      put(response, "meta", std::move(meta), a);
    }
    // The contained questionnaire: every item shown so far and the questions still open.
    Json questionnaire = adaptive_questionnaire(after, true, a);
    Json q_items = array();
    Json items = array();
    if (qr != nullptr) {
      for (const Json& item : fhir::items(member(*qr, "item"))) items.PushBack(Json(item, a), a);
    }
    auto ask = [&](Json item) {
      Json shown = object();
      put(shown, "linkId", str(string_or_empty(member(item, "linkId")), a), a);
      put(shown, "text", str(string_or_empty(member(item, "text")), a), a);
      items.PushBack(std::move(shown), a);
      q_items.PushBack(std::move(item), a);
    };
    for (const std::string& link : asked) {
      if (auto item = item_for_link(before, link, a)) q_items.PushBack(std::move(*item), a);
    }
    if (qr == nullptr) {
      // The draft starts with what the record already answers (DTR pre-population); the
      // client carries these items back with its answers.
      std::set<std::string> shown;
      for (const policies::OpenQuestion& q : open) shown.insert(q.fact);
      for (const policies::SectionResult& s : d.sections) {
        for (const policies::CriterionResult& r : s.rows) {
          if (r.fact.empty() || !shown.insert(r.fact).second) continue;
          if (auto recorded = recorded_item(after.order->facts, r, a)) {
            items.PushBack(recorded->first, a);
            q_items.PushBack(recorded->second, a);
          }
        }
      }
    }
    for (const policies::OpenQuestion& q : open) ask(question_item(q, before.order->facts, a));
    for (const policies::DocumentCheck* c : documents) ask(document_item(*c, a));
    put(questionnaire, "item", std::move(q_items), a);
    Json contained = array();
    contained.PushBack(std::move(questionnaire), a);
    for (const char* m :
         {"id", "contained", "questionnaire", "status", "extension", "subject", "item"})
      response.RemoveMember(m);
    put(response, "id", qr_id, a);
    put(response, "contained", std::move(contained), a);
    put(response, "extension", response_extensions(after, a), a);
    put(response, "questionnaire", "#q", a);
    put(response, "status", done ? "completed" : "in-progress", a);
    put(response, "subject", reference("Patient/" + after.stored.call.patient_id, a), a);
    if (!response.HasMember("authored")) put(response, "authored", now_text(), a);
    if (!items.Empty()) put(response, "item", std::move(items), a);
    return response;
  }

  // An assertion is asked about only by the client it was handed to (when calls are signed):
  // another client learns nothing of it, not even that it exists.
  static bool same_client(const audit::AssertionRecord& rec, const std::string& issuer) {
    return rec.call.client_iss.empty() || rec.call.client_iss == issuer;
  }

  // Without a coverage-assertion-id (DTR: the orders alone): the id of the latest
  // determination this client was handed for one of `orders` of `patient`.
  std::optional<Reply> assertion_for_orders(const std::vector<std::string>& orders,
                                            const std::string& patient, const std::string& issuer,
                                            std::string& id) const {
    if (patient.empty()) {
      return outcome(400, "value",
                     "without 'context', the 'order' must name its patient (subject)");
    }
    auto found = store_.find_assertions(patient, audit::TimePoint{});
    if (!found) return outcome(503, "transient", "the audit store is unavailable");
    for (const audit::AssertionRecord& r : *found) {  // oldest first: the latest wins
      if (r.call.service_id == kDtrServiceId || r.call.client_iss != issuer) continue;
      if (std::find(orders.begin(), orders.end(), r.determination.order_ref) != orders.end())
        id = r.determination.coverage_assertion_id;
    }
    if (id.empty()) {
      return outcome(404, "not-found",
                     "no coverage assertion for " + orders.front() + " of Patient/" + patient);
    }
    return std::nullopt;
  }

  // The latest hook call's determination for each order of an assertion, in the order the
  // orders came: a later order-sign that revised it replaces the first; DTR's own records
  // are no hook call to decide again.
  static std::vector<const audit::AssertionRecord*> current_records(
      const std::vector<audit::AssertionRecord>& found) {
    std::vector<const audit::AssertionRecord*> out;
    for (const audit::AssertionRecord& r : found) {
      if (r.call.service_id == kDtrServiceId) continue;
      auto same_order = [&](const audit::AssertionRecord* o) {
        return o->determination.order_ref == r.determination.order_ref;
      };
      auto it = std::find_if(out.begin(), out.end(), same_order);
      if (it == out.end())
        out.push_back(&r);
      else
        *it = &r;
    }
    return out;
  }

  std::optional<Reply> authenticate(std::string_view path, std::string_view authorization,
                                    std::string& issuer) const {
    AuthDecision d = server_.check_client(authorization, path);
    if (!d.ok) {
      log::warn("refused client token", {{"path", std::string(path)}, {"reason", d.reason}});
      Reply refused = outcome(401, "login", "authentication required");
      refused.headers.emplace_back("WWW-Authenticate", "Bearer");
      return refused;
    }
    issuer = d.issuer;
    return std::nullopt;
  }

  std::optional<Reply> parse(std::string_view body, fhir::JsonDocument& doc) const {
    if (auto err = fhir::parse_copy(body, doc, service_.options().limits)) {
      return outcome(err->kind == fhir::ParseError::kTooLarge ? 413 : 400, "structure",
                     "the body is not acceptable JSON: " + err->message);
    }
    if (!doc.IsObject()) return outcome(400, "structure", "the body must be a FHIR resource");
    return std::nullopt;
  }

  // Decides the stored call of `rec` again (with `answers` as evidence, when given).
  std::optional<Reply> decide(const audit::AssertionRecord& rec, const Json* answers,
                              Decided& out) const {
    out.stored = rec;
    auto call = store_.find_by_hook_instance(rec.call.hook_instance);
    if (!call) return outcome(503, "transient", "the audit store is unavailable");
    if (!*call) return outcome(404, "not-found", "the hook call of this assertion is gone");
    const ServiceDefinition* service = find_service(rec.call.service_id);
    if (service == nullptr)
      return outcome(404, "not-found", "the service of this assertion is no longer offered");
    fhir::JsonDocument request;
    if (fhir::parse_copy((*call)->request_json, request, service_.options().limits))
      return outcome(500, "exception", "the stored hook call cannot be read");
    out.fhir_server = std::string(string_or_empty(member(request, "fhirServer")));
    static const std::string kDraft =
        R"({"resourceType":"QuestionnaireResponse","status":"in-progress"})";
    fhir::JsonDocument draft;
    fhir::parse_copy(kDraft, draft, {});
    // What the call read from the client's FHIR server: the same record again.
    fhir::JsonDocument fetched;
    if (!(*call)->fetched_json.empty() &&
        fhir::parse_copy((*call)->fetched_json, fetched, fhir::kStoredLimits))
      return outcome(500, "exception", "the data the hook call read cannot be read");
    out.outcome = service_.call(*service, request, rec.call.received_at, rec.call.client_iss,
                                answers != nullptr ? answers : &draft,
                                (*call)->fetched_json.empty() ? nullptr : &fetched);
    if (out.outcome.status != 200) {
      return outcome(422, "processing", "the order can no longer be decided: " + out.outcome.error);
    }
    for (const OrderDetermination& od : out.outcome.orders) {
      if (od.order_reference == rec.determination.order_ref) out.order = &od;
    }
    if (out.order == nullptr)
      return outcome(422, "processing", "the order is no longer in scope of a policy");
    return std::nullopt;
  }

  std::set<std::string> askable_links(const policies::Determination& d) const {
    std::set<std::string> links;
    for (const policies::SectionResult& s : d.sections) {
      for (const policies::CriterionResult& r : s.rows) {
        if (!r.fact.empty()) links.insert(r.fact);
      }
    }
    for (const policies::DocumentCheck& c : d.documents) {
      if (!c.codes.empty()) links.insert(std::string(kDocumentPrefix) + c.codes[0]);
    }
    return links;
  }

  // Whether an answer option agrees with what the record shows (a scale value inside the
  // range the record gives, a category member the record does not rule out).
  bool possible(const mappings::FactSheet& facts, const std::string& fact, const std::string& value,
                const std::string& code) const {
    const mappings::Fact* f = facts.find(fact);
    if (f == nullptr || !f->known()) return true;
    if (f->kind == mappings::FactKind::kCategory) {
      auto it = f->categories.find(code);
      return it == f->categories.end() || it->second != mappings::Truth::kFalse;
    }
    if (!f->measure) return true;
    auto ranks = service_.mappings().ordinal_value(fact, value);
    if (!ranks) return true;
    bool inside = ranks->low >= f->measure->low && ranks->high <= f->measure->high;
    bool narrower = ranks->low > f->measure->low || ranks->high < f->measure->high;
    return inside && narrower;
  }

  // The definition of the question about `q.fact`: typed by the fact's kind, choices limited
  // to what the record does not rule out; `from_record` for a question the record answers
  // (read-only: the record, not the questionnaire, is where that answer changes).
  Json question_item(const policies::OpenQuestion& q, const mappings::FactSheet& facts, Alloc& a,
                     bool from_record = false) const {
    const mappings::MappingSet& m = service_.mappings();
    Json item = object();
    put(item, "linkId", q.fact, a);
    const auto& concepts = m.criteria_concepts();
    auto concept_it =
        std::find_if(concepts.begin(), concepts.end(),
                     [&](const mappings::CriteriaConcept& c) { return c.code == q.fact; });
    if (concept_it != concepts.end()) {
      Json codes = array();
      codes.PushBack(coding(m.criteria_system(), q.fact, concept_it->display, a), a);
      put(item, "code", std::move(codes), a);
    }
    std::string text = q.role == "indication" ? "Diagnosis: " + q.label : q.label;
    put(item, "text", text, a);
    auto kind = m.fact_kind(q.fact);
    std::string unit = m.fact_unit(q.fact);
    if (kind == mappings::FactKind::kBoolean) {
      put(item, "type", "boolean", a);
    } else if (kind == mappings::FactKind::kMeasure && unit == "1") {
      put(item, "type", "integer", a);
    } else if (kind == mappings::FactKind::kMeasure) {
      put(item, "type", "quantity", a);
      Json ext = array();
      ext.PushBack(
          extension(kQuestionnaireUnit, "valueCoding", coding(fhir::kUcum, unit, unit, a), a), a);
      put(item, "extension", std::move(ext), a);
    } else {
      put(item, "type", "choice", a);
      Json options = array();
      for (const auto& o : m.answer_options(q.fact)) {
        if (!from_record && !possible(facts, q.fact, o.display, o.code)) continue;
        Json opt = object();
        put(opt, "valueCoding", coding(o.system, o.code, o.display, a), a);
        options.PushBack(std::move(opt), a);
      }
      put(item, "answerOption", std::move(options), a);
    }
    put(item, "required", Json(false), a);
    if (from_record) put(item, "readOnly", Json(true), a);
    return item;
  }

  // The answer the record gives for fact `f` when it states one value exactly: a truth, a
  // measured value, one step of a scale, one member of a category (or none of them).
  std::optional<Json> recorded_answer(const mappings::Fact& f, Alloc& a) const {
    if (!f.known()) return std::nullopt;
    const mappings::MappingSet& m = service_.mappings();
    Json answer = object();
    auto choose = [&](auto&& matches) -> std::optional<Json> {
      for (const auto& o : m.answer_options(f.id)) {
        if (!matches(o)) continue;
        put(answer, "valueCoding", coding(o.system, o.code, o.display, a), a);
        return std::move(answer);
      }
      return std::nullopt;
    };
    switch (f.kind) {
      case mappings::FactKind::kBoolean:
        put(answer, "valueBoolean", Json(f.truth == mappings::Truth::kTrue), a);
        return std::optional<Json>(std::move(answer));
      case mappings::FactKind::kMeasure: {
        if (!f.measure || !f.measure->is_point()) return std::nullopt;
        const double v = f.measure->low;
        if (f.unit == "1") {
          if (v != std::floor(v) || std::abs(v) > 1e15) return std::nullopt;
          put(answer, "valueInteger", Json(static_cast<std::int64_t>(v)), a);
          return std::optional<Json>(std::move(answer));
        }
        Json q = object();
        put(q, "value", Json(v), a);
        put(q, "unit", f.unit, a);
        put(q, "system", fhir::kUcum, a);
        put(q, "code", f.unit, a);
        put(answer, "valueQuantity", std::move(q), a);
        return std::optional<Json>(std::move(answer));
      }
      case mappings::FactKind::kOrdinal:
        if (!f.measure) return std::nullopt;
        return choose([&](const mappings::MappingSet::AnswerOption& o) {
          auto ranks = m.ordinal_value(f.id, o.display);
          return ranks && ranks->low == f.measure->low && ranks->high == f.measure->high &&
                 ranks->low_closed == f.measure->low_closed &&
                 ranks->high_closed == f.measure->high_closed;
        });
      case mappings::FactKind::kCategory: {
        std::string chosen;
        bool all_false = true;
        for (const auto& [name, t] : f.categories) {
          if (t == mappings::Truth::kTrue) {
            if (!chosen.empty()) return std::nullopt;
            chosen = name;
          }
          all_false = all_false && t == mappings::Truth::kFalse;
        }
        if (chosen.empty() && !all_false) return std::nullopt;
        return choose([&](const mappings::MappingSet::AnswerOption& o) {
          return chosen.empty() ? o.code == "none-of-these" : o.code == chosen;
        });
      }
    }
    return std::nullopt;
  }

  // A criterion the record answers exactly, as DTR pre-populates it: the item shown (the
  // record's answer, origin "auto", each resource it was read from as its source) and its
  // read-only definition; nullopt when the record states no single value or names no resource.
  std::optional<std::pair<Json, Json>> recorded_item(const mappings::FactSheet& facts,
                                                     const policies::CriterionResult& r,
                                                     Alloc& a) const {
    const mappings::Fact* f = facts.find(r.fact);
    if (f == nullptr) return std::nullopt;
    Json ext = array();
    Json origin_source = array();
    origin_source.PushBack(extension("source", "valueCode", str("auto", a), a), a);
    Json origin = object();
    put(origin, "url", kInformationOrigin, a);
    put(origin, "extension", std::move(origin_source), a);
    ext.PushBack(std::move(origin), a);
    for (const mappings::Evidence& e : f->evidence) {
      if (e.reference.empty()) continue;
      Json ref = reference(e.reference, a);
      put(ref, "display", e.date.empty() ? e.text : e.text + " (" + e.date + ")", a);
      Json sub = array();
      sub.PushBack(extension("reference", "valueReference", std::move(ref), a), a);
      Json source = object();
      put(source, "url", kDerivationReference, a);
      put(source, "extension", std::move(sub), a);
      ext.PushBack(std::move(source), a);
    }
    if (ext.Size() < 2) return std::nullopt;
    std::optional<Json> answer = recorded_answer(*f, a);
    if (!answer) return std::nullopt;
    put(*answer, "extension", std::move(ext), a);
    Json definition = question_item({r.fact, r.label, r.condition, r.role, false}, facts, a, true);
    Json shown = object();
    put(shown, "linkId", r.fact, a);
    put(shown, "text", str(string_or_empty(member(definition, "text")), a), a);
    Json answers = array();
    answers.PushBack(std::move(*answer), a);
    put(shown, "answer", std::move(answers), a);
    return std::make_pair(std::move(shown), std::move(definition));
  }

  Json document_item(const policies::DocumentCheck& c, Alloc& a) const {
    Json item = object();
    put(item, "linkId", std::string(kDocumentPrefix) + c.codes[0], a);
    Json codes = array();
    codes.PushBack(coding(kLoinc, c.codes[0], "", a), a);
    put(item, "code", std::move(codes), a);
    put(item, "text", "Attach: " + c.title, a);
    put(item, "type", "attachment", a);
    put(item, "required", Json(false), a);
    return item;
  }

  // The definition of an item shown before (rebuilt from the decision without answers).
  std::optional<Json> item_for_link(const Decided& dd, const std::string& link, Alloc& a) const {
    const policies::Determination& d = dd.order->determination;
    const mappings::FactSheet& d_facts = dd.order->facts;
    for (const policies::DocumentCheck& c : d.documents) {
      if (!c.codes.empty() && std::string(kDocumentPrefix) + c.codes[0] == link)
        return document_item(c, a);
    }
    for (const policies::OpenQuestion& q : policies::open_questions(d)) {
      if (q.fact == link) return question_item(q, d_facts, a);
    }
    for (const policies::SectionResult& s : d.sections) {
      for (const policies::CriterionResult& r : s.rows) {
        if (r.fact != link) continue;
        if (auto recorded = recorded_item(d_facts, r, a)) return std::move(recorded->second);
        return question_item({r.fact, r.label, r.condition, r.role, false}, d_facts, a);
      }
    }
    return std::nullopt;
  }

  // The adaptive questionnaire of the determination's policy: as the package hands it out
  // (its canonical url), or `contained` in a response (SDC: a one-off instance with no url,
  // derived from that canonical). Both name the base of $next-question (DTR).
  Json adaptive_questionnaire(const Decided& dd, bool contained, Alloc& a) const {
    const policies::Determination& d = dd.order->determination;
    const std::string canonical = questionnaire_canonical(service_.options().base_url, d.policy_id);
    Json q = object();
    put(q, "resourceType", "Questionnaire", a);
    put(q, "id", contained ? std::string("q") : d.policy_id, a);
    Json meta = object();
    Json profiles = array();
    profiles.PushBack(str(contained ? kAdaptProfile : kAdaptSearchProfile, a), a);
    put(meta, "profile", std::move(profiles), a);
    put(q, "meta", std::move(meta), a);
    Json ext = array();
    ext.PushBack(extension(kAdaptive, "valueUrl", str(service_.options().base_url, a), a), a);
    put(q, "extension", std::move(ext), a);
    if (!contained) put(q, "url", canonical, a);
    put(q, "version", d.policy_revision, a);
    std::string name;
    for (char c : d.policy_id) {
      if (std::isalnum(static_cast<unsigned char>(c))) name += c;
    }
    put(q, "name", "Cryo" + name, a);
    const std::string title = d.payer_name + " " + d.policy_document + ": " + d.policy_title;
    put(q, "title", title, a);
    // The narrative DTR requires: what the questionnaire is for.
    Json narrative = object();
    put(narrative, "status", "generated", a);
    put(narrative, "div",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>" + html_escape(title) +
            ": the questions whose answers decide coverage where the record does not.</p></div>",
        a);
    put(q, "text", std::move(narrative), a);
    put(q, "status", "active", a);
    if (contained) {
      Json derived = array();
      derived.PushBack(str(canonical + "|" + d.policy_revision, a), a);
      put(q, "derivedFrom", std::move(derived), a);
    }
    Json subject = array();
    subject.PushBack(str("Patient", a), a);
    put(q, "subjectType", std::move(subject), a);
    put(q, "publisher", d.payer_name, a);
    return q;
  }

  // context (Coverage and order) and the coverage-information with the decision.
  Json response_extensions(const Decided& dd, Alloc& a) const {
    const policies::Determination& d = dd.order->determination;
    Json ext = array();
    ext.PushBack(
        extension(kQrContext, "valueReference", reference(dd.outcome.coverage_reference, a), a), a);
    ext.PushBack(
        extension(kQrContext, "valueReference", reference(dd.order->order_reference, a), a), a);
    // How the EHR is to use the answers (DTR intendedUse, CRD doc-purpose codes): with the
    // claim or the prior authorization request when documentation goes there, else kept.
    Json use = object();
    Json use_codings = array();
    use_codings.PushBack(
        coding(kCrdTemp,
               d.doc_purpose == policies::DocPurpose::kAbsent ? "retain-doc" : code(d.doc_purpose),
               "", a),
        a);
    put(use, "coding", std::move(use_codings), a);
    ext.PushBack(extension(kIntendedUse, "valueCodeableConcept", std::move(use), a), a);
    Json info = object();
    put(info, "url", kCoverageInformation, a);
    Json sub = array();
    auto put_code = [&](std::string_view name, std::string_view value) {
      if (!value.empty()) sub.PushBack(extension(name, "valueCode", str(value, a), a), a);
    };
    sub.PushBack(
        extension("coverage", "valueReference", reference(dd.outcome.coverage_reference, a), a), a);
    put_code("covered", code(d.covered));
    put_code("pa-needed", code(d.pa_needed));
    put_code("doc-needed", code(d.doc_needed));
    put_code("doc-purpose", code(d.doc_purpose));
    put_code("info-needed", code(d.info_needed));
    std::string today = now_text().substr(0, 10);
    sub.PushBack(extension("date", "valueDate", str(today, a), a), a);
    sub.PushBack(extension("coverage-assertion-id", "valueString",
                           str(dd.stored.determination.coverage_assertion_id, a), a),
                 a);
    if (d.doc_needed !=
        policies::DocNeeded::kAbsent) {  // CRD crd-ci-q1: questionnaire only with doc-needed
      sub.PushBack(extension("questionnaire", "valueCanonical",
                             str(questionnaire_canonical(service_.options().base_url, d.policy_id) +
                                     "|" + d.policy_revision,
                                 a),
                             a),
                   a);
    }
    put(info, "extension", std::move(sub), a);
    ext.PushBack(std::move(info), a);
    return ext;
  }

  Json package_bundle(const Decided& dd, Alloc& a) const {
    Json bundle = object();
    put(bundle, "resourceType", "Bundle", a);
    put(bundle, "id", random_uuid(), a);
    Json meta = object();
    Json profiles = array();
    profiles.PushBack(
        str("http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/DTR-QPackageBundle", a), a);
    put(meta, "profile", std::move(profiles), a);
    put(bundle, "meta", std::move(meta), a);
    put(bundle, "type", "collection", a);
    Json entries = array();
    Json q = adaptive_questionnaire(dd, false, a);
    std::string canonical = string_or_empty(member(q, "url")).data();
    Json e1 = object();
    put(e1, "fullUrl", canonical, a);
    put(e1, "resource", std::move(q), a);
    entries.PushBack(std::move(e1), a);
    // The draft response the DTR client starts from: the first questions.
    Json qr =
        respond(dd, dd, nullptr, {}, "dtr-" + dd.stored.determination.coverage_assertion_id, a);
    Json e2 = object();
    put(e2, "fullUrl",
        service_.options().base_url + "/QuestionnaireResponse/dtr-" +
            dd.stored.determination.coverage_assertion_id,
        a);
    put(e2, "resource", std::move(qr), a);
    entries.PushBack(std::move(e2), a);
    put(bundle, "entry", std::move(entries), a);
    return bundle;
  }

  Reply audited(std::string_view op, const audit::AssertionRecord& rec, const std::string& issuer,
                std::string_view body, std::string text,
                std::vector<audit::DeterminationRecord> determinations = {}) {
    audit::HookRecord call;
    call.hook_instance = time_ordered_uuid();
    call.hook = std::string(op);
    call.service_id = std::string(kDtrServiceId);
    call.client_iss = issuer;
    call.patient_id = rec.call.patient_id;
    call.payer_id = rec.call.payer_id;
    call.line_of_business = rec.call.line_of_business;
    call.request_json = std::string(body);
    call.response_json = text;
    call.determinations = std::move(determinations);
    call.card_uuids.emplace();  // a DTR answer holds no cards
    auto stored = store_.record(std::move(call));
    if (!stored) return outcome(503, "transient", "the audit store could not record the call");
    log::info("dtr", {{"operation", std::string(op)},
                      {"assertion", rec.determination.coverage_assertion_id}});
    return {200, std::string(kFhirJson), std::move(text)};
  }

  const HttpServer& server_;
  const CoverageService& service_;
  audit::AuditStore& store_;
  AnswersCompleted completed_;
};

}  // namespace

std::string answered_assertion(const fhir::ResourceIndex& record, std::string_view order_ref,
                               std::string_view patient_id) {
  std::string newest_authored, answered;
  for (const Json* qr : record.of_type("QuestionnaireResponse")) {
    std::string_view status = string_or_empty(member(*qr, "status"));
    if (status != "completed" && status != "amended") continue;
    std::string_view subject = string_or_empty(member(member(*qr, "subject"), "reference"));
    if (subject != "Patient/" + std::string(patient_id)) continue;
    AnsweredFor links = answered_for(*qr);
    const bool for_order =
        std::find(links.orders.begin(), links.orders.end(), order_ref) != links.orders.end();
    // The newest response counts, as for the answers themselves.
    std::string authored(string_or_empty(member(*qr, "authored")));
    if (for_order && !links.assertion_id.empty() &&
        (answered.empty() || authored > newest_authored)) {
      answered = std::move(links.assertion_id);
      newest_authored = std::move(authored);
    }
  }
  return answered;
}

std::string questionnaire_canonical(std::string_view base_url, std::string_view policy_id) {
  return std::string(base_url) + "/Questionnaire/" + std::string(policy_id);
}

void add_dtr_routes(HttpServer& server, const CoverageService& service, audit::AuditStore& store,
                    AnswersCompleted completed) {
  auto dtr = std::make_shared<Dtr>(server, service, store, std::move(completed));
  server.add_post(R"(/Questionnaire/\$questionnaire-package)",
                  [dtr](const std::string& path, const std::map<std::string, std::string>&,
                        std::string_view authorization,
                        std::string_view body) { return dtr->package(path, authorization, body); });
  server.add_post(R"(/Questionnaire/\$next-question)",
                  [dtr](const std::string& path, const std::map<std::string, std::string>&,
                        std::string_view authorization, std::string_view body) {
                    return dtr->next_question(path, authorization, body);
                  });
}

}  // namespace cryo::cds
