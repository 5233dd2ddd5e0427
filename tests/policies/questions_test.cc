// Open questions of a determination: only unknown criteria whose groups are still open are
// asked, one that settles the result alone comes first (any: one true; all: one false), and a
// settled determination asks nothing.
#include "policies/questions.h"

#include <gtest/gtest.h>

#include "tests/support/coverage_codes_printer.h"

namespace cryo::policies {
namespace {

using mappings::Truth;

CriterionResult row(int depth, std::string label, std::string fact, Truth v, std::string group = "",
                    std::string role = "criteria") {
  CriterionResult r;
  r.depth = depth;
  r.label = std::move(label);
  r.fact = std::move(fact);
  r.value = v;
  r.group = std::move(group);
  r.role = std::move(role);
  return r;
}

Determination conditional(std::vector<CriterionResult> rows) {
  Determination d;
  d.covered = Covered::kConditional;
  d.basis = "criteria";
  SectionResult s;
  s.indication = Truth::kTrue;
  s.criteria = Truth::kUnknown;
  s.result = Truth::kUnknown;
  s.rows = std::move(rows);
  d.sections.push_back(std::move(s));
  return d;
}

std::vector<std::string> facts(const std::vector<OpenQuestion>& qs) {
  std::vector<std::string> out;
  for (const auto& q : qs) out.push_back(q.fact + (q.settles ? "*" : ""));
  return out;
}

TEST(OpenQuestions, AllAsksUnknownsAndEachFalseSettles) {
  auto d = conditional({row(0, "All of", "", Truth::kUnknown, "all"),
                        row(1, "Unresectable", "unresectable", Truth::kUnknown),
                        row(1, "Single lesion", "count", Truth::kTrue),
                        row(1, "No extrahepatic disease", "extrahepatic", Truth::kUnknown)});
  EXPECT_EQ(facts(open_questions(d)), (std::vector<std::string>{"unresectable*", "extrahepatic*"}));
}

TEST(OpenQuestions, AnyUnderAllSettlingQuestionComesFirst) {
  // all(any(a, b), c): c false settles; a or b true alone does not (c stays unknown).
  auto d =
      conditional({row(0, "All of", "", Truth::kUnknown, "all"),
                   row(1, "Any of", "", Truth::kUnknown, "any"), row(2, "A", "a", Truth::kUnknown),
                   row(2, "B", "b", Truth::kUnknown), row(1, "C", "c", Truth::kUnknown)});
  EXPECT_EQ(facts(open_questions(d)), (std::vector<std::string>{"c*", "a", "b"}));
}

TEST(OpenQuestions, DecidedGroupsAskNothingBelowThem) {
  // any(a, all(b, c)) with b false: all(b, c) is false, so c cannot matter; a settles.
  auto d =
      conditional({row(0, "Any of", "", Truth::kUnknown, "any"), row(1, "A", "a", Truth::kUnknown),
                   row(1, "All of", "", Truth::kFalse, "all"), row(2, "B", "b", Truth::kFalse),
                   row(2, "C", "c", Truth::kUnknown)});
  EXPECT_EQ(facts(open_questions(d)), (std::vector<std::string>{"a*"}));
}

TEST(OpenQuestions, NotInvertsAndSameFactIsAskedOnce) {
  auto d = conditional({row(0, "All of", "", Truth::kUnknown, "all"),
                        row(1, "Not", "", Truth::kUnknown, "not"),
                        row(2, "Metastases", "mets", Truth::kUnknown),
                        row(1, "Metastases (again)", "mets", Truth::kUnknown)});
  auto qs = open_questions(d);
  ASSERT_EQ(qs.size(), 1u);
  EXPECT_EQ(qs[0].fact, "mets");
  EXPECT_EQ(qs[0].label, "Metastases");
  EXPECT_TRUE(qs[0].settles);
}

TEST(OpenQuestions, UnknownIndicationIsAskedWithItsRole) {
  Determination d =
      conditional({row(0, "Liver malignancy", "tumor-type", Truth::kUnknown, "", "indication"),
                   row(0, "Unresectable", "unresectable", Truth::kTrue)});
  d.sections[0].indication = Truth::kUnknown;
  d.sections[0].criteria = Truth::kTrue;
  auto qs = open_questions(d);
  ASSERT_EQ(qs.size(), 1u);
  EXPECT_EQ(qs[0].role, "indication");
  EXPECT_TRUE(qs[0].settles);
}

TEST(OpenQuestions, SettledOrProgramRuleAsksNothing) {
  auto d = conditional({row(0, "Unresectable", "unresectable", Truth::kUnknown)});
  EXPECT_FALSE(open_questions(d).empty());
  Determination program = d;
  program.basis = "line-of-business";
  EXPECT_TRUE(settled(program));
  EXPECT_TRUE(open_questions(program).empty());
  Determination covered = d;
  covered.covered = Covered::kCovered;
  EXPECT_TRUE(open_questions(covered).empty());
}

TEST(OpenQuestions, AnotherSectionAlreadyTrueLeavesNothingToAsk) {
  // Sections are OR-ed: an unknown section beside a false one is asked and settles alone.
  Determination d = conditional({row(0, "A", "a", Truth::kUnknown)});
  SectionResult other;
  other.indication = Truth::kTrue;
  other.criteria = Truth::kFalse;
  other.result = Truth::kFalse;
  other.rows = {row(0, "B", "b", Truth::kFalse)};
  d.sections.push_back(other);
  EXPECT_EQ(facts(open_questions(d)), (std::vector<std::string>{"a*"}));
  // Two unknown sections: a true answer to either settles (the policy is the OR of them).
  Determination two = conditional({row(0, "A", "a", Truth::kUnknown)});
  SectionResult s2 = two.sections[0];
  s2.rows = {row(0, "B", "b", Truth::kUnknown)};
  two.sections.push_back(s2);
  EXPECT_EQ(facts(open_questions(two)), (std::vector<std::string>{"a*", "b*"}));
}

}  // namespace
}  // namespace cryo::policies
