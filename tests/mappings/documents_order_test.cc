#include <gtest/gtest.h>

#include "test_support.h"

namespace cryo::mappings {
namespace {

using namespace testing;

std::string doc_ref(std::string_view id, std::string_view loinc, std::string_view date_json,
                    std::string_view status = "current", std::string_view patient = "p1") {
  return std::string(R"({"resourceType":"DocumentReference","id":")") + std::string(id) +
         R"(","status":")" + std::string(status) + R"(","subject":{"reference":"Patient/)" +
         std::string(patient) + R"("},"type":{"coding":[{"system":"http://loinc.org","code":")" +
         std::string(loinc) + "\"}]}" + std::string(date_json) + "}";
}

std::string report(std::string_view id, std::string_view loinc, std::string_view date_json,
                   std::string_view status = "final") {
  return std::string(R"({"resourceType":"DiagnosticReport","id":")") + std::string(id) +
         R"(","status":")" + std::string(status) +
         R"(","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://loinc.org","code":")" +
         std::string(loinc) + "\"}]}" + std::string(date_json) + "}";
}

const std::string kPatient = R"({"resourceType":"Patient","id":"p1"})";

std::vector<DocumentFinding> find(const Record& r, std::vector<std::string> codes) {
  fhir::DateRange window = fhir::months_before(*fhir::parse_fhir_date("2026-03-31"), 6);
  return real_mappings().find_documents(r.index(), codes, window);
}

TEST(Documents, FoundInsideTheWindowLatestWins) {
  Record r{kPatient, doc_ref("hp1", "28626-0", R"(,"date":"2025-10-02T10:00:00Z")"),
           doc_ref("hp2", "28626-0", R"(,"date":"2026-03-31T23:00:00Z")"),
           report("rad", "18726-0", R"(,"effectiveDateTime":"2025-09-30")")};
  auto found = find(r, {"28626-0", "18726-0", "18776-5"});
  ASSERT_EQ(found.size(), 3u);
  EXPECT_TRUE(found[0].found);
  EXPECT_EQ(found[0].reference, "DocumentReference/hp2");
  EXPECT_EQ(found[0].date, "2026-03-31T23:00:00Z");
  EXPECT_TRUE(found[1].found);  // first day of the window, inclusive
  EXPECT_EQ(found[1].reference, "DiagnosticReport/rad");
  EXPECT_FALSE(found[2].found);
  EXPECT_TRUE(found[2].outside_window.empty());
}

TEST(Documents, OutsideTheWindowAndPartialDates) {
  Record r{kPatient, doc_ref("old", "18733-6", R"(,"date":"2025-09-29")"),
           doc_ref("month", "18733-6", R"(,"date":"2025-09")"),
           doc_ref("after", "18733-6", R"(,"date":"2026-04-01")"),
           doc_ref("nodate", "18733-6", "")};
  auto found = find(r, {"18733-6"});
  EXPECT_FALSE(found[0].found);
  EXPECT_EQ(found[0].outside_window.size(), 4u);
  EXPECT_EQ(found[0].outside_window[0], "DocumentReference/old (2025-09-29)");
  EXPECT_EQ(found[0].outside_window[3], "DocumentReference/nodate (no date)");
  Record october{kPatient, doc_ref("oct", "18733-6", R"(,"date":"2025-10")")};
  EXPECT_TRUE(find(october, {"18733-6"})[0].found);
}

TEST(Documents, ContextPeriodBeatsDate) {
  Record r{
      kPatient,
      doc_ref(
          "d", "18776-5",
          R"(,"date":"2026-03-01","context":{"period":{"start":"2025-01-01","end":"2025-02-01"}})")};
  auto found = find(r, {"18776-5"});
  EXPECT_FALSE(found[0].found);
  EXPECT_EQ(found[0].outside_window[0], "DocumentReference/d (2025-02-01)");
}

TEST(Documents, StatusAndPatientMustBeValid) {
  Record r{kPatient, doc_ref("superseded", "28626-0", R"(,"date":"2026-01-01")", "superseded"),
           doc_ref("other", "28626-0", R"(,"date":"2026-01-01")", "current", "p2"),
           report("prelim", "18726-0", R"(,"effectiveDateTime":"2026-01-01")", "preliminary"),
           report("amended", "27899-4", R"(,"issued":"2026-01-01T00:00:00Z")", "amended")};
  auto found = find(r, {"28626-0", "18726-0", "27899-4"});
  EXPECT_FALSE(found[0].found);
  EXPECT_FALSE(found[1].found);
  EXPECT_TRUE(found[2].found);
}

TEST(Order, BillingCodesFromCodingAndBillingOptions) {
  Record r{order("47383", "")};
  EXPECT_EQ(MappingSet::billing_codes(*r.order()), std::vector<std::string>{"47383"});
  Record ext{R"({"resourceType":"ServiceRequest","id":"o","code":{
      "coding":[{"system":"http://snomed.info/sct","code":"1234"}],
      "extension":[{"url":"http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-billing-options",
        "valueCodeableConcept":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"47381"},
                                          {"system":"http://www.ama-assn.org/go/cpt","code":"47371"}]}}]}})"};
  EXPECT_EQ(MappingSet::billing_codes(*ext.order()), (std::vector<std::string>{"47381", "47371"}));
}

TEST(Order, DateOfService) {
  const auto received = fhir::parse_fhir_date("2026-05-05T12:00:00Z")->begin;
  auto dos = [&](std::string_view extra) {
    Record r{order("47383", extra)};
    return MappingSet::date_of_service(*r.order(), received).text;
  };
  EXPECT_EQ(dos(R"(,"occurrenceDateTime":"2026-04-01","authoredOn":"2026-03-01")"), "2026-04-01");
  EXPECT_EQ(dos(R"(,"occurrencePeriod":{"start":"2026-04-02","end":"2026-04-09"})"), "2026-04-02");
  EXPECT_EQ(dos(R"(,"occurrenceTiming":{"event":["2026-04-03","2026-04-10"]})"), "2026-04-03");
  EXPECT_EQ(dos(R"(,"authoredOn":"2026-03-01T09:00:00Z")"), "2026-03-01T09:00:00Z");
  EXPECT_EQ(dos(""), "2026-05-05");
}

}  // namespace
}  // namespace cryo::mappings
