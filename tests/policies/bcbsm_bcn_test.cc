// The joint BCBSM/BCN policy: BCBSM follows the policy statement and inclusions (47371 and
// 47381 only); Blue Care Network decides by plan.
#include <gtest/gtest.h>

#include "support.h"

namespace cryo::policies::testing {
namespace {

using mappings::Truth;

Facts small_unresectable(const std::string& type) {
  Facts f;
  f.tumor(type).yes("unresectable").no("extrahepatic-disease").count(1).size_cm(3.9);
  f.no("metabolically-active");
  return f;
}

TEST(Bcbsm, SmallSingleUnresectableTumorIsCovered) {
  for (const char* type : {"hcc", "icc", "crc-liver-mets", "other-liver-mets"}) {
    for (const char* code : {"47371", "47381"}) {
      Determination d = decide("bcbsm", "commercial", code, small_unresectable(type));
      EXPECT_EQ(d.covered, Covered::kCovered) << type << " " << code;
      EXPECT_EQ(d.pa_needed, PaNeeded::kNoAuth);
      EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
      EXPECT_EQ(d.policy_id, "bcbsm-bcn-liver-cryoablation");
      EXPECT_TRUE(crd_consistent(d));
    }
  }
}

TEST(Bcbsm, FourCentimetresOrTwoLesionsFailInclusionA) {
  Facts four = small_unresectable("hcc");
  four.size_cm(4.0);
  Determination d = decide("bcbsm", "commercial", "47371", four);
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_TRUE(crd_consistent(d));
  Facts two = small_unresectable("hcc");
  two.count(2);
  EXPECT_EQ(decide("bcbsm", "commercial", "47371", two).covered, Covered::kNotCovered);
}

TEST(Bcbsm, MetabolicallyActiveNeuroendocrineTumorIsInclusionB) {
  Facts f;
  f.tumor("net-liver-mets").yes("unresectable").no("extrahepatic-disease").count(5).size_cm(6);
  f.yes("metabolically-active");
  EXPECT_EQ(decide("bcbsm", "commercial", "47381", f).covered, Covered::kCovered);
  Facts inactive = f;
  inactive.no("metabolically-active");
  EXPECT_EQ(decide("bcbsm", "commercial", "47381", inactive).covered, Covered::kNotCovered);
}

TEST(Bcbsm, HepatocellularCarcinomaIsNeverInclusionB) {
  Facts f;
  f.tumor("hcc").yes("unresectable").no("extrahepatic-disease").count(3).size_cm(3);
  f.yes("metabolically-active");
  EXPECT_EQ(decide("bcbsm", "commercial", "47371", f).covered, Covered::kNotCovered);
}

TEST(Bcbsm, ExtrahepaticDiseaseOrResectableTumorIsNotCovered) {
  Facts extra = small_unresectable("crc-liver-mets");
  extra.yes("extrahepatic-disease");
  EXPECT_EQ(decide("bcbsm", "commercial", "47371", extra).covered, Covered::kNotCovered);
  Facts resectable = small_unresectable("hcc");
  resectable.no("unresectable");
  EXPECT_EQ(decide("bcbsm", "commercial", "47371", resectable).covered, Covered::kNotCovered);
}

TEST(Bcbsm, UnknownExtrahepaticDiseaseIsConditional) {
  Facts f = small_unresectable("hcc");
  f.set("extrahepatic-disease", Truth::kUnknown);
  Determination d = decide("bcbsm", "commercial", "47371", f);
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_EQ(d.info_needed, InfoNeeded::kOther);
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithClaim);
  EXPECT_TRUE(contains(d.missing_facts, "extrahepatic")) << all_text(d.missing_facts);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(Bcbsm, PercutaneousCodeIsNotAnEstablishedCode) {
  Determination d = decide("bcbsm", "commercial", "47383", small_unresectable("hcc"));
  EXPECT_EQ(d.covered, Covered::kNotCovered);
  EXPECT_TRUE(contains(d.reasons, "47383 is not listed")) << all_text(d.reasons);
  EXPECT_TRUE(crd_consistent(d));
}

TEST(Bcbsm, EveryLineOfBusinessFollowsTheCriteria) {
  for (const char* lob : {"commercial", "medicare-advantage", "medicare", "medicaid"}) {
    Determination d = decide("bcbsm", lob, "47371", small_unresectable("hcc"));
    EXPECT_EQ(d.covered, Covered::kCovered) << lob;
    EXPECT_EQ(d.basis, "criteria");
  }
}

TEST(Bcn, CommercialAdvantageAndMedicaidPlansAreNotCovered) {
  for (const char* plan : {"BCN-HMO", "BCNA", "BCC"}) {
    for (const char* code : {"47371", "47381", "47383"}) {
      Determination d = decide("bcn", plan, code, small_unresectable("hcc"));
      EXPECT_EQ(d.covered, Covered::kNotCovered) << plan << " " << code;
      EXPECT_EQ(d.basis, "line-of-business");
      EXPECT_EQ(d.pa_needed, PaNeeded::kAbsent);
      EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
      EXPECT_FALSE(d.reasons.empty());
      EXPECT_TRUE(crd_consistent(d));
    }
  }
}

TEST(Bcn, Bcn65CoinsuranceDependsOnOriginalMedicare) {
  for (const char* code : {"47371", "47381", "47383"}) {
    Determination d = decide("bcn", "BCN65", code, Facts{});
    EXPECT_EQ(d.covered, Covered::kConditional) << code;
    EXPECT_EQ(d.pa_needed, PaNeeded::kConditional);
    EXPECT_EQ(d.info_needed, InfoNeeded::kOther);
    EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
    EXPECT_TRUE(contains(d.reasons, "Original")) << all_text(d.reasons);
    EXPECT_TRUE(crd_consistent(d));
  }
}

TEST(Bcn, CoverageWithoutPlanCodeMapsByType) {
  const Payer& bcn = payer("bcn");
  std::vector<std::string> none;
  EXPECT_EQ(library().line_of_business(bcn, none, "commercial"), "BCN-HMO");
  EXPECT_EQ(library().line_of_business(bcn, none, "medicare-advantage"), "BCNA");
  EXPECT_EQ(library().line_of_business(bcn, none, "medicare"), "BCN65");
  EXPECT_EQ(library().line_of_business(bcn, none, "medicaid"), "BCC");
  EXPECT_EQ(library().line_of_business(bcn, none, ""), "BCN-HMO");
  std::vector<std::string> plan = {"BCN65"};
  EXPECT_EQ(library().line_of_business(bcn, plan, "commercial"), "BCN65");
  std::vector<std::string> foreign = {"FEP"};
  EXPECT_EQ(library().line_of_business(bcn, foreign, "medicaid"), "BCC");
}

TEST(Bcn, TypeMappedLinesDecideLikeTheirPlans) {
  const Payer& bcn = payer("bcn");
  std::vector<std::string> none;
  std::string lob = library().line_of_business(bcn, none, "medicare");
  EXPECT_EQ(decide("bcn", lob, "47371", Facts{}).covered, Covered::kConditional);
  lob = library().line_of_business(bcn, none, "medicaid");
  EXPECT_EQ(decide("bcn", lob, "47371", small_unresectable("hcc")).covered, Covered::kNotCovered);
}

}  // namespace
}  // namespace cryo::policies::testing
