// PatientDataCache: what encounter-start fetched answers the same client's later queries for
// the same FHIR server and patient, and nothing else; documents expire; the bounds evict.
#include "fhir/client/patient_data_cache.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fhir/resource_index.h"

namespace cryo::fhir::client {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<PrefetchTemplate> kTemplates = {
    {"conditions", "Condition?patient={{context.patientId}}"},
    {"coverage", "Coverage?patient={{context.patientId}}&status=active"},
    {"encounter", "Encounter/{{context.encounterId}}"},
};

struct Context {
  JsonDocument doc;
  explicit Context(const std::string& patient) {
    std::string text =
        R"({"patientId":")" + patient + R"(","encounterId":"enc-1","userId":"Practitioner/d"})";
    EXPECT_FALSE(parse_copy(text, doc, {}));
  }
};

// A searchset answer for each template, holding one resource tagged with `tag`.
FetchReport answers(const std::string& tag, size_t padding = 0) {
  FetchReport report;
  for (const auto& t : kTemplates) {
    FetchResult r;
    r.key = t.key;
    r.url = "http://ehr/fhir/" + t.query;
    r.document = std::make_unique<JsonDocument>();
    std::string type = t.key == "conditions" ? "Condition"
                       : t.key == "coverage" ? "Coverage"
                                             : "Encounter";
    std::string text = R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":)"
                       R"({"resourceType":")" +
                       type + R"(","id":")" + tag + R"(","note":")" + std::string(padding, 'x') +
                       R"("}}]})";
    EXPECT_FALSE(parse_copy(text, *r.document, {}));
    report.results.push_back(std::move(r));
  }
  return report;
}

struct FakeClock {
  Clock::time_point now = Clock::time_point(std::chrono::hours(1));
};

class PatientDataCacheTest : public ::testing::Test {
 protected:
  PatientDataCacheOptions options(size_t entries = 100, size_t bytes = 1 << 20) {
    PatientDataCacheOptions o;
    o.ttl = std::chrono::seconds(300);
    o.max_entries = entries;
    o.max_bytes = bytes;
    o.clock = [this] { return clock_.now; };
    return o;
  }
  FakeClock clock_;
};

PatientDataCache::Key key(std::string client, std::string patient,
                          std::string server = "http://ehr/fhir") {
  return {std::move(client), std::move(server), std::move(patient)};
}

std::vector<std::string> keys_of(const std::vector<PrefetchTemplate>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) out.push_back(t.key);
  return out;
}

TEST_F(PatientDataCacheTest, KeptAnswersServeTheSameClientServerAndPatient) {
  PatientDataCache cache(options());
  Context ctx("pat-1");
  cache.keep(key("https://ehr-a", "pat-1"), kTemplates, &ctx.doc, answers("a1"));
  ResourceIndex record;
  auto rest =
      cache.serve(key("https://ehr-a", "pat-1", "http://ehr/fhir/"), kTemplates, &ctx.doc, record);
  // The encounter read is not patient-scoped: never kept, always fetched.
  EXPECT_EQ(keys_of(rest), std::vector<std::string>{"encounter"});
  ASSERT_NE(record.find("Condition", "a1"), nullptr);
  ASSERT_NE(record.find("Coverage", "a1"), nullptr);
  EXPECT_EQ(record.find("Encounter", "a1"), nullptr);
  auto st = cache.stats();
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.misses, 0u);
  EXPECT_EQ(st.entries, 1u);
}

TEST_F(PatientDataCacheTest, AnotherClientPatientOrServerGetsNothing) {
  PatientDataCache cache(options());
  Context ctx1("pat-1"), ctx2("pat-2");
  cache.keep(key("https://ehr-a", "pat-1"), kTemplates, &ctx1.doc, answers("a1"));
  for (const auto& [k, ctx] : std::vector<std::pair<PatientDataCache::Key, const Context*>>{
           {key("https://ehr-b", "pat-1"), &ctx1},
           {key("", "pat-1"), &ctx1},
           {key("https://ehr-a", "pat-2"), &ctx2},
           {key("https://ehr-a", "pat-1", "http://other-ehr/fhir"), &ctx1}}) {
    ResourceIndex record;
    auto rest = cache.serve(k, kTemplates, &ctx->doc, record);
    EXPECT_EQ(rest.size(), kTemplates.size()) << k.client << " " << k.patient;
    EXPECT_TRUE(record.of_type("Condition").empty());
  }
  // The same key with another patient in the context (a mismatched call) misses too: the
  // expanded query names the patient.
  ResourceIndex record;
  EXPECT_EQ(cache.serve(key("https://ehr-a", "pat-1"), kTemplates, &ctx2.doc, record).size(),
            kTemplates.size());
  EXPECT_EQ(cache.stats().hits, 0u);
}

TEST_F(PatientDataCacheTest, ForgetDropsOnlyThatClientServerAndPatient) {
  PatientDataCache cache(options());
  Context ctx1("pat-1"), ctx2("pat-2");
  cache.keep(key("https://ehr-a", "pat-1"), kTemplates, &ctx1.doc, answers("a1"));
  cache.keep(key("https://ehr-a", "pat-2"), kTemplates, &ctx2.doc, answers("a2"));
  cache.forget(key("https://ehr-a", "pat-1", "http://ehr/fhir/"));
  ResourceIndex forgotten, kept;
  EXPECT_EQ(cache.serve(key("https://ehr-a", "pat-1"), kTemplates, &ctx1.doc, forgotten).size(),
            kTemplates.size());
  EXPECT_TRUE(forgotten.of_type("Condition").empty());
  EXPECT_EQ(keys_of(cache.serve(key("https://ehr-a", "pat-2"), kTemplates, &ctx2.doc, kept)),
            std::vector<std::string>{"encounter"});
  EXPECT_EQ(cache.stats().entries, 1u);
  cache.forget(key("https://ehr-b", "pat-9"));  // nothing held: nothing happens
  EXPECT_EQ(cache.stats().entries, 1u);
}

TEST_F(PatientDataCacheTest, IncompleteAnswersAreNotKept) {
  PatientDataCache cache(options());
  Context ctx("pat-1");
  FetchReport report = answers("a1");
  report.results[0].truncated = true;                                     // conditions
  report.results[1].error = FetchError{FetchErrorKind::kTimeout, 0, ""};  // coverage
  cache.keep(key("c", "pat-1"), kTemplates, &ctx.doc, report);
  ResourceIndex record;
  EXPECT_EQ(cache.serve(key("c", "pat-1"), kTemplates, &ctx.doc, record).size(), 3u);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST_F(PatientDataCacheTest, DocumentsExpireAfterTheTtl) {
  PatientDataCache cache(options());
  Context ctx("pat-1");
  cache.keep(key("c", "pat-1"), kTemplates, &ctx.doc, answers("a1"));
  clock_.now += std::chrono::seconds(299);
  ResourceIndex fresh;
  EXPECT_EQ(cache.serve(key("c", "pat-1"), kTemplates, &ctx.doc, fresh).size(), 1u);
  clock_.now += std::chrono::seconds(1);
  ResourceIndex stale;
  EXPECT_EQ(cache.serve(key("c", "pat-1"), kTemplates, &ctx.doc, stale).size(), 3u);
  EXPECT_TRUE(stale.of_type("Condition").empty());
  auto st = cache.stats();
  EXPECT_EQ(st.expired, 2u);
  EXPECT_EQ(st.entries, 0u);
  EXPECT_EQ(st.bytes, 0u);
}

TEST_F(PatientDataCacheTest, TheEntryBoundEvictsTheLeastRecentlyUsed) {
  PatientDataCache cache(options(2));
  Context p1("pat-1"), p2("pat-2"), p3("pat-3");
  cache.keep(key("c", "pat-1"), kTemplates, &p1.doc, answers("a1"));
  cache.keep(key("c", "pat-2"), kTemplates, &p2.doc, answers("a2"));
  ResourceIndex r1;
  cache.serve(key("c", "pat-1"), kTemplates, &p1.doc, r1);  // pat-1 used last
  cache.keep(key("c", "pat-3"), kTemplates, &p3.doc, answers("a3"));
  auto st = cache.stats();
  EXPECT_EQ(st.entries, 2u);
  EXPECT_EQ(st.evictions, 1u);
  ResourceIndex r2, r1again;
  EXPECT_EQ(cache.serve(key("c", "pat-2"), kTemplates, &p2.doc, r2).size(), 3u);
  EXPECT_EQ(cache.serve(key("c", "pat-1"), kTemplates, &p1.doc, r1again).size(), 1u);
}

TEST_F(PatientDataCacheTest, TheByteBoundEvictsAndNeverHoldsMore) {
  // Each answer is about 2 kB; room for about two patients.
  PatientDataCache cache(options(100, 9000));
  for (int p = 1; p <= 5; ++p) {
    std::string patient = "pat-" + std::to_string(p);
    Context ctx(patient);
    cache.keep(key("c", patient), kTemplates, &ctx.doc, answers(patient, 2000));
    EXPECT_LE(cache.stats().bytes, 9000u);
  }
  auto st = cache.stats();
  EXPECT_EQ(st.entries, 2u);
  EXPECT_EQ(st.evictions, 3u);
  Context last("pat-5"), first("pat-1");
  ResourceIndex r5, r1;
  EXPECT_EQ(cache.serve(key("c", "pat-5"), kTemplates, &last.doc, r5).size(), 1u);
  EXPECT_EQ(cache.serve(key("c", "pat-1"), kTemplates, &first.doc, r1).size(), 3u);
  // A document larger than the whole bound is never kept.
  PatientDataCache tiny(options(100, 1500));
  Context ctx("pat-1");
  tiny.keep(key("c", "pat-1"), kTemplates, &ctx.doc, answers("big", 2000));
  EXPECT_EQ(tiny.stats().entries, 0u);
}

TEST_F(PatientDataCacheTest, ATtlOfZeroTurnsItOff) {
  auto o = options();
  o.ttl = std::chrono::seconds(0);
  PatientDataCache cache(o);
  Context ctx("pat-1");
  cache.keep(key("c", "pat-1"), kTemplates, &ctx.doc, answers("a1"));
  ResourceIndex record;
  EXPECT_EQ(cache.serve(key("c", "pat-1"), kTemplates, &ctx.doc, record).size(), 3u);
  EXPECT_EQ(cache.stats().entries, 0u);
}

}  // namespace
}  // namespace cryo::fhir::client
