// Medical Mutual Corporate Medical Policy 200802: HCC "(A or B) and C and D and E" for 47371
// and 47381; neuroendocrine liver metastases for 47381 and 47383; prostate (55873), renal
// (50250, 50593, PA) and bone/soft tissue (20983, PA). All lines of business alike.
#include <gtest/gtest.h>

#include "support.h"

namespace cryo::policies::testing {
namespace {

using mappings::Truth;

const char* kPayer = "medical-mutual";

// HCC meeting every criterion through A (unresectable) at the thresholds' edges.
Facts hcc_met() {
  Facts f;
  f.tumor("hcc").yes("unresectable").no("poor-surgical-candidate").no("ablatable-with-margin");
  f.yes("location-accessible").size_cm(5.0).count(3);
  return f;
}

TEST(MedicalMutualHcc, AllCriteriaAtTheThresholdsAreCovered) {
  for (const char* code : {"47371", "47381"}) {
    Determination d = decide(kPayer, "commercial", code, hcc_met());
    EXPECT_EQ(d.covered, Covered::kCovered) << code;
    EXPECT_EQ(d.pa_needed, PaNeeded::kNoAuth);
    EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent)
        << "the policy lists no documentation for the liver";
    EXPECT_TRUE(crd_consistent(d));
  }
}

TEST(MedicalMutualHcc, LargestLesionAboveFiveCentimetresIsNotCovered) {
  Facts f = hcc_met();
  f.size_cm(5.01);
  Determination d = decide(kPayer, "commercial", "47371", f);
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_TRUE(contains(d.reasons, "5 cm")) << all_text(d.reasons);
  EXPECT_TRUE(contains(d.reasons, "5.01")) << all_text(d.reasons);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(MedicalMutualHcc, FourLesionsAreNotCovered) {
  Facts f = hcc_met();
  f.count(4);
  EXPECT_EQ(decide(kPayer, "commercial", "47371", f).covered, Covered::kNotCovered);
}

TEST(MedicalMutualHcc, AOrBEitherSuffices) {
  Facts poor = hcc_met();
  poor.no("unresectable").yes("poor-surgical-candidate");
  EXPECT_EQ(decide(kPayer, "commercial", "47371", poor).covered, Covered::kCovered);
  Facts ablatable = hcc_met();
  ablatable.no("unresectable").yes("ablatable-with-margin");
  EXPECT_EQ(decide(kPayer, "commercial", "47371", ablatable).covered, Covered::kCovered);
  Facts neither = hcc_met();
  neither.no("unresectable");
  Determination d = decide(kPayer, "commercial", "47371", neither);
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(MedicalMutualHcc, ANotEnoughWithoutCDAndE) {
  // The literal reading would cover a 10 cm, eight-lesion tumor on A alone.
  Facts f = hcc_met();
  f.size_cm(10).count(8);
  EXPECT_EQ(decide(kPayer, "commercial", "47371", f).covered, Covered::kNotCovered);
  Facts g = hcc_met();
  g.no("location-accessible");
  EXPECT_EQ(decide(kPayer, "commercial", "47371", g).covered, Covered::kNotCovered);
}

TEST(MedicalMutualHcc, SizeBoundsDecideOnlyWhenTheBoundSettlesIt) {
  Facts below = hcc_met();
  below.measure("largest-liver-lesion", fhir::Interval{-INFINITY, 5, false, false}, "cm");  // <5
  EXPECT_EQ(decide(kPayer, "commercial", "47371", below).covered, Covered::kCovered);
  Facts wide = hcc_met();
  wide.measure("largest-liver-lesion", fhir::Interval{-INFINITY, 6, false, false}, "cm");  // <6
  Determination d = decide(kPayer, "commercial", "47371", wide);
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_TRUE(contains(d.missing_facts, "5 cm")) << all_text(d.missing_facts);
  Facts above = hcc_met();
  above.measure("largest-liver-lesion", fhir::Interval{5, INFINITY, false, false}, "cm");  // >5
  EXPECT_EQ(decide(kPayer, "commercial", "47371", above).covered, Covered::kNotCovered);
}

TEST(MedicalMutualHcc, UnknownSizeIsConditional) {
  Facts f;
  f.tumor("hcc").yes("unresectable").yes("location-accessible").count(1);
  Determination d = decide(kPayer, "commercial", "47381", f);
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_EQ(d.info_needed, InfoNeeded::kOther);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithClaim);
  EXPECT_EQ(d.pa_needed, PaNeeded::kNoAuth);
  ASSERT_EQ(d.missing_facts.size(), 1u) << all_text(d.missing_facts);
  EXPECT_TRUE(contains(d.missing_facts, "5 cm"));
  EXPECT_TRUE(crd_consistent(d));
}

TEST(MedicalMutualHcc, PercutaneousCodeIsNotListedForHcc) {
  Determination d = decide(kPayer, "commercial", "47383", hcc_met());
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_TRUE(contains(d.reasons, "47383 is not listed for Hepatocellular carcinoma"))
      << all_text(d.reasons);
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_FALSE(d.sections[0].code_listed);
  EXPECT_EQ(d.sections[0].result, Truth::kFalse);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(MedicalMutualNet, UnresectableAndNearCompleteTreatmentIsCovered) {
  for (const char* code : {"47381", "47383"}) {
    Facts f;
    f.tumor("net-liver-mets").yes("unresectable").yes("near-complete-treatment");
    EXPECT_EQ(decide(kPayer, "commercial", code, f).covered, Covered::kCovered) << code;
  }
}

TEST(MedicalMutualNet, LaparoscopicCodeIsNotListed) {
  Facts f;
  f.tumor("net-liver-mets").yes("unresectable").yes("near-complete-treatment");
  Determination d = decide(kPayer, "commercial", "47371", f);
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_TRUE(contains(d.reasons, "47371 is not listed for Neuroendocrine")) << all_text(d.reasons);
}

TEST(MedicalMutualNet, CriteriaBranches) {
  Facts resectable;
  resectable.tumor("net-liver-mets").no("unresectable").yes("near-complete-treatment");
  EXPECT_EQ(decide(kPayer, "commercial", "47383", resectable).covered, Covered::kNotCovered);
  Facts partial;
  partial.tumor("net-liver-mets").yes("unresectable").no("near-complete-treatment");
  EXPECT_EQ(decide(kPayer, "commercial", "47383", partial).covered, Covered::kNotCovered);
  Facts unknown;
  unknown.tumor("net-liver-mets").yes("unresectable");
  Determination d = decide(kPayer, "commercial", "47383", unknown);
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_TRUE(contains(d.missing_facts, "Near-complete"));
}

TEST(MedicalMutualLiver, OtherIndicationsAreNotAmongTheCoveredIndications) {
  for (const char* type : {"crc-liver-mets", "other-liver-mets", "icc"}) {
    Facts f = hcc_met();
    f.tumor(type).yes("near-complete-treatment");
    Determination d = decide(kPayer, "commercial", "47381", f);
    EXPECT_EQ(d.covered, Covered::kNotCovered) << type;
    EXPECT_TRUE(contains(d.reasons, "not among the indications")) << all_text(d.reasons);
    EXPECT_TRUE(d.sections.empty());
    EXPECT_TRUE(crd_consistent(d));
  }
}

TEST(MedicalMutualLiver, UnknownDiagnosisIsConditional) {
  Facts f;
  f.yes("unresectable").yes("location-accessible").size_cm(2).count(1);
  Determination d = decide(kPayer, "commercial", "47371", f);
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_TRUE(contains(d.missing_facts, "Diagnosis: Hepatocellular")) << all_text(d.missing_facts);
  Facts unspecified = hcc_met();
  unspecified.unspecified_liver_malignancy();
  EXPECT_EQ(decide(kPayer, "commercial", "47371", unspecified).covered, Covered::kConditional);
  Facts unknown_primary = hcc_met();
  unknown_primary.metastases_unknown_primary().yes("near-complete-treatment");
  Determination m = decide(kPayer, "commercial", "47381", unknown_primary);
  EXPECT_EQ(m.covered, Covered::kConditional) << "neuroendocrine metastases are not ruled out";
  EXPECT_TRUE(crd_consistent(m));
}

TEST(MedicalMutualLiver, SeveralTumorTypesCombineWithAny) {
  Facts f = hcc_met();
  f.tumors({{"hcc", Truth::kTrue},
            {"icc", Truth::kFalse},
            {"crc-liver-mets", Truth::kFalse},
            {"net-liver-mets", Truth::kTrue},
            {"other-liver-mets", Truth::kFalse}},
           "HCC and neuroendocrine liver metastases");
  f.yes("near-complete-treatment");
  // 47383 is not listed for HCC but is for the neuroendocrine metastases.
  Determination d = decide(kPayer, "commercial", "47383", f);
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_EQ(d.sections.size(), 2u);
}

TEST(MedicalMutual, AllLinesOfBusinessAlike) {
  for (const char* lob : {"commercial", "medicare", "medicare-advantage", "medicaid"}) {
    EXPECT_EQ(decide(kPayer, lob, "47371", hcc_met()).covered, Covered::kCovered) << lob;
  }
}

// Prostate --------------------------------------------------------------------------------

Facts primary(const std::string& stage) {
  Facts f;
  f.no("salvage-after-radiation").stage(stage).no("lymph-node-involvement");
  return f;
}

TEST(MedicalMutualProstate, PrimaryTreatmentOfT1ToT3WithoutNodesIsCovered) {
  for (const char* stage : {"T1", "T1a", "T1c", "T2", "T2b", "T2c", "T3", "T3a", "T3b"}) {
    Determination d = decide(kPayer, "commercial", "55873", primary(stage));
    EXPECT_EQ(d.covered, Covered::kCovered) << stage;
    EXPECT_EQ(d.pa_needed, PaNeeded::kNoAuth);
    EXPECT_EQ(d.procedure.empty(), false);
  }
}

TEST(MedicalMutualProstate, PrimaryTreatmentOutsideT1ToT3IsNotCovered) {
  for (const char* stage : {"T0", "T4"}) {
    Determination d = decide(kPayer, "commercial", "55873", primary(stage));
    EXPECT_EQ(d.covered, Covered::kNotCovered) << stage;
    EXPECT_TRUE(crd_consistent(d));
  }
}

TEST(MedicalMutualProstate, StageTxIsUnknown) {
  Determination d = decide(kPayer, "commercial", "55873", primary("TX"));
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_TRUE(contains(d.missing_facts, "T1 to T3")) << all_text(d.missing_facts);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(MedicalMutualProstate, LymphNodeInvolvementExcludesPrimaryTreatment) {
  Facts f = primary("T2a");
  f.yes("lymph-node-involvement");
  EXPECT_EQ(decide(kPayer, "commercial", "55873", f).covered, Covered::kNotCovered);
  Facts unknown;
  unknown.no("salvage-after-radiation").stage("T2a");
  EXPECT_EQ(decide(kPayer, "commercial", "55873", unknown).covered, Covered::kConditional);
}

Facts salvage(double psa, double gleason, const std::string& stage) {
  Facts f;
  f.yes("salvage-after-radiation").yes("localized-disease").stage(stage);
  f.measure("psa", psa, "ng/mL").measure("gleason-score", gleason, "1");
  return f;
}

TEST(MedicalMutualProstate, SalvageNeedsOneOfPsaGleasonOrStage) {
  EXPECT_EQ(decide(kPayer, "commercial", "55873", salvage(7.9, 9, "T3a")).covered,
            Covered::kCovered);
  EXPECT_EQ(decide(kPayer, "commercial", "55873", salvage(8, 8, "T3a")).covered, Covered::kCovered);
  EXPECT_EQ(decide(kPayer, "commercial", "55873", salvage(8, 9, "T2b")).covered, Covered::kCovered);
  EXPECT_EQ(decide(kPayer, "commercial", "55873", salvage(8, 9, "T0")).covered, Covered::kCovered);
  Determination d = decide(kPayer, "commercial", "55873", salvage(8, 9, "T2c"));
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(MedicalMutualProstate, BareT2LeavesT2bOrBelowUnknown) {
  Determination d = decide(kPayer, "commercial", "55873", salvage(8, 9, "T2"));
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_TRUE(contains(d.missing_facts, "T2b")) << all_text(d.missing_facts);
  EXPECT_EQ(decide(kPayer, "commercial", "55873", salvage(7, 9, "T2")).covered, Covered::kCovered);
}

TEST(MedicalMutualProstate, SalvageNeedsLocalizedDisease) {
  Facts f = salvage(5, 6, "T2a");
  f.no("localized-disease");
  EXPECT_EQ(decide(kPayer, "commercial", "55873", f).covered, Covered::kNotCovered);
}

TEST(MedicalMutualProstate, LiverDiagnosisDoesNotMatterForProstate) {
  Facts f = primary("T2a");
  f.tumor("hcc");
  Determination d = decide(kPayer, "commercial", "55873", f);
  EXPECT_EQ(d.covered, Covered::kCovered);
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].id, "prostate");
}

// Renal -----------------------------------------------------------------------------------

Facts renal(double size_cm) {
  Facts f;
  f.yes("rcc-histologic").measure("largest-kidney-lesion", size_cm, "cm").no("metastatic-disease");
  f.no("poor-surgical-candidate").yes("solitary-kidney").no("chronic-renal-insufficiency");
  f.no("renal-preservation-necessary");
  return f;
}

TEST(MedicalMutualRenal, SevenCentimetresIsCoveredWithPriorAuthorization) {
  for (const char* code : {"50250", "50593"}) {
    Determination d = decide(kPayer, "commercial", code, renal(7.0));
    EXPECT_EQ(d.covered, Covered::kCovered) << code;
    EXPECT_EQ(d.pa_needed, PaNeeded::kAuthNeeded);
    EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
    EXPECT_TRUE(crd_consistent(d));
  }
}

TEST(MedicalMutualRenal, AboveSevenCentimetresIsNotCoveredAndAsksNoPa) {
  Determination d = decide(kPayer, "commercial", "50593", renal(7.01));
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_EQ(d.pa_needed, PaNeeded::kAbsent);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(MedicalMutualRenal, EachOfTheFourReasonsSuffices) {
  for (const char* reason : {"poor-surgical-candidate", "solitary-kidney",
                             "chronic-renal-insufficiency", "renal-preservation-necessary"}) {
    Facts f = renal(3);
    f.no("solitary-kidney").yes(reason);
    EXPECT_EQ(decide(kPayer, "commercial", "50250", f).covered, Covered::kCovered) << reason;
  }
  Facts none = renal(3);
  none.no("solitary-kidney");
  EXPECT_EQ(decide(kPayer, "commercial", "50250", none).covered, Covered::kNotCovered);
}

TEST(MedicalMutualRenal, MetastasisOrMissingHistologyExcludes) {
  Facts meta = renal(3);
  meta.yes("metastatic-disease");
  EXPECT_EQ(decide(kPayer, "commercial", "50250", meta).covered, Covered::kNotCovered);
  Facts histo = renal(3);
  histo.no("rcc-histologic");
  EXPECT_EQ(decide(kPayer, "commercial", "50250", histo).covered, Covered::kNotCovered);
}

TEST(MedicalMutualRenal, UnknownIsConditionalWithDocumentsForThePaRequest) {
  Facts f = renal(3);
  f.set("metastatic-disease", Truth::kUnknown);
  Determination d = decide(kPayer, "commercial", "50593", f);
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_EQ(d.pa_needed, PaNeeded::kAuthNeeded);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithPa);
  EXPECT_TRUE(contains(d.missing_facts, "metastasis"));
  EXPECT_TRUE(crd_consistent(d));
}

// Bone and soft tissue --------------------------------------------------------------------

TEST(MedicalMutualSoftTissue, SymptomaticDisseminatedSarcomaIsCoveredWithPa) {
  Facts f;
  f.yes("soft-tissue-sarcoma-trunk-extremity").yes("symptomatic").yes("metastatic-disease");
  Determination d = decide(kPayer, "commercial", "20983", f);
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_EQ(d.pa_needed, PaNeeded::kAuthNeeded);
  for (const char* missing :
       {"soft-tissue-sarcoma-trunk-extremity", "symptomatic", "metastatic-disease"}) {
    Facts g = f;
    g.no(missing);
    Determination n = decide(kPayer, "commercial", "20983", g);
    EXPECT_EQ(n.covered, Covered::kNotCovered) << missing;
    EXPECT_TRUE(crd_consistent(n));
  }
}

}  // namespace
}  // namespace cryo::policies::testing
