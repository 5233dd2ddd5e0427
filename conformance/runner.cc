#include "conformance/runner.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/ids.h"
#include "base/thread_annotations.h"
#include "conformance/record.h"
#include "conformance/signer.h"
#include "conformance/validate.h"

#include "base/text.h"
#include "conformance/json_access.h"
#include "security/token_signer.h"

namespace cryo::conformance {
namespace {

namespace fs = std::filesystem;
using rapidjson::Document;
using Alloc = rapidjson::Document::AllocatorType;

constexpr double kCrdLimitMs = 5000;  // CRD: 5 s, 90% of the time
constexpr double kGuidanceMs = 500;   // CDS Hooks: "on the order of 500 ms"

std::string serialise(const Json& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

std::string join(const Problems& problems, size_t max = 12) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < max; ++i) out += (i ? "; " : "") + problems[i];
  if (problems.size() > max) out += "; ... (" + std::to_string(problems.size() - max) + " more)";
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct HttpAnswer {
  int status = -1;  // -1: no answer
  std::string body;
  std::string error;
  double ms = 0;
  std::string request;   // what was sent, for failure output (token elided, bounded)
  std::string response;  // what came back, for failure output (bounded)
};

constexpr size_t kShownBodyBytes = 2048;  // of each request and response body in a report

std::string bounded(const std::string& body) {
  if (body.size() <= kShownBodyBytes) return body;
  return body.substr(0, kShownBodyBytes) + "... (" + std::to_string(body.size()) + " bytes)";
}

// "POST /cds-services/x" and its headers and body; a bearer token is shown as its length only.
std::string describe_request(const std::string& method, const std::string& path,
                             const httplib::Headers& headers, const std::string& body) {
  std::string out = method + " " + path + "\n";
  for (const auto& [name, value] : headers) {
    if (iequals(name, "Authorization")) {
      out += name + ": Bearer <JWT of " + std::to_string(value.size() > 7 ? value.size() - 7 : 0) +
             " bytes, not shown>\n";
    } else {
      out += name + ": " + value + "\n";
    }
  }
  if (!body.empty()) out += "\n" + bounded(body);
  return out;
}

std::string describe_response(const httplib::Response& res) {
  std::string out = "HTTP " + std::to_string(res.status) + "\n";
  for (const auto& [name, value] : res.headers) out += name + ": " + value + "\n";
  if (!res.body.empty()) out += "\n" + bounded(res.body);
  return out;
}

// The server's address split into what httplib needs.
struct Endpoint {
  std::string scheme_host_port;  // "http://127.0.0.1:8080"
  std::string prefix;            // "" or "/crd"
};

bool parse_base_url(std::string url, Endpoint& ep) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  const std::string suffix = "/cds-services";
  if (url.size() >= suffix.size() &&
      url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0)
    url.resize(url.size() - suffix.size());
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return false;
  auto path = url.find('/', scheme_end + 3);
  ep.scheme_host_port = url.substr(0, path);
  ep.prefix = path == std::string::npos ? "" : url.substr(path);
  return true;
}

// Serves the current scenario's record over FHIR REST so the server can query what prefetch
// did not bring, as it would against the EHR.
class FhirServer {
 public:
  bool start() {
    server_.Get(R"(/fhir/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::shared_ptr<const Record> record;
      {
        MutexLock lock(mu_);
        record = record_;
      }
      std::string target = req.target.substr(std::string("/fhir/").size());
      Document out;
      if (record) record->query(target, out, out.GetAllocator());
      if (!record || out.IsNull()) {
        res.status = 404;
        res.set_content(
            R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]})",
            "application/fhir+json");
        return;
      }
      res.set_content(serialise(out), "application/fhir+json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return false;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return true;
  }
  ~FhirServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  void set_record(std::shared_ptr<const Record> record) {
    MutexLock lock(mu_);
    record_ = std::move(record);
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/fhir"; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  Mutex mu_;
  std::shared_ptr<const Record> record_ GUARDED_BY(mu_);
};

struct Service {
  std::string id;
  std::string hook;
  std::map<std::string, std::string> prefetch;
  struct Option {
    std::string code, type;
  };
  std::vector<Option> options;
};

struct Scenario {
  std::string file;
  std::string name;
  std::shared_ptr<Document> doc;
  bool verbatim = false;
};

class Runner {
 public:
  Runner(const Options& options, std::ostream* out) : opt_(options), out_(out) {}

  Report run() {
    report_.base_url = opt_.base_url;
    if (!parse_base_url(opt_.base_url, endpoint_)) {
      add("setup", "setup: --base-url", false, "'" + opt_.base_url + "' is not an absolute URL");
      return finish();
    }
    if (!opt_.jwks_path.empty()) {
      SignerSettings settings{opt_.jwks_path, opt_.issuer, opt_.kid, opt_.alg, std::nullopt};
      if (opt_.send_jku) settings.jku = opt_.jku.empty() ? inferno_jku(opt_.issuer) : opt_.jku;
      auto signer = load_jwks_signer(settings);
      if (!signer) {
        add("setup", "setup: signing key", false, signer.error().to_string());
        return finish();
      }
      signer_ = std::move(*signer);
    }
    if (opt_.serve_fhir) {
      fhir_ = std::make_unique<FhirServer>();
      if (!fhir_->start()) {
        add("setup", "setup: FHIR server for scenario records", false, "cannot bind a port");
        fhir_.reset();
      }
    }
    discovery();
    scenarios();
    negatives();
    latency();
    return finish();
  }

 private:
  // ---- plumbing ----

  void add(const std::string& group, const std::string& name, bool ok, const std::string& reason,
           bool warn_only = false) {
    record(group, name,
           ok          ? Check::Outcome::kPass
           : warn_only ? Check::Outcome::kWarn
                       : Check::Outcome::kFail,
           reason);
  }

  // A check that could not run: reported as SKIP, never as a pass.
  void skip(const std::string& group, const std::string& name, const std::string& why) {
    record(group, name, Check::Outcome::kSkip, why);
  }

  void record(const std::string& group, const std::string& name, Check::Outcome outcome,
              const std::string& reason) {
    Check c;
    c.group = group;
    c.name = name;
    c.outcome = outcome;
    c.reason = reason;
    if (outcome == Check::Outcome::kFail && exchange_) {
      c.request = exchange_->request;
      c.response =
          exchange_->response.empty() ? "no answer: " + exchange_->error : exchange_->response;
    }
    if (out_) {
      const char* tag = outcome == Check::Outcome::kPass   ? "PASS"
                        : outcome == Check::Outcome::kWarn ? "WARN"
                        : outcome == Check::Outcome::kSkip ? "SKIP"
                                                           : "FAIL";
      *out_ << tag << "  " << name;
      if (!reason.empty()) *out_ << " — " << reason;
      *out_ << "\n";
      if (!c.request.empty()) *out_ << indented("request", c.request);
      if (!c.response.empty()) *out_ << indented("response", c.response);
    }
    report_.checks.push_back(std::move(c));
  }

  static std::string indented(const std::string& label, const std::string& text) {
    std::string out = "      " + label + ":\n";
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      out += "        " + text.substr(start, end - start) + "\n";
      start = end + 1;
    }
    return out;
  }

  // While one exists, failing checks show this HTTP exchange (the call they judge).
  class ExchangeScope {
   public:
    ExchangeScope(Runner& runner, const HttpAnswer& answer)
        : runner_(runner), saved_(runner.exchange_) {
      runner_.exchange_ = &answer;
    }
    ~ExchangeScope() { runner_.exchange_ = saved_; }
    ExchangeScope(const ExchangeScope&) = delete;
    ExchangeScope& operator=(const ExchangeScope&) = delete;

   private:
    Runner& runner_;
    const HttpAnswer* saved_;
  };

  void add(const std::string& group, const std::string& name, const Problems& problems) {
    add(group, name, problems.empty(), join(problems));
  }

  // One client for the whole run: calls reuse its keep-alive connection (httplib reconnects
  // when the server closed it). Each new TCP connection is counted.
  httplib::Client& client() {
    if (!http_) {
      http_ = std::make_unique<httplib::Client>(endpoint_.scheme_host_port);
      http_->set_keep_alive(true);
      http_->set_connection_timeout(opt_.timeout_seconds, 0);
      http_->set_read_timeout(opt_.timeout_seconds, 0);
      http_->set_write_timeout(opt_.timeout_seconds, 0);
      if (!opt_.ca_cert_path.empty()) http_->set_ca_cert_path(opt_.ca_cert_path.c_str());
      http_->set_socket_options([this](socket_t) { ++report_.connections; });
    }
    return *http_;
  }

  std::string audience(const std::string& path) const {
    return endpoint_.scheme_host_port + endpoint_.prefix + path;
  }

  httplib::Headers headers(const std::string& path, std::optional<RequestSigner::Variant> variant) {
    httplib::Headers h{{"Accept", "application/json"}};
    if (signer_ && variant)
      h.emplace("Authorization", "Bearer " + signer_->token(audience(path), *variant));
    return h;
  }

  HttpAnswer get_json(const std::string& path) {
    HttpAnswer a;
    const std::string target = endpoint_.prefix + path;
    httplib::Headers h = headers(path, RequestSigner::Variant::kValid);
    a.request = describe_request("GET", target, h, "");
    auto start = std::chrono::steady_clock::now();
    auto res = client().Get(target.c_str(), h);
    a.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++report_.http_calls;
    if (!res) {
      a.error = httplib::to_string(res.error());
      return a;
    }
    a.status = res->status;
    a.body = res->body;
    a.response = describe_response(*res);
    return a;
  }

  HttpAnswer post(const std::string& label, const std::string& path, const std::string& body,
                  std::optional<RequestSigner::Variant> variant = RequestSigner::Variant::kValid,
                  const std::string& own_token = "") {
    HttpAnswer a;
    const std::string target = endpoint_.prefix + path;
    httplib::Headers h = headers(path, own_token.empty() ? variant : std::nullopt);
    if (!own_token.empty()) h.emplace("Authorization", "Bearer " + own_token);
    httplib::Headers shown = h;
    shown.emplace("Content-Type", "application/json");
    a.request = describe_request("POST", target, shown, body);
    auto start = std::chrono::steady_clock::now();
    auto res = client().Post(target.c_str(), h, body, "application/json");
    a.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++report_.http_calls;
    if (res) {
      a.status = res->status;
      a.body = res->body;
      a.response = describe_response(*res);
    } else {
      a.error = httplib::to_string(res.error());
    }
    report_.calls.push_back({label, a.status, a.ms});
    return a;
  }

  // ---- discovery ----

  void discovery() {
    HttpAnswer a = get_json("/cds-services");
    ExchangeScope scope(*this, a);
    if (a.status != 200) {
      add("discovery", "discovery: GET /cds-services answers 200", false,
          a.status < 0 ? "no answer: " + a.error : "status " + std::to_string(a.status));
      return;
    }
    add("discovery", "discovery: GET /cds-services answers 200", true, "");
    Document doc;
    doc.Parse(a.body.c_str());
    if (doc.HasParseError() || !doc.IsObject()) {
      add("discovery", "discovery: services document", false, "body is not a JSON object");
      return;
    }
    Problems problems;
    validate_discovery(doc, problems);
    add("discovery", "discovery: services document", problems);
    if (const Json* services = get(doc, "services"); services && services->IsArray()) {
      for (auto& s : services->GetArray()) {
        Service svc;
        svc.id = str(get(s, "id"));
        svc.hook = str(get(s, "hook"));
        if (const Json* p = get(s, "prefetch"); p && p->IsObject())
          for (auto& m : p->GetObject())
            if (m.value.IsString()) svc.prefetch[m.name.GetString()] = m.value.GetString();
        if (const Json* e = get(s, "extension"))
          if (const Json* opts = get(*e, "davinci-crd.configuration-options");
              opts && opts->IsArray())
            for (auto& o : opts->GetArray())
              svc.options.push_back({str(get(o, "code")), str(get(o, "type"))});
        if (!svc.id.empty() && !svc.hook.empty()) services_.push_back(std::move(svc));
      }
    }
    bool has_order_sign = std::any_of(services_.begin(), services_.end(),
                                      [](const Service& s) { return s.hook == "order-sign"; });
    add("discovery", "discovery: an order-sign service is offered (CRD primary hook)",
        has_order_sign, has_order_sign ? "" : "no service with hook order-sign");
  }

  const Service* service_for(const std::string& hook, const std::string& id) const {
    for (auto& s : services_)
      if (s.hook == hook && (id.empty() || s.id == id)) return &s;
    return nullptr;
  }

  // ---- scenarios ----

  std::vector<Scenario> load_scenarios() {
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
  bool build_request(const Scenario& s, Document& req, const Service*& svc, bool with_prefetch,
                     bool with_fhir_server) {
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
    Json bundle(rapidjson::kObjectType);
    bundle.AddMember("resourceType", "Bundle", a);
    bundle.AddMember("type", "collection", a);
    Json entries(rapidjson::kArrayType);
    if (const Json* orders = get(sc, "draftOrders"); orders && orders->IsArray())
      for (auto& o : orders->GetArray()) {
        Json entry(rapidjson::kObjectType);
        entry.AddMember("resource", Json(o, a), a);
        entries.PushBack(entry, a);
      }
    bundle.AddMember("entry", entries, a);
    context.AddMember("draftOrders", bundle, a);
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

  static void set_configuration(Document& req, const std::string& code, Json value) {
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

  static std::set<int> expected_statuses(const Json& sc) {
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

  void scenarios() {
    auto list = load_scenarios();
    for (auto& s : list) {
      run_scenario(s);
      run_hook_variants(s);
    }
    check_card_types();
  }

  // Every CRD hook and version, from each order-sign scenario's record and orders: order-sign
  // asking for CRD 2.1 and 2.2, then order-select, order-dispatch, appointment-book,
  // encounter-start and encounter-discharge (CRD 2.0.1), each answer checked like the
  // scenario's own. The referenced orders and the Encounter are served from the scenario's
  // FHIR endpoint (and prefetch), so variants need the runner's FHIR server.
  struct HookVariant {
    std::string hook, version;
  };

  void run_hook_variants(const Scenario& s) {
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

  static bool is_encounter_hook(const HookVariant& v) { return v.hook.rfind("encounter-", 0) == 0; }

  // The scenario rewritten for the variant's hook and version; `refs` gets its orders'
  // references. Orders the hook only references are added to the record, and encounter hooks
  // get an Encounter the orders point to.
  static std::shared_ptr<Document> variant_scenario(const Json& sc, const HookVariant& v,
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
  static Json appointments_bundle(const std::vector<std::string>& refs,
                                  const std::string& patient_id, Document::AllocatorType& ra) {
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
    Json participant(rapidjson::kArrayType), p(rapidjson::kObjectType),
        actor(rapidjson::kObjectType);
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
  static void set_variant_context(Document& req, const HookVariant& v,
                                  const std::vector<std::string>& refs,
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

  void run_hook_variant(const Scenario& s, const HookVariant& v) {
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
    res.Parse(ans.body.c_str());
    if (res.HasParseError()) {
      add(group, n + "response is JSON", false, "body does not parse: " + ans.body.substr(0, 200));
      return;
    }
    validate_full_response(group, n, req, res, &*doc);
    if (is_encounter_hook(v)) {
      const Json* cards = get(res, "cards");
      const bool some = cards && cards->IsArray() && !cards->Empty();
      add(group, n + "answers with cards", some, some ? "" : "no cards for the encounter's orders");
    }
  }

  // CRD 2.0.1 servers SHALL demonstrate Coverage Information, External Reference and
  // Instructions; cards are classified the way the Inferno CRD test kit does.
  void check_card_types() {
    if (card_types_.empty()) return;
    std::string missing;
    for (const char* t : {"coverage-information", "external-reference", "instructions"})
      if (!card_types_.count(t)) missing += (missing.empty() ? "" : ", ") + std::string(t);
    // WARN, not FAIL: another payer's scenarios may not call for every type.
    add("hooks", "card types: Coverage Information, External Reference and Instructions all appear",
        missing.empty(), missing.empty() ? "" : "never returned: " + missing, true);
  }

  void run_scenario(const Scenario& s) {
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
    res.Parse(a.body.c_str());
    if (res.HasParseError()) {
      add(group, n + "response is JSON", false, "body does not parse: " + a.body.substr(0, 200));
      return;
    }
    validate_full_response(group, n, req, res);
    check_expected(group, n, *s.doc, req, res);
    if (!s.verbatim) check_configuration(group, n, s, req, res, path);
  }

  // Draft orders of a request by "Type/id", and the Appointments of appointment-book (which CRD
  // annotates too).
  static std::map<std::string, const Json*> draft_orders(const Json& req) {
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

  void validate_full_response(const std::string& group, const std::string& n, const Json& req,
                              const Json& res, const Json* variant = nullptr) {
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
            actions.push_back(p + " updates " + key +
                              ", which is not a draft order of the request");
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

  // Coverage-information extensions the response attaches to draft order `key`.
  static std::vector<const Json*> coverage_for(const Json& res, const std::string& key) {
    std::vector<const Json*> out;
    if (const Json* sa = get(res, "systemActions"); sa && sa->IsArray())
      for (auto& action : sa->GetArray()) {
        const Json* r = get(action, "resource");
        if (!r || str(get(*r, "resourceType")) + "/" + str(get(*r, "id")) != key) continue;
        for (auto* e : coverage_information_of(*r)) out.push_back(e);
      }
    return out;
  }

  static std::set<std::string> codes_of(const Json& ext, const char* url) {
    std::set<std::string> out;
    for (const Json* v : sub_values(ext, url)) out.insert(str(v));
    return out;
  }

  static std::string set_text(const std::set<std::string>& s) {
    if (s.empty()) return "absent";
    std::string out;
    for (auto& v : s) out += (out.empty() ? "" : ",") + v;
    return out;
  }

  void check_expected(const std::string& group, const std::string& n, const Json& sc,
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
              problems.push_back(key + ": reason does not mention '" +
                                 std::string(rc->GetString()) + "'");
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
  void check_configuration(const std::string& group, const std::string& n, const Scenario& s,
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

  // ---- negative checks ----

  void expect_error(const std::string& name, const HttpAnswer& a, int status) {
    ExchangeScope scope(*this, a);
    if (a.status < 0) {
      add("negative", name, false, "no answer: " + a.error);
      return;
    }
    Problems problems;
    if (a.status != status)
      problems.push_back("status " + std::to_string(a.status) + ", expected " +
                         std::to_string(status));
    if (a.status >= 400 && a.status < 500 && !is_operation_outcome(a.body))
      problems.push_back("the " + std::to_string(a.status) +
                         " body is not a FHIR OperationOutcome");
    add("negative", name, problems);
  }

  void negatives() {
    const Service* svc = service_for("order-sign", "");
    if (!svc && !services_.empty()) svc = &services_.front();
    if (!svc) {
      add("negative", "negative checks", false, "no service to call (discovery failed)");
      return;
    }
    // A valid request to start from: the first generated scenario, else a minimal one.
    Document base;
    const Service* used = nullptr;
    bool from_scenario = false;
    for (auto& s : load_scenarios_quiet()) {
      if (s.verbatim || str(get(*s.doc, "hook")) != svc->hook) continue;
      if (build_request(s, base, used, true, false) && used == svc) {
        from_scenario = true;
        if (fhir_) fhir_->set_record(nullptr);
        break;
      }
    }
    if (!from_scenario) {
      base.Parse(R"({"hook":"order-sign","hookInstance":"","context":{"userId":"Practitioner/p1",
        "patientId":"p1","draftOrders":{"resourceType":"Bundle","type":"collection","entry":[]}}})");
      base["hook"].SetString(svc->hook.c_str(), base.GetAllocator());
      base["hookInstance"].SetString(random_uuid().c_str(), base.GetAllocator());
    }
    const std::string path = "/cds-services/" + svc->id;
    expect_error("negative: malformed JSON answers 400 with an OperationOutcome",
                 post("malformed JSON", path, "{\"hook\": \"order-sign\", \"context\": {"), 400);
    {
      Document r;
      r.CopyFrom(base, r.GetAllocator());
      r.RemoveMember("context");
      expect_error("negative: request without context answers 400 with an OperationOutcome",
                   post("missing context", path, serialise(r)), 400);
    }
    {
      Document r;
      r.CopyFrom(base, r.GetAllocator());
      r.RemoveMember("hookInstance");
      expect_error("negative: request without hookInstance answers 400 with an OperationOutcome",
                   post("missing hookInstance", path, serialise(r)), 400);
    }
    {
      Document r;
      r.CopyFrom(base, r.GetAllocator());
      const std::string unknown = "/cds-services/no-such-service-" + random_uuid();
      expect_error("negative: unknown service answers 404 with an OperationOutcome",
                   post("unknown service", unknown, serialise(r)), 404);
    }
    if (!svc->prefetch.empty() && from_scenario) {
      Document r;
      r.CopyFrom(base, r.GetAllocator());
      r.RemoveMember("prefetch");
      r.RemoveMember("fhirServer");
      r.RemoveMember("fhirAuthorization");
      expect_error("negative: declared prefetch missing and no fhirServer answers 412",
                   post("prefetch missing", path, serialise(r)), 412);
    } else {
      skip("negative", "negative: declared prefetch missing and no fhirServer answers 412",
           svc->prefetch.empty() ? "not applicable: the service declares no prefetch"
                                 : "not applicable: no scenario to build a request from");
    }
    if (signer_) {
      Document r;
      r.CopyFrom(base, r.GetAllocator());
      const std::string body = serialise(r);
      expect_error("negative: call without a JWT answers 401",
                   post("no token", path, body, std::nullopt), 401);
      expect_error("negative: JWT with a bad signature answers 401",
                   post("bad signature", path, body, RequestSigner::Variant::kBadSignature), 401);
      expect_error("negative: expired JWT answers 401",
                   post("expired token", path, body, RequestSigner::Variant::kExpired), 401);
      unknown_key_behind_jku(path, body);
    }
  }

  // A token of the trusted issuer, signed by a key no configured set holds, whose `jku` points
  // at a JWK Set the runner serves with that very key: the server must answer 401 and must
  // not fetch the URL (a service that follows any jku trusts whoever signs).
  void unknown_key_behind_jku(const std::string& path, const std::string& body) {
    const std::string name_401 = "negative: JWT by an unknown key behind its own jku answers 401";
    const std::string name_fetch = "negative: a jku the server was not given is never fetched";
    auto key = security::SigningKey::generate("ES384", "crd-conformance-unknown-" + random_uuid());
    if (!key) {
      add("negative", name_401, false, "cannot generate a key: " + key.error().to_string());
      return;
    }
    httplib::Server bait;
    std::atomic<int> fetches{0};
    const std::string jwks = security::public_jwk_set_json({&*key});
    bait.Get("/jwks.json", [&](const httplib::Request&, httplib::Response& res) {
      ++fetches;
      res.set_content(jwks, "application/json");
    });
    const int port = bait.bind_to_any_port("127.0.0.1");
    if (port <= 0) {
      skip("negative", name_401, "cannot bind a loopback port for the JWK Set");
      return;
    }
    std::thread serving([&] { bait.listen_after_bind(); });
    while (!bait.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    security::ClientTokenClaims claims;
    claims.iss = opt_.issuer;
    claims.aud = {audience(path)};
    claims.jku = "http://127.0.0.1:" + std::to_string(port) + "/jwks.json";
    auto token = security::sign_client_token(*key, claims);
    HttpAnswer a;
    if (token) a = post("unknown key behind jku", path, body, std::nullopt, *token);
    bait.stop();
    serving.join();
    if (!token) {
      add("negative", name_401, false, "cannot sign: " + token.error().to_string());
      return;
    }
    expect_error(name_401, a, 401);
    // Only a server on this machine could reach the runner's loopback address.
    const std::string host =
        endpoint_.scheme_host_port.substr(endpoint_.scheme_host_port.find("://") + 3);
    const bool local = host.rfind("127.", 0) == 0 || host.rfind("localhost", 0) == 0 ||
                       host.rfind("[::1]", 0) == 0;
    if (!local) {
      skip("negative", name_fetch,
           "the server is not on this machine, so it could not reach the runner's JWK Set");
      return;
    }
    add("negative", name_fetch, fetches.load() == 0,
        fetches.load() == 0
            ? ""
            : "the server fetched the token's jku " + std::to_string(fetches.load()) + " time(s)");
  }

  std::vector<Scenario> load_scenarios_quiet() {
    std::ostream* saved = out_;
    out_ = nullptr;
    size_t before = report_.checks.size();
    auto list = load_scenarios();
    report_.checks.resize(before);  // file problems were reported already
    out_ = saved;
    return list;
  }

  // ---- latency ----

  static double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
  }

  void latency() {
    std::vector<double> ms;
    for (auto& c : report_.calls)
      if (c.status >= 200 && c.status < 300) ms.push_back(c.ms);
    report_.p50 = percentile(ms, 50);
    report_.p90 = percentile(ms, 90);
    report_.p99 = percentile(ms, 99);
    const char* crd = "latency: p90 within the CRD limit of 5 s";
    const char* guidance = "latency: p90 within the CDS Hooks guidance of 500 ms (SHOULD)";
    if (ms.empty()) {
      const std::string why = "no successful service call to measure (" +
                              std::to_string(report_.calls.size()) + " calls, none answered 2xx)";
      skip("latency", crd, why);
      skip("latency", guidance, why);
      return;
    }
    char figures[160];
    std::snprintf(figures, sizeof figures,
                  "%zu successful calls: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms", ms.size(),
                  report_.p50, report_.p90, report_.p99);
    add("latency", crd, report_.p90 <= kCrdLimitMs, figures);
    add("latency", guidance, report_.p90 <= kGuidanceMs, figures, /*warn_only=*/true);
  }

  // ---- output ----

  Report finish() {
    if (!opt_.report_path.empty()) write_json();
    if (!opt_.junit_path.empty()) write_junit();
    return std::move(report_);
  }

  void write_json() {
    Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("baseUrl", Json(report_.base_url.c_str(), a), a);
    d.AddMember("passed", report_.passed(), a);
    d.AddMember("failed", report_.failed(), a);
    d.AddMember("warnings", report_.warnings(), a);
    d.AddMember("skipped", report_.skipped(), a);
    d.AddMember("httpCalls", report_.http_calls, a);
    d.AddMember("connections", report_.connections, a);
    Json checks(rapidjson::kArrayType);
    for (auto& c : report_.checks) {
      Json o(rapidjson::kObjectType);
      o.AddMember("group", Json(c.group.c_str(), a), a);
      o.AddMember("name", Json(c.name.c_str(), a), a);
      const char* outcome = c.outcome == Check::Outcome::kPass   ? "pass"
                            : c.outcome == Check::Outcome::kFail ? "fail"
                            : c.outcome == Check::Outcome::kSkip ? "skip"
                                                                 : "warn";
      o.AddMember("outcome", Json(outcome, a), a);
      if (!c.reason.empty()) o.AddMember("reason", Json(c.reason.c_str(), a), a);
      if (!c.request.empty()) o.AddMember("request", Json(c.request.c_str(), a), a);
      if (!c.response.empty()) o.AddMember("response", Json(c.response.c_str(), a), a);
      checks.PushBack(o, a);
    }
    d.AddMember("checks", checks, a);
    Json lat(rapidjson::kObjectType);
    lat.AddMember("p50Ms", report_.p50, a);
    lat.AddMember("p90Ms", report_.p90, a);
    lat.AddMember("p99Ms", report_.p99, a);
    lat.AddMember("crdLimitMs", kCrdLimitMs, a);
    lat.AddMember("guidanceMs", kGuidanceMs, a);
    Json calls(rapidjson::kArrayType);
    for (auto& c : report_.calls) {
      Json o(rapidjson::kObjectType);
      o.AddMember("label", Json(c.label.c_str(), a), a);
      o.AddMember("status", c.status, a);
      o.AddMember("ms", c.ms, a);
      calls.PushBack(o, a);
    }
    lat.AddMember("calls", calls, a);
    d.AddMember("latency", lat, a);
    rapidjson::StringBuffer sb;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
    d.Accept(w);
    std::ofstream(opt_.report_path) << sb.GetString() << "\n";
  }

  void write_junit() {
    std::ofstream f(opt_.junit_path);
    f << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    f << "<testsuites name=\"crd-conformance\" tests=\"" << report_.checks.size()
      << "\" failures=\"" << report_.failed() << "\" skipped=\"" << report_.skipped() << "\">\n";
    std::map<std::string, std::vector<const Check*>> groups;
    std::vector<std::string> order;
    for (auto& c : report_.checks) {
      if (!groups.count(c.group)) order.push_back(c.group);
      groups[c.group].push_back(&c);
    }
    for (auto& g : order) {
      int failures = 0, skipped = 0;
      for (auto* c : groups[g]) {
        failures += c->outcome == Check::Outcome::kFail;
        skipped += c->outcome == Check::Outcome::kSkip;
      }
      f << "  <testsuite name=\"" << html_escape(g) << "\" tests=\"" << groups[g].size()
        << "\" failures=\"" << failures << "\" skipped=\"" << skipped << "\">\n";
      for (auto* c : groups[g]) {
        f << "    <testcase classname=\"" << html_escape(g) << "\" name=\"" << html_escape(c->name)
          << "\"";
        if (c->outcome == Check::Outcome::kFail) {
          f << ">\n      <failure message=\"" << html_escape(c->reason) << "\"";
          if (c->request.empty() && c->response.empty()) {
            f << "/>\n";
          } else {
            f << ">" << html_escape("request:\n" + c->request + "\n\nresponse:\n" + c->response)
              << "</failure>\n";
          }
          f << "    </testcase>\n";
        } else if (c->outcome == Check::Outcome::kSkip) {
          f << ">\n      <skipped message=\"" << html_escape(c->reason)
            << "\"/>\n    </testcase>\n";
        } else if (c->outcome == Check::Outcome::kWarn) {
          f << ">\n      <system-out>" << html_escape("WARN: " + c->reason)
            << "</system-out>\n    </testcase>\n";
        } else {
          f << "/>\n";
        }
      }
      f << "  </testsuite>\n";
    }
    f << "</testsuites>\n";
  }

  const Options& opt_;
  std::ostream* out_;
  Report report_;
  Endpoint endpoint_;
  std::unique_ptr<RequestSigner> signer_;
  std::unique_ptr<httplib::Client> http_;
  const HttpAnswer* exchange_ = nullptr;  // see ExchangeScope
  std::unique_ptr<FhirServer> fhir_;
  std::set<std::string> card_types_;  // response types seen (CRD 2.0.1 answers)
  std::vector<Service> services_;
  std::set<std::string> configured_;
};

const char* kUsage =
    "usage: crd-conformance --base-url URL [--scenarios DIR]\n"
    "                       [--jwks FILE --iss ISS [--kid KID] [--alg ES384|RS384]\n"
    "                        [--jku URL | --no-jku]]   (jku defaults to ISS/jwks.json, as "
    "Inferno)\n"
    "                       [--report FILE] [--junit FILE] [--no-fhir-server] [--timeout "
    "SECONDS]\n"
    "                       [--ca-cert FILE]   (CA certificates to trust for an https:// URL)\n";

}  // namespace

int Report::passed() const {
  return static_cast<int>(std::count_if(checks.begin(), checks.end(), [](const Check& c) {
    return c.outcome == Check::Outcome::kPass;
  }));
}

int Report::failed() const {
  return static_cast<int>(std::count_if(checks.begin(), checks.end(), [](const Check& c) {
    return c.outcome == Check::Outcome::kFail;
  }));
}

int Report::skipped() const {
  return static_cast<int>(std::count_if(checks.begin(), checks.end(), [](const Check& c) {
    return c.outcome == Check::Outcome::kSkip;
  }));
}

int Report::warnings() const {
  return static_cast<int>(std::count_if(checks.begin(), checks.end(), [](const Check& c) {
    return c.outcome == Check::Outcome::kWarn;
  }));
}

std::vector<const Check*> Report::failures(const std::string& name_part,
                                           const std::string& reason_part) const {
  std::vector<const Check*> out;
  for (auto& c : checks)
    if (c.outcome == Check::Outcome::kFail && c.name.find(name_part) != std::string::npos &&
        c.reason.find(reason_part) != std::string::npos)
      out.push_back(&c);
  return out;
}

Report run(const Options& options, std::ostream* out) {
  return Runner(options, out).run();
}

int run_conformance(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& target) {
      if (i + 1 >= argc) return false;
      target = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--base-url")
      ok = value(o.base_url);
    else if (arg == "--scenarios")
      ok = value(o.scenarios_dir);
    else if (arg == "--jwks")
      ok = value(o.jwks_path);
    else if (arg == "--iss")
      ok = value(o.issuer);
    else if (arg == "--kid")
      ok = value(o.kid);
    else if (arg == "--alg")
      ok = value(o.alg);
    else if (arg == "--jku")
      ok = value(o.jku);
    else if (arg == "--no-jku")
      o.send_jku = false;
    else if (arg == "--report")
      ok = value(o.report_path);
    else if (arg == "--junit")
      ok = value(o.junit_path);
    else if (arg == "--ca-cert")
      ok = value(o.ca_cert_path);
    else if (arg == "--no-fhir-server")
      o.serve_fhir = false;
    else if (arg == "--timeout") {
      std::string t;
      ok = value(t) && !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
      if (ok) o.timeout_seconds = std::stoi(t);
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "unknown argument '" << arg << "'\n" << kUsage;
      return 2;
    }
    if (!ok) {
      std::cerr << arg << " needs a value\n" << kUsage;
      return 2;
    }
  }
  if (o.base_url.empty()) {
    std::cerr << "--base-url is required\n" << kUsage;
    return 2;
  }
  if (!o.jwks_path.empty() && o.issuer.empty()) {
    std::cerr << "--jwks needs --iss\n" << kUsage;
    return 2;
  }
  if (!o.alg.empty() && o.alg != "ES384" && o.alg != "RS384") {
    std::cerr << "--alg is ES384 or RS384\n" << kUsage;
    return 2;
  }
  Report r = run(o, &std::cout);
  std::cout << "latency: p50 " << r.p50 << " ms, p90 " << r.p90 << " ms, p99 " << r.p99
            << " ms over " << r.calls.size() << " service calls\n";
  std::cout << r.http_calls << " HTTP calls over " << r.connections << " connections\n";
  if (r.warnings() > 0) std::cout << r.warnings() << " warnings\n";
  std::cout << r.passed() << " passed, " << r.failed() << " failed, " << r.skipped()
            << " skipped\n";
  return r.failed() > 0 ? 1 : 0;
}

}  // namespace cryo::conformance
