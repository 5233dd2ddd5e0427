// PacificSource Liver Tumor Treatment, section IV: A (not awaiting transplant and one of the
// three indications) or B (bridge to transplant). Prior authorization with a documentation
// list whenever covered or conditional; Oregon Medicaid by code.
#include <gtest/gtest.h>

#include "support.h"

namespace cryo::policies::testing {
namespace {

using mappings::Truth;

const char* kPayer = "pacificsource";

Facts primary(const std::string& type) {
  Facts f;
  f.tumor(type).no("awaiting-liver-transplant").no("bridge-to-transplant");
  f.size_cm(5.0).count(3).yes("unresectable");
  return f;
}

Facts colorectal() {
  Facts f;
  f.tumor("crc-liver-mets").no("awaiting-liver-transplant").no("bridge-to-transplant");
  f.size_cm(5.0).count(5).yes("unresectable").no("extrahepatic-disease");
  return f;
}

Facts neuroendocrine() {
  Facts f;
  f.tumor("net-liver-mets").no("awaiting-liver-transplant").no("bridge-to-transplant");
  f.yes("systemic-therapy-failed").yes("unresectable");
  return f;
}

void expect_covered_with_pa(const Determination& d) {
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_EQ(d.pa_needed, PaNeeded::kAuthNeeded);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithPa);
  EXPECT_EQ(d.requested_documents.size(), 3u);
  EXPECT_TRUE(contains(d.requested_documents, "unresectable"));
  EXPECT_TRUE(contains(d.requested_documents, "size and number"));
  EXPECT_TRUE(crd_consistent(d));
}

TEST(PacificSource, PrimaryLiverTumorAtTheThresholdsIsCoveredWithPa) {
  for (const char* type : {"hcc", "icc"}) {
    for (const char* code : {"47371", "47381", "47383"}) {
      SCOPED_TRACE(std::string(type) + " " + code);
      expect_covered_with_pa(decide(kPayer, "commercial", code, primary(type)));
    }
  }
}

TEST(PacificSource, PrimaryLiverTumorThresholds) {
  Facts big = primary("hcc");
  big.size_cm(5.01);
  Determination d = decide(kPayer, "commercial", "47383", big);
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_EQ(d.pa_needed, PaNeeded::kAbsent);
  EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
  EXPECT_TRUE(d.requested_documents.empty());
  EXPECT_TRUE(crd_consistent(d));
  Facts many = primary("hcc");
  many.count(4);
  EXPECT_EQ(decide(kPayer, "commercial", "47383", many).covered, Covered::kNotCovered);
  Facts resectable = primary("icc");
  resectable.no("unresectable");
  EXPECT_EQ(decide(kPayer, "commercial", "47383", resectable).covered, Covered::kNotCovered);
}

TEST(PacificSource, ColorectalMetastasesAllowFiveLesionsButNoExtrahepaticDisease) {
  expect_covered_with_pa(decide(kPayer, "commercial", "47383", colorectal()));
  Facts six = colorectal();
  six.count(6);
  EXPECT_EQ(decide(kPayer, "commercial", "47383", six).covered, Covered::kNotCovered);
  Facts big = colorectal();
  big.size_cm(5.01);
  EXPECT_EQ(decide(kPayer, "commercial", "47383", big).covered, Covered::kNotCovered);
  Facts extra = colorectal();
  extra.yes("extrahepatic-disease");
  EXPECT_EQ(decide(kPayer, "commercial", "47383", extra).covered, Covered::kNotCovered);
}

TEST(PacificSource, NeuroendocrineMetastasesNeedFailedSystemicTherapy) {
  expect_covered_with_pa(decide(kPayer, "commercial", "47381", neuroendocrine()));
  Facts f = neuroendocrine();
  f.no("systemic-therapy-failed");
  EXPECT_EQ(decide(kPayer, "commercial", "47381", f).covered, Covered::kNotCovered);
  Facts r = neuroendocrine();
  r.no("unresectable");
  EXPECT_EQ(decide(kPayer, "commercial", "47381", r).covered, Covered::kNotCovered);
}

TEST(PacificSource, AwaitingTransplantExcludesAButBridgeIsB) {
  Facts waiting = primary("hcc");
  waiting.yes("awaiting-liver-transplant");
  Determination d = decide(kPayer, "commercial", "47383", waiting);
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_TRUE(contains(d.reasons, "awaiting")) << all_text(d.reasons);
  Facts bridge = waiting;
  bridge.yes("bridge-to-transplant").size_cm(8).count(7);
  expect_covered_with_pa(decide(kPayer, "commercial", "47383", bridge));
}

TEST(PacificSource, OtherMetastasesOnlyAsBridge) {
  Facts f;
  f.tumor("other-liver-mets").no("awaiting-liver-transplant").no("bridge-to-transplant");
  f.size_cm(2).count(1).yes("unresectable");
  EXPECT_EQ(decide(kPayer, "commercial", "47383", f).covered, Covered::kNotCovered);
  f.yes("bridge-to-transplant");
  expect_covered_with_pa(decide(kPayer, "commercial", "47383", f));
}

TEST(PacificSource, UnknownFactsAreConditionalWithPaAndDocuments) {
  Facts f = primary("hcc");
  f.set("unresectable", Truth::kUnknown);
  Determination d = decide(kPayer, "commercial", "47383", f);
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_EQ(d.info_needed, InfoNeeded::kOther);
  EXPECT_EQ(d.pa_needed, PaNeeded::kAuthNeeded);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithPa);
  EXPECT_EQ(d.requested_documents.size(), 3u);
  EXPECT_TRUE(contains(d.missing_facts, "unresectable")) << all_text(d.missing_facts);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(PacificSource, UnspecifiedLiverMalignancy) {
  Facts bridge;
  bridge.unspecified_liver_malignancy().no("awaiting-liver-transplant").yes("bridge-to-transplant");
  expect_covered_with_pa(decide(kPayer, "commercial", "47383", bridge));
  Facts f = primary("hcc");
  f.unspecified_liver_malignancy();
  Determination d = decide(kPayer, "commercial", "47383", f);
  EXPECT_EQ(d.covered, Covered::kConditional) << "primary or colorectal is not known";
  EXPECT_TRUE(contains(d.missing_facts, "Diagnosis")) << all_text(d.missing_facts);
}

TEST(PacificSource, MedicareFollowsTheCommercialCriteria) {
  for (const char* lob : {"medicare", "medicare-advantage"}) {
    Determination d = decide(kPayer, lob, "47383", primary("hcc"));
    expect_covered_with_pa(d);
    EXPECT_TRUE(contains(d.notes, "NCD")) << all_text(d.notes);
    Facts big = primary("hcc");
    big.size_cm(6);
    EXPECT_EQ(decide(kPayer, lob, "47383", big).covered, Covered::kNotCovered);
  }
}

TEST(PacificSource, OregonMedicaidPercutaneousIsNotCovered) {
  Determination d = decide(kPayer, "medicaid", "47383", primary("hcc"));
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_EQ(d.basis, "line-of-business");
  EXPECT_TRUE(contains(d.reasons, "Guideline Note 173")) << all_text(d.reasons);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(PacificSource, OregonMedicaidOpenAndLaparoscopicFollowOhpRules) {
  for (const char* code : {"47371", "47381"}) {
    Determination d = decide(kPayer, "medicaid", code, primary("hcc"));
    EXPECT_EQ(d.covered, Covered::kConditional) << code;
    EXPECT_EQ(d.pa_needed, PaNeeded::kConditional);
    EXPECT_EQ(d.info_needed, InfoNeeded::kOther);
    EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
    EXPECT_TRUE(d.requested_documents.empty());
    EXPECT_TRUE(contains(d.reasons, "OAR 410-120-1200")) << all_text(d.reasons);
    EXPECT_TRUE(crd_consistent(d));
  }
}

TEST(PacificSource, RadiofrequencyAndMicrowaveCodesAreOutOfScope) {
  const Payer& p = payer(kPayer);
  for (const char* code : {"47370", "47380", "47382", "37243"}) {
    EXPECT_EQ(library().policy_for(p, code), nullptr) << code;
  }
}

}  // namespace
}  // namespace cryo::policies::testing
