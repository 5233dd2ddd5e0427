// BCBSRI: not covered on every line of business, whatever the record shows; the clinician is
// told the member may not be billed without advance written agreement.
#include <gtest/gtest.h>

#include "support.h"

namespace cryo::policies::testing {
namespace {

TEST(Bcbsri, EveryLineOfBusinessAndCodeIsNotCovered) {
  Facts f;
  f.tumor("hcc").yes("unresectable").no("extrahepatic-disease").size_cm(2).count(1);
  f.yes("poor-surgical-candidate").yes("location-accessible").yes("ablatable-with-margin");
  for (const char* lob : {"commercial", "medicare-advantage", "medicare", "medicaid"}) {
    for (const char* code : {"47371", "47381", "47383"}) {
      Determination d = decide("bcbsri", lob, code, f);
      EXPECT_EQ(d.covered, Covered::kNotCovered) << lob << " " << code;
      EXPECT_EQ(d.pa_needed, PaNeeded::kAbsent);
      EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent);
      EXPECT_EQ(d.info_needed, InfoNeeded::kAbsent);
      EXPECT_EQ(d.basis, "line-of-business");
      ASSERT_EQ(d.reasons.size(), 1u);
      EXPECT_TRUE(crd_consistent(d));
    }
  }
}

TEST(Bcbsri, ReasonsNameTheLineOfBusiness) {
  EXPECT_TRUE(contains(decide("bcbsri", "commercial", "47383", Facts{}).reasons,
                       "not medically necessary"));
  EXPECT_TRUE(contains(decide("bcbsri", "medicare-advantage", "47383", Facts{}).reasons,
                       "Medicare Advantage"));
}

TEST(Bcbsri, MemberBillingNoticeIsShown) {
  Determination d = decide("bcbsri", "commercial", "47371", Facts{});
  ASSERT_EQ(d.notices.size(), 1u);
  EXPECT_NE(d.notices[0].find("agreed in writing"), std::string::npos);
  EXPECT_NE(d.notices[0].find("may not be charged"), std::string::npos);
}

}  // namespace
}  // namespace cryo::policies::testing
