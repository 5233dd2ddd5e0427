// Florida Blue MCG 02-40000-22: unresectable OR poor surgical candidate; documentation within
// six months, assessed for covered and conditional results; FEP and SAO follow their own
// program guidelines.
#include <gtest/gtest.h>

#include "support.h"

namespace cryo::policies::testing {
namespace {

using mappings::Truth;

const char* kPayer = "florida-blue";

Documents all_documents() {
  Documents d;
  d.found("28626-0").found("18733-6").found("18776-5").found("18726-0").missing("27899-4");
  d.found("42126-3");
  return d;
}

const DocumentCheck* check(const Determination& d, std::string_view title_part) {
  for (const DocumentCheck& c : d.documents) {
    if (c.title.find(title_part) != std::string::npos) return &c;
  }
  return nullptr;
}

TEST(FloridaBlue, UnresectableIsCoveredWithoutPriorAuthorization) {
  for (const char* code : {"47371", "47381", "47383"}) {
    Facts f;
    f.tumor("hcc").yes("unresectable").no("poor-surgical-candidate");
    Determination d = decide(kPayer, "commercial", code, f, all_documents());
    EXPECT_EQ(d.covered, Covered::kCovered) << code;
    EXPECT_EQ(d.pa_needed, PaNeeded::kNoAuth);
    EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
    EXPECT_EQ(d.doc_purpose, DocPurpose::kAbsent);
    EXPECT_EQ(d.info_needed, InfoNeeded::kAbsent);
    EXPECT_EQ(d.basis, "criteria");
    EXPECT_EQ(d.policy_id, "florida-blue-02-40000-22");
    EXPECT_EQ(d.policy_revision, "2024-09-15");
    EXPECT_EQ(d.payer_name, "Florida Blue");
    EXPECT_FALSE(d.procedure.empty());
    EXPECT_TRUE(crd_consistent(d));
  }
}

TEST(FloridaBlue, PoorSurgicalCandidateAloneIsCovered) {
  Facts f;
  f.tumor("crc-liver-mets").no("unresectable").yes("poor-surgical-candidate");
  Determination d = decide(kPayer, "commercial", "47383", f, all_documents());
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(FloridaBlue, UnknownUnresectableButPoorCandidateIsCovered) {
  Facts f;
  f.tumor("other-liver-mets").yes("poor-surgical-candidate");
  Determination d = decide(kPayer, "commercial", "47381", f, all_documents());
  EXPECT_EQ(d.covered, Covered::kCovered);
}

TEST(FloridaBlue, NeitherCriterionIsNotCoveredWithoutPaOrDocuments) {
  Facts f;
  f.tumor("hcc").no("unresectable").no("poor-surgical-candidate");
  Determination d = decide(kPayer, "commercial", "47383", f, Documents{});
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_EQ(d.pa_needed, PaNeeded::kAbsent);
  EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kAbsent);
  EXPECT_TRUE(d.documents.empty()) << "documents are not assessed for not-covered results";
  ASSERT_FALSE(d.reasons.empty());
  EXPECT_TRUE(contains(d.reasons, "criteria not met")) << all_text(d.reasons);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(FloridaBlue, UnknownCriteriaAreConditionalNamingTheFactsToDocument) {
  Facts f;
  f.tumor("hcc");
  Determination d = decide(kPayer, "commercial", "47371", f, all_documents());
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_EQ(d.info_needed, InfoNeeded::kOther);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithClaim);
  EXPECT_EQ(d.pa_needed, PaNeeded::kNoAuth);
  ASSERT_EQ(d.missing_facts.size(), 2u);
  EXPECT_TRUE(contains(d.missing_facts, "cannot be resected"));
  EXPECT_TRUE(contains(d.missing_facts, "comorbid disease"));
  EXPECT_TRUE(contains(d.reasons, "cannot be resected")) << all_text(d.reasons);
  EXPECT_FALSE(d.documents.empty()) << "documentation is assessed for conditional results";
  EXPECT_TRUE(crd_consistent(d));
}

TEST(FloridaBlue, NoDiagnosisIsConditionalNeverAssumedFromTheOrder) {
  Facts f;
  f.yes("unresectable");
  Determination d = decide(kPayer, "commercial", "47383", f, all_documents());
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_TRUE(contains(d.missing_facts, "Diagnosis")) << all_text(d.missing_facts);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(FloridaBlue, UnspecifiedLiverMalignancyIsAnIndication) {
  Facts f;
  f.unspecified_liver_malignancy().yes("unresectable");
  EXPECT_EQ(decide(kPayer, "commercial", "47383", f, all_documents()).covered, Covered::kCovered);
  Facts g;
  g.metastases_unknown_primary().yes("unresectable");
  EXPECT_EQ(decide(kPayer, "commercial", "47383", g, all_documents()).covered, Covered::kCovered);
}

TEST(FloridaBlue, MissingDocumentsAskForClinicalDocumentationWithTheClaim) {
  Facts f;
  f.tumor("hcc").yes("unresectable");
  Documents docs;
  docs.found("28626-0", "2025-11-02").missing("18733-6").found("18776-5").missing("18726-0");
  docs.found("27899-4", "2025-12-24").missing("42126-3");
  Determination d = decide(kPayer, "commercial", "47383", f, docs);
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithClaim);
  EXPECT_EQ(d.pa_needed, PaNeeded::kNoAuth);
  ASSERT_EQ(d.documents.size(), 5u);
  const DocumentCheck* hp = check(d, "history and physical");
  ASSERT_NE(hp, nullptr);
  EXPECT_TRUE(hp->found);
  EXPECT_EQ(hp->date, "2025-11-02");
  EXPECT_FALSE(hp->reference.empty());
  const DocumentCheck* note = check(d, "visit note");
  ASSERT_NE(note, nullptr);
  EXPECT_FALSE(note->found);
  EXPECT_TRUE(note->required);
  const DocumentCheck* radiology = check(d, "Radiology");
  ASSERT_NE(radiology, nullptr);
  EXPECT_TRUE(radiology->found) << "a non-lab diagnostic study satisfies the radiology item";
  EXPECT_EQ(radiology->date, "2025-12-24");
  const DocumentCheck* comorbid = check(d, "Co-morbidities");
  ASSERT_NE(comorbid, nullptr);
  EXPECT_FALSE(comorbid->required) << "unresectable: the decision does not rest on comorbidity";
  EXPECT_TRUE(contains(d.reasons, "visit note")) << all_text(d.reasons);
  EXPECT_FALSE(contains(d.reasons, "Co-morbidities"));
  EXPECT_TRUE(crd_consistent(d));
}

TEST(FloridaBlue, ComorbidityDocumentRequiredWhenUnresectableIsFalseOrUnknown) {
  Documents docs;
  docs.found("28626-0").found("18733-6").found("18776-5").found("18726-0").missing("42126-3");
  for (Truth t : {Truth::kFalse, Truth::kUnknown}) {
    Facts f;
    f.tumor("hcc").set("unresectable", t).yes("poor-surgical-candidate");
    Determination d = decide(kPayer, "commercial", "47383", f, docs);
    EXPECT_EQ(d.covered, Covered::kCovered);
    const DocumentCheck* comorbid = check(d, "Co-morbidities");
    ASSERT_NE(comorbid, nullptr);
    EXPECT_TRUE(comorbid->required);
    EXPECT_FALSE(comorbid->found);
    EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
    EXPECT_EQ(d.doc_purpose, DocPurpose::kWithClaim);
  }
  Facts f;
  f.tumor("hcc").no("unresectable").yes("poor-surgical-candidate");
  Documents complete = docs;
  complete.found("42126-3");
  Determination d = decide(kPayer, "commercial", "47383", f, complete);
  EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
}

TEST(FloridaBlue, DocumentsOutsideTheWindowAreNamed) {
  Facts f;
  f.tumor("hcc").yes("unresectable");
  Documents docs = all_documents();
  docs.findings[0] = {"28626-0", false, "", "", {"DocumentReference/old (2024-01-02)"}};
  Determination d = decide(kPayer, "commercial", "47383", f, docs);
  const DocumentCheck* hp = check(d, "history and physical");
  ASSERT_NE(hp, nullptr);
  EXPECT_FALSE(hp->found);
  EXPECT_NE(hp->note.find("2024-01-02"), std::string::npos);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
}

TEST(FloridaBlue, FederalEmployeeAndStateAccountProgramsFollowTheirOwnGuidelines) {
  for (const char* lob : {"FEP", "SAO"}) {
    Facts f;
    f.tumor("hcc").yes("unresectable");
    Determination d = decide(kPayer, lob, "47383", f, all_documents());
    EXPECT_EQ(d.covered, Covered::kConditional) << lob;
    EXPECT_EQ(d.pa_needed, PaNeeded::kConditional);
    EXPECT_EQ(d.info_needed, InfoNeeded::kOther);
    EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
    EXPECT_EQ(d.doc_purpose, DocPurpose::kAbsent);
    EXPECT_EQ(d.basis, "line-of-business");
    EXPECT_EQ(d.line_of_business, lob);
    EXPECT_TRUE(d.sections.empty());
    EXPECT_TRUE(d.documents.empty());
    EXPECT_TRUE(contains(d.reasons, std::string(lob) + " guidelines")) << all_text(d.reasons);
    EXPECT_TRUE(crd_consistent(d));
  }
}

TEST(FloridaBlue, MedicareAdvantageAndOtherLinesFollowTheGuidelineCriteria) {
  for (const char* lob : {"medicare-advantage", "medicare", "medicaid", "commercial"}) {
    Facts f;
    f.tumor("hcc").no("unresectable").no("poor-surgical-candidate");
    Determination d = decide(kPayer, lob, "47371", f);
    EXPECT_EQ(d.covered, Covered::kNotCovered) << lob;
    EXPECT_EQ(d.basis, "criteria");
  }
  Facts f;
  f.tumor("hcc").yes("unresectable");
  Determination d = decide(kPayer, "medicare-advantage", "47371", f, all_documents());
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_TRUE(contains(d.notes, "NCD")) << all_text(d.notes);
}

TEST(FloridaBlue, RowsCarryObservedValuesAndEvidence) {
  Facts f;
  f.tumor("hcc").yes("unresectable").no("poor-surgical-candidate");
  Determination d = decide(kPayer, "commercial", "47371", f, all_documents());
  ASSERT_EQ(d.sections.size(), 1u);
  const SectionResult& s = d.sections[0];
  EXPECT_EQ(s.result, Truth::kTrue);
  ASSERT_EQ(s.rows.size(), 4u);  // indication, any, two leaves
  EXPECT_EQ(s.rows[0].role, "indication");
  EXPECT_EQ(s.rows[0].fact, "liver-tumor-type");
  EXPECT_EQ(s.rows[0].value, Truth::kTrue);
  EXPECT_EQ(s.rows[1].role, "criteria");
  EXPECT_EQ(s.rows[1].depth, 0);
  EXPECT_EQ(s.rows[2].depth, 1);
  EXPECT_EQ(s.rows[2].fact, "unresectable");
  EXPECT_EQ(s.rows[2].value, Truth::kTrue);
  EXPECT_EQ(s.rows[2].observed, "yes");
  ASSERT_EQ(s.rows[2].evidence.size(), 1u);
  EXPECT_EQ(s.rows[2].evidence[0].reference, "Observation/unresectable");
  EXPECT_EQ(s.rows[3].value, Truth::kFalse);
}

TEST(FloridaBlue, OnlyCryoablationCodesAreInScope) {
  const Payer& p = payer(kPayer);
  EXPECT_NE(library().policy_for(p, "47383"), nullptr);
  EXPECT_EQ(library().policy_for(p, "47382"), nullptr);  // radiofrequency
  EXPECT_EQ(library().policy_for(p, "55873"), nullptr);
}

}  // namespace
}  // namespace cryo::policies::testing
