// Audit store write throughput: durable record() calls per second with 1 and 16 concurrent
// writers (the HTTP layer's threads), on SQLite and, when CRYO_BENCH_PG_URL names a server,
// on PostgreSQL. Each record is one order-sign call of realistic size (a 6 kB request, one
// determination, one card) committed before record() returns.
//
//   build/bench/bench_audit_store                       # SQLite in $CRYO_BENCH_DIR or /tmp
//   CRYO_BENCH_PG_URL=postgresql://... build/bench/bench_audit_store
//
// The PostgreSQL database gets the store's tables (created if missing) and is left with the
// benchmark's rows; the SQLite directory is removed at the end.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "audit/store.h"
#include "base/ids.h"

namespace {

using namespace cryo::audit;

std::atomic<long> g_sequence{0};
const std::string g_run = cryo::random_uuid().substr(0, 8);

std::string request_json(const std::string& hook_instance) {
  std::string r =
      R"({"hook":"order-sign","hookInstance":")" + hook_instance +
      R"(","fhirServer":"https://ehr.example.org/fhir","context":{)"
      R"("userId":"Practitioner/pr-1","patientId":"pat-1","encounterId":"enc-1",)"
      R"("draftOrders":{"resourceType":"Bundle","entry":[{"resource":{)"
      R"("resourceType":"ServiceRequest","id":"sr-1","status":"draft",)"
      R"("intent":"order","code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt",)"
      R"("code":"47383"}]},"subject":{"reference":"Patient/pat-1"}}}]}},"prefetch":{)";
  // Prefetched resources: Patient, Coverage, Conditions, Observations.
  for (int i = 0; i < 24; ++i) {
    if (i) r += ",";
    r +=
        R"("obs)" + std::to_string(i) + R"(":{"resourceType":"Observation","id":"obs-)" +
        std::to_string(i) +
        R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"21889-1"}]},)"
        R"("valueQuantity":{"value":4.2,"unit":"cm","system":"http://unitsofmeasure.org","code":"cm"}})";
  }
  r += "}}";
  return r;
}

HookRecord make_call() {
  HookRecord c;
  c.hook_instance = "bench-" + g_run + "-" + std::to_string(g_sequence.fetch_add(1));
  c.hook = "order-sign";
  c.service_id = "cryoablation-crd";
  c.received_at = std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now());
  c.client_iss = "https://ehr.example.org";
  c.patient_id = "pat-1";
  c.payer_id = "florida-blue";
  c.line_of_business = "commercial";
  c.request_json = request_json(c.hook_instance);
  DeterminationRecord d;
  d.order_ref = "ServiceRequest/sr-1";
  d.coverage_assertion_id = cryo::random_uuid();
  d.covered = "conditional";
  d.pa_needed = "auth-needed";
  d.doc_needed = "clinical";
  d.doc_purpose = "withpa";
  d.info_needed = "OTH";
  d.criteria_json =
      R"([{"section":"hcc","title":"Hepatocellular carcinoma","result":"true","rows":[)"
      R"({"depth":0,"label":"Largest lesion <= 5 cm","fact":"largest-liver-lesion","value":"true",)"
      R"("observed":"4.2 cm","evidence":[{"reference":"Observation/obs-7","date":"2026-02-01"}]}]}])";
  d.policy_id = "florida-blue-02-40000-22";
  d.policy_revision = "2024-09-15";
  d.service_version = "0.1.0";
  c.response_json = R"({"cards":[{"uuid":")" + cryo::random_uuid() +
                    R"(","summary":"Prior authorization needed","indicator":"info",)"
                    R"("source":{"label":"Florida Blue"}}],"systemActions":[{"type":"update",)"
                    R"("description":"coverage-information","resource":{"resourceType":)"
                    R"("ServiceRequest","id":"sr-1","extension":[{"url":"http://hl7.org/fhir/)"
                    R"(us/davinci-crd/StructureDefinition/ext-coverage-information",)"
                    R"("extension":[{"url":"coverage-assertion-id","valueString":")" +
                    d.coverage_assertion_id + R"("}]}]}}]})";
  c.determinations.push_back(std::move(d));
  return c;
}

void BM_Record(benchmark::State& state, AuditStore* store) {
  for (auto _ : state) {
    // Building the record (a few microseconds) is timed too, as it is in the service.
    auto r = store->record(make_call());
    if (!r) {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);

  namespace fs = std::filesystem;
  const char* base = std::getenv("CRYO_BENCH_DIR");
  fs::path dir = fs::path(base && *base ? base : fs::temp_directory_path().string()) /
                 ("cryo-audit-bench-" + g_run);
  auto sqlite = open_store(dir.string());
  if (!sqlite) {
    std::cerr << sqlite.error().to_string() << "\n";
    return 1;
  }
  std::unique_ptr<AuditStore> postgres;
  if (const char* url = std::getenv("CRYO_BENCH_PG_URL"); url && *url) {
    auto pg = open_store(url);
    if (!pg) {
      std::cerr << pg.error().to_string() << "\n";
      return 1;
    }
    postgres = std::move(*pg);
  }

  auto add = [](const char* name, AuditStore* store) {
    benchmark::RegisterBenchmark(name, BM_Record, store)
        ->Threads(1)
        ->Threads(16)
        ->UseRealTime()
        ->MinTime(2.0);
  };
  add("record/sqlite", sqlite->get());
  if (postgres) add("record/postgresql", postgres.get());

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  sqlite->reset();
  postgres.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
