#include "mappings/fact.h"

#include <gtest/gtest.h>

namespace cryo::mappings {
namespace {

constexpr Truth T = Truth::kTrue, F = Truth::kFalse, U = Truth::kUnknown;

TEST(Truth, KleeneAnd) {
  EXPECT_EQ(truth_and(T, T), T);
  EXPECT_EQ(truth_and(T, F), F);
  EXPECT_EQ(truth_and(F, U), F);
  EXPECT_EQ(truth_and(U, F), F);
  EXPECT_EQ(truth_and(T, U), U);
  EXPECT_EQ(truth_and(U, U), U);
}

TEST(Truth, KleeneOr) {
  EXPECT_EQ(truth_or(F, F), F);
  EXPECT_EQ(truth_or(T, F), T);
  EXPECT_EQ(truth_or(U, T), T);
  EXPECT_EQ(truth_or(F, U), U);
  EXPECT_EQ(truth_or(U, U), U);
}

TEST(Truth, NotAndNames) {
  EXPECT_EQ(truth_not(T), F);
  EXPECT_EQ(truth_not(F), T);
  EXPECT_EQ(truth_not(U), U);
  EXPECT_EQ(to_string(U), "unknown");
  EXPECT_EQ(to_string(T), "true");
}

TEST(Compare, PointsCompareExactly) {
  auto five = std::optional(fhir::Interval::point(5.0));
  EXPECT_EQ(compare(five, Comparison::kLessOrEqual, 5.0), T);  // 5.0 satisfies "<= 5"
  EXPECT_EQ(compare(five, Comparison::kLess, 5.0), F);
  EXPECT_EQ(compare(five, Comparison::kEqual, 5.0), T);
  EXPECT_EQ(compare(std::optional(fhir::Interval::point(30 * 0.1)), Comparison::kLessOrEqual, 3.0),
            T);
  EXPECT_EQ(compare(std::nullopt, Comparison::kLess, 4.0), U);
}

TEST(Compare, BoundsDecideOnlyWhenSettled) {
  fhir::Interval below3;  // < 3
  below3.high = 3;
  EXPECT_EQ(compare(below3, Comparison::kLessOrEqual, 5), T);
  EXPECT_EQ(compare(below3, Comparison::kLess, 3), T);
  EXPECT_EQ(compare(below3, Comparison::kLess, 2), U);
  EXPECT_EQ(compare(below3, Comparison::kGreaterOrEqual, 3), F);
  fhir::Interval above5;  // > 5
  above5.low = 5;
  EXPECT_EQ(compare(above5, Comparison::kLessOrEqual, 5), F);
  EXPECT_EQ(compare(above5, Comparison::kGreater, 5), T);
  EXPECT_EQ(compare(above5, Comparison::kGreater, 6), U);
  fhir::Interval at_least5{5, std::numeric_limits<double>::infinity(), true, false};
  EXPECT_EQ(compare(at_least5, Comparison::kLess, 5), F);
  EXPECT_EQ(compare(at_least5, Comparison::kLessOrEqual, 5), U);
  fhir::Interval at_most5{-std::numeric_limits<double>::infinity(), 5, false, true};
  EXPECT_EQ(compare(at_most5, Comparison::kLessOrEqual, 5), T);
  EXPECT_EQ(compare(at_most5, Comparison::kLess, 5), U);
}

TEST(FactSheet, PutFindReplace) {
  FactSheet sheet;
  sheet.put(Fact::boolean("unresectable", T));
  Fact cat;
  cat.id = "liver-tumor-type";
  cat.kind = FactKind::kCategory;
  cat.categories = {{"hcc", T}, {"icc", F}};
  sheet.put(cat);
  EXPECT_EQ(sheet.truth("unresectable"), T);
  EXPECT_EQ(sheet.truth("missing"), U);
  EXPECT_EQ(sheet.category("liver-tumor-type", "hcc"), T);
  EXPECT_EQ(sheet.category("liver-tumor-type", "other"), U);
  sheet.put(Fact::boolean("unresectable", F));
  EXPECT_EQ(sheet.truth("unresectable"), F);
  EXPECT_EQ(sheet.all().size(), 2u);
  EXPECT_TRUE(sheet.find("liver-tumor-type")->known());
  EXPECT_FALSE(Fact::measured("psa", std::nullopt, "ng/mL").known());
}

TEST(FormatMeasure, ForPeople) {
  EXPECT_EQ(format_measure(fhir::Interval::point(4.2), "cm"), "4.2 cm");
  EXPECT_EQ(format_measure(fhir::Interval::point(3), "1"), "3");
  fhir::Interval below3;
  below3.high = 3;
  EXPECT_EQ(format_measure(below3, "cm"), "< 3 cm");
  EXPECT_EQ(format_measure(std::nullopt, "cm"), "not documented");
  fhir::Interval two_to_four{2, 4, true, true};
  EXPECT_EQ(format_measure(two_to_four, "cm"), "2–4 cm");
  fhir::Interval from5;
  from5.low = 5;
  from5.low_closed = true;
  EXPECT_EQ(format_measure(from5, "ng/mL"), "≥ 5 ng/mL");
}

// The words for a truth value: in stored records and explanations, and on a boolean fact.
TEST(TruthText, RecordsAndPeople) {
  EXPECT_EQ(to_string(Truth::kTrue), "true");
  EXPECT_EQ(to_string(Truth::kFalse), "false");
  EXPECT_EQ(to_string(Truth::kUnknown), "unknown");
  EXPECT_EQ(yes_no(Truth::kTrue), "yes");
  EXPECT_EQ(yes_no(Truth::kFalse), "no");
  EXPECT_EQ(yes_no(Truth::kUnknown), "not documented");
}

}  // namespace
}  // namespace cryo::mappings
