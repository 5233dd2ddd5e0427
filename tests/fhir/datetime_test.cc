#include "fhir/datetime.h"

#include <gtest/gtest.h>

namespace cryo::fhir {
namespace {

using std::chrono::seconds;

DateRange d(std::string_view text) {
  auto r = parse_fhir_date(text);
  EXPECT_TRUE(r.has_value()) << text;
  return r.value_or(DateRange{});
}

JsonDocument parse(std::string_view text) {
  JsonDocument doc;
  EXPECT_FALSE(parse_copy(text, doc, ParseLimits{}).has_value());
  return doc;
}

TEST(DateTime, PartialDatesAreRanges) {
  DateRange year = d("2025");
  EXPECT_EQ(day_text(year.begin), "2025-01-01");
  EXPECT_EQ(day_text(year.end), "2026-01-01");
  DateRange month = d("2024-02");
  EXPECT_EQ(day_text(month.begin), "2024-02-01");
  EXPECT_EQ(day_text(month.end), "2024-03-01");
  DateRange day = d("2025-03-04");
  EXPECT_EQ(day.end - day.begin, seconds{86400});
  EXPECT_EQ(day.text, "2025-03-04");
  DateRange instant = d("2025-03-04T10:20:30.123Z");
  EXPECT_EQ(instant.end - instant.begin, seconds{1});
}

TEST(DateTime, DayTextIsTheUtcCalendarDay) {
  EXPECT_EQ(day_text(d("2024-02-29T23:59:59Z").begin), "2024-02-29");
  EXPECT_EQ(day_text(d("2025-12-31T23:59:59Z").begin), "2025-12-31");
  EXPECT_EQ(day_text(d("0999-07-09").begin), "0999-07-09");
  EXPECT_EQ(day_text(d("1970-01-01T00:00:00Z").begin), "1970-01-01");
  EXPECT_EQ(day_text(d("1969-12-31T23:00:00Z").begin), "1969-12-31");
}

TEST(DateTime, OffsetsAreApplied) {
  DateRange a = d("2025-03-04T23:30:00-05:00");
  DateRange b = d("2025-03-05T04:30:00Z");
  EXPECT_EQ(a.begin, b.begin);
  EXPECT_EQ(day_text(a.begin), "2025-03-05");
  DateRange c = d("2025-03-05T01:00:00+02:00");
  EXPECT_EQ(day_text(c.begin), "2025-03-04");
  DateRange no_offset = d("2025-03-05T04:30:00");  // read as UTC
  EXPECT_EQ(no_offset.begin, b.begin);
}

TEST(DateTime, MalformedDatesAreRejected) {
  for (std::string_view bad :
       {"", "25", "2025-13", "2025-02-30", "2025-1-01", "2025-01-01T25:00:00Z",
        "2025-01-01T10:00:00+5", "2025/01/01", "2025-01-01x", "abcd"}) {
    EXPECT_FALSE(parse_fhir_date(bad).has_value()) << bad;
  }
  EXPECT_TRUE(parse_fhir_date("2024-02-29").has_value());
  EXPECT_FALSE(parse_fhir_date("2025-02-29").has_value());
}

TEST(DateTime, SixMonthWindowClampsToMonthEnd) {
  DateRange w = months_before(d("2026-03-31"), 6);
  EXPECT_EQ(day_text(w.begin), "2025-09-30");
  EXPECT_EQ(day_text(w.end), "2026-04-01");
  w = months_before(d("2025-08-31"), 6);
  EXPECT_EQ(day_text(w.begin), "2025-02-28");
  w = months_before(d("2024-08-31"), 6);
  EXPECT_EQ(day_text(w.begin), "2024-02-29");
  w = months_before(d("2026-01-15"), 6);
  EXPECT_EQ(day_text(w.begin), "2025-07-15");
  // A dateTime date of service: the window runs through the end of its day.
  w = months_before(d("2026-03-10T08:00:00Z"), 6);
  EXPECT_EQ(day_text(w.begin), "2025-09-10");
  EXPECT_EQ(day_text(w.end), "2026-03-11");
}

TEST(DateTime, InsideWindowOnlyWhenWholeRangeInside) {
  DateRange w = months_before(d("2026-03-31"), 6);  // 2025-09-30 .. 2026-03-31
  EXPECT_TRUE(contains(w, d("2025-09-30")));        // first day, inclusive
  EXPECT_TRUE(contains(w, d("2026-03-31")));        // date of service, inclusive
  EXPECT_TRUE(contains(w, d("2026-03-31T23:59:59Z")));
  EXPECT_FALSE(contains(w, d("2025-09-29")));
  EXPECT_FALSE(contains(w, d("2026-04-01")));
  EXPECT_TRUE(contains(w, d("2025-10")));   // all of October
  EXPECT_FALSE(contains(w, d("2025-09")));  // September starts before the window
  EXPECT_FALSE(contains(w, d("2026")));
  EXPECT_TRUE(contains(w, d("2025-09-29T23:00:00-02:00")));  // 2025-09-30T01:00Z
}

TEST(DateTime, EndsAfter) {
  EXPECT_TRUE(ends_after(d("2025-03-05"), d("2025-03-04")));
  EXPECT_FALSE(ends_after(d("2025-03-04"), d("2025-03-04")));
  EXPECT_TRUE(ends_after(d("2025"), d("2025-06-01")));
}

TEST(DateTime, LaterThanOrdersByEndThenStart) {
  EXPECT_TRUE(later_than(d("2026-08-31"), d("2026-08")));  // same end, later start
  EXPECT_FALSE(later_than(d("2026-08"), d("2026-08-31")));
  EXPECT_TRUE(later_than(d("2026"), d("2026-11-09")));
  EXPECT_TRUE(later_than(d("2026-08-13"), d("2026-08-13T12:00:00Z")));
  EXPECT_FALSE(later_than(d("2026-08-13"), d("2026-08-13")));  // equal: input order decides
  // To the second: fractions are ignored.
  EXPECT_FALSE(later_than(d("2026-08-13T12:00:00.900Z"), d("2026-08-13T12:00:00.100Z")));
  EXPECT_FALSE(later_than(d("2026-08-13T12:00:00.100Z"), d("2026-08-13T12:00:00.900Z")));
  EXPECT_TRUE(later_than(d("2026-08-13T12:00:01Z"), d("2026-08-13T12:00:00.999Z")));
  // Offsets are instants: 09:00-05:00 is 14:00Z.
  EXPECT_TRUE(later_than(d("2026-08-13T09:00:00-05:00"), d("2026-08-13T13:59:59Z")));
}

TEST(DateTime, ClinicalDateByResourceType) {
  JsonDocument obs = parse(
      R"({"resourceType":"Observation","effectivePeriod":{"start":"2025-01-01","end":"2025-01-03"},"issued":"2025-02-01T00:00:00Z"})");
  EXPECT_EQ(clinical_date(obs)->text, "2025-01-03");
  JsonDocument obs_start = parse(
      R"({"resourceType":"Observation","effectivePeriod":{"start":"2025-01-01"},"issued":"2025-02-01T00:00:00Z"})");
  EXPECT_EQ(clinical_date(obs_start)->text, "2025-01-01");
  JsonDocument obs_issued =
      parse(R"({"resourceType":"Observation","issued":"2025-02-01T00:00:00Z"})");
  EXPECT_EQ(clinical_date(obs_issued)->text, "2025-02-01T00:00:00Z");
  JsonDocument doc_ref = parse(
      R"({"resourceType":"DocumentReference","date":"2025-05-01T00:00:00Z","context":{"period":{"start":"2025-04-01"}}})");
  EXPECT_EQ(clinical_date(doc_ref)->text, "2025-04-01");
  JsonDocument doc_date =
      parse(R"({"resourceType":"DocumentReference","date":"2025-05-01T00:00:00Z"})");
  EXPECT_EQ(clinical_date(doc_date)->text, "2025-05-01T00:00:00Z");
  JsonDocument report = parse(
      R"({"resourceType":"DiagnosticReport","effectiveDateTime":"2025-03","issued":"2025-04-01T00:00:00Z"})");
  EXPECT_EQ(clinical_date(report)->text, "2025-03");
  JsonDocument none = parse(R"({"resourceType":"Observation","effectiveDateTime":"garbage"})");
  EXPECT_FALSE(clinical_date(none).has_value());
}

TEST(DateTime, DayOf) {
  DateRange r = day_of(d("2026-03-10T08:00:00Z").begin);
  EXPECT_EQ(r.text, "2026-03-10");
  EXPECT_EQ(r.end - r.begin, seconds{86400});
}

}  // namespace
}  // namespace cryo::fhir
