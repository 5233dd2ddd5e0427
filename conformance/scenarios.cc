// The scenario step: every golden scenario sent as its hook request, its answer checked against
// CDS Hooks, CRD and the scenario's expectations, then the same orders through every other CRD
// hook and version.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <rapidjson/document.h>

#include "base/ids.h"
#include "conformance/json_access.h"
#include "conformance/record.h"
#include "conformance/runner_steps.h"
#include "conformance/validate.h"

namespace cryo::conformance::detail {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void set_configuration(Document& req, const std::string& code, Json value) {
  auto& a = req.GetAllocator();
  if (!req.HasMember("extension") || !req["extension"].IsObject())
    req.AddMember("extension", Json(rapidjson::kObjectType), a);
  Json& ext = req["extension"];
  if (!ext.HasMember("davinci-crd.configuration") || !ext["davinci-crd.configuration"].IsObject())
    ext.AddMember("davinci-crd.configuration", Json(rapidjson::kObjectType), a);
  Json& cfg = ext["davinci-crd.configuration"];
  cfg.RemoveMember(code.c_str());
  cfg.AddMember(Json(code.c_str(), a), value, a);
  req["hookInstance"].SetString(random_uuid().c_str(), a);
}

std::set<int> expected_statuses(const Json& sc) {
  std::set<int> out;
  const Json* expected = get(sc, "expected");
  const Json* st = expected ? get(*expected, "status") : nullptr;
  if (st && st->IsInt()) out.insert(st->GetInt());
  if (st && st->IsArray())
    for (auto& v : st->GetArray())
      if (v.IsInt()) out.insert(v.GetInt());
  if (out.empty()) out.insert(200);
  return out;
}

bool is_encounter_hook(const HookVariant& v) {
  return v.hook.rfind("encounter-", 0) == 0;
}

// The scenario rewritten for the variant's hook and version; `refs` gets its orders'
// references. Orders the hook only references are added to the record, and encounter hooks
// get an Encounter the orders point to.
std::shared_ptr<Document> variant_scenario(const Json& sc, const HookVariant& v,
                                           std::vector<std::string>& refs) {
  auto doc = std::make_shared<Document>();
  doc->CopyFrom(sc, doc->GetAllocator());
  auto& a = doc->GetAllocator();
  const bool encounter = is_encounter_hook(v);
  doc->RemoveMember("hook");
  doc->AddMember("hook", Json(v.hook.c_str(), a), a);
  Json& record = (*doc)["record"];
  for (const Json& o : (*doc)["draftOrders"].GetArray())
    refs.push_back(str(get(o, "resourceType")) + "/" + str(get(o, "id")));
  if (v.hook != "order-sign" && v.hook != "order-select") {
    for (Json& o : (*doc)["draftOrders"].GetArray()) {
      Json copy(o, a);
      if (encounter) {
        Json ref(rapidjson::kObjectType);
        ref.AddMember("reference", "Encounter/enc-1", a);
        copy.RemoveMember("encounter");
        copy.AddMember("encounter", ref, a);
      }
      record.PushBack(copy, a);
    }
  }
  if (encounter) {
    Document enc;
    enc.Parse(R"({"resourceType":"Encounter","id":"enc-1","status":"in-progress",
        "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
        "type":[{"text":"Interventional radiology"}]})");
    Json subject(rapidjson::kObjectType);
    subject.AddMember("reference", Json(("Patient/" + str(get(sc, "patientId"))).c_str(), a), a);
    Json e(enc, a);
    e.AddMember("subject", subject, a);
    record.PushBack(e, a);
    doc->RemoveMember("encounterId");
    doc->AddMember("encounterId", "enc-1", a);
  }
  if (!v.version.empty()) {
    doc->RemoveMember("extension");
    Json ext(rapidjson::kObjectType);
    ext.AddMember("davinci-crd.requestedVersion", Json(v.version.c_str(), a), a);
    doc->AddMember("extension", ext, a);
  }
  return doc;
}

// An appointment-book context's proposed Appointment, based on the orders `refs`.
Json appointments_bundle(const std::vector<std::string>& refs, const std::string& patient_id,
                         Document::AllocatorType& ra) {
  Document apt;
  apt.Parse(R"({"resourceType":"Appointment","id":"apt-1","status":"proposed",
        "start":"2026-06-15T09:00:00Z","end":"2026-06-15T11:00:00Z",
        "requestedPeriod":[{"start":"2026-06-15T09:00:00Z","end":"2026-06-15T11:00:00Z"}]})");
  Json appointment(apt, ra);
  Json based_on(rapidjson::kArrayType);
  for (const auto& r : refs) {
    Json ref(rapidjson::kObjectType);
    ref.AddMember("reference", Json(r.c_str(), ra), ra);
    based_on.PushBack(ref, ra);
  }
  appointment.AddMember("basedOn", based_on, ra);
  Json participant(rapidjson::kArrayType), p(rapidjson::kObjectType), actor(rapidjson::kObjectType);
  actor.AddMember("reference", Json(("Patient/" + patient_id).c_str(), ra), ra);
  p.AddMember("actor", actor, ra);
  p.AddMember("status", "accepted", ra);
  participant.PushBack(p, ra);
  appointment.AddMember("participant", participant, ra);
  Json bundle(rapidjson::kObjectType), entries(rapidjson::kArrayType),
      entry(rapidjson::kObjectType);
  bundle.AddMember("resourceType", "Bundle", ra);
  bundle.AddMember("type", "collection", ra);
  entry.AddMember("resource", appointment, ra);
  entries.PushBack(entry, ra);
  bundle.AddMember("entry", entries, ra);
  return bundle;
}

// The hook's own context members in place of draftOrders where the hook has none.
void set_variant_context(Document& req, const HookVariant& v, const std::vector<std::string>& refs,
                         const std::string& patient_id) {
  auto& ra = req.GetAllocator();
  Json& ctx = req["context"];
  auto ref_array = [&] {
    Json arr(rapidjson::kArrayType);
    for (const auto& r : refs) arr.PushBack(Json(r.c_str(), ra), ra);
    return arr;
  };
  if (v.hook != "order-sign" && v.hook != "order-select") ctx.RemoveMember("draftOrders");
  if (v.hook == "order-select") ctx.AddMember("selections", ref_array(), ra);
  if (v.hook == "order-dispatch") {
    ctx.AddMember("dispatchedOrders", ref_array(), ra);
    ctx.AddMember("performer", "Organization/performer-1", ra);
  }
  if (v.hook == "appointment-book")
    ctx.AddMember("appointments", appointments_bundle(refs, patient_id, ra), ra);
}

// Draft orders of a request by "Type/id", and the Appointments of appointment-book (which CRD
// annotates too).
std::map<std::string, const Json*> draft_orders(const Json& req) {
  std::map<std::string, const Json*> out;
  const Json* ctx = get(req, "context");
  const Json* appointments = ctx ? get(*ctx, "appointments") : nullptr;
  if (const Json* ae = appointments ? get(*appointments, "entry") : nullptr; ae && ae->IsArray())
    for (auto& e : ae->GetArray())
      if (const Json* r = get(e, "resource"))
        out[str(get(*r, "resourceType")) + "/" + str(get(*r, "id"))] = r;
  const Json* bundle = ctx ? get(*ctx, "draftOrders") : nullptr;
  const Json* entries = bundle ? get(*bundle, "entry") : nullptr;
  if (entries && entries->IsArray())
    for (auto& e : entries->GetArray())
      if (const Json* r = get(e, "resource"))
        out[str(get(*r, "resourceType")) + "/" + str(get(*r, "id"))] = r;
  return out;
}

// Coverage-information extensions the response attaches to draft order `key`.
std::vector<const Json*> coverage_for(const Json& res, const std::string& key) {
  std::vector<const Json*> out;
  if (const Json* sa = get(res, "systemActions"); sa && sa->IsArray())
    for (auto& action : sa->GetArray()) {
      const Json* r = get(action, "resource");
      if (!r || str(get(*r, "resourceType")) + "/" + str(get(*r, "id")) != key) continue;
      for (auto* e : coverage_information_of(*r)) out.push_back(e);
    }
  return out;
}

std::set<std::string> codes_of(const Json& ext, const char* url) {
  std::set<std::string> out;
  for (const Json* v : sub_values(ext, url)) out.insert(str(v));
  return out;
}

std::string set_text(const std::set<std::string>& s) {
  if (s.empty()) return "absent";
  std::string out;
  for (auto& v : s) out += (out.empty() ? "" : ",") + v;
  return out;
}

}  // namespace

std::vector<Scenario> Runner::load_scenarios() {
  std::vector<Scenario> out;
  if (opt_.scenarios_dir.empty()) return out;
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(opt_.scenarios_dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  if (ec) {
    add("setup", "setup: scenarios directory", false, opt_.scenarios_dir + ": " + ec.message());
    return out;
  }
  std::sort(files.begin(), files.end());
  for (auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    auto doc = std::make_shared<Document>();
    doc->Parse(ss.str().c_str());
    const std::string fname = f.filename().string();
    if (doc->HasParseError() || !doc->IsObject()) {
      add("setup", "scenario file " + fname, false, "not a JSON object");
      continue;
    }
    Scenario s;
    s.file = fname;
    s.name = str(get(*doc, "name"));
    if (s.name.empty()) s.name = f.stem().string();
    s.verbatim = get(*doc, "request") != nullptr;
    if (!s.verbatim && (!get(*doc, "record") || !get(*doc, "draftOrders") ||
                        str(get(*doc, "patientId")).empty())) {
      add("setup", "scenario file " + fname, false,
          "needs either `request` or `patientId`, `record` and `draftOrders`");
      continue;
    }
    s.doc = doc;
    out.push_back(std::move(s));
  }
  return out;
}

// Builds the hook request for a scenario the way an EHR would. Returns false when no
// service answers the hook.
bool Runner::build_request(const Scenario& s, Document& req, const Service*& svc,
                           bool with_prefetch, bool with_fhir_server) {
  const Json& sc = *s.doc;
  if (s.verbatim) {
    req.CopyFrom((*s.doc)["request"], req.GetAllocator());
    svc = service_for(str(get(req, "hook")), str(get(sc, "service")));
    return svc != nullptr;
  }
  std::string hook = str(get(sc, "hook"));
  if (hook.empty()) hook = "order-sign";
  svc = service_for(hook, str(get(sc, "service")));
  if (!svc) return false;
  auto& a = req.GetAllocator();
  req.SetObject();
  req.AddMember("hook", Json(hook.c_str(), a), a);
  req.AddMember("hookInstance", Json(random_uuid().c_str(), a), a);
  if (with_fhir_server && fhir_) req.AddMember("fhirServer", Json(fhir_->base().c_str(), a), a);
  std::map<std::string, std::string> ctx;
  ctx["patientId"] = str(get(sc, "patientId"));
  ctx["userId"] = str(get(sc, "userId"));
  if (ctx["userId"].empty()) ctx["userId"] = "Practitioner/conformance-clinician";
  ctx["encounterId"] = str(get(sc, "encounterId"));
  Json context(rapidjson::kObjectType);
  context.AddMember("userId", Json(ctx["userId"].c_str(), a), a);
  context.AddMember("patientId", Json(ctx["patientId"].c_str(), a), a);
  if (!ctx["encounterId"].empty())
    context.AddMember("encounterId", Json(ctx["encounterId"].c_str(), a), a);
  context.AddMember("draftOrders", collection_bundle(get(sc, "draftOrders"), a), a);
  req.AddMember("context", context, a);
  if (with_prefetch && !svc->prefetch.empty()) {
    Record record(*get(sc, "record"));
    Json prefetch(rapidjson::kObjectType);
    for (auto& [key, tmpl] : svc->prefetch) {
      Json value;
      if (auto q = fill_template(tmpl, ctx)) record.query(*q, value, a);
      prefetch.AddMember(Json(key.c_str(), a), value, a);
    }
    req.AddMember("prefetch", prefetch, a);
  }
  if (const Json* ext = get(sc, "extension")) req.AddMember("extension", Json(*ext, a), a);
  return true;
}

bool Runner::parse_answer(const std::string& group, const std::string& name,
                          const std::string& body, Document& res) {
  res.Parse(body.c_str());
  if (!res.HasParseError()) return true;
  add(group, name + "response is JSON", false, "body does not parse: " + body.substr(0, 200));
  return false;
}

void Runner::scenarios() {
  auto list = load_scenarios();
  for (auto& s : list) {
    run_scenario(s);
    run_hook_variants(s);
  }
  check_card_types();
}

void Runner::run_hook_variants(const Scenario& s) {
  if (s.verbatim || !fhir_) return;
  const Json& sc = *s.doc;
  if (!str(get(sc, "hook")).empty() && str(get(sc, "hook")) != "order-sign") return;
  if (expected_statuses(sc) != std::set<int>{200}) return;
  const Json* orders = get(sc, "draftOrders");
  if (!orders || !orders->IsArray() || orders->Empty()) return;
  const std::vector<HookVariant> variants = {{"order-sign", "2.1"},      {"order-sign", "2.2"},
                                             {"order-select", ""},       {"order-dispatch", ""},
                                             {"appointment-book", ""},   {"encounter-start", ""},
                                             {"encounter-discharge", ""}};
  for (const auto& v : variants) run_hook_variant(s, v);
}

void Runner::run_hook_variant(const Scenario& s, const HookVariant& v) {
  const Json& sc = *s.doc;
  const std::string label =
      s.name + " [" + v.hook + (v.version.empty() ? "" : " CRD " + v.version) + "]";
  const std::string group = "hooks " + v.hook;
  const std::string n = label + ": ";
  std::vector<std::string> refs;
  std::shared_ptr<Document> doc = variant_scenario(sc, v, refs);
  Scenario variant{s.file, label, doc, false};
  Document req;
  const Service* svc = nullptr;
  if (!build_request(variant, req, svc, true, true)) {
    skip(group, n + "a service answers the hook",
         "discovery offers no service for hook '" + v.hook + "'");
    return;
  }
  set_variant_context(req, v, refs, str(get(sc, "patientId")));
  fhir_->set_record(std::make_shared<Record>((*doc)["record"]));
  HttpAnswer ans = post(label, "/cds-services/" + svc->id, serialise(req));
  add(group, n + "HTTP status 200", ans.status == 200,
      ans.status == 200
          ? ""
          : "status " + std::to_string(ans.status) + " body: " + ans.body.substr(0, 200));
  if (ans.status != 200) return;
  Document res;
  if (!parse_answer(group, n, ans.body, res)) return;
  validate_full_response(group, n, req, res, &*doc);
  if (is_encounter_hook(v)) {
    const Json* cards = get(res, "cards");
    const bool some = cards && cards->IsArray() && !cards->Empty();
    add(group, n + "answers with cards", some, some ? "" : "no cards for the encounter's orders");
  }
}

// CRD 2.0.1 servers SHALL demonstrate Coverage Information, External Reference and
// Instructions; cards are classified the way the Inferno CRD test kit does.
void Runner::check_card_types() {
  if (card_types_.empty()) return;
  std::string missing;
  for (const char* t : {"coverage-information", "external-reference", "instructions"})
    if (!card_types_.count(t)) missing += (missing.empty() ? "" : ", ") + std::string(t);
  // WARN, not FAIL: another payer's scenarios may not call for every type.
  add("hooks", "card types: Coverage Information, External Reference and Instructions all appear",
      missing.empty(), missing.empty() ? "" : "never returned: " + missing, true);
}

void Runner::run_scenario(const Scenario& s) {
  const std::string group = "scenario " + s.name;
  const std::string n = s.name + ": ";
  Document req;
  const Service* svc = nullptr;
  if (!build_request(s, req, svc, true, true)) {
    add(group, n + "service for the hook", false,
        "discovery offers no service for hook '" +
            str(get(s.verbatim ? (*s.doc)["request"] : *s.doc, "hook")) + "'");
    return;
  }
  if (fhir_)
    fhir_->set_record(std::make_shared<Record>(
        s.verbatim ? Json(rapidjson::kArrayType) : Json((*s.doc)["record"], req.GetAllocator())));
  const std::string path = "/cds-services/" + svc->id;
  HttpAnswer a = post(s.name, path, serialise(req));
  ExchangeScope scope(*this, a);
  std::set<int> allowed = expected_statuses(*s.doc);
  std::string allowed_text;
  for (int st : allowed) allowed_text += (allowed_text.empty() ? "" : "|") + std::to_string(st);
  if (a.status < 0) {
    add(group, n + "HTTP status", false, "no answer: " + a.error);
    return;
  }
  bool status_ok = allowed.count(a.status) > 0;
  std::string status_reason = "status " + std::to_string(a.status) + ", expected " + allowed_text;
  if (!status_ok && a.status >= 400) status_reason += " (body: " + a.body.substr(0, 200) + ")";
  add(group, n + "HTTP status " + allowed_text, status_ok, status_ok ? "" : status_reason);
  if (a.status >= 400 && a.status < 500) {
    const bool outcome = is_operation_outcome(a.body);
    add(group, n + "error body is an OperationOutcome", outcome,
        outcome ? "" : "status " + std::to_string(a.status) + " body: " + a.body.substr(0, 200));
    return;
  }
  if (a.status != 200) return;
  Document res;
  if (!parse_answer(group, n, a.body, res)) return;
  validate_full_response(group, n, req, res);
  check_expected(group, n, *s.doc, req, res);
  if (!s.verbatim) check_configuration(group, n, s, req, res, path);
}

void Runner::validate_full_response(const std::string& group, const std::string& n, const Json& req,
                                    const Json& res, const Json* variant) {
  const Json* ext = get(req, "extension");
  const std::string version = ext ? str(get(*ext, "davinci-crd.requestedVersion")) : "";
  const std::string hook = str(get(req, "hook"));
  if (hook == "order-sign" || hook == "order-dispatch" || hook == "appointment-book") {
    const Json* sa = get(res, "systemActions");
    const bool array = sa && sa->IsArray();
    add(group, n + "systemActions is an array (primary hook)", array,
        array ? "" : "systemActions is missing or not an array");
  }
  if (const Json* c = get(res, "cards"); c && c->IsArray() && version.empty())
    for (auto& card : c->GetArray()) card_types_.insert(classify_card(card));
  Problems shape;
  validate_response_shape(res, shape);
  add(group, n + "response shape (cards, systemActions, no empty values)", shape);
  Problems cards;
  if (const Json* c = get(res, "cards"); c && c->IsArray())
    for (rapidjson::SizeType i = 0; i < c->Size(); ++i)
      validate_card((*c)[i], "cards[" + std::to_string(i) + "]", cards);
  add(group, n + "cards", cards);
  Problems actions;
  auto drafts = draft_orders(req);
  std::map<std::string, int> updates;
  if (const Json* sa = get(res, "systemActions"); sa && sa->IsArray()) {
    for (rapidjson::SizeType i = 0; i < sa->Size(); ++i) {
      const Json& action = (*sa)[i];
      const std::string p = "systemActions[" + std::to_string(i) + "]";
      validate_action(action, p, actions, version.empty() ? "2.0.1" : version);
      const Json* r = get(action, "resource");
      if (!r || str(get(action, "type")) != "update") continue;
      std::string key = str(get(*r, "resourceType")) + "/" + str(get(*r, "id"));
      ++updates[key];
      if (version.empty() && !coverage_information_of(*r).empty())
        card_types_.insert("coverage-information");
      auto d = drafts.find(key);
      if (d == drafts.end() && variant != nullptr) {
        // A hook variant: the orders and the Encounter come from the record it serves.
        Record record((*variant)["record"]);
        auto slash = key.find('/');
        if (const Json* original = record.find(key.substr(0, slash), key.substr(slash + 1))) {
          validate_order_preserved(*original, *r, p + ".resource", actions);
          continue;
        }
      }
      if (d == drafts.end()) {
        if (!coverage_information_of(*r).empty())
          actions.push_back(p + " updates " + key + ", which is not a draft order of the request");
        continue;
      }
      validate_order_preserved(*d->second, *r, p + ".resource", actions);
      if (str(get(*r, "resourceType")) == "ServiceRequest")
        validate_crd_service_request(*r, p + ".resource", actions);
    }
  }
  for (auto& [key, count] : updates)
    if (count > 1) actions.push_back(std::to_string(count) + " update actions for " + key);
  validate_assertion_ids(res, actions);
  add(group, n + "system actions and coverage-information", actions);
}

void Runner::check_expected(const std::string& group, const std::string& n, const Json& sc,
                            const Json& req, const Json& res) {
  const Json* expected = get(sc, "expected");
  if (!expected) return;
  if (const Json* orders = get(*expected, "orders"); orders && orders->IsObject()) {
    Problems problems;
    auto drafts = draft_orders(req);
    for (auto& m : orders->GetObject()) {
      const std::string key = m.name.GetString();
      if (!drafts.count(key)) {
        problems.push_back("scenario error: " + key + " is not a draft order");
        continue;
      }
      auto exts = coverage_for(res, key);
      if (m.value.IsNull()) {
        if (!exts.empty())
          problems.push_back(key +
                             ": expected no coverage-information (no policy for the "
                             "order), got covered=" +
                             str(sub_value(*exts[0], "covered")));
        continue;
      }
      if (exts.empty()) {
        problems.push_back(key + ": no coverage-information system action");
        continue;
      }
      for (const Json* ext : exts) {
        const std::string covered = str(sub_value(*ext, "covered"));
        const std::string want = str(get(m.value, "covered"));
        if (!want.empty() && covered != want)
          problems.push_back(key + ": covered=" + (covered.empty() ? "absent" : covered) +
                             ", expected " + want);
        for (const char* field : {"pa-needed", "doc-needed", "doc-purpose", "info-needed"}) {
          const Json* w = get(m.value, field);
          if (!w) continue;
          std::set<std::string> want_set;
          if (w->IsString()) want_set.insert(w->GetString());
          if (w->IsArray())
            for (auto& v : w->GetArray()) want_set.insert(str(&v));
          auto got = codes_of(*ext, field);
          if (got != want_set)
            problems.push_back(key + ": " + field + "=" + set_text(got) + ", expected " +
                               set_text(want_set));
        }
        if (covered == "conditional" || covered == "not-covered") {
          bool has_text = false;
          for (const Json* r : sub_values(*ext, "reason"))
            has_text = has_text || !str(get(*r, "text")).empty();
          if (!has_text)
            problems.push_back(key + ": " + covered + " without a reason carrying text");
        }
        if (const Json* rc = get(m.value, "reasonContains"); rc && rc->IsString()) {
          std::string all;
          for (const Json* r : sub_values(*ext, "reason")) all += " " + lower(serialise(*r));
          if (all.find(lower(rc->GetString())) == std::string::npos)
            problems.push_back(key + ": reason does not mention '" + std::string(rc->GetString()) +
                               "'");
        }
      }
    }
    add(group, n + "expected coverage decision", problems);
  }
  if (const Json* cards = get(*expected, "cards"); cards && cards->IsObject()) {
    Problems problems;
    const Json* list = get(res, "cards");
    size_t count = list && list->IsArray() ? list->Size() : 0;
    if (const Json* mn = get(*cards, "min");
        mn && mn->IsInt() && count < static_cast<size_t>(mn->GetInt()))
      problems.push_back(std::to_string(count) + " cards, expected at least " +
                         std::to_string(mn->GetInt()));
    if (const Json* mx = get(*cards, "max");
        mx && mx->IsInt() && count > static_cast<size_t>(mx->GetInt()))
      problems.push_back(std::to_string(count) + " cards, expected at most " +
                         std::to_string(mx->GetInt()));
    std::string text;
    if (list && list->IsArray())
      for (auto& c : list->GetArray())
        text += " " + lower(str(get(c, "summary"))) + " " + lower(str(get(c, "detail")));
    if (const Json* tc = get(*cards, "textContains"); tc && tc->IsArray())
      for (auto& t : tc->GetArray())
        if (text.find(lower(str(&t))) == std::string::npos)
          problems.push_back("no card summary/detail mentions '" + str(&t) + "'");
    add(group, n + "expected cards", problems);
  }
}

// Configuration options (CRD): switching a card type off removes those cards; max-cards caps
// the count. Each option is exercised once, on the first scenario where it is observable.
void Runner::check_configuration(const std::string& group, const std::string& n, const Scenario& s,
                                 const Json& req, const Json& res, const std::string& path) {
  const Service* svc = nullptr;
  Document probe;
  if (!build_request(s, probe, svc, true, true) || !svc) return;
  std::set<std::string> topics;
  size_t card_count = 0;
  if (const Json* c = get(res, "cards"); c && c->IsArray()) {
    card_count = c->Size();
    for (auto& card : c->GetArray())
      if (const Json* src = get(card, "source"))
        if (const Json* t = get(*src, "topic")) topics.insert(str(get(*t, "code")));
  }
  bool has_coverage_info = false;
  for (auto& [key, d] : draft_orders(req)) {
    (void)d;
    has_coverage_info = has_coverage_info || !coverage_for(res, key).empty();
  }
  for (auto& o : svc->options) {
    const std::string tag = svc->id + "/" + o.code;
    if (configured_.count(tag)) continue;
    if (o.type == "boolean" &&
        (topics.count(o.code) || (o.code == "coverage-info" && has_coverage_info))) {
      configured_.insert(tag);
      Document r;
      r.CopyFrom(probe, r.GetAllocator());
      set_configuration(r, o.code, Json(false));
      HttpAnswer a = post(s.name + " [" + o.code + "=false]", path, serialise(r));
      ExchangeScope scope(*this, a);
      Problems problems;
      Document body;
      body.Parse(a.body.c_str());
      if (a.status != 200 || body.HasParseError()) {
        problems.push_back("status " + std::to_string(a.status));
      } else {
        if (const Json* c = get(body, "cards"); c && c->IsArray())
          for (rapidjson::SizeType i = 0; i < c->Size(); ++i)
            if (const Json* src = get((*c)[i], "source"))
              if (const Json* t = get(*src, "topic"); t && str(get(*t, "code")) == o.code)
                problems.push_back("cards[" + std::to_string(i) + "] has topic " + o.code +
                                   " although the EHR switched it off");
        if (o.code == "coverage-info")
          for (auto& [key, d] : draft_orders(req)) {
            (void)d;
            if (!coverage_for(body, key).empty())
              problems.push_back("coverage-information returned for " + key +
                                 " although the EHR switched coverage-info off");
          }
      }
      add(group, n + "configuration " + o.code + "=false honoured", problems);
    }
    if (o.type == "integer" && o.code == "max-cards" && card_count > 1) {
      configured_.insert(tag);
      Document r;
      r.CopyFrom(probe, r.GetAllocator());
      set_configuration(r, o.code, Json(1));
      HttpAnswer a = post(s.name + " [max-cards=1]", path, serialise(r));
      ExchangeScope scope(*this, a);
      Document body;
      body.Parse(a.body.c_str());
      Problems problems;
      if (a.status != 200 || body.HasParseError())
        problems.push_back("status " + std::to_string(a.status));
      else if (const Json* c = get(body, "cards"); c && c->IsArray() && c->Size() > 1)
        problems.push_back(std::to_string(c->Size()) + " cards with max-cards=1");
      add(group, n + "configuration max-cards=1 honoured", problems);
    }
  }
}

}  // namespace cryo::conformance::detail
