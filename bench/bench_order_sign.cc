// Latency of an order-sign call with full prefetch: the project keeps it in the low
// milliseconds. Three views of the same call:
//
//   - In process, CoverageService::call() on the example request
//     (docs/examples/order-sign-florida-blue.json), on a large chart built here (300
//     Observations, 50 Conditions, 30 documents, 5 orders under one Medical Mutual coverage)
//     and on every golden conformance scenario in turn; plus each stage alone (parse; request,
//     index and coverage; facts and documents; policy evaluation; response writing).
//     The body is parsed in place, so each call gets a fresh copy; BM_BodyCopy is that copy
//     alone, to subtract.
//   - Over HTTP on loopback: an in-process HttpServer on a free port, 1/8/16 keep-alive clients
//     POSTing the example request; p50/p90/p99 latency and calls per second, as counters.
//   - The same with the audit store on (SQLite, synchronous=FULL, in a fresh directory under
//     $CRYO_BENCH_DIR or the system temp dir): every answer waits for its record's fsync; with
//     16 clients the store commits concurrent calls in groups.
//
//   cmake --build build --target bench_order_sign && build/bench/bench_order_sign
//   build/bench/bench_order_sign --benchmark_filter=Http     # HTTP figures only
//   build/bench/bench_order_sign --write-large-chart FILE    # writes the large chart's request
//
// The server's per-request log line is dropped (warnings and errors are kept) so that the
// output stays readable; CRYO_BENCH_LOG=1 keeps it (send stderr to /dev/null).
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "audit/store.h"
#include "base/ids.h"
#include "base/log.h"
#include "cds/audit_recorder.h"
#include "cds/catalog.h"
#include "cds/coverage_service.h"
#include "cds/hook_body.h"
#include "cds/hook_request.h"
#include "cds/http_server.h"
#include "cds/response_writer.h"
#include "conformance/record.h"
#include "fhir/json.h"
#include "fhir/resource_index.h"
#include "mappings/coverage_reader.h"
#include "mappings/mapping_set.h"
#include "policies/policy_library.h"

namespace {

namespace fs = std::filesystem;
using namespace cryo;
using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& why) {
  std::cerr << "bench_order_sign: " << why << "\n";
  std::exit(1);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---------------------------------------------------------------------------------------------
// The bundled mappings and policies, loaded once.

struct Data {
  mappings::MappingSet mappings;
  policies::PolicyLibrary library;
  std::unique_ptr<cds::CoverageService> service;
};

cds::ServiceOptions base_options() {
  cds::ServiceOptions options;
  options.base_url = "https://crd.example.org";
  return options;
}

const Data& data() {
  static const std::unique_ptr<Data> d = [] {
    auto out = std::make_unique<Data>();
    auto m = mappings::MappingSet::load(fs::path(CRYO_SOURCE_DIR) / "mappings/data");
    if (!m) fail(m.error().to_string());
    out->mappings = std::move(*m);
    auto lib =
        policies::PolicyLibrary::load(fs::path(CRYO_SOURCE_DIR) / "policies/data", out->mappings);
    if (!lib) fail(lib.error().to_string());
    out->library = std::move(*lib);
    out->service =
        std::make_unique<cds::CoverageService>(out->mappings, out->library, base_options());
    return out;
  }();
  return *d;
}

const cds::ServiceDefinition* find_service_for(std::string_view hook) {
  for (const auto& s : cds::services()) {
    if (s.hook == hook && s.adapter->primary) return &s;
  }
  for (const auto& s : cds::services()) {
    if (s.hook == hook) return &s;
  }
  return nullptr;
}

const cds::ServiceDefinition& service_for(std::string_view hook) {
  const cds::ServiceDefinition* s = find_service_for(hook);
  if (s == nullptr) fail("no service answers hook " + std::string(hook));
  return *s;
}

// ---------------------------------------------------------------------------------------------
// Requests. A chart (FHIR resources) becomes a hook request the way an EHR builds one: every
// prefetch template the service declares is filled and answered from the chart
// (conformance::Record, the conformance runner's in-memory EHR).

struct ChartRequest {
  std::string hook = "order-sign";
  std::string patient_id;
  std::string user_id;
  std::string encounter_id;
  const rapidjson::Value* record = nullptr;        // array of resources
  const rapidjson::Value* draft_orders = nullptr;  // array of orders
  const rapidjson::Value* extension = nullptr;     // request `extension`, optional
};

std::string request_from_chart(const ChartRequest& in) {
  conformance::Record record(*in.record);
  rapidjson::Document req(rapidjson::kObjectType);
  auto& a = req.GetAllocator();
  auto str = [&a](std::string_view s) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  req.AddMember("hookInstance", str(random_uuid()), a);
  req.AddMember("hook", str(in.hook), a);
  std::map<std::string, std::string> tokens{{"patientId", in.patient_id}, {"userId", in.user_id}};
  rapidjson::Value context(rapidjson::kObjectType);
  context.AddMember("userId", str(in.user_id), a);
  context.AddMember("patientId", str(in.patient_id), a);
  if (!in.encounter_id.empty()) {
    context.AddMember("encounterId", str(in.encounter_id), a);
    tokens["encounterId"] = in.encounter_id;
  }
  rapidjson::Value bundle(rapidjson::kObjectType);
  bundle.AddMember("resourceType", "Bundle", a);
  bundle.AddMember("type", "collection", a);
  rapidjson::Value entries(rapidjson::kArrayType);
  for (const auto& order : in.draft_orders->GetArray()) {
    rapidjson::Value entry(rapidjson::kObjectType);
    entry.AddMember("resource", rapidjson::Value(order, a), a);
    entries.PushBack(entry, a);
  }
  bundle.AddMember("entry", entries, a);
  context.AddMember("draftOrders", bundle, a);
  req.AddMember("context", context, a);
  rapidjson::Value prefetch(rapidjson::kObjectType);
  for (const auto& t : data().mappings.prefetch_templates()) {
    auto query = conformance::fill_template(t.query, tokens);
    if (!query) fail("cannot fill prefetch template " + t.query);
    rapidjson::Value value;
    record.query(*query, value, a);
    prefetch.AddMember(str(t.key), value, a);
  }
  req.AddMember("prefetch", prefetch, a);
  if (in.extension != nullptr) req.AddMember("extension", rapidjson::Value(*in.extension, a), a);
  return fhir::to_string(req);
}

// A long chart: a patient treated for liver, kidney, prostate and bone tumours over two
// years, with routine labs and vitals, imaging measurements, clinical notes and five
// cryoablation orders signed together (all five are in Medical Mutual's policy).
std::string large_request() {
  std::string r = "[";
  auto add = [&r](const std::string& resource) {
    if (r.size() > 1) r += ",";
    r += resource;
  };
  auto date = [](int days_ago) {
    // Dates before the order's 2026-03-01, spread over two years (day of month <= 28).
    int months = days_ago / 28, day = 28 - days_ago % 28;
    int y = 2026, m = 2 - months;
    while (m < 1) m += 12, --y;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, day);
    return std::string(buf);
  };
  const std::string subject = R"("subject":{"reference":"Patient/pat-big"})";
  add(R"({"resourceType":"Patient","id":"pat-big","name":[{"family":"Rivera","given":["Sam"]}],)"
      R"("gender":"male","birthDate":"1957-09-14"})");
  add(R"({"resourceType":"Organization","id":"org-mm","name":"Medical Mutual","identifier":[)"
      R"({"system":"http://cryocrd.org/fhir/sid/payer-id","value":"medical-mutual"}]})");
  add(R"({"resourceType":"Coverage","id":"cov-big","status":"active","type":{"coding":[)"
      R"({"system":"https://nahdo.org/sopt","code":"512","display":"Commercial managed care - PPO"}]},)"
      R"("beneficiary":{"reference":"Patient/pat-big"},"payor":[{"reference":"Organization/org-mm"}]})");

  // 50 Conditions: the four cancers being treated plus a long problem list.
  const char* conditions[] = {
      "C22.0",  "C64.1",  "C61",    "C49.2", "K74.60",  "I10",    "E11.9",  "E78.5",  "N18.30",
      "J44.9",  "K21.9",  "M54.50", "F32.9", "Z87.891", "I25.10", "E66.9",  "G47.33", "M17.11",
      "I48.91", "D64.9",  "K76.0",  "E03.9", "N40.1",   "R53.83", "Z79.4",  "B18.2",  "K70.30",
      "R18.8",  "I85.00", "D69.6",  "E87.1", "R16.0",   "Z92.21", "Z51.11", "K59.00", "M81.0",
      "H25.9",  "J30.9",  "L40.0",  "G62.9", "R06.00",  "I50.9",  "N39.0",  "E55.9",  "K29.70",
      "M10.9",  "Z86.73", "R73.09", "D50.9", "E83.42"};
  int n = 0;
  for (const char* code : conditions) {
    bool resolved = n >= 40 && n % 2 == 0;
    add(R"({"resourceType":"Condition","id":"cond-)" + std::to_string(n) +
        R"(","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":")" +
        (resolved ? "resolved" : "active") +
        R"("}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status",)"
        R"("code":"confirmed"}]},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category",)"
        R"("code":"problem-list-item"}]}],"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":")" +
        code + R"("}]},)" + subject + R"(,"recordedDate":")" + date(20 + 13 * n) + R"("})");
    ++n;
  }

  // Lesions: 4 in the liver, 2 in the kidney, each measured on several scans.
  const char* sites[] = {"10200004", "71133005", "277956007", "277957003", "64033007", "64033007"};
  for (int i = 0; i < 6; ++i) {
    add(R"({"resourceType":"BodyStructure","id":"lesion-)" + std::to_string(i) +
        R"(","location":{"coding":[{"system":"http://snomed.info/sct","code":")" + sites[i] +
        R"("}]},"patient":{"reference":"Patient/pat-big"}})");
  }
  int obs = 0;
  auto observation = [&](const std::string& body, int days_ago) {
    add(R"({"resourceType":"Observation","id":"obs-)" + std::to_string(obs++) +
        R"(","status":"final",)" + subject + R"(,"effectiveDateTime":")" + date(days_ago) +
        R"(",)" + body + "}");
  };
  for (int scan = 0; scan < 5; ++scan) {  // 30 size measurements
    for (int i = 0; i < 6; ++i) {
      int mm = 18 + 3 * i + 2 * (4 - scan);
      observation(
          R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"imaging"}]}],)"
          R"("code":{"coding":[{"system":"http://loinc.org","code":"21889-1"}]},"focus":[{"reference":"BodyStructure/lesion-)" +
              std::to_string(i) +
              R"("}],"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"33728-7"}]},)"
              R"("valueQuantity":{"value":)" +
              std::to_string(mm) +
              R"(,"unit":"mm","system":"http://unitsofmeasure.org","code":"mm"}}])",
          10 + 90 * scan);
    }
  }
  // 20 structured criteria findings (some recorded twice, the later wins).
  auto crit = [](const std::string& code) {
    return R"("code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":")" +
           code + R"("}]})";
  };
  auto boolean = [&](const std::string& code, bool value, int days_ago) {
    observation(crit(code) + R"(,"valueBoolean":)" + (value ? "true" : "false"), days_ago);
  };
  auto coded = [&](const std::string& code, const std::string& value, int days_ago) {
    observation(
        crit(code) +
            R"(,"valueCodeableConcept":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":")" +
            value + R"("}]})",
        days_ago);
  };
  coded("resectability", "resectable", 200);
  coded("resectability", "unresectable", 15);
  boolean("poor-surgical-candidate", true, 15);
  boolean("extrahepatic-disease", false, 15);
  boolean("ablatable-with-margin", true, 15);
  boolean("metabolically-active", false, 15);
  boolean("rcc-histologic", true, 40);
  boolean("solitary-kidney", false, 40);
  boolean("metastatic-disease", false, 40);
  boolean("renal-preservation-necessary", true, 40);
  coded("prostate-t-stage", "T2a", 60);
  boolean("lymph-node-involvement", false, 60);
  boolean("salvage-after-radiation", false, 60);
  boolean("localized-disease", true, 60);
  boolean("symptomatic", true, 25);
  boolean("location-accessible", true, 25);
  boolean("systemic-therapy-failed", false, 25);
  boolean("awaiting-liver-transplant", false, 15);
  observation(crit("hepatic-lesion-count") + R"(,"valueInteger":4)", 15);
  observation(crit("gleason-score") + R"(,"valueInteger":7)", 60);
  // 250 labs and vital signs.
  struct Lab {
    const char* loinc;
    const char* unit;
    double base;
    const char* category;
  };
  const Lab labs[] = {{"718-7", "g/dL", 12.1, "laboratory"},
                      {"2160-0", "mg/dL", 1.1, "laboratory"},
                      {"1920-8", "U/L", 48, "laboratory"},
                      {"1742-6", "U/L", 52, "laboratory"},
                      {"1975-2", "mg/dL", 1.4, "laboratory"},
                      {"1751-7", "g/dL", 3.3, "laboratory"},
                      {"6301-6", "{INR}", 1.2, "laboratory"},
                      {"777-3", "10*3/uL", 142, "laboratory"},
                      {"1834-1", "ng/mL", 38, "laboratory"},
                      {"2857-1", "ng/mL", 5.2, "laboratory"},
                      {"8480-6", "mm[Hg]", 134, "vital-signs"},
                      {"8462-4", "mm[Hg]", 82, "vital-signs"},
                      {"29463-7", "kg", 81.5, "vital-signs"},
                      {"8867-4", "/min", 74, "vital-signs"},
                      {"2345-7", "mg/dL", 118, "laboratory"},
                      {"4548-4", "%", 7.1, "laboratory"},
                      {"2823-3", "mmol/L", 4.3, "laboratory"},
                      {"2951-2", "mmol/L", 138, "laboratory"},
                      {"33914-3", "mL/min/{1.73_m2}", 58, "laboratory"},
                      {"6690-2", "10*3/uL", 6.4, "laboratory"},
                      {"1988-5", "mg/L", 9, "laboratory"},
                      {"2093-3", "mg/dL", 182, "laboratory"},
                      {"2571-8", "mg/dL", 160, "laboratory"},
                      {"3016-3", "m[IU]/L", 2.1, "laboratory"},
                      {"14804-9", "U/L", 210, "laboratory"}};
  for (int i = 0; i < 250; ++i) {
    const Lab& lab = labs[i % std::size(labs)];
    char value[32];
    std::snprintf(value, sizeof value, "%.2f", lab.base * (0.9 + 0.01 * (i % 21)));
    observation(
        std::string(
            R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":")") +
            lab.category + R"("}]}],"code":{"coding":[{"system":"http://loinc.org","code":")" +
            lab.loinc + R"("}]},"valueQuantity":{"value":)" + value + R"(,"unit":")" + lab.unit +
            R"(","system":"http://unitsofmeasure.org","code":")" + lab.unit + R"("})",
        7 + 3 * i);
  }
  if (obs != 300) fail("the large chart should hold 300 Observations, not " + std::to_string(obs));

  // 30 documents: 24 notes and 6 reports, some older than any policy's window.
  const char* notes[] = {"28626-0", "18733-6", "11506-3", "34117-2", "11526-1", "18748-4"};
  for (int i = 0; i < 24; ++i) {
    add(R"({"resourceType":"DocumentReference","id":"doc-)" + std::to_string(i) +
        R"(","status":")" + (i % 11 == 10 ? "superseded" : "current") +
        R"(","type":{"coding":[{"system":"http://loinc.org","code":")" +
        notes[i % std::size(notes)] + R"("}]},)" + subject + R"(,"date":")" + date(5 + 29 * i) +
        R"(T10:30:00Z","content":[{"attachment":{"contentType":"text/plain","url":"Binary/doc-)" +
        std::to_string(i) + R"("}}]})");
  }
  const char* reports[] = {"18726-0", "11526-1", "24627-2"};
  for (int i = 0; i < 6; ++i) {
    add(R"({"resourceType":"DiagnosticReport","id":"rep-)" + std::to_string(i) +
        R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":")" +
        reports[i % 3] + R"("}]},)" + subject + R"(,"effectiveDateTime":")" + date(12 + 61 * i) +
        R"(","issued":")" + date(11 + 61 * i) + R"(T08:00:00Z","conclusion":"See report."})");
  }
  r += "]";

  std::string orders = "[";
  const char* cpt[] = {"47383", "47381", "50593", "55873", "20983"};
  for (int i = 0; i < 5; ++i) {
    if (i) orders += ",";
    orders +=
        R"({"resourceType":"ServiceRequest","id":"sr-)" + std::to_string(i + 1) +
        R"(","status":"draft","intent":"order","code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":")" +
        cpt[i] + R"("}]},)" + subject +
        R"(,"occurrenceDateTime":"2026-03-01","authoredOn":"2026-02-20","requester":{"reference":"Practitioner/dr-1"},)"
        R"("insurance":[{"reference":"Coverage/cov-big"}]})";
  }
  orders += "]";

  rapidjson::Document record, draft;
  if (record.Parse(r.c_str()).HasParseError() || draft.Parse(orders.c_str()).HasParseError()) {
    fail("the large chart is not valid JSON");
  }
  ChartRequest chart;
  chart.patient_id = "pat-big";
  chart.user_id = "Practitioner/dr-1";
  chart.record = &record;
  chart.draft_orders = &draft;
  return request_from_chart(chart);
}

const std::string& example_request() {
  static const std::string body =
      read_file(fs::path(CRYO_SOURCE_DIR) / "docs/examples/order-sign-florida-blue.json");
  return body;
}

const std::string& large() {
  static const std::string body = large_request();
  return body;
}

const std::string& body_for(int which) {
  return which == 0 ? example_request() : large();
}

// The golden conformance scenarios as hook requests, with the service each goes to; only
// those the pipeline answers with 200 from prefetch alone.
struct ScenarioCall {
  std::string name;
  const cds::ServiceDefinition* service;
  std::string body;
};

const std::vector<ScenarioCall>& scenarios() {
  static const std::vector<ScenarioCall> all = [] {
    std::vector<ScenarioCall> out;
    std::vector<fs::path> files;
    for (const auto& e :
         fs::directory_iterator(fs::path(CRYO_SOURCE_DIR) / "conformance/scenarios")) {
      if (e.path().extension() == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      rapidjson::Document s;
      std::string text = read_file(f);
      if (s.Parse(text.c_str()).HasParseError() || !s.IsObject()) fail("not JSON: " + f.string());
      auto text_of = [&s](const char* name) {
        return std::string(fhir::string_or_empty(fhir::member(s, name)));
      };
      ScenarioCall call{text_of("name"), nullptr, {}};
      if (const auto* verbatim = fhir::member(s, "request")) {
        call.body = fhir::to_string(*verbatim);
        call.service = find_service_for(fhir::string_or_empty(fhir::member(*verbatim, "hook")));
      } else {
        ChartRequest in{.hook = text_of("hook").empty() ? "order-sign" : text_of("hook"),
                        .patient_id = text_of("patientId"),
                        .user_id = text_of("userId"),
                        .encounter_id = text_of("encounterId"),
                        .record = fhir::member(s, "record"),
                        .draft_orders = fhir::member(s, "draftOrders"),
                        .extension = fhir::member(s, "extension")};
        if (in.record == nullptr || in.draft_orders == nullptr || !in.record->IsArray() ||
            !in.draft_orders->IsArray()) {
          continue;  // other hooks' shapes (selections, dispatch) are not order-sign calls
        }
        call.body = request_from_chart(in);
        call.service = text_of("service").empty() ? find_service_for(in.hook)
                                                  : cds::find_service(text_of("service"));
      }
      if (call.service == nullptr) continue;
      std::string copy = call.body;
      if (data().service->call(call.service->id, copy, std::chrono::system_clock::now()).status ==
          200) {
        out.push_back(std::move(call));
      }
    }
    if (out.empty()) fail("no scenario answered 200");
    return out;
  }();
  return all;
}

const char* label(int which) {
  return which == 0 ? "example" : "large";
}

// ---------------------------------------------------------------------------------------------
// In process: the whole call.

void BM_BodyCopy(benchmark::State& state) {
  const std::string& body = body_for(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::string copy = body;
    benchmark::DoNotOptimize(copy.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(label(static_cast<int>(state.range(0))));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_Call(benchmark::State& state) {
  const std::string& body = body_for(static_cast<int>(state.range(0)));
  const auto& service = *data().service;
  const auto& definition = service_for("order-sign");
  {
    std::string copy = body;
    auto out = service.call(definition.id, copy, std::chrono::system_clock::now());
    if (out.status != 200)
      fail(std::string(label(static_cast<int>(state.range(0)))) + " request: " + out.error);
    state.counters["orders"] = static_cast<double>(out.orders.size());
    state.counters["response_kB"] = static_cast<double>(out.body.size()) / 1024.0;
  }
  for (auto _ : state) {
    std::string copy = body;  // parsed in place: every call gets its own buffer
    auto out = service.call(definition.id, copy, std::chrono::system_clock::now());
    benchmark::DoNotOptimize(out.body.data());
  }
  state.SetLabel(std::string(label(static_cast<int>(state.range(0)))) + ", includes the body copy");
  state.counters["request_kB"] = static_cast<double>(body.size()) / 1024.0;
}

void BM_CallScenarios(benchmark::State& state) {
  const auto& all = scenarios();
  const auto& service = *data().service;
  size_t i = 0;
  for (auto _ : state) {
    const ScenarioCall& s = all[i++ % all.size()];
    std::string copy = s.body;
    auto out = service.call(s.service->id, copy, std::chrono::system_clock::now());
    benchmark::DoNotOptimize(out.body.data());
  }
  state.SetLabel(std::to_string(all.size()) + " scenarios in turn, includes the body copy");
}

// ---------------------------------------------------------------------------------------------
// In process: the stages, each alone, through the modules' public APIs.

struct PreparedOrder {
  mappings::OrderContext context;
  const policies::Policy* policy = nullptr;
  mappings::FactSheet facts;
  std::vector<mappings::DocumentFinding> documents;
};

// One request taken through every stage once, keeping what each stage needs.
struct Prepared {
  std::string text;
  fhir::JsonDocument doc;
  cds::HookRequest request;
  fhir::ResourceIndex record;
  mappings::CoverageReading coverage;
  const policies::Payer* payer = nullptr;
  std::string lob;
  std::vector<PreparedOrder> orders;
  std::vector<cds::OrderDetermination> determinations;
};

fhir::ResourceIndex index_request(const cds::HookRequest& request) {
  fhir::ResourceIndex record;
  if (request.prefetch != nullptr) {
    for (auto it = request.prefetch->MemberBegin(); it != request.prefetch->MemberEnd(); ++it) {
      if (it->value.IsNull()) continue;
      record.add(it->value,
                 "prefetch." + std::string(it->name.GetString(), it->name.GetStringLength()));
    }
  }
  if (request.draft_orders != nullptr) record.add(*request.draft_orders, "context.draftOrders");
  return record;
}

const Prepared& prepared(int which) {
  static std::unique_ptr<Prepared> cache[2];
  if (cache[which]) return *cache[which];
  auto p = std::make_unique<Prepared>();
  const Data& d = data();
  p->text = body_for(which);
  if (auto refused = cds::parse_hook_body(p->text, p->doc, {})) fail(refused->message);
  auto request = cds::read_hook_request(p->doc, "order-sign");
  if (!request) fail(request.error().to_string());
  p->request = std::move(*request);
  p->record = index_request(p->request);
  p->coverage = mappings::read_coverage(p->record, d.mappings);
  p->payer = d.library.payer_for(p->coverage.payer_identifiers);
  if (p->payer == nullptr) fail("no payer");
  p->lob = d.library.line_of_business(*p->payer, p->coverage.plan_codes, p->coverage.coverage_type);
  const auto received = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  for (const auto& entry : fhir::items(fhir::member(p->request.draft_orders, "entry"))) {
    const fhir::Json* order = fhir::member(entry, "resource");
    PreparedOrder o;
    for (const std::string& c : mappings::MappingSet::billing_codes(*order)) {
      if ((o.policy = d.library.policy_for(*p->payer, c)) != nullptr) {
        o.context = {order, c, mappings::MappingSet::date_of_service(*order, received)};
        break;
      }
    }
    if (o.policy == nullptr) continue;
    o.facts = d.mappings.extract(p->record, o.context, d.library.facts_used(*o.policy));
    if (int months = d.library.document_window_months(*o.policy); months > 0) {
      o.documents = d.mappings.find_documents(
          p->record, d.library.document_codes(*o.policy),
          fhir::months_before(o.context.date_of_service, months), p->request.patient_id);
    }
    cds::OrderDetermination od;
    od.order = order;
    od.order_reference = fhir::ResourceIndex::key_of(*order);
    od.coverage_assertion_id = random_uuid();
    od.determination =
        d.library.evaluate(*o.policy, *p->payer, p->lob, o.context, o.facts, o.documents);
    od.policy_url = "https://crd.example.org/policies/" + od.determination.policy_id;
    p->determinations.push_back(std::move(od));
    p->orders.push_back(std::move(o));
  }
  cache[which] = std::move(p);
  return *cache[which];
}

void BM_StageParse(benchmark::State& state) {
  const std::string& body = body_for(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::string copy = body;
    fhir::JsonDocument doc;
    auto refused = cds::parse_hook_body(copy, doc, {});
    benchmark::DoNotOptimize(refused);
  }
  state.SetLabel(std::string(label(static_cast<int>(state.range(0)))) + ", includes the body copy");
}

// read_hook_request + ResourceIndex over prefetch and draft orders + Coverage/payer/plan.
void BM_StageIndexCoverage(benchmark::State& state) {
  const Prepared& p = prepared(static_cast<int>(state.range(0)));
  const Data& d = data();
  for (auto _ : state) {
    auto request = cds::read_hook_request(p.doc, "order-sign");
    fhir::ResourceIndex record = index_request(*request);
    auto coverage = mappings::read_coverage(record, d.mappings);
    const policies::Payer* payer = d.library.payer_for(coverage.payer_identifiers);
    auto lob = d.library.line_of_business(*payer, coverage.plan_codes, coverage.coverage_type);
    benchmark::DoNotOptimize(lob.data());
  }
  state.SetLabel(label(static_cast<int>(state.range(0))));
}

// MappingSet::extract + find_documents for every in-scope order.
void BM_StageExtract(benchmark::State& state) {
  const Prepared& p = prepared(static_cast<int>(state.range(0)));
  const Data& d = data();
  for (auto _ : state) {
    for (const auto& o : p.orders) {
      auto facts = d.mappings.extract(p.record, o.context, d.library.facts_used(*o.policy));
      benchmark::DoNotOptimize(&facts);
      if (int months = d.library.document_window_months(*o.policy); months > 0) {
        auto docs = d.mappings.find_documents(
            p.record, d.library.document_codes(*o.policy),
            fhir::months_before(o.context.date_of_service, months), p.request.patient_id);
        benchmark::DoNotOptimize(docs.data());
      }
    }
  }
  state.SetLabel(std::string(label(static_cast<int>(state.range(0)))) + ", " +
                 std::to_string(p.orders.size()) + " orders");
}

// PolicyLibrary::evaluate for every in-scope order.
void BM_StageEvaluate(benchmark::State& state) {
  const Prepared& p = prepared(static_cast<int>(state.range(0)));
  const Data& d = data();
  for (auto _ : state) {
    for (const auto& o : p.orders) {
      auto det = d.library.evaluate(*o.policy, *p.payer, p.lob, o.context, o.facts, o.documents);
      benchmark::DoNotOptimize(&det);
    }
  }
  state.SetLabel(std::string(label(static_cast<int>(state.range(0)))) + ", " +
                 std::to_string(p.orders.size()) + " orders");
}

// Cards and coverage-information (response_writer).
void BM_StageWriteResponse(benchmark::State& state) {
  const Prepared& p = prepared(static_cast<int>(state.range(0)));
  std::vector<cds::OrderDetermination> orders = p.determinations;
  for (auto _ : state) {
    cds::ResponseInput input;
    input.orders = orders;
    input.coverage_reference = p.coverage.reference;
    input.configuration = &p.request.configuration;
    input.base_url = "https://crd.example.org";
    input.assertion_date = "2026-02-20";
    std::vector<cds::SentCard> cards;
    std::string body = cds::write_response(input, cards);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetLabel(label(static_cast<int>(state.range(0))));
}

// ---------------------------------------------------------------------------------------------
// Over HTTP on loopback.

// An in-process server on a free loopback port, optionally with the audit store.
class LoopbackServer {
 public:
  LoopbackServer(size_t threads, bool with_store) {
    if (with_store) {
      const char* base = std::getenv("CRYO_BENCH_DIR");
      dir_ = fs::path(base ? base : fs::temp_directory_path().string()) /
             ("cryo-bench-" + random_uuid().substr(0, 8));
      fs::create_directories(dir_);
      auto opened = audit::open_store(dir_.string());
      if (!opened) fail("audit store: " + opened.error().to_string());
      store_ = std::move(*opened);
    }
    service_ = std::make_unique<cds::CoverageService>(data().mappings, data().library,
                                                      cds::ServiceOptions{});
    cds::ServerOptions options;
    options.bind = "127.0.0.1";
    options.port = 0;
    options.threads = threads;
    server_ = std::make_unique<cds::HttpServer>(*service_, options);
    if (store_)
      server_->set_recorder(cds::make_recorder(*store_, service_->options().service_version));
    if (auto s = server_->bind(); !s) fail(s.error().to_string());
    service_->set_base_url("http://127.0.0.1:" + std::to_string(server_->bound_port()));
    thread_ = std::thread([this] { server_->serve(); });
  }
  ~LoopbackServer() {
    server_->stop();
    thread_.join();
    server_.reset();
    store_.reset();  // waits for queued writes
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  int port() const { return server_->bound_port(); }

 private:
  fs::path dir_;
  std::unique_ptr<audit::AuditStore> store_;
  std::unique_ptr<cds::CoverageService> service_;
  std::unique_ptr<cds::HttpServer> server_;
  std::thread thread_;
};

// The example request with a hookInstance unique to each call (the store answers a repeated
// hookInstance from its earlier record, which would skip the write).
class RequestMaker {
 public:
  RequestMaker() {
    rapidjson::Document doc;
    doc.Parse(example_request().c_str());
    const std::string marker = "bench-" + random_uuid().substr(0, 8) + "-";
    doc["hookInstance"].SetString(marker + std::string(kDigits, '0'), doc.GetAllocator());
    body_ = fhir::to_string(doc);
    offset_ = body_.find(marker) + marker.size();
  }
  std::string next(long sequence) const {
    std::string body = body_;
    for (size_t i = 0; i < kDigits; ++i, sequence /= 10)
      body[offset_ + kDigits - 1 - i] = static_cast<char>('0' + sequence % 10);
    return body;
  }

 private:
  static constexpr size_t kDigits = 10;
  std::string body_;
  size_t offset_ = 0;
};

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

// range(0): concurrent clients; range(1): audit store on; range(2): calls in all.
void BM_Http(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  const bool with_store = state.range(1) != 0;
  const long calls = state.range(2);
  LoopbackServer server(std::max<size_t>(8, static_cast<size_t>(clients)), with_store);
  const RequestMaker maker;
  const std::string path = "/cds-services/" + std::string(service_for("order-sign").id);
  std::atomic<long> sequence{0};
  std::atomic<long> failures{0};
  std::mutex failure_mutex;
  std::string first_failure;
  std::vector<double> latencies_ms;
  long stalls = 0;

  auto run = [&](long per_client, std::vector<std::vector<double>>* samples) {
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", server.port());
        client.set_keep_alive(true);
        client.set_tcp_nodelay(true);  // the client adds no delayed-ACK wait of its own
        client.set_read_timeout(30, 0);
        for (long i = 0; i < per_client; ++i) {
          std::string body = maker.next(sequence.fetch_add(1));
          auto start = Clock::now();
          auto res = client.Post(path, body, "application/json");
          auto ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
          if (!res || res->status != 200) {
            if (failures.fetch_add(1) == 0) {
              std::lock_guard lock(failure_mutex);
              first_failure =
                  res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error());
            }
            continue;
          }
          if (samples) (*samples)[c].push_back(ms);
        }
      });
    }
    for (auto& t : threads) t.join();
  };

  run(std::max<long>(5, 50 / clients), nullptr);  // warm-up: connections, caches, store
  for (auto _ : state) {
    std::vector<std::vector<double>> samples(clients);
    for (auto& s : samples) s.reserve(static_cast<size_t>(calls / clients));
    auto start = Clock::now();
    run(calls / clients, &samples);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    state.SetIterationTime(seconds);
    // calls_per_s: calls / wall time (waits for the slowest client). busy_calls_per_s: the
    // sum of each client's own rate over the time it spent waiting for answers, which one
    // stalled connection (a dropped SYN costs 1 s) does not drag down for the others.
    double busy_rate = 0;
    for (auto& s : samples) {
      double busy_ms = 0;
      for (double ms : s) busy_ms += ms;
      if (busy_ms > 0) busy_rate += static_cast<double>(s.size()) * 1000.0 / busy_ms;
      stalls +=
          static_cast<long>(std::count_if(s.begin(), s.end(), [](double ms) { return ms > 500; }));
      latencies_ms.insert(latencies_ms.end(), s.begin(), s.end());
    }
    state.counters["calls_per_s"] = static_cast<double>(latencies_ms.size()) / seconds;
    state.counters["busy_calls_per_s"] = busy_rate;
    state.counters["over_500ms"] = static_cast<double>(stalls);
  }
  // Calls that got no 200 (e.g. a connection reset) are counted, not timed.
  state.counters["errors"] = static_cast<double>(failures.load());
  if (failures.load() * 100 > calls) {
    state.SkipWithError(
        (std::to_string(failures.load()) + " calls did not answer 200, the first: " + first_failure)
            .c_str());
    return;
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  state.counters["p50_ms"] = percentile(latencies_ms, 0.50);
  state.counters["p90_ms"] = percentile(latencies_ms, 0.90);
  state.counters["p99_ms"] = percentile(latencies_ms, 0.99);
  state.counters["max_ms"] = latencies_ms.empty() ? 0 : latencies_ms.back();
  state.counters["calls"] = static_cast<double>(latencies_ms.size());
  state.SetLabel(std::to_string(clients) + (clients == 1 ? " client" : " clients") +
                 (with_store ? ", audit store (SQLite, fsync)" : ", no store") +
                 (first_failure.empty() ? std::string() : ", first error: " + first_failure));
}

}  // namespace

BENCHMARK(BM_BodyCopy)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Call)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CallScenarios)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StageParse)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StageIndexCoverage)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StageExtract)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StageEvaluate)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StageWriteResponse)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
// {clients, audit store, calls}: bounded runs, one iteration each, timed by wall clock.
BENCHMARK(BM_Http)
    ->Args({1, 0, 2000})
    ->Args({8, 0, 4000})
    ->Args({16, 0, 4000})
    ->Args({1, 1, 300})
    ->Args({16, 1, 1600})
    ->ArgNames({"clients", "store", "calls"})
    ->Iterations(1)
    ->UseManualTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  // bench_order_sign --write-large-chart FILE: the large chart's request, for other drivers
  // (bench/side_by_side.sh sends it with wrk).
  if (argc == 3 && std::string_view(argv[1]) == "--write-large-chart") {
    std::ofstream out(argv[2], std::ios::binary);
    out << large();
    return out.good() ? 0 : 1;
  }
  if (std::getenv("CRYO_BENCH_LOG") == nullptr) cryo::log::set_min_level(cryo::log::Level::kWarn);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
