// The payer registry, lines of business, what each policy needs extracted, and the bundled
// policies against the real mappings.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <span>

#include "policies/data_hash.h"
#include "support.h"

namespace cryo::policies::testing {
namespace {

const char* kSystem = "http://cryocrd.org/fhir/sid/payer-id";

TEST(Registry, SixPayersByIdentifier) {
  EXPECT_EQ(library().payers().size(), 6u);
  for (const char* id :
       {"florida-blue", "medical-mutual", "bcbsm", "bcn", "bcbsri", "pacificsource"}) {
    std::vector<mappings::Identifier> ids = {{"urn:other", "x"}, {kSystem, id}};
    const Payer* p = library().payer_for(ids);
    ASSERT_NE(p, nullptr) << id;
    EXPECT_EQ(p->id, id);
    EXPECT_FALSE(p->name.empty());
  }
  std::vector<mappings::Identifier> wrong_system = {{"urn:other", "bcbsm"}};
  EXPECT_EQ(library().payer_for(wrong_system), nullptr);
  std::vector<mappings::Identifier> unknown = {{kSystem, "aetna"}};
  EXPECT_EQ(library().payer_for(unknown), nullptr);
}

TEST(Registry, LineOfBusinessFromPlanCodeThenType) {
  const Payer& fb = payer("florida-blue");
  std::vector<std::string> fep = {"GOLD", "FEP"};
  EXPECT_EQ(library().line_of_business(fb, fep, "commercial"), "FEP");
  std::vector<std::string> sao = {"SAO"};
  EXPECT_EQ(library().line_of_business(fb, sao, "medicare"), "SAO");
  std::vector<std::string> other = {"GOLD"};
  EXPECT_EQ(library().line_of_business(fb, other, "medicare-advantage"), "medicare-advantage");
  EXPECT_EQ(library().line_of_business(fb, {}, ""), "commercial");
  EXPECT_EQ(library().line_of_business(payer("pacificsource"), {}, "medicaid"), "medicaid");
}

TEST(Registry, EveryPayerHasItsPolicyForEveryLiverCode) {
  for (const Payer& p : library().payers()) {
    for (const char* code : {"47371", "47381", "47383"}) {
      EXPECT_NE(library().policy_for(p, code), nullptr) << p.id << " " << code;
    }
  }
  const Payer& mm = payer("medical-mutual");
  for (const char* code : {"55873", "50250", "50593", "20983"}) {
    EXPECT_NE(library().policy_for(mm, code), nullptr) << code;
    EXPECT_EQ(library().policy_for(payer("florida-blue"), code), nullptr) << code;
  }
}

TEST(Library, FactsAndDocumentsEachPolicyUses) {
  const Policy* fb = library().policy_for(payer("florida-blue"), "47383");
  ASSERT_NE(fb, nullptr);
  auto facts = library().facts_used(*fb);
  std::vector<std::string> f(facts.begin(), facts.end());
  EXPECT_NE(std::find(f.begin(), f.end(), "unresectable"), f.end());
  EXPECT_NE(std::find(f.begin(), f.end(), "poor-surgical-candidate"), f.end());
  EXPECT_NE(std::find(f.begin(), f.end(), "liver-tumor-type"), f.end());
  auto docs = library().document_codes(*fb);
  std::vector<std::string> d(docs.begin(), docs.end());
  EXPECT_EQ(d, (std::vector<std::string>{"11506-3", "18726-0", "18733-6", "18748-4", "18776-5",
                                         "27899-4", "28626-0", "34117-2", "42126-3"}));
  EXPECT_EQ(library().document_window_months(*fb), 6);
  EXPECT_EQ(PolicyLibrary::policy_id(*fb), "florida-blue-02-40000-22");

  const Policy* mm = library().policy_for(payer("medical-mutual"), "55873");
  ASSERT_NE(mm, nullptr);
  auto mm_facts = library().facts_used(*mm);
  std::vector<std::string> m(mm_facts.begin(), mm_facts.end());
  EXPECT_NE(std::find(m.begin(), m.end(), "prostate-t-stage"), m.end());
  EXPECT_NE(std::find(m.begin(), m.end(), "largest-kidney-lesion"), m.end());
  EXPECT_TRUE(library().document_codes(*mm).empty());
  EXPECT_EQ(library().document_window_months(*mm), 0);
}

TEST(Library, Summaries) {
  std::vector<PolicySummary> all = library().summaries();
  ASSERT_EQ(all.size(), 7u);  // one per revision: Florida Blue and Medical Mutual have two
  for (const PolicySummary& s : all) {
    EXPECT_FALSE(s.title.empty());
    EXPECT_FALSE(s.document.empty());
    EXPECT_FALSE(s.revision.empty());
    EXPECT_FALSE(s.payer_ids.empty());
    EXPECT_FALSE(s.billing_codes.empty());
  }
}

TEST(Library, BundledPoliciesValidateAgainstTheBundledMappings) {
  std::filesystem::path dir = source_dir() / "mappings" / "data";
  bool any = false;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    any = any || e.path().extension() == ".json";
  }
  if (!any) GTEST_SKIP() << "mappings/data holds no mappings yet";
  Result<mappings::MappingSet> m = mappings::MappingSet::load(dir);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  Result<PolicyLibrary> lib = PolicyLibrary::load(policy_dir(), *m);
  ASSERT_TRUE(lib.ok()) << lib.error().to_string();
  EXPECT_EQ(lib->summaries().size(), 7u);
}

TEST(DataHash, NamesThePolicyAndMappingDataThatDecide) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("cryo-data-hash-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(policy_dir())) {
    fs::copy_file(e.path(), dir / e.path().filename());
  }
  fs::path mappings = source_dir() / "mappings" / "data";
  Result<std::string> bundled = data_hash(policy_dir(), mappings);
  Result<std::string> copy = data_hash(dir, mappings);
  ASSERT_TRUE(bundled.ok() && copy.ok());
  EXPECT_EQ(bundled->rfind("sha256:", 0), 0u);
  EXPECT_EQ(bundled->size(), 7u + 64u);
  EXPECT_EQ(*bundled, *copy);  // same files, same hash
  {
    std::ofstream tests(dir / "bcbsri.tests.json", std::ios::app);
    tests << " ";  // test cases do not decide
  }
  EXPECT_EQ(*data_hash(dir, mappings), *bundled);
  {
    std::ofstream policy(dir / "bcbsri.json", std::ios::app);
    policy << " ";  // any change to a policy file does
  }
  EXPECT_NE(*data_hash(dir, mappings), *bundled);
  fs::remove_all(dir);
}

TEST(DataHash, EveryDeterminationCarriesIt) {
  FactsMdVocabulary vocabulary;
  Result<PolicyLibrary> lib = PolicyLibrary::load(policy_dir(), vocabulary);
  ASSERT_TRUE(lib.ok());
  lib->set_data_hash("sha256:abc");
  const Payer* p = nullptr;
  for (const Payer& payer : lib->payers()) {
    if (payer.id == "bcbsri") p = &payer;
  }
  ASSERT_NE(p, nullptr);
  const Policy* policy = lib->policy_for(*p, "47371");
  ASSERT_NE(policy, nullptr);
  mappings::OrderContext order{nullptr, "47371", *fhir::parse_fhir_date("2025-06-15")};
  Determination d = lib->evaluate(*policy, *p, "commercial", order, {}, {});
  EXPECT_EQ(d.data_hash, "sha256:abc");
}

TEST(Revisions, TheDateOfServicePicksTheRevision) {
  const Payer& fb = payer("florida-blue");
  const Policy* before = library().policy_for(fb, "47383", "2024-09-14");
  const Policy* from = library().policy_for(fb, "47383", "2024-09-15");
  ASSERT_NE(before, nullptr);
  ASSERT_NE(from, nullptr);
  EXPECT_NE(before, from);
  EXPECT_EQ(library().policy_for(fb, "47383", "2001-08-14"), nullptr);  // not yet in force
  EXPECT_EQ(library().policy_for(fb, "47383", ""), from);               // today's revision
  EXPECT_NE(library()
                .policy_page_html("florida-blue-02-40000-22")
                .find("2001-08-15 (2001-08-15 to 2024-09-14)"),
            std::string::npos);
}

// --- decide(): the one entry point of a hook call --------------------------------------------

// A record that shows nothing, and remembers what it was asked.
class EmptyRecord : public RecordFacts {
 public:
  mutable std::vector<std::string> facts_asked;
  mutable std::vector<std::string> codes_asked;
  mutable int months_asked = 0;
  mutable std::string code_seen;

  mappings::FactSheet facts(const mappings::OrderContext& order,
                            std::span<const std::string> ids) const override {
    code_seen = order.billing_code;
    facts_asked.assign(ids.begin(), ids.end());
    return {};
  }
  std::vector<mappings::DocumentFinding> documents(const mappings::OrderContext&,
                                                   std::span<const std::string> codes,
                                                   int months) const override {
    codes_asked.assign(codes.begin(), codes.end());
    months_asked = months;
    return {};
  }
};

struct Order {
  explicit Order(std::string text) : text_(std::move(text)) {
    EXPECT_FALSE(fhir::parse_copy(text_, doc, {}));
  }
  std::string text_;
  fhir::JsonDocument doc;
};

Order liver_order(std::string_view date, std::string_view codes = R"("47383")") {
  std::string coding;
  for (size_t at = 0; at < codes.size();) {
    size_t end = codes.find(',', at);
    std::string_view code = codes.substr(at, end == std::string_view::npos ? end : end - at);
    if (!coding.empty()) coding += ",";
    coding += R"({"system":"http://www.ama-assn.org/go/cpt","code":)" + std::string(code) + "}";
    at = end == std::string_view::npos ? codes.size() : end + 1;
  }
  return Order(
      R"({"resourceType":"ServiceRequest","id":"sr-1","status":"draft","code":{"coding":[)" +
      coding + R"(]},"occurrenceDateTime":")" + std::string(date) + R"("})");
}

DecisionContext context_for(const Payer& payer) {
  DecisionContext c;
  c.payer = &payer;
  c.line_of_business = "commercial";
  c.received = std::chrono::sys_days{std::chrono::year{2026} / 2 / 20};
  return c;
}

TEST(Decide, PlansTheOrderAsksTheRecordForWhatThePolicyReadsAndEvaluates) {
  const Payer& fb = payer("florida-blue");
  const Policy* policy = library().policy_for(fb, "47383", "2026-03-01");
  ASSERT_NE(policy, nullptr);
  Order order = liver_order("2026-03-01", R"("47382","47383")");  // radiofrequency first
  EmptyRecord record;
  std::optional<OrderDecision> d = library().decide(order.doc, context_for(fb), record);
  ASSERT_TRUE(d);
  EXPECT_EQ(record.code_seen, "47383");  // the first code a policy lists
  EXPECT_EQ(d->context.billing_code, "47383");
  EXPECT_EQ(d->context.order, &order.doc);
  auto facts = library().facts_used(*policy);
  EXPECT_EQ(record.facts_asked, std::vector<std::string>(facts.begin(), facts.end()));
  auto codes = library().document_codes(*policy);
  EXPECT_EQ(record.codes_asked, std::vector<std::string>(codes.begin(), codes.end()));
  EXPECT_EQ(record.months_asked, 6);
  EXPECT_EQ(d->determination.policy_id, "florida-blue-02-40000-22");
  EXPECT_EQ(d->determination.billing_code, "47383");
  EXPECT_EQ(d->determination.payer_id, "florida-blue");
  EXPECT_EQ(d->determination.covered, Covered::kConditional);  // the record shows nothing
  EXPECT_TRUE(d->determination.notices.empty());
}

TEST(Decide, TheRevisionInForceOnTheDateOfServiceDecides) {
  const Payer& fb = payer("florida-blue");
  EmptyRecord record;
  auto before = library().decide(liver_order("2024-09-14").doc, context_for(fb), record);
  auto from = library().decide(liver_order("2024-09-15").doc, context_for(fb), record);
  ASSERT_TRUE(before && from);
  EXPECT_NE(before->determination.policy_revision, from->determination.policy_revision);
  EXPECT_EQ(from->determination.policy_revision, "2024-09-15");
  // Before the first revision: no policy was in force, the order is out of scope.
  EXPECT_FALSE(library().decide(liver_order("2001-08-14").doc, context_for(fb), record));
}

TEST(Decide, AnOrderNoPolicyListsIsOutOfScopeAndNothingIsRead) {
  EmptyRecord record;
  auto d = library().decide(liver_order("2026-03-01", R"("47382")").doc,
                            context_for(payer("florida-blue")), record);
  EXPECT_FALSE(d);
  EXPECT_TRUE(record.facts_asked.empty());
  EXPECT_TRUE(record.codes_asked.empty());
}

TEST(Decide, AnAdvisoryAnswerAsksForNoDocumentation) {
  const Payer& fb = payer("florida-blue");
  EmptyRecord record;
  Order order = liver_order("2026-03-01");
  DecisionContext primary = context_for(fb);
  auto asked = library().decide(order.doc, primary, record);
  ASSERT_TRUE(asked);
  ASSERT_FALSE(asked->determination.doc_needed == DocNeeded::kAbsent);
  ASSERT_FALSE(asked->determination.doc_purpose == DocPurpose::kAbsent);
  DecisionContext advisory = context_for(fb);
  advisory.asks_for_documentation = false;
  auto quiet = library().decide(order.doc, advisory, record);
  ASSERT_TRUE(quiet);
  EXPECT_EQ(quiet->determination.doc_needed, DocNeeded::kAbsent);
  EXPECT_EQ(quiet->determination.doc_purpose, DocPurpose::kAbsent);
  EXPECT_EQ(quiet->determination.covered, asked->determination.covered);
}

TEST(Decide, WhatTheRecordCouldNotGetIsNoticedAndQualifiesAConditionalAnswer) {
  const Payer& fb = payer("florida-blue");
  EmptyRecord record;
  const std::vector<std::string> unreadable = {"conditions: timed out after 1500 ms",
                                               "observations: HTTP 500"};
  DecisionContext context = context_for(fb);
  context.unreadable = unreadable;
  auto d = library().decide(liver_order("2026-03-01").doc, context, record);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->determination.covered, Covered::kConditional);
  EXPECT_EQ(d->determination.notices,
            (std::vector<std::string>{
                "Data the EHR could not supply: conditions: timed out after 1500 ms",
                "Data the EHR could not supply: observations: HTTP 500"}));
  EXPECT_EQ(d->determination.reasons.back(),
            "Part of the record could not be read from the EHR's FHIR server (conditions: timed "
            "out after 1500 ms; observations: HTTP 500).");
}

}  // namespace
}  // namespace cryo::policies::testing
