#include "cds/crd_version.h"

#include <gtest/gtest.h>

#include "tests/support/coverage_codes_printer.h"

namespace cryo::cds {
namespace {

using policies::Covered;
using policies::DocNeeded;
using policies::DocPurpose;
using policies::InfoNeeded;
using policies::PaNeeded;

policies::Determination conditional() {
  policies::Determination d;
  d.covered = Covered::kConditional;
  d.pa_needed = PaNeeded::kAuthNeeded;
  d.info_needed = InfoNeeded::kOther;
  d.doc_needed = DocNeeded::kClinical;
  d.doc_purpose = DocPurpose::kWithPa;
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
  // doc-needed "patient" exists from 2.1 on: the table of each version says so, and
  // shape_coverage() sends only what the table allows.
  EXPECT_FALSE(allows(find_crd_version("")->doc_needed, "patient"));
  EXPECT_TRUE(allows(find_crd_version("2.1")->doc_needed, "patient"));
  // doc-purpose goes only with a doc-needed the version sends.
  auto d = conditional();
  d.doc_needed = DocNeeded::kAbsent;
  auto v201 = shape_coverage(d, *find_crd_version(""), {});
  EXPECT_TRUE(v201.doc_needed.empty());
  EXPECT_TRUE(v201.doc_purpose.empty());
  auto v21 = shape_coverage(d, *find_crd_version("2.1"), {});
  EXPECT_TRUE(v21.doc_needed.empty());
  EXPECT_TRUE(v21.doc_purpose.empty());
}

TEST(CrdVersion, EveryValueADeterminationCarriesIsSentInEveryVersion) {
  for (const CrdVersion& v : crd_versions()) {
    for (Covered c : {Covered::kCovered, Covered::kNotCovered, Covered::kConditional})
      EXPECT_TRUE(allows(v.covered, code(c))) << v.label << " " << code(c);
    for (PaNeeded p : {PaNeeded::kNoAuth, PaNeeded::kAuthNeeded, PaNeeded::kConditional})
      EXPECT_TRUE(allows(v.pa_needed, code(p))) << v.label << " " << code(p);
    EXPECT_TRUE(allows(v.doc_needed, code(DocNeeded::kClinical))) << v.label;
    for (DocPurpose p : {DocPurpose::kWithPa, DocPurpose::kWithClaim})
      EXPECT_TRUE(allows(v.doc_purpose, code(p))) << v.label << " " << code(p);
    EXPECT_TRUE(allows(v.info_needed, code(InfoNeeded::kOther))) << v.label;
  }
}

TEST(CrdVersion, InfoNeededGoesWithConditional) {
  auto d = conditional();
  d.covered = Covered::kCovered;
  d.pa_needed = PaNeeded::kNoAuth;
  auto v = shape_coverage(d, *find_crd_version(""), {});
  EXPECT_TRUE(v.info_needed.empty());  // 2.0.1 q3: info-needed only with a conditional value
  d = conditional();
  d.info_needed = InfoNeeded::kAbsent;
  EXPECT_EQ(shape_coverage(d, *find_crd_version("2.2"), {}).info_needed,
            std::vector<std::string>{"OTH"});  // 2.1+ q3
}

}  // namespace
}  // namespace cryo::cds
