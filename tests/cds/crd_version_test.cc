#include "cds/crd_version.h"

#include <gtest/gtest.h>

namespace cryo::cds {
namespace {

policies::Determination conditional() {
  policies::Determination d;
  d.covered = "conditional";
  d.pa_needed = "auth-needed";
  d.info_needed = "OTH";
  d.doc_needed = "clinical";
  d.doc_purpose = "withpa";
  d.reasons = {"The record does not say whether the tumor is resectable."};
  return d;
}

TEST(CrdVersion, RequestedVersionsAreMatchedOnTwoParts) {
  EXPECT_EQ(find_crd_version("")->ig_version, "2.0.1");
  EXPECT_EQ(find_crd_version("2.2")->ig_version, "2.2.1");
  EXPECT_EQ(find_crd_version("2.2.1")->ig_version, "2.2.1");
  EXPECT_EQ(find_crd_version("2.1.0")->ig_version, "2.1.0");
  EXPECT_EQ(find_crd_version("2.0")->ig_version, "2.0.1");
  EXPECT_EQ(find_crd_version("1.0"), nullptr);
  EXPECT_EQ(find_crd_version("2.20"), nullptr);
}

TEST(CrdVersion, TechnicalFailureIsIndeterminateOnlyIn22) {
  ShapeContext technical{true, "Observation: timed out after 1500 ms"};
  auto v22 = shape_coverage(conditional(), *find_crd_version("2.2"), technical);
  EXPECT_EQ(v22.covered, "indeterminate");
  ASSERT_FALSE(v22.reasons.empty());
  EXPECT_EQ(v22.reasons.front().code, "technical");
  EXPECT_TRUE(v22.info_needed.empty());  // nothing is conditional any more
  EXPECT_EQ(v22.detail_category, "cat-other");
  auto v201 = shape_coverage(conditional(), *find_crd_version(""), technical);
  EXPECT_EQ(v201.covered, "conditional");
  for (const auto& r : v201.reasons) EXPECT_TRUE(r.code.empty());
  EXPECT_FALSE(v201.policy_link_detail);  // no policy-link detail code in 2.0.1
  EXPECT_TRUE(shape_coverage(conditional(), *find_crd_version("2.1"), {}).policy_link_detail);
}

TEST(CrdVersion, CodesOutsideTheVersionAreNotSent) {
  auto d = conditional();
  d.doc_needed = "patient";  // 2.1+ only
  auto v201 = shape_coverage(d, *find_crd_version(""), {});
  EXPECT_TRUE(v201.doc_needed.empty());
  EXPECT_TRUE(v201.doc_purpose.empty());
  auto v21 = shape_coverage(d, *find_crd_version("2.1"), {});
  ASSERT_EQ(v21.doc_needed.size(), 1u);
  EXPECT_EQ(v21.doc_needed.front(), "patient");
}

TEST(CrdVersion, InfoNeededGoesWithConditional) {
  auto d = conditional();
  d.covered = "covered";
  d.pa_needed = "no-auth";
  auto v = shape_coverage(d, *find_crd_version(""), {});
  EXPECT_TRUE(v.info_needed.empty());  // 2.0.1 q3: info-needed only with a conditional value
  d = conditional();
  d.info_needed.clear();
  EXPECT_EQ(shape_coverage(d, *find_crd_version("2.2"), {}).info_needed,
            std::vector<std::string>{"OTH"});  // 2.1+ q3
}

}  // namespace
}  // namespace cryo::cds
