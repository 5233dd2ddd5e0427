// The payer registry, lines of business, what each policy needs extracted, and the bundled
// policies against the real mappings.
#include <gtest/gtest.h>

#include <algorithm>

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

}  // namespace
}  // namespace cryo::policies::testing
