#include <gtest/gtest.h>

#include "test_support.h"

namespace cryo::mappings {
namespace {

using namespace testing;
constexpr Truth T = Truth::kTrue, F = Truth::kFalse, U = Truth::kUnknown;

const std::string kLiver = "10200004";
const std::string kSegment4 = "277958008";
const std::string kKidney = "64033007";

TEST(LargestLesion, MaxOverLesionsLatestPerLesionMmToCm) {
  Record r{order("47383"),
           body_structure("l1", kLiver),
           body_structure("l2", kSegment4),
           size_obs("s1", 60, "mm", "2025-10-01", "BodyStructure/l1"),  // superseded
           size_obs("s2", 32, "mm", "2026-02-01", "BodyStructure/l1"),
           size_obs("s3", 4.1, "cm", "2026-01-15", "BodyStructure/l2")};
  Fact f = extract_one(r, "largest-liver-lesion");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_TRUE(f.measure->is_point());
  EXPECT_DOUBLE_EQ(f.measure->low, 4.1);
  EXPECT_EQ(f.unit, "cm");
  EXPECT_EQ(f.display, "4.1 cm");
  EXPECT_EQ(compare(f.measure, Comparison::kLessOrEqual, 5), T);
  EXPECT_EQ(f.evidence.size(), 2u);  // the latest of each lesion
  EXPECT_EQ(f.evidence[0].reference, "Observation/s2");
}

TEST(LargestLesion, ThirtyMillimetresIsThreeCentimetres) {
  Record r{order("47383"), size_obs("s1", 30, "mm", "2026-02-01")};
  Fact f = extract_one(r, "largest-liver-lesion");
  EXPECT_EQ(compare(f.measure, Comparison::kLessOrEqual, 3.0), T);
  EXPECT_EQ(compare(f.measure, Comparison::kLess, 3.0), F);
}

TEST(LargestLesion, ComparatorMakesABound) {
  Record r{order("47383"), size_obs("s1", 30, "mm", "2026-02-01", "", R"(,"comparator":"<")")};
  Fact f = extract_one(r, "largest-liver-lesion");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_FALSE(f.measure->is_point());
  EXPECT_EQ(f.display, "< 3 cm");
  EXPECT_EQ(compare(f.measure, Comparison::kLessOrEqual, 5), T);
  EXPECT_EQ(compare(f.measure, Comparison::kLess, 2), U);
  Record big{order("47383"), size_obs("s1", 5, "cm", "2026-02-01", "", R"(,"comparator":">")")};
  EXPECT_EQ(compare(extract_one(big, "largest-liver-lesion").measure, Comparison::kLessOrEqual, 5),
            F);
}

TEST(LargestLesion, UnusableMeasurementsAreSkippedWithANote) {
  Record r{order("47383"), size_obs("good", 2.5, "cm", "2026-01-01"),
           size_obs("inches", 3, "[in_i]", "2026-02-01"),
           size_obs("ad", 3, "cm", "2026-02-02", "", R"(,"comparator":"ad")")};
  Fact f = extract_one(r, "largest-liver-lesion");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_DOUBLE_EQ(f.measure->high, 2.5);  // the latest usable one counts
  EXPECT_TRUE(has_note(f, "Observation/inches"));
  EXPECT_TRUE(has_note(f, "Observation/ad"));

  Record text_unit{
      order("47383"),
      R"({"resourceType":"Observation","id":"t","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"33728-7"}]},"valueQuantity":{"value":2,"unit":"cm"}})"};
  Fact g = extract_one(text_unit, "largest-liver-lesion");
  EXPECT_FALSE(g.measure.has_value());
  EXPECT_TRUE(has_note(g, "Observation/t"));
}

TEST(LargestLesion, DirectLongestDimensionObservation) {
  Record r{
      order("47383"),
      R"({"resourceType":"Observation","id":"d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"33728-7"}]},"valueQuantity":{"value":45,"unit":"mm","system":"http://unitsofmeasure.org","code":"mm"}})"};
  Fact f = extract_one(r, "largest-liver-lesion");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_DOUBLE_EQ(f.measure->low, 4.5);
}

TEST(LargestLesion, UnfocusedCountsOnlyWhenTheOrderTreatsTheOrgan) {
  Record r{order("47383"), size_obs("s1", 3, "cm", "2026-01-01"),
           size_obs("s2", 2, "cm", "2026-02-01")};  // one series: latest wins
  Fact liver = extract_one(r, "largest-liver-lesion", "47383");
  ASSERT_TRUE(liver.measure.has_value());
  EXPECT_DOUBLE_EQ(liver.measure->low, 2);
  EXPECT_FALSE(extract_one(r, "largest-liver-lesion", "50593").measure.has_value());
  Fact kidney = extract_one(r, "largest-kidney-lesion", "50593");
  ASSERT_TRUE(kidney.measure.has_value());
  EXPECT_DOUBLE_EQ(kidney.measure->low, 2);
}

TEST(LargestLesion, FocusLocationSelectsTheOrgan) {
  Record r{order("47383"), body_structure("k1", kKidney), body_structure("l1", kLiver),
           size_obs("sk", 6, "cm", "2026-01-01", "BodyStructure/k1"),
           size_obs("sl", 2, "cm", "2026-01-01", "BodyStructure/l1")};
  EXPECT_DOUBLE_EQ(extract_one(r, "largest-liver-lesion").measure->low, 2);
  EXPECT_DOUBLE_EQ(extract_one(r, "largest-kidney-lesion", "47383").measure->low, 6);
}

TEST(LargestLesion, UnresolvableFocusIsALesionOfTheTreatedOrgan) {
  Record r{order("47383"), size_obs("s1", 4, "cm", "2026-01-01", "BodyStructure/missing")};
  Fact liver = extract_one(r, "largest-liver-lesion", "47383");
  ASSERT_TRUE(liver.measure.has_value());
  EXPECT_DOUBLE_EQ(liver.measure->low, 4);
  EXPECT_FALSE(extract_one(r, "largest-kidney-lesion", "47383").measure.has_value());
}

TEST(LargestLesion, NothingUsableIsUnknown) {
  Record r{order("47383")};
  Fact f = extract_one(r, "largest-liver-lesion");
  EXPECT_FALSE(f.measure.has_value());
  EXPECT_EQ(compare(f.measure, Comparison::kLessOrEqual, 5), U);
  EXPECT_EQ(f.display, "not documented");
}

TEST(LesionCount, ExplicitObservationLatestWins) {
  Record r{
      order("47383"), body_structure("l1", kLiver), body_structure("l2", kLiver),
      R"({"resourceType":"Observation","id":"c1","status":"final","effectiveDateTime":"2026-01-01","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"hepatic-lesion-count"}]},"valueInteger":5})",
      R"({"resourceType":"Observation","id":"c2","status":"final","effectiveDateTime":"2026-02-01","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"hepatic-lesion-count"}]},"valueQuantity":{"value":1,"system":"http://unitsofmeasure.org","code":"{#}"}})"};
  Fact f = extract_one(r, "liver-lesion-count");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_DOUBLE_EQ(f.measure->low, 1);
  EXPECT_EQ(f.evidence[0].reference, "Observation/c2");
  EXPECT_EQ(compare(f.measure, Comparison::kLess, 2), T);
}

TEST(LesionCount, DistinctBodyStructuresOrFociWhicheverIsLarger) {
  Record structures{order("47383"), body_structure("l1", kLiver), body_structure("l2", kSegment4),
                    body_structure("k1", kKidney),
                    size_obs("s1", 2, "cm", "2026-01-01", "BodyStructure/l1")};
  Fact f = extract_one(structures, "liver-lesion-count");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_DOUBLE_EQ(f.measure->low, 2);

  Record foci{order("47383"),
              size_obs("s1", 2, "cm", "2026-01-01", "BodyStructure/x1"),
              size_obs("s2", 2, "cm", "2026-01-02", "BodyStructure/x2"),
              size_obs("s3", 2, "cm", "2026-01-03", "BodyStructure/x2"),
              size_obs("s4", 2, "cm", "2026-01-03", "BodyStructure/x3"),
              size_obs("u", 2, "cm", "2026-01-03"),  // unfocused: never adds
              body_structure("l1", kLiver)};
  Fact g = extract_one(foci, "liver-lesion-count");
  ASSERT_TRUE(g.measure.has_value());
  EXPECT_DOUBLE_EQ(g.measure->low, 3);
}

TEST(LesionCount, UnfocusedOnlyIsUnknown) {
  Record r{order("47383"), size_obs("u1", 2, "cm", "2026-01-03"),
           size_obs("u2", 3, "cm", "2026-01-04")};
  EXPECT_FALSE(extract_one(r, "liver-lesion-count").measure.has_value());
  Record none{order("47383")};
  EXPECT_FALSE(extract_one(none, "liver-lesion-count").measure.has_value());
}

TEST(Psa, NanogramsPerMillilitreAndMicrogramsPerLitre) {
  auto psa = [](std::string_view id, double v, std::string_view unit, std::string_view date,
                std::string_view comparator = "") {
    char num[32];
    std::snprintf(num, sizeof num, "%g", v);
    std::string comp =
        comparator.empty() ? "" : R"("comparator":")" + std::string(comparator) + "\",";
    return std::string(R"({"resourceType":"Observation","id":")") + std::string(id) +
           R"(","status":"final","effectiveDateTime":")" + std::string(date) +
           R"(","code":{"coding":[{"system":"http://loinc.org","code":"2857-1"}]},"valueQuantity":{)" +
           comp + R"("value":)" + num + R"(,"system":"http://unitsofmeasure.org","code":")" +
           std::string(unit) + "\"}}";
  };
  Record r{order("55873"), psa("p1", 12, "ng/mL", "2025-12-01"),
           psa("p2", 6.5, "ug/L", "2026-01-01"), psa("p3", 3, "ng/mL", "2026-02-01", "ad")};
  Fact f = extract_one(r, "psa", "55873");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_DOUBLE_EQ(f.measure->low, 6.5);
  EXPECT_EQ(f.display, "6.5 ng/mL");
  EXPECT_EQ(compare(f.measure, Comparison::kLess, 8), T);
  EXPECT_TRUE(has_note(f, "Observation/p3"));
}

TEST(Gleason, ValueInteger) {
  Record r{
      order("55873"),
      R"({"resourceType":"Observation","id":"g","status":"final","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"gleason-score"}]},"valueInteger":7})"};
  Fact f = extract_one(r, "gleason-score", "55873");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_DOUBLE_EQ(f.measure->low, 7);
  EXPECT_EQ(compare(f.measure, Comparison::kLess, 9), T);
  Record none{order("55873")};
  EXPECT_EQ(compare(extract_one(none, "gleason-score", "55873").measure, Comparison::kLess, 9), U);
}

}  // namespace
}  // namespace cryo::mappings
