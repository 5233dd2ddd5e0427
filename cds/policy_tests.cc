#include "cds/policy_tests.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "base/text.h"
#include "cds/catalog.h"
#include "cds/coverage_service.h"
#include "conformance/record.h"
#include "fhir/datetime.h"

namespace cryo::cds {
namespace {

namespace fs = std::filesystem;
using rapidjson::Document;
using rapidjson::Value;
using Alloc = Document::AllocatorType;

constexpr std::string_view kPatientId = "pat1";
constexpr std::string_view kSopt = "https://nahdo.org/sopt";
constexpr std::string_view kCpt = "http://www.ama-assn.org/go/cpt";
constexpr std::string_view kTestsSuffix = ".tests.json";

std::string str(const Value* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

const Value* member(const Value& o, std::string_view key) {
  if (!o.IsObject()) return nullptr;
  auto it = o.FindMember(rapidjson::StringRef(key.data(), key.size()));
  return it == o.MemberEnd() ? nullptr : &it->value;
}

Value text(std::string_view s, Alloc& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

std::string serialise(const Value& v, bool pretty) {
  rapidjson::StringBuffer buf;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 1);
    v.Accept(w);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
  }
  return std::string(buf.GetString(), buf.GetSize());
}

struct CaseFile {
  std::string name;  // file name
  Document doc;
};

// Every `*.tests.json` in `dir`, sorted by name. Files that cannot be read go to `errors`.
std::vector<CaseFile> read_case_files(const fs::path& dir, std::vector<std::string>& errors) {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.size() > kTestsSuffix.size() &&
        n.compare(n.size() - kTestsSuffix.size(), kTestsSuffix.size(), kTestsSuffix) == 0) {
      paths.push_back(e.path());
    }
  }
  if (ec) errors.push_back(dir.generic_string() + ": cannot list the directory: " + ec.message());
  std::sort(paths.begin(), paths.end());
  std::vector<CaseFile> out;
  for (const fs::path& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string body = ss.str();
    CaseFile f;
    f.name = p.filename().string();
    f.doc.Parse(body.c_str(), body.size());
    if (f.doc.HasParseError()) {
      errors.push_back(p.generic_string() + ": invalid JSON at offset " +
                       std::to_string(f.doc.GetErrorOffset()) + ": " +
                       rapidjson::GetParseError_En(f.doc.GetParseError()));
      continue;
    }
    const Value* cases = member(f.doc, "cases");
    if (cases == nullptr || !cases->IsArray()) {
      errors.push_back(p.generic_string() + ": expected an object with a \"cases\" array");
      continue;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// One case with the file's defaults applied.
struct Case {
  const Value* json = nullptr;
  std::string file;
  std::string name;
  std::string policy_id;  // the file's "policy"
  std::string payer;
  std::string lob;
  std::string dos;
  std::string code;
  std::string reason;
  std::vector<std::string> other_orders;
  const Value* expected = nullptr;
  std::vector<std::string> problems;  // the case itself is malformed
};

Case read_case(const CaseFile& file, const Value& c, const policies::PolicyLibrary& library) {
  Case k;
  k.json = &c;
  k.file = file.name;
  k.name = str(member(c, "name"));
  k.policy_id = str(member(file.doc, "policy"));
  if (k.name.empty()) k.problems.push_back("a case needs a \"name\"");
  k.payer = str(member(c, "payer"));
  if (k.payer.empty()) {
    for (const auto& s : library.summaries()) {
      if (s.id == k.policy_id && !s.payer_ids.empty()) k.payer = s.payer_ids.front();
    }
  }
  k.lob = str(member(c, "line_of_business"));
  if (k.lob.empty()) k.problems.push_back("needs \"line_of_business\"");
  k.dos = str(member(c, "date_of_service"));
  if (k.dos.empty()) k.dos = str(member(file.doc, "date_of_service"));
  if (k.dos.empty() || !fhir::parse_fhir_date(k.dos))
    k.problems.push_back("needs a \"date_of_service\" (YYYY-MM-DD), in the case or the file");
  if (const Value* o = member(c, "order")) {
    if (o->IsString()) {
      k.code = str(o);
    } else {
      k.code = str(member(*o, "code"));
      k.reason = str(member(*o, "reason"));
    }
  }
  if (k.code.empty()) k.problems.push_back("needs \"order\": a CPT code or {\"code\", \"reason\"}");
  if (const Value* others = member(c, "other_orders"); others && others->IsArray()) {
    for (const Value& o : others->GetArray()) k.other_orders.push_back(str(&o));
  }
  k.expected = member(c, "expected");
  if (k.expected == nullptr || !k.expected->IsObject() || !member(*k.expected, "covered"))
    k.problems.push_back("needs \"expected\" with at least \"covered\"");
  bool has_record = member(c, "record") != nullptr, has_facts = member(c, "facts") != nullptr;
  if (has_record == has_facts) k.problems.push_back("needs exactly one of \"record\" or \"facts\"");
  if (!k.policy_id.empty() && library.summaries().empty()) k.problems.push_back("no policy loaded");
  return k;
}

const policies::Payer* find_payer(const policies::PolicyLibrary& library, std::string_view id) {
  for (const policies::Payer& p : library.payers()) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

// ---- scenario documents ------------------------------------------------------------------

Value service_request(std::string_view id, std::string_view code, std::string_view reason,
                      std::string_view dos, std::string_view criteria_system, Alloc& a) {
  Value o(rapidjson::kObjectType);
  o.AddMember("resourceType", "ServiceRequest", a);
  o.AddMember("id", text(id, a), a);
  o.AddMember("status", "draft", a);
  o.AddMember("intent", "original-order", a);
  Value coding(rapidjson::kObjectType);
  coding.AddMember("system", text(kCpt, a), a);
  coding.AddMember("code", text(code, a), a);
  Value codings(rapidjson::kArrayType);
  codings.PushBack(coding, a);
  Value cc(rapidjson::kObjectType);
  cc.AddMember("coding", codings, a);
  o.AddMember("code", cc, a);
  Value subject(rapidjson::kObjectType);
  subject.AddMember("reference", text("Patient/" + std::string(kPatientId), a), a);
  o.AddMember("subject", subject, a);
  o.AddMember("occurrenceDateTime", text(dos, a), a);
  o.AddMember("authoredOn", text(dos, a), a);
  Value requester(rapidjson::kObjectType);
  requester.AddMember("reference", "Practitioner/dr-ablate", a);
  o.AddMember("requester", requester, a);
  if (!reason.empty()) {
    Value rc(rapidjson::kObjectType);
    rc.AddMember("system", text(criteria_system, a), a);
    rc.AddMember("code", text(reason, a), a);
    Value rcs(rapidjson::kArrayType);
    rcs.PushBack(rc, a);
    Value concept_(rapidjson::kObjectType);
    concept_.AddMember("coding", rcs, a);
    Value reasons(rapidjson::kArrayType);
    reasons.PushBack(concept_, a);
    o.AddMember("reasonCode", reasons, a);
  }
  return o;
}

// Patient, the payer's Organization and the Coverage that names it (with the case's plan
// and coverage type, if any).
void add_fixture(const Case& k, const policies::Payer& payer, Value& record, Alloc& a) {
  Document fixture(&a);
  std::string patient = R"({"resourceType": "Patient", "id": "pat1", "name": [{"family": "Example",
      "given": ["Pat"]}], "gender": "female", "birthDate": "1958-04-02"})";
  fixture.Parse(patient.c_str());
  record.PushBack(Value(fixture, a), a);

  Value org(rapidjson::kObjectType);
  org.AddMember("resourceType", "Organization", a);
  org.AddMember("id", text("payer-" + payer.id, a), a);
  org.AddMember("name", text(payer.name, a), a);
  Value ids(rapidjson::kArrayType);
  if (!payer.identifiers.empty()) {
    Value id(rapidjson::kObjectType);
    id.AddMember("system", text(payer.identifiers[0].system, a), a);
    id.AddMember("value", text(payer.identifiers[0].value, a), a);
    ids.PushBack(id, a);
  }
  org.AddMember("identifier", ids, a);
  record.PushBack(org, a);

  Value cov(rapidjson::kObjectType);
  cov.AddMember("resourceType", "Coverage", a);
  cov.AddMember("id", "cov1", a);
  cov.AddMember("status", "active", a);
  Value ben(rapidjson::kObjectType);
  ben.AddMember("reference", text("Patient/" + std::string(kPatientId), a), a);
  cov.AddMember("beneficiary", ben, a);
  cov.AddMember("subscriberId", "M123456", a);
  Value payor(rapidjson::kArrayType);
  Value pref(rapidjson::kObjectType);
  pref.AddMember("reference", text("Organization/payer-" + payer.id, a), a);
  payor.PushBack(pref, a);
  cov.AddMember("payor", payor, a);
  // The Coverage says the line of business by SOPT type code and/or plan class. Default:
  // a plan code of the payer goes in a plan class; a coverage type is written as SOPT.
  std::string plan, sopt, sopt_system(kSopt);
  if (const Value* spec = member(*k.json, "coverage")) {
    plan = str(member(*spec, "plan"));
    sopt = str(member(*spec, "sopt"));
    if (std::string s = str(member(*spec, "sopt_system")); !s.empty()) sopt_system = s;
  } else if (payer.plan(k.lob) != nullptr) {
    plan = k.lob;
  } else if (k.lob == "medicare-advantage") {
    sopt = "111";
  } else if (k.lob == "medicare") {
    sopt = "121";
  } else if (k.lob == "medicaid") {
    sopt = "2";
  }
  if (!sopt.empty()) {
    Value c(rapidjson::kObjectType);
    c.AddMember("system", text(sopt_system, a), a);
    c.AddMember("code", text(sopt, a), a);
    Value cs(rapidjson::kArrayType);
    cs.PushBack(c, a);
    Value type(rapidjson::kObjectType);
    type.AddMember("coding", cs, a);
    cov.AddMember("type", type, a);
  }
  if (!plan.empty()) {
    Document cls(&a);
    std::string j = R"([{"type": {"coding": [{"system":
        "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}]}}])";
    cls.Parse(j.c_str());
    Value classes(cls, a);
    classes[0].AddMember("value", text(plan, a), a);
    classes[0].AddMember("name", text(plan, a), a);
    cov.AddMember("class", classes, a);
  }
  record.PushBack(cov, a);
}

void set_expected_field(Value& out, const char* key, const Value* v, Alloc& a) {
  if (v != nullptr && v->IsString()) {
    out.AddMember(rapidjson::StringRef(key), Value(*v, a), a);
  } else {
    out.AddMember(rapidjson::StringRef(key), Value(rapidjson::kNullType), a);
  }
}

// The scenario document of a case with a FHIR record.
void build_scenario(const Case& k, const policies::Payer& payer,
                    const mappings::MappingSet& mappings, Document& s) {
  Alloc& a = s.GetAllocator();
  s.SetObject();
  s.AddMember("name", text(k.name, a), a);
  s.AddMember("description", text(str(member(*k.json, "description")), a), a);
  s.AddMember("hook", "order-sign", a);
  s.AddMember("patientId", text(kPatientId, a), a);
  Value record(rapidjson::kArrayType);
  add_fixture(k, payer, record, a);
  if (const Value* r = member(*k.json, "record"); r && r->IsArray()) {
    for (const Value& res : r->GetArray()) record.PushBack(Value(res, a), a);
  }
  s.AddMember("record", record, a);
  Value orders(rapidjson::kArrayType);
  orders.PushBack(service_request("sr1", k.code, k.reason, k.dos, mappings.criteria_system(), a),
                  a);
  for (size_t i = 0; i < k.other_orders.size(); ++i) {
    orders.PushBack(service_request("sr" + std::to_string(i + 2), k.other_orders[i], "", k.dos,
                                    mappings.criteria_system(), a),
                    a);
  }
  s.AddMember("draftOrders", orders, a);

  Value exp(rapidjson::kObjectType);
  exp.AddMember("status", 200, a);
  Value by_order(rapidjson::kObjectType);
  const Value& e = *k.expected;
  if (str(member(e, "covered")) == "none") {
    by_order.AddMember("ServiceRequest/sr1", Value(rapidjson::kNullType), a);
  } else {
    Value o(rapidjson::kObjectType);
    set_expected_field(o, "covered", member(e, "covered"), a);
    set_expected_field(o, "pa-needed", member(e, "pa"), a);
    set_expected_field(o, "doc-needed", member(e, "doc"), a);
    set_expected_field(o, "doc-purpose", member(e, "doc_purpose"), a);
    set_expected_field(o, "info-needed", member(e, "info"), a);
    if (const Value* rc = member(e, "reason_contains"); rc && rc->IsString())
      o.AddMember("reasonContains", Value(*rc, a), a);
    by_order.AddMember("ServiceRequest/sr1", o, a);
  }
  for (size_t i = 0; i < k.other_orders.size(); ++i) {
    by_order.AddMember(text("ServiceRequest/sr" + std::to_string(i + 2), a),
                       Value(rapidjson::kNullType), a);
  }
  exp.AddMember("orders", by_order, a);
  if (const Value* t = member(e, "text_contains"); t && t->IsArray()) {
    Value cards(rapidjson::kObjectType);
    cards.AddMember("min", 1, a);
    cards.AddMember("textContains", Value(*t, a), a);
    exp.AddMember("cards", cards, a);
  }
  s.AddMember("expected", exp, a);
}

// The hook request an EHR would send for a scenario: every prefetch template answered from
// the record (as the conformance runner does).
void build_request(const Document& scenario, const mappings::MappingSet& mappings, Document& req) {
  Alloc& a = req.GetAllocator();
  req.SetObject();
  req.AddMember("hook", "order-sign", a);
  req.AddMember("hookInstance", "00000000-0000-4000-8000-000000000001", a);
  std::map<std::string, std::string> ctx = {{"patientId", std::string(kPatientId)},
                                            {"userId", "Practitioner/policy-test"}};
  Value context(rapidjson::kObjectType);
  context.AddMember("userId", "Practitioner/policy-test", a);
  context.AddMember("patientId", text(kPatientId, a), a);
  context.AddMember("draftOrders", conformance::collection_bundle(&scenario["draftOrders"], a), a);
  req.AddMember("context", context, a);
  conformance::Record record(scenario["record"]);
  Value prefetch(rapidjson::kObjectType);
  for (const mappings::PrefetchTemplate& t : mappings.prefetch_templates()) {
    Value value;
    if (auto q = conformance::fill_template(t.query, ctx)) record.query(*q, value, a);
    prefetch.AddMember(text(t.key, a), value, a);
  }
  req.AddMember("prefetch", prefetch, a);
}

// ---- comparing -----------------------------------------------------------------------------

void compare_field(const Value& expected, const char* key, const std::string& actual,
                   std::string_view shown, std::vector<std::string>& failures) {
  const Value* v = member(expected, key);
  std::string want = v != nullptr && v->IsString() ? str(v) : "";
  if (want != actual) {
    failures.push_back(std::string(shown) + " " + (actual.empty() ? "absent" : actual) +
                       ", expected " + (want.empty() ? "absent" : want));
  }
}

// The same for a coverage-information value: the case's code read by `parse` (a code this
// server never produces matches nothing).
template <class E>
void compare_code(const Value& expected, const char* key, E actual,
                  std::optional<E> (*parse)(std::string_view), std::vector<std::string>& failures) {
  const Value* v = member(expected, key);
  std::string want = v != nullptr && v->IsString() ? str(v) : "";
  if (parse(want) != actual) {
    std::string got(code(actual));
    failures.push_back(std::string(key) + " " + (got.empty() ? "absent" : got) + ", expected " +
                       (want.empty() ? "absent" : want));
  }
}

void compare(const Value& e, const policies::Determination& d, const std::string& body,
             std::vector<std::string>& failures) {
  compare_code(e, "covered", d.covered, policies::parse_covered, failures);
  compare_code(e, "pa", d.pa_needed, policies::parse_pa_needed, failures);
  compare_code(e, "doc", d.doc_needed, policies::parse_doc_needed, failures);
  compare_code(e, "doc_purpose", d.doc_purpose, policies::parse_doc_purpose, failures);
  compare_code(e, "info", d.info_needed, policies::parse_info_needed, failures);
  if (member(e, "revision") != nullptr)
    compare_field(e, "revision", d.policy_revision, "revision", failures);
  if (std::string want = str(member(e, "reason_contains")); !want.empty()) {
    bool found = std::any_of(d.reasons.begin(), d.reasons.end(), [&](const std::string& r) {
      return r.find(want) != std::string::npos;
    });
    if (!found) failures.push_back("no reason mentions '" + want + "'");
  }
  if (const Value* t = member(e, "text_contains"); t && t->IsArray()) {
    for (const Value& w : t->GetArray()) {
      std::string want = str(&w);
      bool in_text = body.find(want) != std::string::npos;
      for (const auto& list : {d.reasons, d.notices}) {
        for (const std::string& s : list) in_text |= s.find(want) != std::string::npos;
      }
      if (!in_text) failures.push_back("the answer does not say '" + want + "'");
    }
  }
  // Criteria by fact id or label (optionally "section/fact").
  for (auto [key, truth] :
       {std::pair{"met", mappings::Truth::kTrue}, std::pair{"unmet", mappings::Truth::kFalse},
        std::pair{"unknown", mappings::Truth::kUnknown}}) {
    const Value* list = member(e, key);
    if (list == nullptr || !list->IsArray()) continue;
    for (const Value& item : list->GetArray()) {
      std::string want = str(&item), section;
      if (auto slash = want.find('/'); slash != std::string::npos) {
        section = want.substr(0, slash);
        want = want.substr(slash + 1);
      }
      int rows = 0;
      std::vector<std::string> seen;
      for (const policies::SectionResult& s : d.sections) {
        if (!section.empty() && s.id != section) continue;
        for (const policies::CriterionResult& r : s.rows) {
          if (r.fact != want && r.label != want) continue;
          ++rows;
          if (r.value != truth) seen.emplace_back(mappings::to_string(r.value));
        }
      }
      if (rows == 0) {
        failures.push_back("criterion '" + str(&item) + "' was not evaluated");
      } else if (!seen.empty()) {
        failures.push_back("criterion '" + str(&item) + "' is " + seen.front() + ", expected " +
                           std::string(key));
      }
    }
  }
}

// ---- running -------------------------------------------------------------------------------

void run_record_case(const Case& k, const policies::Payer& payer,
                     const mappings::MappingSet& mappings, const policies::PolicyLibrary& library,
                     PolicyTestResult& r) {
  Document scenario;
  build_scenario(k, payer, mappings, scenario);
  Document req;
  build_request(scenario, mappings, req);
  CoverageService service(mappings, library, ServiceOptions{});
  const ServiceDefinition* def = find_service("order-sign-crd");
  if (def == nullptr) {
    r.failures.push_back("no order-sign service");
    return;
  }
  HookOutcome out = service.call(*def, req, std::chrono::system_clock::now());
  if (out.status != 200) {
    r.failures.push_back("HTTP " + std::to_string(out.status) + ": " + out.error);
    return;
  }
  if (out.line_of_business != k.lob) {
    r.failures.push_back("the Coverage reads as line of business '" + out.line_of_business +
                         "', the case says '" + k.lob + "'");
  }
  if (out.payer_id != payer.id) {
    r.failures.push_back("the Coverage names payer '" + out.payer_id + "'");
  }
  const OrderDetermination* first = nullptr;
  for (const OrderDetermination& od : out.orders) {
    if (od.order_reference == "ServiceRequest/sr1") first = &od;
    for (size_t i = 0; i < k.other_orders.size(); ++i) {
      if (od.order_reference == "ServiceRequest/sr" + std::to_string(i + 2)) {
        r.failures.push_back("order " + k.other_orders[i] + " got a determination (" +
                             std::string(code(od.determination.covered)) + "), expected none");
      }
    }
  }
  bool none = str(member(*k.expected, "covered")) == "none";
  if (first == nullptr) {
    if (!none) r.failures.push_back("no determination for the order (out of scope)");
    return;
  }
  if (none) {
    r.failures.push_back("expected no determination, got " +
                         std::string(code(first->determination.covered)));
    return;
  }
  if (!k.policy_id.empty() && first->determination.policy_id != k.policy_id) {
    r.failures.push_back("decided by policy '" + first->determination.policy_id + "'");
  }
  compare(*k.expected, first->determination, out.body, r.failures);
}

// A fact from a case's "facts" object, in the vocabulary's kind.
std::optional<mappings::Fact> case_fact(const std::string& id, const Value& v,
                                        const mappings::MappingSet& mappings,
                                        const policies::PolicyLibrary& library,
                                        const policies::Policy& policy, std::string& problem) {
  using mappings::Fact;
  using mappings::Truth;
  auto kind = mappings.fact_kind(id);
  if (!kind) {
    problem = "unknown fact '" + id + "'";
    return std::nullopt;
  }
  mappings::Evidence ev{"test-case", "", "stated by the test case"};
  switch (*kind) {
    case mappings::FactKind::kBoolean: {
      if (!v.IsBool() && !v.IsNull()) break;
      Fact f = Fact::boolean(id, v.IsNull()    ? Truth::kUnknown
                                 : v.GetBool() ? Truth::kTrue
                                               : Truth::kFalse);
      if (!v.IsNull()) f.evidence.push_back(ev);
      return f;
    }
    case mappings::FactKind::kMeasure: {
      std::string unit = mappings.fact_unit(id);
      const Value* num = &v;
      std::string comparator;
      if (v.IsObject()) {
        num = member(v, "value");
        comparator = str(member(v, "comparator"));
      }
      if (num == nullptr || !num->IsNumber()) break;
      double x = num->GetDouble();
      constexpr double inf = std::numeric_limits<double>::infinity();
      fhir::Interval iv = fhir::Interval::point(x);
      if (comparator == "<") iv = fhir::Interval{-inf, x, false, false};
      if (comparator == "<=") iv = fhir::Interval{-inf, x, false, true};
      if (comparator == ">") iv = fhir::Interval{x, inf, false, false};
      if (comparator == ">=") iv = fhir::Interval{x, inf, true, false};
      Fact f = Fact::measured(id, iv, unit);
      f.evidence.push_back(ev);
      return f;
    }
    case mappings::FactKind::kOrdinal: {
      auto ranks = v.IsString() ? mappings.ordinal_value(id, str(&v)) : std::nullopt;
      if (!ranks) break;
      Fact f = Fact::measured(id, *ranks, "");
      f.kind = mappings::FactKind::kOrdinal;
      f.display = str(&v);
      f.evidence.push_back(ev);
      return f;
    }
    case mappings::FactKind::kCategory: {
      Fact f;
      f.id = id;
      f.kind = mappings::FactKind::kCategory;
      std::vector<std::string> yes;
      if (v.IsString()) yes.push_back(str(&v));
      if (v.IsArray()) {
        for (const Value& m : v.GetArray()) yes.push_back(str(&m));
      }
      if (v.IsObject()) {
        for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
          std::string m = it->name.GetString();
          if (!mappings.has_category(id, m)) {
            problem = "'" + m + "' is not a member of '" + id + "'";
            return std::nullopt;
          }
          f.categories[m] = it->value.IsBool()
                                ? (it->value.GetBool() ? Truth::kTrue : Truth::kFalse)
                                : Truth::kUnknown;
        }
      } else {
        if (yes.empty()) break;
        for (const std::string& m : library.members_named(policy, id)) {
          f.categories[m] = Truth::kFalse;
        }
        for (const std::string& m : yes) {
          if (!mappings.has_category(id, m)) {
            problem = "'" + m + "' is not a member of '" + id + "'";
            return std::nullopt;
          }
          f.categories[m] = Truth::kTrue;
        }
        f.display = join(yes, ", ");
      }
      f.evidence.push_back(ev);
      return f;
    }
  }
  problem = "fact '" + id + "': value of the wrong kind";
  return std::nullopt;
}

void run_fact_case(const Case& k, const policies::Payer& payer,
                   const mappings::MappingSet& mappings, const policies::PolicyLibrary& library,
                   PolicyTestResult& r) {
  bool none = str(member(*k.expected, "covered")) == "none";
  auto dos = fhir::parse_fhir_date(k.dos);
  const policies::Policy* policy = library.policy_for(payer, k.code, k.dos.substr(0, 10));
  if (policy == nullptr) {
    if (!none) r.failures.push_back("no policy of payer '" + payer.id + "' lists " + k.code);
    return;
  }
  if (none) {
    r.failures.push_back("expected no determination, but " +
                         policies::PolicyLibrary::policy_id(*policy) + " lists " + k.code);
    return;
  }
  if (payer.plan(k.lob) == nullptr && !mappings.is_coverage_type(k.lob)) {
    r.failures.push_back("line of business '" + k.lob +
                         "' is neither a coverage type nor a plan of '" + payer.id + "'");
    return;
  }
  mappings::FactSheet sheet;
  const Value& facts = *member(*k.json, "facts");
  if (!facts.IsObject()) {
    r.failures.push_back("\"facts\" must be an object");
    return;
  }
  for (auto it = facts.MemberBegin(); it != facts.MemberEnd(); ++it) {
    std::string problem;
    auto f = case_fact(it->name.GetString(), it->value, mappings, library, *policy, problem);
    if (!f) {
      r.failures.push_back(problem);
      return;
    }
    sheet.put(std::move(*f));
  }
  std::vector<std::string> docs;
  if (const Value* d = member(*k.json, "documents"); d && d->IsArray()) {
    for (const Value& c : d->GetArray()) docs.push_back(str(&c));
  }
  std::vector<mappings::DocumentFinding> findings;
  for (const std::string& code : library.document_codes(*policy)) {
    mappings::DocumentFinding f;
    f.code = code;
    f.found = std::find(docs.begin(), docs.end(), code) != docs.end();
    if (f.found) {
      f.reference = "DocumentReference/test-" + code;
      f.date = k.dos;
    }
    findings.push_back(std::move(f));
  }
  mappings::OrderContext order{nullptr, k.code, *dos};
  policies::Determination d = library.evaluate(*policy, payer, k.lob, order, sheet, findings);
  if (!k.policy_id.empty() && d.policy_id != k.policy_id) {
    r.failures.push_back("decided by policy '" + d.policy_id + "'");
  }
  compare(*k.expected, d, "", r.failures);
}

}  // namespace

std::string PolicyTestResult::line() const {
  std::string s = (passed ? "PASS " : "FAIL ") + file + ": " + name;
  if (!failures.empty()) s += ": " + join(failures, "; ");
  return s;
}

int PolicyTestReport::passed() const {
  return static_cast<int>(
      std::count_if(results.begin(), results.end(), [](const auto& r) { return r.passed; }));
}

int PolicyTestReport::failed() const {
  return static_cast<int>(results.size()) - passed() + static_cast<int>(errors.size());
}

PolicyTestReport run_policy_tests(const fs::path& dir, const mappings::MappingSet& mappings,
                                  const policies::PolicyLibrary& library) {
  PolicyTestReport report;
  std::vector<CaseFile> files = read_case_files(dir, report.errors);
  std::map<std::string, std::string> names;  // case name -> file, names must be unique
  for (const CaseFile& file : files) {
    for (const Value& c : file.doc["cases"].GetArray()) {
      Case k = read_case(file, c, library);
      PolicyTestResult r;
      r.file = file.name;
      r.name = k.name.empty() ? "(unnamed)" : k.name;
      r.failures = k.problems;
      if (auto [it, fresh] = names.emplace(k.name, file.name); !fresh && !k.name.empty()) {
        r.failures.push_back("the name is also used in " + it->second);
      }
      const policies::Payer* payer = find_payer(library, k.payer);
      if (payer == nullptr) r.failures.push_back("unknown payer '" + k.payer + "'");
      if (r.failures.empty()) {
        if (member(c, "record") != nullptr) {
          run_record_case(k, *payer, mappings, library, r);
        } else {
          run_fact_case(k, *payer, mappings, library, r);
        }
      }
      r.passed = r.failures.empty();
      report.results.push_back(std::move(r));
    }
  }
  return report;
}

Result<std::vector<std::pair<std::string, std::string>>> scenarios_from_cases(
    const fs::path& dir, const mappings::MappingSet& mappings,
    const policies::PolicyLibrary& library) {
  std::vector<std::string> errors;
  std::vector<CaseFile> files = read_case_files(dir, errors);
  if (!errors.empty()) return Error{"policy test cases", errors.front()};
  std::vector<std::pair<std::string, std::string>> out;
  for (const CaseFile& file : files) {
    for (const Value& c : file.doc["cases"].GetArray()) {
      if (member(c, "record") == nullptr) continue;
      Case k = read_case(file, c, library);
      if (!k.problems.empty()) return Error{file.name + ": " + k.name, k.problems.front()};
      const policies::Payer* payer = find_payer(library, k.payer);
      if (payer == nullptr) return Error{file.name + ": " + k.name, "unknown payer " + k.payer};
      Document s;
      build_scenario(k, *payer, mappings, s);
      out.emplace_back(k.name, serialise(s, true) + "\n");
    }
  }
  return out;
}

}  // namespace cryo::cds
