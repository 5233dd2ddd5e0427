#include <gtest/gtest.h>

#include "mappings/coverage_reader.h"
#include "test_support.h"

namespace cryo::mappings {
namespace {

using namespace testing;

std::string coverage(std::string_view id, std::string_view status, std::string_view extra = "") {
  return std::string(R"({"resourceType":"Coverage","id":")") + std::string(id) + R"(","status":")" +
         std::string(status) + R"(","beneficiary":{"reference":"Patient/p1"})" +
         std::string(extra) + "}";
}

std::string sopt(std::string_view code, std::string_view system = "https://nahdo.org/sopt") {
  return R"(,"type":{"coding":[{"system":")" + std::string(system) + R"(","code":")" +
         std::string(code) + "\"}]}";
}

CoverageReading read(const Record& r) {
  return read_coverage(r.index(), real_mappings());
}

TEST(Coverage, NoneAndOnlyInactive) {
  Record empty{order("47383")};
  CoverageReading r = read(empty);
  EXPECT_EQ(r.status, CoverageReading::kNone);
  EXPECT_FALSE(r.problem.empty());
  Record cancelled{coverage("c1", "cancelled")};
  r = read(cancelled);
  EXPECT_EQ(r.status, CoverageReading::kNone);
  EXPECT_NE(r.problem.find("Coverage/c1 (cancelled)"), std::string::npos);
}

TEST(Coverage, SeveralActive) {
  Record r{coverage("c1", "active"), coverage("c2", "active"), coverage("c3", "draft")};
  CoverageReading c = read(r);
  EXPECT_EQ(c.status, CoverageReading::kSeveral);
  EXPECT_NE(c.problem.find("Coverage/c1, Coverage/c2"), std::string::npos);
  EXPECT_EQ(c.coverage, nullptr);
}

TEST(Coverage, PayerFromContainedOrganization) {
  Record r{
      coverage("c1", "active",
               R"(,"contained":[{"resourceType":"Organization","id":"org","name":"Florida Blue",
                        "identifier":[{"system":"http://cryocrd.org/fhir/sid/payer-id","value":"florida-blue"}]}],
                       "payor":[{"reference":"#org"}])")};
  CoverageReading c = read(r);
  ASSERT_EQ(c.status, CoverageReading::kOne);
  EXPECT_EQ(c.reference, "Coverage/c1");
  ASSERT_EQ(c.payer_identifiers.size(), 1u);
  EXPECT_EQ(c.payer_identifiers[0].system, "http://cryocrd.org/fhir/sid/payer-id");
  EXPECT_EQ(c.payer_identifiers[0].value, "florida-blue");
  EXPECT_EQ(c.payer_name, "Florida Blue");
  EXPECT_EQ(c.coverage_type, "commercial");  // no type, no plan
}

TEST(Coverage, PayerFromIndexedOrganizationAndReferenceIdentifier) {
  Record r{
      coverage("c1", "active",
               R"(,"payor":[{"reference":"Organization/bcn","display":"BCN"},
                                 {"identifier":{"system":"http://cryocrd.org/fhir/sid/payer-id","value":"bcbsm"}}])"),
      R"({"resourceType":"Organization","id":"bcn","name":"Blue Care Network","identifier":[{"system":"http://cryocrd.org/fhir/sid/payer-id","value":"bcn"}]})"};
  CoverageReading c = read(r);
  ASSERT_EQ(c.status, CoverageReading::kOne);
  ASSERT_EQ(c.payer_identifiers.size(), 2u);
  EXPECT_EQ(c.payer_identifiers[0].value, "bcn");
  EXPECT_EQ(c.payer_identifiers[1].value, "bcbsm");
  EXPECT_EQ(c.payer_name, "Blue Care Network");
}

TEST(Coverage, PlanClassCodes) {
  Record r{coverage(
      "c1", "active",
      R"(,"class":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"group"}]},"value":"G1"},
                                 {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"plan"}]},"value":"BCN65"}])")};
  CoverageReading c = read(r);
  EXPECT_EQ(c.plan_codes, std::vector<std::string>{"BCN65"});
}

TEST(Coverage, SourceOfPaymentTypology) {
  struct Case {
    const char* code;
    const char* system;
    const char* line;
  } cases[] = {
      {"111", "urn:oid:2.16.840.1.113883.3.221.5", "medicare-advantage"},
      {"11", "https://nahdo.org/sopt", "medicare-advantage"},
      {"121", "https://nahdo.org/sopt", "medicare"},
      {"1", "https://nahdo.org/sopt", "medicare"},
      {"21", "https://nahdo.org/sopt", "medicaid"},
      {"511", "https://nahdo.org/sopt", "commercial"},
      {"62", "https://nahdo.org/sopt", "commercial"},
      {"7", "https://nahdo.org/sopt", "commercial"},
      {"21", "http://example.org/other", "commercial"},  // not SOPT: default
  };
  for (const Case& k : cases) {
    Record r{coverage("c1", "active", sopt(k.code, k.system))};
    EXPECT_EQ(read(r).coverage_type, k.line) << k.code << " " << k.system;
  }
}

}  // namespace
}  // namespace cryo::mappings
