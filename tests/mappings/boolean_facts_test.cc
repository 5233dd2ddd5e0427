#include <gtest/gtest.h>

#include "test_support.h"

namespace cryo::mappings {
namespace {

using namespace testing;
constexpr Truth T = Truth::kTrue, F = Truth::kFalse, U = Truth::kUnknown;

TEST(BooleanObservation, ValueBooleanTrueFalseAndAbsent) {
  Record yes{order("47383"), bool_obs("o1", "poor-surgical-candidate", true, "2026-01-10")};
  Fact f = extract_one(yes, "poor-surgical-candidate");
  EXPECT_EQ(f.truth, T);
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].reference, "Observation/o1");
  EXPECT_EQ(f.evidence[0].date, "2026-01-10");
  EXPECT_EQ(f.display, "yes");

  Record no{order("47383"), bool_obs("o1", "poor-surgical-candidate", false, "2026-01-10")};
  EXPECT_EQ(extract_one(no, "poor-surgical-candidate").truth, F);

  Record none{order("47383")};
  Fact unknown = extract_one(none, "poor-surgical-candidate");
  EXPECT_EQ(unknown.truth, U);
  EXPECT_TRUE(unknown.evidence.empty());
}

TEST(BooleanObservation, SnomedYesNoAnswers) {
  Record yes{order("47383"),
             coded_obs("o1", kCrit, "location-accessible", kSct, "373066001", "2026-01-10")};
  EXPECT_EQ(extract_one(yes, "location-accessible").truth, T);
  Record no{order("47383"),
            coded_obs("o1", kCrit, "location-accessible", kSct, "373067005", "2026-01-10")};
  EXPECT_EQ(extract_one(no, "location-accessible").truth, F);
  Record other{order("47383"),
               coded_obs("o1", kCrit, "location-accessible", kSct, "12345", "2026-01-10")};
  Fact f = extract_one(other, "location-accessible");
  EXPECT_EQ(f.truth, U);
  EXPECT_TRUE(has_note(f, "Observation/o1"));
}

TEST(StatusRules, VoidObservationsAreIgnored) {
  for (const char* status : {"entered-in-error", "cancelled", "preliminary"}) {
    Record r{order("47383"), bool_obs("o1", "ablatable-with-margin", true, "2026-01-10",
                                      std::string(R"(,"status":")") + status + "\"")};
    EXPECT_EQ(extract_one(r, "ablatable-with-margin").truth, U) << status;
  }
  Record amended{order("47383"), bool_obs("o1", "ablatable-with-margin", true, "2026-01-10",
                                          R"(,"status":"amended")")};
  EXPECT_EQ(extract_one(amended, "ablatable-with-margin").truth, T);
}

TEST(StatusRules, VoidConditionsAreIgnored) {
  const std::string refuted =
      R"(,"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"refuted"}]})";
  const std::string resolved =
      R"(,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"resolved"}]})";
  const std::string remission = R"(,"clinicalStatus":{"coding":[{"code":"remission"}]})";
  const std::string active =
      R"(,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]})";
  for (const std::string& extra : {refuted, resolved, remission}) {
    Record r{order("47383"), condition("c1", kIcd, "C78.0", extra)};
    EXPECT_EQ(extract_one(r, "extrahepatic-disease").truth, U) << extra;
  }
  Record r{order("47383"), condition("c1", kIcd, "C78.0", active)};
  EXPECT_EQ(extract_one(r, "extrahepatic-disease").truth, T);
}

TEST(LatestWins, ByEffectiveDate) {
  Record r{order("47383"), bool_obs("new", "near-complete-treatment", false, "2026-02-01"),
           bool_obs("old", "near-complete-treatment", true, "2025-12-01")};
  Fact f = extract_one(r, "near-complete-treatment");
  EXPECT_EQ(f.truth, F);
  EXPECT_EQ(f.evidence[0].reference, "Observation/new");
}

TEST(LatestWins, PeriodEndThenStartThenIssued) {
  Record r{order("47383"),
           bool_obs("period", "systemic-therapy-failed", true, "",
                    R"(,"effectivePeriod":{"start":"2025-01-01","end":"2026-02-10"})"),
           bool_obs("issued", "systemic-therapy-failed", false, "",
                    R"(,"issued":"2026-02-01T10:00:00Z")")};
  EXPECT_EQ(extract_one(r, "systemic-therapy-failed").truth, T);
  Record r2{order("47383"),
            bool_obs("start", "systemic-therapy-failed", true, "",
                     R"(,"effectivePeriod":{"start":"2026-01-01"})"),
            bool_obs("issued", "systemic-therapy-failed", false, "",
                     R"(,"issued":"2026-02-01T10:00:00Z")")};
  EXPECT_EQ(extract_one(r2, "systemic-therapy-failed").truth, F);
}

TEST(LatestWins, TiesGoToTheLaterInInputOrder) {
  Record r{order("47383"), bool_obs("a", "metabolically-active", true, "2026-01-10"),
           bool_obs("b", "metabolically-active", false, "2026-01-10")};
  EXPECT_EQ(extract_one(r, "metabolically-active").truth, F);
  Record r2{order("47383"), bool_obs("b", "metabolically-active", false, "2026-01-10"),
            bool_obs("a", "metabolically-active", true, "2026-01-10")};
  EXPECT_EQ(extract_one(r2, "metabolically-active").truth, T);
}

TEST(ClosedWorld, AbsentMeansNo) {
  Record empty{order("47383")};
  Fact f = extract_one(empty, "awaiting-liver-transplant");
  EXPECT_EQ(f.truth, F);
  EXPECT_FALSE(f.notes.empty());
  EXPECT_EQ(extract_one(empty, "bridge-to-transplant").truth, F);
  EXPECT_EQ(extract_one(empty, "chronic-renal-insufficiency", "50593").truth, F);
  // Not closed-world: stays unknown.
  EXPECT_EQ(extract_one(empty, "extrahepatic-disease").truth, U);
}

TEST(ClosedWorld, ConditionOrObservationMakesItTrue) {
  Record z{order("47383"), condition("c1", kIcd, "Z76.82")};
  EXPECT_EQ(extract_one(z, "awaiting-liver-transplant").truth, T);
  Record obs{order("47383"), bool_obs("o1", "awaiting-liver-transplant", true, "2026-01-01")};
  EXPECT_EQ(extract_one(obs, "awaiting-liver-transplant").truth, T);
  Record n18{order("50593"), condition("c1", kIcd, "N18.4")};
  EXPECT_EQ(extract_one(n18, "chronic-renal-insufficiency", "50593").truth, T);
}

TEST(BridgeToTransplant, OrderReasonOrObservation) {
  Record reason{order(
      "47383",
      R"(,"reasonCode":[{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"bridge-to-transplant"}]}])")};
  Fact f = extract_one(reason, "bridge-to-transplant");
  EXPECT_EQ(f.truth, T);
  EXPECT_EQ(f.evidence[0].reference, "ServiceRequest/order-1");
  Record obs{order("47383"), bool_obs("o1", "bridge-to-transplant", true, "2026-01-01")};
  EXPECT_EQ(extract_one(obs, "bridge-to-transplant").truth, T);
  Record said_no{order("47383"), bool_obs("o1", "bridge-to-transplant", false, "2026-01-01")};
  EXPECT_EQ(extract_one(said_no, "bridge-to-transplant").truth, F);
}

TEST(ConditionBeatsObservation, ActiveConditionWinsAndConflictIsNoted) {
  Record r{order("47383"), condition("c1", kIcd, "C780"),
           bool_obs("o1", "extrahepatic-disease", false, "2026-03-01")};
  Fact f = extract_one(r, "extrahepatic-disease");
  EXPECT_EQ(f.truth, T);
  EXPECT_TRUE(has_note(f, "Conflict"));
  EXPECT_TRUE(has_note(f, "Condition/c1"));
  ASSERT_EQ(f.evidence.size(), 2u);
  EXPECT_EQ(f.evidence[0].reference, "Condition/c1");
  EXPECT_EQ(f.evidence[1].reference, "Observation/o1");
}

TEST(ExtrahepaticDisease, CodeFamiliesAndExclusions) {
  for (const char* code : {"C77.2", "C78.01", "C78.6", "C78.89", "C79.51", "C7B.03", "C7B09"}) {
    Record r{order("47383"), condition("c1", kIcd, code)};
    EXPECT_EQ(extract_one(r, "extrahepatic-disease").truth, T) << code;
  }
  for (const char* code : {"C78.7", "C7B.02", "C22.0"}) {  // liver itself: not extrahepatic
    Record r{order("47383"), condition("c1", kIcd, code)};
    EXPECT_EQ(extract_one(r, "extrahepatic-disease").truth, U) << code;
  }
  Record obs{order("47383"), bool_obs("o1", "extrahepatic-disease", false, "2026-03-01")};
  EXPECT_EQ(extract_one(obs, "extrahepatic-disease").truth, F);
}

TEST(Unresectable, CodedObservationFindingAndCondition) {
  Record un{order("47383"),
            coded_obs("o1", kCrit, "resectability", kCrit, "unresectable", "2026-01-01")};
  Fact f = extract_one(un, "unresectable");
  EXPECT_EQ(f.truth, T);
  EXPECT_NE(f.evidence[0].text.find("unresectable"), std::string::npos);
  Record res{order("47383"),
             coded_obs("o1", kCrit, "resectability", kCrit, "resectable", "2026-01-01")};
  EXPECT_EQ(extract_one(res, "unresectable").truth, F);
  Record finding{
      order("47383"),
      R"({"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"711361003"}]}})"};
  EXPECT_EQ(extract_one(finding, "unresectable").truth, T);
  Record cond{order("47383"), condition("c1", kSct, "711361003"),
              coded_obs("o1", kCrit, "resectability", kCrit, "resectable", "2026-03-01")};
  Fact c = extract_one(cond, "unresectable");
  EXPECT_EQ(c.truth, T);
  EXPECT_TRUE(has_note(c, "Conflict"));
  Record later_wins{order("47383"),
                    coded_obs("o1", kCrit, "resectability", kCrit, "resectable", "2026-01-01"),
                    coded_obs("o2", kCrit, "resectability", kCrit, "unresectable", "2026-02-01")};
  EXPECT_EQ(extract_one(later_wins, "unresectable").truth, T);
}

TEST(MetabolicallyActive, CarcinoidSyndromeCondition) {
  Record r{order("47383"), condition("c1", kIcd, "E34.0")};
  EXPECT_EQ(extract_one(r, "metabolically-active").truth, T);
  Record r2{order("47383"), bool_obs("o1", "metabolically-active", false, "2026-01-01")};
  EXPECT_EQ(extract_one(r2, "metabolically-active").truth, F);
}

TEST(MetastaticDisease, AnyC77ToC79) {
  Record r{order("50593"), condition("c1", kIcd, "C79.51")};
  EXPECT_EQ(extract_one(r, "metastatic-disease", "50593").truth, T);
  Record r2{order("50593"), bool_obs("o1", "metastatic-disease", false, "2026-01-01")};
  EXPECT_EQ(extract_one(r2, "metastatic-disease", "50593").truth, F);
  Record r3{order("50593")};
  EXPECT_EQ(extract_one(r3, "metastatic-disease", "50593").truth, U);
}

TEST(SoftTissueSarcoma, TrueFalseUnknown) {
  Record trunk{order("20983"), condition("c1", kIcd, "C49.4")};
  EXPECT_EQ(extract_one(trunk, "soft-tissue-sarcoma-trunk-extremity", "20983").truth, T);
  Record head{order("20983"), condition("c1", kIcd, "C49.0"), condition("c2", kIcd, "C49.8")};
  EXPECT_EQ(extract_one(head, "soft-tissue-sarcoma-trunk-extremity", "20983").truth, F);
  Record mixed{order("20983"), condition("c1", kIcd, "C49.0"), condition("c2", kIcd, "C49.2")};
  EXPECT_EQ(extract_one(mixed, "soft-tissue-sarcoma-trunk-extremity", "20983").truth, T);
  Record unspecified{order("20983"), condition("c1", kIcd, "C49.9")};
  EXPECT_EQ(extract_one(unspecified, "soft-tissue-sarcoma-trunk-extremity", "20983").truth, U);
  Record none{order("20983")};
  EXPECT_EQ(extract_one(none, "soft-tissue-sarcoma-trunk-extremity", "20983").truth, U);
}

TEST(Patient, OtherPatientsDataIsIgnored) {
  Record r{order("47383"), bool_obs("o1", "poor-surgical-candidate", true, "2026-01-01",
                                    R"(,"subject":{"reference":"Patient/someone-else"})")};
  EXPECT_EQ(extract_one(r, "poor-surgical-candidate").truth, U);
}

}  // namespace
}  // namespace cryo::mappings
