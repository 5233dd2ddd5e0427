// The settled reading rules (input contract, "General reading rules" and the tumor type row;
// reading guide, "Indication") and the shapes real EHRs send ("Shapes real EHRs send"), each
// read through the real mapping data.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>
#include <vector>

#include "test_support.h"

namespace cryo::mappings {
namespace {

using namespace testing;
constexpr Truth T = Truth::kTrue, F = Truth::kFalse, U = Truth::kUnknown;

const std::string kRelatedStu1 =
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-related-primary-cancer-condition";
const std::string kRelatedCore = "http://hl7.org/fhir/StructureDefinition/condition-related";

std::string link(const std::string& url, const std::string& target) {
  return R"(,"extension":[{"url":")" + url + R"(","valueReference":{"reference":")" + target +
         R"("}}])";
}
std::string status(const std::string& clinical, const std::string& verification = "") {
  std::string s =
      R"(,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":")" +
      clinical + R"("}]})";
  if (!verification.empty()) {
    s +=
        R"(,"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":")" +
        verification + R"("}]})";
  }
  return s;
}
// An unfocused size observation with any effective[x] text.
std::string size_at(const std::string& id, double cm, const std::string& effective_json) {
  std::string s = size_obs(id, cm, "cm", "");
  s.pop_back();
  return s + "," + effective_json + "}";
}
Truth type(const Fact& f, const std::string& member) {
  auto it = f.categories.find(member);
  return it == f.categories.end() ? U : it->second;
}

// ---- "latest": end of the range, then its start, then input order ----

TEST(Latest, EqualEndsOrderByStart) {
  // 3.0 cm on 2026-08-31 and 6.0 cm dated 2026-08 end together: the day starts later.
  for (bool day_first : {true, false}) {
    std::string day = size_at("day", 3.0, R"("effectiveDateTime":"2026-08-31")");
    std::string month = size_at("month", 6.0, R"("effectiveDateTime":"2026-08")");
    Record r = day_first ? Record{order("47383"), day, month} : Record{order("47383"), month, day};
    Fact f = extract_one(r, "largest-liver-lesion");
    ASSERT_TRUE(f.measure) << day_first;
    EXPECT_DOUBLE_EQ(f.measure->high, 3.0) << day_first;
    EXPECT_EQ(f.evidence[0].reference, "Observation/day");
  }
}

TEST(Latest, AWholeYearIsLaterThanADayInIt) {
  Record r{order("47383"), size_at("year", 2.0, R"("effectiveDateTime":"2026")"),
           size_at("day", 4.0, R"("effectiveDateTime":"2026-11-09")")};
  EXPECT_DOUBLE_EQ(extract_one(r, "largest-liver-lesion").measure->high, 2.0);
}

TEST(Latest, AnInstantAtNoonIsEarlierThanItsWholeDay) {
  for (bool noon_last : {true, false}) {
    std::string noon = size_at("noon", 2.0, R"("effectiveDateTime":"2026-08-13T12:00:00Z")");
    std::string day = size_at("day", 4.0, R"("effectiveDateTime":"2026-08-13")");
    Record r = noon_last ? Record{order("47383"), day, noon} : Record{order("47383"), noon, day};
    EXPECT_DOUBLE_EQ(extract_one(r, "largest-liver-lesion").measure->high, 4.0) << noon_last;
  }
}

TEST(Latest, TimesCompareToTheSecondThenInputOrder) {
  // Fractions are ignored: the same second is a tie, and the later in input order wins.
  Record a{order("47383"),
           size_at("first", 2.0, R"("effectiveDateTime":"2026-08-13T12:00:00.900Z")"),
           size_at("second", 4.0, R"("effectiveDateTime":"2026-08-13T12:00:00.100Z")")};
  EXPECT_DOUBLE_EQ(extract_one(a, "largest-liver-lesion").measure->high, 4.0);
  Record b{order("47383"),
           size_at("first", 4.0, R"("effectiveDateTime":"2026-08-13T12:00:00.100Z")"),
           size_at("second", 2.0, R"("effectiveDateTime":"2026-08-13T12:00:00.900Z")")};
  EXPECT_DOUBLE_EQ(extract_one(b, "largest-liver-lesion").measure->high, 2.0);
  // One second later is later, whatever the input order.
  Record c{order("47383"), size_at("later", 2.0, R"("effectiveDateTime":"2026-08-13T12:00:01Z")"),
           size_at("earlier", 4.0, R"("effectiveDateTime":"2026-08-13T12:00:00.999Z")")};
  EXPECT_DOUBLE_EQ(extract_one(c, "largest-liver-lesion").measure->high, 2.0);
}

TEST(Latest, PeriodsOrderByEndThenStart) {
  Record r{order("47383"),
           size_at("short", 2.0, R"("effectivePeriod":{"start":"2026-08-20","end":"2026-08-31"})"),
           size_at("long", 4.0, R"("effectivePeriod":{"start":"2026-08-01","end":"2026-08-31"})")};
  EXPECT_DOUBLE_EQ(extract_one(r, "largest-liver-lesion").measure->high, 4.0)
      << "a Period counts by its end (the same instant), then input order";
  Record bool_tie{order("47383"), bool_obs("a", "poor-surgical-candidate", true, "2026-08-31"),
                  bool_obs("b", "poor-surgical-candidate", false, "2026-08")};
  EXPECT_EQ(extract_one(bool_tie, "poor-surgical-candidate").truth, T);
}

// ---- tumor type ----

TEST(TumorType, ALessSpecificDiagnosisYieldsToADefiniteOne) {
  for (std::string vague : {"C22.9", "C22.8", "C78.7"}) {
    Record r{condition("hcc", kIcd, "C22.0"), condition("vague", kIcd, vague)};
    Fact f = extract_one(r, "liver-tumor-type");
    EXPECT_EQ(type(f, "hcc"), T) << vague;
    for (const char* m :
         {"icc", "crc-liver-mets", "net-liver-mets", "other-liver-mets", "other-primary-liver"}) {
      EXPECT_EQ(type(f, m), F) << vague << " " << m;
    }
    EXPECT_TRUE(has_note(f, "less specific")) << vague;
  }
}

TEST(TumorType, SeveralCandidatePrimariesWithoutALinkLeaveEachUnknown) {
  Record r{condition("mets", kIcd, "C78.7"), condition("colon", kIcd, "C18.7"),
           condition("breast", kIcd, "C50.911")};
  Fact f = extract_one(r, "liver-tumor-type");
  EXPECT_EQ(type(f, "crc-liver-mets"), U);
  EXPECT_EQ(type(f, "other-liver-mets"), U);
  EXPECT_EQ(type(f, "net-liver-mets"), F);
  EXPECT_EQ(type(f, "hcc"), F);
  EXPECT_TRUE(has_note(f, "several active primary cancers"));
}

TEST(TumorType, ALinkedPrimaryCountsEvenWhenResolvedUnderEitherLinkExtension) {
  for (const std::string& url : {kRelatedStu1, kRelatedCore}) {
    Record r{condition("mets", kIcd, "C78.7", link(url, "Condition/colon")),
             condition("colon", kIcd, "C18.7", status("resolved")),
             condition("breast", kIcd, "C50.911")};
    Fact f = extract_one(r, "liver-tumor-type");
    EXPECT_EQ(type(f, "crc-liver-mets"), T) << url;
    EXPECT_EQ(type(f, "other-liver-mets"), F) << url;
    ASSERT_FALSE(f.evidence.empty());
    EXPECT_NE(f.evidence[0].text.find("related primary"), std::string::npos);
    EXPECT_EQ(f.evidence[0].code, "C78.7");
  }
  // A refuted primary is not a link.
  Record refuted{condition("mets", kIcd, "C78.7", link(kRelatedCore, "Condition/colon")),
                 condition("colon", kIcd, "C18.7", status("active", "refuted"))};
  EXPECT_EQ(type(extract_one(refuted, "liver-tumor-type"), "crc-liver-mets"), U);
}

TEST(TumorType, ALiverMalignancyIsNeverTheOriginOfLiverMetastases) {
  // Linked to a C22: the primary is not recognised, the origin stays unknown.
  Record linked{condition("mets", kIcd, "C78.7", link(kRelatedCore, "Condition/icc")),
                condition("icc", kIcd, "C22.1", status("resolved"))};
  Fact f = extract_one(linked, "liver-tumor-type");
  EXPECT_EQ(type(f, "other-liver-mets"), U);
  EXPECT_EQ(type(f, "crc-liver-mets"), U);
  EXPECT_TRUE(has_note(f, "never their origin"));
  // Beside an active C22.0 and a colon primary: the colon cancer is the only candidate.
  Record beside{condition("mets", kIcd, "C78.7"), condition("hcc", kIcd, "C22.0"),
                condition("colon", kIcd, "C18.7")};
  Fact g = extract_one(beside, "liver-tumor-type");
  EXPECT_EQ(type(g, "crc-liver-mets"), T);
  EXPECT_EQ(type(g, "other-liver-mets"), F);
  EXPECT_EQ(type(g, "hcc"), T);
}

TEST(TumorType, OtherPrimaryLiverMalignancies) {
  Fact c228 = extract_one(Record{condition("c", kIcd, "C22.8")}, "liver-tumor-type");
  EXPECT_EQ(type(c228, "hcc"), U);
  EXPECT_EQ(type(c228, "icc"), U);
  EXPECT_EQ(type(c228, "other-primary-liver"), U);
  EXPECT_EQ(type(c228, "crc-liver-mets"), F);
  EXPECT_EQ(type(c228, "other-liver-mets"), F);
  for (std::string code : {"C22.2", "C22.3", "C22.4", "C22.7"}) {
    Fact f = extract_one(Record{condition("c", kIcd, code)}, "liver-tumor-type");
    EXPECT_EQ(type(f, "other-primary-liver"), T) << code;
    EXPECT_EQ(type(f, "hcc"), F) << code;
    EXPECT_EQ(type(f, "net-liver-mets"), F) << code;
  }
}

TEST(TumorType, PostCoordinatedMcodeDiagnoses) {
  const std::string hcc_shape =
      R"(,"extension":[{"url":"http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior","valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"25370001"}]}}],"bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"10200004"}]}])";
  Fact f = extract_one(Record{condition("pc", kSct, "363346000", hcc_shape)}, "liver-tumor-type");
  EXPECT_EQ(type(f, "hcc"), T);
  EXPECT_EQ(type(f, "icc"), F);
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].code, "363346000");
  // Without the morphology it says no more than "a cancer": no liver diagnosis.
  Fact bare = extract_one(Record{condition("pc", kSct, "363346000")}, "liver-tumor-type");
  EXPECT_EQ(type(bare, "hcc"), U);
  EXPECT_TRUE(bare.evidence.empty());
  // Secondary malignant neoplastic disease in the liver is liver metastases.
  const std::string liver_site =
      R"(,"bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"48521005"}]}])";
  Fact mets = extract_one(
      Record{condition("m", kSct, "128462008", liver_site), condition("colon", kIcd, "C18.7")},
      "liver-tumor-type");
  EXPECT_EQ(type(mets, "crc-liver-mets"), T);
}

TEST(TumorType, Icd10ByOidIsIcd10) {
  for (std::string code : {"C22.0", "C220"}) {
    Fact f = extract_one(Record{condition("c", "urn:oid:2.16.840.1.113883.6.90", code)},
                         "liver-tumor-type");
    EXPECT_EQ(type(f, "hcc"), T) << code;
  }
}

TEST(TumorType, AConditionCodedOnlyInLocalCodesIsNamedNotIgnored) {
  Fact f =
      extract_one(Record{condition("dx", "urn:oid:1.2.840.114350.1.13.0.1.7.2.696871", "1234567")},
                  "liver-tumor-type");
  EXPECT_EQ(type(f, "hcc"), U);
  EXPECT_TRUE(has_note(f, "Condition/dx"));
  EXPECT_TRUE(has_note(f, "cannot read"));
  // A Condition in a system the service reads is simply not a liver diagnosis: no note.
  Fact g = extract_one(Record{condition("htn", kIcd, "I10")}, "liver-tumor-type");
  EXPECT_TRUE(g.notes.empty());
}

// ---- unconfirmed diagnoses ----

TEST(Unconfirmed, AProvisionalDiagnosisDoesNotEstablishItsType) {
  for (std::string v : {"provisional", "differential", "unconfirmed"}) {
    Fact f =
        extract_one(Record{condition("c", kIcd, "C22.0", status("active", v))}, "liver-tumor-type");
    for (const char* m : {"hcc", "icc", "crc-liver-mets"}) EXPECT_EQ(type(f, m), U) << v << m;
    EXPECT_TRUE(f.evidence.empty()) << v;
    EXPECT_TRUE(has_note(f, "confirm the diagnosis")) << v;
  }
  // Confirmed, or without verificationStatus, counts as before.
  Fact confirmed = extract_one(Record{condition("c", kIcd, "C22.0", status("active", "confirmed"))},
                               "liver-tumor-type");
  EXPECT_EQ(type(confirmed, "hcc"), T);
  // Beside a confirmed diagnosis, the provisional one's type is unknown, not true.
  Fact both = extract_one(Record{condition("c", kIcd, "C22.0"),
                                 condition("p", kIcd, "C7B.02", status("active", "provisional"))},
                          "liver-tumor-type");
  EXPECT_EQ(type(both, "hcc"), T);
  EXPECT_EQ(type(both, "net-liver-mets"), U);
}

TEST(Unconfirmed, ClosedWorldAndBooleanFactsBecomeUnknown) {
  Record waiting{condition("z", kIcd, "Z76.82", status("active", "provisional"))};
  Fact w = extract_one(waiting, "awaiting-liver-transplant");
  EXPECT_EQ(w.truth, U) << "closed-world facts too";
  EXPECT_TRUE(has_note(w, "confirm the diagnosis"));
  ASSERT_FALSE(w.evidence.empty());
  EXPECT_EQ(w.evidence[0].reference, "Condition/z");
  Record ckd{condition("n", kIcd, "N18.3", status("active", "differential"))};
  EXPECT_EQ(extract_one(ckd, "chronic-renal-insufficiency", "50593").truth, U);
  Record brain{condition("b", kSct, "94225005", status("active", "provisional"))};
  EXPECT_EQ(extract_one(brain, "extrahepatic-disease").truth, U);
  // A confirmed Observation still decides.
  Record obs{condition("b", kSct, "94225005", status("active", "provisional")),
             bool_obs("e", "extrahepatic-disease", true, "2026-01-01")};
  EXPECT_EQ(extract_one(obs, "extrahepatic-disease").truth, T);
}

// ---- extrahepatic and metastatic disease in SNOMED ----

TEST(Extrahepatic, SnomedSecondaryNeoplasmsOutsideTheLiver) {
  for (std::string code : {"94225005", "94391008", "94222008"}) {
    Fact f = extract_one(Record{condition("c", kSct, code)}, "extrahepatic-disease");
    EXPECT_EQ(f.truth, T) << code;
    ASSERT_FALSE(f.evidence.empty());
    EXPECT_EQ(f.evidence[0].system, std::string(kSct));
    EXPECT_EQ(f.evidence[0].code, code);
  }
  const std::string lung =
      R"(,"bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"39607008"}]}])";
  EXPECT_EQ(
      extract_one(Record{condition("c", kSct, "128462008", lung)}, "extrahepatic-disease").truth,
      T);
  // The liver's own secondary is not extrahepatic disease ...
  EXPECT_EQ(extract_one(Record{condition("c", kSct, "94381002")}, "extrahepatic-disease").truth, U);
  // ... but is metastatic disease for the non-liver sections.
  EXPECT_EQ(
      extract_one(Record{condition("c", kSct, "94381002")}, "metastatic-disease", "50593").truth,
      T);
  EXPECT_EQ(
      extract_one(Record{condition("c", kSct, "94225005")}, "metastatic-disease", "20983").truth,
      T);
}

// ---- lesion locations ----

TEST(Lesions, LobesAndSidesCountAsTheOrgan) {
  Record liver{order("47383"), body_structure("l1", "48521005"),
               size_obs("s1", 62, "mm", "2026-02-01", "BodyStructure/l1")};
  Fact f = extract_one(liver, "largest-liver-lesion");
  ASSERT_TRUE(f.measure);
  EXPECT_DOUBLE_EQ(f.measure->high, 6.2);
  EXPECT_EQ(f.evidence[0].code, "21889-1");
  for (std::string side : {"9846003", "18639004"}) {
    Record kidney{order("50593"), body_structure("k1", side),
                  size_obs("s1", 3.1, "cm", "2026-02-01", "BodyStructure/k1")};
    Fact k = extract_one(kidney, "largest-kidney-lesion", "50593");
    ASSERT_TRUE(k.measure) << side;
    EXPECT_DOUBLE_EQ(k.measure->high, 3.1);
  }
}

TEST(Lesions, AnUnplacedLesionIsNeverDroppedFromSize) {
  // 2 cm in segment IV, 6.2 cm at a location the service cannot place (123037004 "Body
  // structure": too general to put in or outside the liver).
  Record r{order("47383"), body_structure("l1", "277958008"), body_structure("x", "123037004"),
           size_obs("s1", 2.0, "cm", "2026-02-01", "BodyStructure/l1"),
           size_obs("s2", 62, "mm", "2026-02-01", "BodyStructure/x")};
  Fact f = extract_one(r, "largest-liver-lesion");
  ASSERT_TRUE(f.measure);
  EXPECT_DOUBLE_EQ(f.measure->low, 2.0);
  EXPECT_DOUBLE_EQ(f.measure->high, 6.2);
  EXPECT_EQ(compare(f.measure, Comparison::kLessOrEqual, 5), U);
  EXPECT_EQ(compare(f.measure, Comparison::kLessOrEqual, 7), T);
  EXPECT_TRUE(has_note(f, "BodyStructure/x"));
  EXPECT_TRUE(has_note(f, "cannot place"));
  EXPECT_EQ(f.evidence.size(), 2u);
  // A smaller unplaced lesion changes nothing, and says so.
  Record small{order("47383"), body_structure("l1", "10200004"), body_structure("x", "123037004"),
               size_obs("s1", 4.0, "cm", "2026-02-01", "BodyStructure/l1"),
               size_obs("s2", 1.0, "cm", "2026-02-01", "BodyStructure/x")};
  Fact g = extract_one(small, "largest-liver-lesion");
  ASSERT_TRUE(g.measure);
  EXPECT_TRUE(g.measure->is_point());
  EXPECT_TRUE(has_note(g, "does not change it"));
  // Only an unplaced lesion: not determined (never "no lesion").
  Record only{order("47383"), body_structure("x", "123037004"),
              size_obs("s2", 62, "mm", "2026-02-01", "BodyStructure/x")};
  Fact h = extract_one(only, "largest-liver-lesion");
  EXPECT_FALSE(h.measure);
  EXPECT_TRUE(has_note(h, "BodyStructure/x"));
  // A lesion placed in another organ is another organ's.
  Record lung{order("47383"), body_structure("l1", "10200004"), body_structure("p", "39607008"),
              size_obs("s1", 2.0, "cm", "2026-02-01", "BodyStructure/l1"),
              size_obs("s2", 62, "mm", "2026-02-01", "BodyStructure/p")};
  EXPECT_TRUE(extract_one(lung, "largest-liver-lesion").measure->is_point());
}

TEST(Lesions, AnUnfocusedMeasurementIsPlacedByItsBodySite) {
  auto at = [](const std::string& id, double cm, const std::string& site) {
    std::string o = size_obs(id, cm, "cm", "2026-02-01");
    o.pop_back();
    return o + R"(,"bodySite":{"coding":[{"system":"http://snomed.info/sct","code":")" + site +
           R"("}]}})";
  };
  Record lung{order("47383"), at("liver", 2.0, "10200004"), at("lung", 6.0, "39607008")};
  Fact f = extract_one(lung, "largest-liver-lesion");
  ASSERT_TRUE(f.measure);
  EXPECT_TRUE(f.measure->is_point());
  EXPECT_DOUBLE_EQ(f.measure->high, 2.0);
  Record unplaced{order("47383"), at("liver", 2.0, "10200004"), at("x", 6.0, "123037004")};
  Fact g = extract_one(unplaced, "largest-liver-lesion");
  ASSERT_TRUE(g.measure);
  EXPECT_DOUBLE_EQ(g.measure->high, 6.0);
  EXPECT_EQ(compare(g.measure, Comparison::kLessOrEqual, 5), U);
  EXPECT_TRUE(has_note(g, "Observation/x"));
  // Unfocused measurements never add to a count.
  EXPECT_FALSE(extract_one(unplaced, "liver-lesion-count").measure.has_value());
}

TEST(Lesions, AnUnplacedLesionMakesTheCountItCouldChangeUnknown) {
  Record r{order("47383"), body_structure("l1", "10200004"), body_structure("x", "123037004"),
           size_obs("s1", 2.0, "cm", "2026-02-01", "BodyStructure/l1"),
           size_obs("s2", 1.0, "cm", "2026-02-01", "BodyStructure/x")};
  Fact f = extract_one(r, "liver-lesion-count");
  ASSERT_TRUE(f.measure);
  EXPECT_DOUBLE_EQ(f.measure->low, 1);
  EXPECT_DOUBLE_EQ(f.measure->high, 2);
  EXPECT_EQ(compare(f.measure, Comparison::kLess, 2), U);
  EXPECT_EQ(compare(f.measure, Comparison::kLessOrEqual, 3), T);
  EXPECT_TRUE(has_note(f, "BodyStructure/x"));
  // An explicit count stays the clinician's statement.
  Record counted{
      order("47383"), body_structure("x", "123037004"),
      size_obs("s2", 1.0, "cm", "2026-02-01", "BodyStructure/x"),
      R"({"resourceType":"Observation","id":"n","status":"final","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"hepatic-lesion-count"}]},"valueInteger":1})"};
  EXPECT_TRUE(extract_one(counted, "liver-lesion-count").measure->is_point());
}

// ---- documents ----

TEST(Documents, ARadiologyCategoryReportCountsAsADiagnosticImagingStudy) {
  const std::string report =
      R"({"resourceType":"DiagnosticReport","id":"ct","status":"final","subject":{"reference":"Patient/p1"},"category":[{"coding":[{"system":"http://loinc.org","code":"LP29684-5"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"24627-2"}]},"effectiveDateTime":"2026-03-01"})";
  const std::string rad_v2 =
      R"({"resourceType":"DiagnosticReport","id":"mr","status":"amended","subject":{"reference":"Patient/p1"},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"RAD"}]}],"code":{"text":"MRI abdomen"},"effectiveDateTime":"2026-03-02"})";
  const std::string lab =
      R"({"resourceType":"DiagnosticReport","id":"lab","status":"final","subject":{"reference":"Patient/p1"},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"24627-2"}]},"effectiveDateTime":"2026-03-03"})";
  auto window = fhir::months_before(*fhir::parse_fhir_date("2026-03-31"), 6);
  std::vector<std::string> codes{"18748-4"};
  for (const auto& [doc, ref] : std::vector<std::pair<std::string, std::string>>{
           {report, "DiagnosticReport/ct"}, {rad_v2, "DiagnosticReport/mr"}}) {
    Record r{doc};
    auto found = real_mappings().find_documents(r.index(), codes, window, "p1");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_TRUE(found[0].found) << ref;
    EXPECT_EQ(found[0].reference, ref);
  }
  Record l{lab};
  EXPECT_FALSE(real_mappings().find_documents(l.index(), codes, window, "p1")[0].found);
}

// ---- queries ----

TEST(Prefetch, ObservationsAreAskedByTheCodesTheMappingsRead) {
  std::string query;
  for (const auto& t : real_mappings().prefetch_templates()) {
    if (t.query.starts_with("Observation?")) {
      EXPECT_TRUE(query.empty()) << "one Observation template";
      query = t.query;
    }
  }
  ASSERT_FALSE(query.empty());
  EXPECT_NE(query.find("&code="), std::string::npos);
  for (const char* token : {"http://loinc.org|21889-1", "http://loinc.org|33728-7",
                            "http://loinc.org|2857-1", "http://snomed.info/sct|711361003",
                            "http://cryocrd.org/fhir/CodeSystem/criteria|hepatic-lesion-count",
                            "http://cryocrd.org/fhir/CodeSystem/criteria|resectability",
                            "http://cryocrd.org/fhir/CodeSystem/criteria|bridge-to-transplant"}) {
    EXPECT_NE(query.find(token), std::string::npos) << token;
  }
  EXPECT_EQ(query.find("urn:oid:"), std::string::npos) << "each code once, by its URL";
  EXPECT_EQ(query.find("crit:"), std::string::npos);
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Copies the real data, applies the edits, loads it.
Result<MappingSet> load_edited(
    const std::vector<std::tuple<std::string, std::string, std::string>>& edits) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("cryo-mappings-rr-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(source_dir() + "/mappings/data")) {
    fs::copy_file(e.path(), dir / e.path().filename());
  }
  for (const auto& [file, from, to] : edits) {
    std::string text = read(dir / file);
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    std::ofstream(dir / file, std::ios::trunc) << text;
  }
  auto r = MappingSet::load(dir);
  fs::remove_all(dir);
  return r;
}

TEST(Prefetch, ANewCodeReachesTheQueryByItselfAndABareSearchIsRefused) {
  auto added = load_edited({{"facts-liver.json", R"("codes": ["crit:location-accessible"])",
                             R"("codes": ["crit:location-accessible", "loinc:99999-9"])"}});
  ASSERT_TRUE(added.ok()) << added.error().to_string();
  bool seen = false;
  for (const auto& t : added->prefetch_templates()) {
    seen = seen || t.query.find("http://loinc.org|99999-9") != std::string::npos;
  }
  EXPECT_TRUE(seen);
  auto bare = load_edited({{"prefetch.json", R"(, "codes_read": "Observation")", ""}});
  ASSERT_FALSE(bare.ok());
  EXPECT_TRUE(bare.error().where.find("prefetch.json:") != std::string::npos &&
              bare.error().where.ends_with(": prefetch[3].query"))
      << bare.error().where;
  EXPECT_NE(bare.error().message.find("Epic"), std::string::npos);
}

TEST(Prefetch, OptionalIsTrueOrFalse) {
  auto wrong = load_edited({{"prefetch.json", R"("optional": true)", R"("optional": "yes")"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(wrong.error().where.find("prefetch.json:") != std::string::npos &&
              wrong.error().where.ends_with(": prefetch[7].optional"))
      << wrong.error().where;
  EXPECT_NE(wrong.error().message.find("true or false"), std::string::npos);
}

}  // namespace
}  // namespace cryo::mappings
