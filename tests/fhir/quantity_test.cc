#include "fhir/quantity.h"

#include <gtest/gtest.h>

#include <vector>

namespace cryo::fhir {
namespace {

JsonDocument parse(std::string_view text) {
  JsonDocument doc;
  EXPECT_FALSE(parse_copy(text, doc, ParseLimits{}).has_value());
  return doc;
}

const std::vector<UnitConversion> kConv = {{"mm", "cm", 0.1}, {"ug/L", "ng/mL", 1.0}};

QuantityReading read(std::string_view json, std::string_view unit = "cm") {
  JsonDocument doc = parse(json);
  return read_quantity(doc, unit, kConv);
}

TEST(Quantity, PointValuesAndConversion) {
  auto r = read(R"({"value":30,"unit":"mm","system":"http://unitsofmeasure.org","code":"mm"})");
  ASSERT_TRUE(r.value.has_value());
  EXPECT_TRUE(r.value->is_point());
  EXPECT_DOUBLE_EQ(r.value->low, 3.0);
  EXPECT_EQ(r.text, "30 mm");
  r = read(R"({"value":4.2,"system":"http://unitsofmeasure.org","code":"cm"})");
  ASSERT_TRUE(r.value.has_value());
  EXPECT_DOUBLE_EQ(r.value->high, 4.2);
  r = read(R"({"value":6.5,"unit":"ug/L","system":"http://unitsofmeasure.org","code":"ug/L"})",
           "ng/mL");
  ASSERT_TRUE(r.value.has_value());
  EXPECT_DOUBLE_EQ(r.value->low, 6.5);
}

TEST(Quantity, ComparatorsMakeBounds) {
  auto r =
      read(R"({"value":30,"comparator":"<","system":"http://unitsofmeasure.org","code":"mm"})");
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(r.value->low, -std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(r.value->high, 3.0);
  EXPECT_FALSE(r.value->high_closed);
  EXPECT_EQ(r.text, "< 30 mm");
  r = read(R"({"value":5,"comparator":"<=","system":"http://unitsofmeasure.org","code":"cm"})");
  EXPECT_TRUE(r.value->high_closed);
  r = read(R"({"value":5,"comparator":">","system":"http://unitsofmeasure.org","code":"cm"})");
  EXPECT_DOUBLE_EQ(r.value->low, 5);
  EXPECT_FALSE(r.value->low_closed);
  EXPECT_EQ(r.value->high, std::numeric_limits<double>::infinity());
  r = read(R"({"value":5,"comparator":">=","system":"http://unitsofmeasure.org","code":"cm"})");
  EXPECT_TRUE(r.value->low_closed);
}

TEST(Quantity, UnusableQuantitiesSayWhy) {
  auto r =
      read(R"({"value":5,"comparator":"ad","system":"http://unitsofmeasure.org","code":"cm"})");
  EXPECT_FALSE(r.value.has_value());
  EXPECT_NE(r.problem.find("ad"), std::string::npos);
  r = read(R"({"value":2,"unit":"in","system":"http://unitsofmeasure.org","code":"[in_i]"})");
  EXPECT_FALSE(r.value.has_value());
  EXPECT_NE(r.problem.find("[in_i]"), std::string::npos);
  r = read(R"({"value":2,"unit":"cm"})");  // unit text without system+code
  EXPECT_FALSE(r.value.has_value());
  EXPECT_NE(r.problem.find("UCUM"), std::string::npos);
  r = read(R"({"unit":"cm","system":"http://unitsofmeasure.org","code":"cm"})");
  EXPECT_FALSE(r.value.has_value());
  EXPECT_EQ(r.problem, "no numeric value");
  r = read(R"({"value":"3","system":"http://unitsofmeasure.org","code":"cm"})");
  EXPECT_FALSE(r.value.has_value());
  r = read(R"("3 cm")");
  EXPECT_FALSE(r.value.has_value());
}

TEST(Quantity, FormatNumber) {
  EXPECT_EQ(format_number(3), "3");
  EXPECT_EQ(format_number(4.25), "4.25");
  EXPECT_EQ(format_number(0.1 * 30), "3");
  EXPECT_EQ(format_number(-0.0), "0");
}

// The one interval formatter: measures on cards and in explanations, thresholds, ranks.
TEST(FormatInterval, EveryShapeForPeople) {
  EXPECT_EQ(format_interval(Interval::point(4.2), "cm"), "4.2 cm");
  EXPECT_EQ(format_interval(Interval::point(3), "1"), "3");
  EXPECT_EQ(format_interval(Interval::point(3), ""), "3");
  EXPECT_EQ(format_interval(Interval::point(0.25), "ng/mL"), "0.25 ng/mL");
  EXPECT_EQ(
      format_interval(Interval{-std::numeric_limits<double>::infinity(), 3, false, false}, "cm"),
      "< 3 cm");
  EXPECT_EQ(
      format_interval(Interval{-std::numeric_limits<double>::infinity(), 5, false, true}, "cm"),
      "≤ 5 cm");
  EXPECT_EQ(
      format_interval(Interval{10, std::numeric_limits<double>::infinity(), true, false}, "ng/mL"),
      "≥ 10 ng/mL");
  EXPECT_EQ(
      format_interval(Interval{2, std::numeric_limits<double>::infinity(), false, false}, "1"),
      "> 2");
  EXPECT_EQ(format_interval(Interval{2, 4, true, true}, "cm"), "2–4 cm");
  EXPECT_EQ(format_interval(Interval{1, 3.5, false, true}, "1"), "1–3.5");
  EXPECT_EQ(format_interval(Interval{}, "cm"), "any value");
}

}  // namespace
}  // namespace cryo::fhir
