// CoverageInformation: every combination CRD forbids is refused with the rule named, every
// allowed one is built, and every code reads back as the value it came from.
#include "policies/coverage_information.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/coverage_codes_printer.h"

namespace cryo::policies {
namespace {

constexpr Covered kAllCovered[] = {Covered::kCovered, Covered::kNotCovered, Covered::kConditional};
constexpr PaNeeded kAllPa[] = {PaNeeded::kAbsent, PaNeeded::kNoAuth, PaNeeded::kAuthNeeded,
                               PaNeeded::kConditional};
constexpr DocNeeded kAllDoc[] = {DocNeeded::kAbsent, DocNeeded::kClinical};
constexpr DocPurpose kAllPurpose[] = {DocPurpose::kAbsent, DocPurpose::kWithPa,
                                      DocPurpose::kWithClaim};
constexpr InfoNeeded kAllInfo[] = {InfoNeeded::kAbsent, InfoNeeded::kOther};

// The rule a combination breaks, written from CRD independently of the factory; "" if none.
std::string broken_rule(Covered c, PaNeeded p, DocNeeded d, DocPurpose dp, InfoNeeded i) {
  if (c == Covered::kNotCovered && p != PaNeeded::kAbsent) return "q2";
  if (d != DocNeeded::kAbsent && dp == DocPurpose::kAbsent) return "doc-needed without doc-purpose";
  if (dp != DocPurpose::kAbsent && d == DocNeeded::kAbsent) return "doc-purpose without doc-needed";
  if ((c == Covered::kConditional || p == PaNeeded::kConditional) && i == InfoNeeded::kAbsent) {
    return "q3";
  }
  return "";
}

TEST(CoverageInformation, RefusesEveryForbiddenCombinationAndBuildsEveryAllowedOne) {
  int refused = 0, built = 0;
  for (Covered c : kAllCovered)
    for (PaNeeded p : kAllPa)
      for (DocNeeded d : kAllDoc)
        for (DocPurpose dp : kAllPurpose)
          for (InfoNeeded i : kAllInfo) {
            std::string rule = broken_rule(c, p, d, dp, i);
            auto made = CoverageInformation::make(c, p, d, dp, i);
            std::string what = std::string(code(c)) + "/" + std::string(code(p)) + "/" +
                               std::string(code(d)) + "/" + std::string(code(dp)) + "/" +
                               std::string(code(i));
            if (rule.empty()) {
              ASSERT_TRUE(made.ok()) << what << ": " << made.error().to_string();
              EXPECT_EQ(made->covered(), c);
              EXPECT_EQ(made->pa_needed(), p);
              EXPECT_EQ(made->doc_needed(), d);
              EXPECT_EQ(made->doc_purpose(), dp);
              EXPECT_EQ(made->info_needed(), i);
              ++built;
            } else {
              ASSERT_FALSE(made.ok()) << what << " should break " << rule;
              EXPECT_NE(made.error().message.find(rule), std::string::npos)
                  << what << ": " << made.error().message;
              ++refused;
            }
          }
  EXPECT_EQ(refused + built, 3 * 4 * 2 * 3 * 2);
  EXPECT_GT(refused, 0);
  EXPECT_GT(built, 0);
}

TEST(CoverageInformation, NamesEachRule) {
  auto q2 = CoverageInformation::make(Covered::kNotCovered, PaNeeded::kAuthNeeded,
                                      DocNeeded::kAbsent, DocPurpose::kAbsent, InfoNeeded::kAbsent);
  ASSERT_FALSE(q2.ok());
  EXPECT_EQ(q2.error().message,
            "not-covered with pa-needed 'auth-needed' (CRD q2: not-covered carries no pa-needed)");
  auto q3 = CoverageInformation::make(Covered::kConditional, PaNeeded::kAuthNeeded,
                                      DocNeeded::kAbsent, DocPurpose::kAbsent, InfoNeeded::kAbsent);
  ASSERT_FALSE(q3.ok());
  EXPECT_NE(q3.error().message.find("conditional without info-needed (CRD q3"), std::string::npos);
}

TEST(CoverageInformation, CodesRoundTrip) {
  for (Covered c : kAllCovered) EXPECT_EQ(parse_covered(code(c)), c);
  for (PaNeeded p : kAllPa) EXPECT_EQ(parse_pa_needed(code(p)), p);
  for (DocNeeded d : kAllDoc) EXPECT_EQ(parse_doc_needed(code(d)), d);
  for (DocPurpose dp : kAllPurpose) EXPECT_EQ(parse_doc_purpose(code(dp)), dp);
  for (InfoNeeded i : kAllInfo) EXPECT_EQ(parse_info_needed(code(i)), i);
  EXPECT_EQ(code(Covered::kNotCovered), "not-covered");
  EXPECT_EQ(code(PaNeeded::kAbsent), "");
  EXPECT_EQ(code(PaNeeded::kAuthNeeded), "auth-needed");
  EXPECT_EQ(code(DocNeeded::kClinical), "clinical");
  EXPECT_EQ(code(DocPurpose::kWithClaim), "withclaim");
  EXPECT_EQ(code(InfoNeeded::kOther), "OTH");
  EXPECT_FALSE(parse_covered("").has_value());
  EXPECT_FALSE(parse_pa_needed("satisfied").has_value());
}

TEST(CoverageInformation, ParsesStoredCodes) {
  auto stored =
      CoverageInformation::parse("conditional", "auth-needed", "clinical", "withpa", "OTH");
  ASSERT_TRUE(stored.ok()) << stored.error().to_string();
  EXPECT_EQ(stored->covered(), Covered::kConditional);
  EXPECT_EQ(stored->doc_purpose(), DocPurpose::kWithPa);
  EXPECT_FALSE(CoverageInformation::parse("maybe", "", "", "", "").ok());
  EXPECT_FALSE(CoverageInformation::parse("not-covered", "no-auth", "", "", "").ok());
}

TEST(CoverageInformation, ReadsTheEnginesDeterminationAndRefusesAForbiddenOne) {
  Determination d;
  d.covered = Covered::kConditional;
  d.pa_needed = PaNeeded::kAuthNeeded;
  d.doc_needed = DocNeeded::kClinical;
  d.doc_purpose = DocPurpose::kWithPa;
  d.info_needed = InfoNeeded::kOther;
  auto typed = coverage_information_of(d);
  ASSERT_TRUE(typed) << typed.error().to_string();
  EXPECT_EQ(typed->covered(), Covered::kConditional);
  EXPECT_EQ(typed->doc_purpose(), DocPurpose::kWithPa);

  d.covered = Covered::kNotCovered;
  d.info_needed = InfoNeeded::kAbsent;
  auto refused = coverage_information_of(d);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not-covered with pa-needed 'auth-needed'"),
            std::string::npos)
      << refused.error().message;
}

TEST(CoverageInformation, RefusesADeterminationNobodyDecided) {
  // The engine sets `covered` on every path; one it never set is conditional without
  // info-needed, which is never sent.
  auto undecided = coverage_information_of(Determination{});
  ASSERT_FALSE(undecided);
  EXPECT_NE(undecided.error().message.find("conditional without info-needed"), std::string::npos)
      << undecided.error().message;
}

}  // namespace
}  // namespace cryo::policies
