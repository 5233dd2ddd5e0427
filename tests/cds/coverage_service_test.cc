// CoverageService::call end to end in process, with the bundled policies and mappings and a
// fake FHIR server behind the MissingDataFetcher: what prefetch brings is never fetched, what
// it lacks is, the 412 rule, and what each hook's adapter decides and annotates.
#include "cds/coverage_service.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cds/catalog.h"
#include "cds/hook_adapters.h"
#include "fhir/json.h"
#include "tests/support/coverage_codes_printer.h"

namespace cryo::cds {
namespace {

using policies::Covered;
using policies::DocNeeded;
using policies::DocPurpose;
using policies::PaNeeded;

namespace fs = std::filesystem;
using fhir::Json;

constexpr const char* kFhirServer = "https://ehr.example.org/fhir";

struct Data {
  mappings::MappingSet mappings;
  policies::PolicyLibrary library;
};

const Data& data() {
  static const std::unique_ptr<Data> d = [] {
    auto out = std::make_unique<Data>();
    auto m = mappings::MappingSet::load(fs::path(CRYO_SOURCE_DIR) / "mappings/data");
    EXPECT_TRUE(m) << m.error().to_string();
    out->mappings = std::move(*m);
    auto lib =
        policies::PolicyLibrary::load(fs::path(CRYO_SOURCE_DIR) / "policies/data", out->mappings);
    EXPECT_TRUE(lib) << lib.error().to_string();
    out->library = std::move(*lib);
    return out;
  }();
  return *d;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The example order-sign (docs/examples): a Florida Blue member, one liver cryoablation order,
// every prefetch key but the optional questionnaire responses. Covered; documents with the
// claim.
class Request {
 public:
  Request() {
    std::string text =
        read_text(fs::path(CRYO_SOURCE_DIR) / "docs/examples/order-sign-florida-blue.json");
    doc_.Parse(text.c_str());
    EXPECT_FALSE(doc_.HasParseError());
  }
  Json& root() { return doc_; }
  Json& context() { return doc_["context"]; }
  Json& prefetch() { return doc_["prefetch"]; }
  rapidjson::Document::AllocatorType& alloc() { return doc_.GetAllocator(); }
  const Json& doc() const { return doc_; }

  // The prefetch value of `key` as JSON text, removed from the request.
  std::string take_prefetch(const char* key) {
    std::string text = fhir::to_string(prefetch()[key]);
    prefetch().RemoveMember(key);
    return text;
  }
  void set(Json& object, const char* name, Json value) {
    object.RemoveMember(name);
    object.AddMember(Json(name, alloc()), value, alloc());
  }
  void set_string(Json& object, const char* name, std::string_view value) {
    set(object, name, Json(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc()));
  }
  void set_json(Json& object, const char* name, const std::string& text) {
    rapidjson::Document parsed(&alloc());
    parsed.Parse(text.c_str());
    EXPECT_FALSE(parsed.HasParseError()) << text;
    set(object, name, Json(parsed, alloc()));
  }
  void with_fhir_server() { set_string(root(), "fhirServer", kFhirServer); }
  void hook(std::string_view name) { set_string(root(), "hook", name); }

  // The draft order sr-1, as JSON text.
  std::string order() { return fhir::to_string(context()["draftOrders"]["entry"][0]["resource"]); }
  // Adds a second draft order, sr-2, the same procedure.
  void add_second_order() {
    std::string text = order();
    text.replace(text.find("\"sr-1\""), 6, "\"sr-2\"");
    rapidjson::Document parsed(&alloc());
    parsed.Parse(text.c_str());
    Json entry(rapidjson::kObjectType);
    entry.AddMember("resource", Json(parsed, alloc()), alloc());
    context()["draftOrders"]["entry"].PushBack(entry, alloc());
  }

 private:
  rapidjson::Document doc_;
};

// A FHIR server behind the fetcher: answers template keys and references it holds, reports the
// others (or everything, when unreachable) the way the real fetcher does.
struct FakeFhirServer {
  bool reachable = true;
  std::map<std::string, std::string> by_key;        // template key -> JSON
  std::map<std::string, std::string> by_reference;  // "ServiceRequest/sr-1" -> JSON
  std::vector<std::string> asked;                   // keys, then references, per fetch

  fhir::FetchSummary fetch(const HookRequest& request, const MissingData& missing,
                           fhir::ResourceIndex& record) {
    EXPECT_EQ(request.fhir_server, kFhirServer);
    fhir::FetchSummary report;
    report.reached = reachable;
    auto serve = [&](const std::string& what, const std::map<std::string, std::string>& held) {
      asked.push_back(what);
      auto it = held.find(what);
      if (!reachable || it == held.end()) {
        report.missing.push_back(what);
        report.problems.push_back(what + (reachable ? ": not found" : ": connection refused"));
        return;
      }
      auto doc = std::make_unique<fhir::JsonDocument>();
      EXPECT_FALSE(fhir::parse_copy(it->second, *doc, {}));
      record.add(record.adopt(std::move(doc)), kFhirServer);
    };
    for (const auto& t : missing.templates) serve(t.key, by_key);
    for (const auto& r : missing.references) serve(r, by_reference);
    return report;
  }
};

class CoverageServiceTest : public ::testing::Test {
 protected:
  CoverageServiceTest() : service_(data().mappings, data().library, {}) {}

  void install_fetcher() {
    service_.set_fetcher(
        [this](const HookRequest& r, const MissingData& m, fhir::ResourceIndex& record) {
          return server_.fetch(r, m, record);
        });
  }
  HookOutcome call(const Request& request, const char* service_id = "order-sign-crd",
                   const Json* fetched = nullptr) {
    const ServiceDefinition* service = find_service(service_id);
    EXPECT_NE(service, nullptr);
    return service_.call(*service, request.doc(), received_, {}, nullptr, fetched);
  }
  // The response's system actions: resourceType/id of each resource updated, in order (the
  // resources annotated beside the orders come first).
  static std::vector<std::string> updated(const HookOutcome& out) {
    rapidjson::Document d;
    d.Parse(out.body.c_str());
    std::vector<std::string> keys;
    for (const Json& a : fhir::items(fhir::member(d, "systemActions")))
      keys.push_back(fhir::ResourceIndex::key_of(a["resource"]));
    return keys;
  }

  CoverageService service_;
  FakeFhirServer server_;
  const std::chrono::system_clock::time_point received_ =
      std::chrono::sys_days{std::chrono::year{2026} / 2 / 20};
};

// --- Record completion --------------------------------------------------------------------

TEST_F(CoverageServiceTest, CompletePrefetchIsNeverFetched) {
  Request request;
  request.with_fhir_server();
  install_fetcher();
  HookOutcome out = call(request);
  ASSERT_EQ(out.status, 200) << out.error;
  EXPECT_TRUE(server_.asked.empty());  // the optional questionnaires alone are not read
  EXPECT_TRUE(out.fetched_json.empty());
  ASSERT_EQ(out.orders.size(), 1u);
  const policies::Determination& d = out.orders[0].determination;
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_EQ(d.pa_needed, PaNeeded::kNoAuth);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithClaim);
  EXPECT_TRUE(d.notices.empty());
  EXPECT_EQ(out.payer_id, "florida-blue");
  EXPECT_EQ(out.coverage_reference, "Coverage/cov-1");
  EXPECT_EQ(out.orders[0].order_reference, "ServiceRequest/sr-1");
  EXPECT_EQ(out.orders[0].date_of_service, "2026-03-01");
}

TEST_F(CoverageServiceTest, AMissingKeyIsFetchedAndDecidesAsIfItHadBeenSent) {
  Request request;
  request.with_fhir_server();
  server_.by_key["conditions"] = request.take_prefetch("conditions");
  install_fetcher();
  HookOutcome out = call(request);
  ASSERT_EQ(out.status, 200) << out.error;
  // The missing key, and the optional data read together with it.
  EXPECT_EQ(server_.asked, (std::vector<std::string>{"conditions", "questionnaireResponses"}));
  ASSERT_EQ(out.orders.size(), 1u);
  const policies::Determination& d = out.orders[0].determination;
  EXPECT_EQ(d.covered, Covered::kCovered);  // the HCC diagnosis came from the FHIR server
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_TRUE(d.notices.empty());  // optional data that could not be had is no gap
  EXPECT_NE(out.fetched_json.find("c-hcc"), std::string::npos);  // kept with the record
}

TEST_F(CoverageServiceTest, AnUnreachableServerWithoutTheCoverageIs412) {
  Request request;
  request.with_fhir_server();
  request.take_prefetch("coverage");
  server_.reachable = false;
  install_fetcher();
  HookOutcome out = call(request);
  EXPECT_EQ(out.status, 412);
  EXPECT_EQ(out.error,
            "prefetch key coverage missing and the FHIR server at https://ehr.example.org/fhir "
            "could not supply them: coverage: connection refused");
  EXPECT_NE(out.body.find("\"incomplete\""), std::string::npos);
  EXPECT_TRUE(out.orders.empty());
}

TEST_F(CoverageServiceTest, MissingDataWithoutAFhirServerIs412WithoutAFetch) {
  Request request;
  request.take_prefetch("observations");
  install_fetcher();
  HookOutcome out = call(request);
  EXPECT_EQ(out.status, 412);
  EXPECT_EQ(out.error, "prefetch key observations missing and no fhirServer was given to query");
  EXPECT_TRUE(server_.asked.empty());
}

TEST_F(CoverageServiceTest, MissingDataWithoutAFetcherIs412) {
  Request request;
  request.with_fhir_server();
  request.take_prefetch("observations");
  HookOutcome out = call(request);
  EXPECT_EQ(out.status, 412);
  EXPECT_EQ(out.error,
            "prefetch key observations missing; this deployment does not query the client's "
            "FHIR server");
}

TEST_F(CoverageServiceTest, ClinicalDataTheServerCannotSupplyIsAnsweredWithWhatCouldBeHad) {
  Request request;
  request.with_fhir_server();
  request.take_prefetch("conditions");
  server_.reachable = false;
  install_fetcher();
  HookOutcome out = call(request);
  ASSERT_EQ(out.status, 200) << out.error;
  ASSERT_EQ(out.orders.size(), 1u);
  const policies::Determination& d = out.orders[0].determination;
  EXPECT_EQ(d.covered, Covered::kConditional);  // no diagnosis: the indication is not documented
  EXPECT_EQ(
      d.notices,
      (std::vector<std::string>{"Data the EHR could not supply: conditions: connection refused"}));
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(),
                      "Part of the record could not be read from the EHR's FHIR server "
                      "(conditions: connection refused)."),
            d.reasons.end());
}

TEST_F(CoverageServiceTest, AStoredCallIsDecidedOnItsRecordWithoutFetching) {
  Request request;
  request.with_fhir_server();
  std::string conditions = request.take_prefetch("conditions");
  install_fetcher();
  fhir::JsonDocument fetched;  // what the call read then
  ASSERT_FALSE(fhir::parse_copy("[" + conditions + "]", fetched, {}));
  HookOutcome out = call(request, "order-sign-crd", &fetched);
  ASSERT_EQ(out.status, 200) << out.error;
  EXPECT_TRUE(server_.asked.empty());
  ASSERT_EQ(out.orders.size(), 1u);
  EXPECT_EQ(out.orders[0].determination.covered, Covered::kCovered);
}

TEST_F(CoverageServiceTest, TheCoveragesPayorOrganizationIsReadWhenItCameWithout) {
  Request request;
  request.with_fhir_server();
  Json& entries = request.prefetch()["coverage"]["entry"];
  std::string organization = fhir::to_string(entries[1]["resource"]);
  entries.Erase(entries.Begin() + 1);
  server_.by_reference["Organization/florida-blue"] = organization;
  install_fetcher();
  HookOutcome out = call(request);
  ASSERT_EQ(out.status, 200) << out.error;
  EXPECT_EQ(server_.asked, (std::vector<std::string>{"Organization/florida-blue"}));
  EXPECT_EQ(out.payer_id, "florida-blue");
}

TEST_F(CoverageServiceTest, ACoverageOfAnotherPayerIs400) {
  Request request;
  Json& entries = request.prefetch()["coverage"]["entry"];
  request.set_string(entries[1]["resource"]["identifier"][0], "value", "aetna");
  HookOutcome out = call(request);
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(out.error,
            "the Coverage's payer is not handled by this service (payer identifiers: "
            "http://cryocrd.org/fhir/sid/payer-id|aetna)");
}

// --- The hooks ----------------------------------------------------------------------------

TEST_F(CoverageServiceTest, OrderSignDecidesEveryDraftOrder) {
  Request request;
  request.add_second_order();
  HookOutcome out = call(request);
  ASSERT_EQ(out.status, 200) << out.error;
  ASSERT_EQ(out.orders.size(), 2u);
  EXPECT_EQ(out.orders[1].order_reference, "ServiceRequest/sr-2");
  // One assertion id for the call's orders.
  EXPECT_EQ(out.orders[0].coverage_assertion_id, out.orders[1].coverage_assertion_id);
  EXPECT_EQ(updated(out), (std::vector<std::string>{"ServiceRequest/sr-1", "ServiceRequest/sr-2"}));
}

TEST_F(CoverageServiceTest, OrderSelectDecidesTheSelectedOrdersAndAsksForNoDocumentation) {
  Request request;
  request.hook("order-select");
  request.add_second_order();
  request.set_json(request.context(), "selections", R"(["ServiceRequest/sr-2"])");
  HookOutcome out = call(request, "order-select-crd");
  ASSERT_EQ(out.status, 200) << out.error;
  ASSERT_EQ(out.orders.size(), 1u);
  EXPECT_EQ(out.orders[0].order_reference, "ServiceRequest/sr-2");
  const policies::Determination& d = out.orders[0].determination;
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);  // advisory: a secondary hook
  EXPECT_EQ(d.doc_purpose, DocPurpose::kAbsent);
}

TEST_F(CoverageServiceTest, OrderDispatchReadsTheDispatchedOrderFromTheFhirServer) {
  Request request;
  request.hook("order-dispatch");
  request.with_fhir_server();
  server_.by_reference["ServiceRequest/sr-1"] = request.order();
  request.context().RemoveMember("draftOrders");
  request.set_json(request.context(), "dispatchedOrders", R"(["ServiceRequest/sr-1"])");
  install_fetcher();
  HookOutcome out = call(request, "order-dispatch-crd");
  ASSERT_EQ(out.status, 200) << out.error;
  // The order, and the optional data read together with it.
  EXPECT_EQ(server_.asked,
            (std::vector<std::string>{"questionnaireResponses", "ServiceRequest/sr-1"}));
  ASSERT_EQ(out.orders.size(), 1u);
  EXPECT_EQ(out.orders[0].determination.doc_needed, DocNeeded::kClinical);  // a primary hook
  EXPECT_EQ(updated(out), (std::vector<std::string>{"ServiceRequest/sr-1"}));
}

TEST_F(CoverageServiceTest, OrderDispatchWithNoOrderToBeHadIs412) {
  Request request;
  request.hook("order-dispatch");
  request.with_fhir_server();
  request.context().RemoveMember("draftOrders");
  request.set_json(request.context(), "dispatchedOrders", R"(["ServiceRequest/sr-9"])");
  install_fetcher();
  HookOutcome out = call(request, "order-dispatch-crd");
  EXPECT_EQ(out.status, 412);
  EXPECT_EQ(out.error,
            "ServiceRequest/sr-9 missing and the FHIR server at https://ehr.example.org/fhir "
            "could not supply them: ServiceRequest/sr-9: not found");
}

TEST_F(CoverageServiceTest, AppointmentBookAnnotatesTheAppointmentAndItsOrder) {
  Request request;
  request.hook("appointment-book");
  std::string order = request.order();
  request.context().RemoveMember("draftOrders");
  request.set_json(request.prefetch(), "orders", order);  // the order, prefetched
  request.set_json(request.context(), "appointments",
                   R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":
                       {"resourceType":"Appointment","id":"ap-1","status":"proposed",
                        "basedOn":[{"reference":"ServiceRequest/sr-1"}]}}]})");
  HookOutcome out = call(request, "appointment-book-crd");
  ASSERT_EQ(out.status, 200) << out.error;
  ASSERT_EQ(out.orders.size(), 1u);
  EXPECT_EQ(updated(out), (std::vector<std::string>{"Appointment/ap-1", "ServiceRequest/sr-1"}));
}

TEST_F(CoverageServiceTest, EncounterStartCoversTheEncountersOrdersAndTheEncounter) {
  Request request;
  request.hook("encounter-start");
  std::string order = request.order();
  order.insert(order.size() - 1, R"(,"encounter":{"reference":"Encounter/enc-1"})");
  request.context().RemoveMember("draftOrders");
  request.set_string(request.context(), "encounterId", "enc-1");
  request.set_json(request.prefetch(), "encounter",
                   R"({"resourceType":"Encounter","id":"enc-1","status":"planned",
                       "subject":{"reference":"Patient/pat-1"}})");
  request.set_json(
      request.prefetch(), "encounterOrders",
      R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":)" + order + "}]}");
  HookOutcome out = call(request, "encounter-start-crd");
  ASSERT_EQ(out.status, 200) << out.error;
  ASSERT_EQ(out.orders.size(), 1u);
  EXPECT_EQ(out.orders[0].determination.doc_needed, DocNeeded::kAbsent);  // advisory
  EXPECT_EQ(updated(out), (std::vector<std::string>{"Encounter/enc-1", "ServiceRequest/sr-1"}));
}

TEST_F(CoverageServiceTest, EncounterDischargeIsADocumentationCheckWithoutCoverageCards) {
  Request request;
  request.hook("encounter-discharge");
  std::string order = request.order();
  order.insert(order.size() - 1, R"(,"encounter":{"reference":"Encounter/enc-1"})");
  request.context().RemoveMember("draftOrders");
  request.set_string(request.context(), "encounterId", "enc-1");
  request.set_json(request.prefetch(), "encounter",
                   R"({"resourceType":"Encounter","id":"enc-1","status":"finished"})");
  request.set_json(
      request.prefetch(), "encounterOrders",
      R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":)" + order + "}]}");
  HookOutcome out = call(request, "encounter-discharge-crd");
  ASSERT_EQ(out.status, 200) << out.error;
  ASSERT_EQ(out.orders.size(), 1u);
  EXPECT_TRUE(updated(out).empty());
  ASSERT_FALSE(out.cards.empty());
  for (const SentCard& card : out.cards) EXPECT_NE(card.type, kCoverageInfoType);
}

TEST_F(CoverageServiceTest, AnOrderOutsideEveryPolicyGetsNoDetermination) {
  Request request;
  Json& coding = request.context()["draftOrders"]["entry"][0]["resource"]["code"]["coding"][0];
  request.set_string(coding, "code", "47382");  // radiofrequency ablation
  HookOutcome out = call(request);
  ASSERT_EQ(out.status, 200) << out.error;
  EXPECT_TRUE(out.orders.empty());
  EXPECT_TRUE(out.cards.empty());
}

TEST_F(CoverageServiceTest, TheBodyIsReadWithTheServicesLimits) {
  ServiceOptions options;
  options.limits.max_bytes = 64;
  CoverageService small(data().mappings, data().library, options);
  std::string body = fhir::to_string(Request().doc());
  HookOutcome out = small.call("order-sign-crd", body, received_);
  EXPECT_EQ(out.status, 413);
  std::string broken = "{\"hook\":";
  EXPECT_EQ(service_.call("order-sign-crd", broken, received_).status, 400);
  std::string fine = fhir::to_string(Request().doc());
  EXPECT_EQ(service_.call("order-sign-crd", fine, received_).status, 200);
  EXPECT_EQ(service_.call("no-such-service", fine, received_).status, 404);
}

// --- The catalog --------------------------------------------------------------------------

TEST(Catalog, EveryServiceIsDispatchedThroughItsHooksAdapter) {
  for (const ServiceDefinition& s : services()) {
    ASSERT_NE(s.adapter, nullptr) << s.id;
    EXPECT_EQ(s.adapter->hook, s.hook) << s.id;
    EXPECT_EQ(find_hook(s.hook), s.adapter) << s.id;
    EXPECT_EQ(find_service(s.id), &s);
  }
  EXPECT_TRUE(kOrderSignHook.primary);
  EXPECT_TRUE(kOrderDispatchHook.primary);
  EXPECT_TRUE(kAppointmentBookHook.primary);
  EXPECT_FALSE(kOrderSelectHook.primary);
  EXPECT_FALSE(kEncounterStartHook.primary);
  EXPECT_FALSE(kEncounterDischargeHook.primary);
  EXPECT_TRUE(kEncounterDischargeHook.documentation_check);
  EXPECT_EQ(find_hook("patient-view"), nullptr);
}

TEST(Catalog, DiscoveryListsTheTablesServices) {
  rapidjson::Document d;
  std::string json = discovery_json(data().mappings.prefetch_templates());
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError());
  ASSERT_EQ(d["services"].Size(), services().size());
  for (size_t i = 0; i < services().size(); ++i) {
    EXPECT_EQ(d["services"][i]["id"].GetString(), services()[i].id);
    EXPECT_EQ(d["services"][i]["hook"].GetString(), services()[i].hook);
  }
}

}  // namespace
}  // namespace cryo::cds
