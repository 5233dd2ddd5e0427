#include "cds/card_text.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "tests/support/coverage_codes_printer.h"

namespace cryo::cds {
namespace {

using mappings::Truth;
using policies::Covered;
using policies::CriterionResult;
using policies::DocNeeded;
using policies::DocPurpose;
using policies::PaNeeded;

const CardText& bundled() {
  static const CardText text = [] {
    auto t = CardText::load(std::filesystem::path(CRYO_SOURCE_DIR) / "cds/data/card-text.json");
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
    return t.ok() ? std::move(*t) : CardText();
  }();
  return text;
}

CriterionResult row(int depth, std::string label, std::string fact, Truth value,
                    std::string group = "", std::string observed = "") {
  CriterionResult r;
  r.depth = depth;
  r.label = std::move(label);
  r.fact = std::move(fact);
  r.value = value;
  r.group = std::move(group);
  r.observed = std::move(observed);
  r.role = depth == 0 && r.label == "Hepatocellular carcinoma" ? "indication" : "criteria";
  return r;
}

OrderDetermination order(policies::Covered covered) {
  OrderDetermination od;
  od.order_reference = "ServiceRequest/sr-1";
  od.coverage_assertion_id = "a-1";
  od.policy_url = "https://crd.example/policies/medical-mutual-200802";
  auto& d = od.determination;
  d.policy_id = "medical-mutual-200802";
  d.policy_document = "Corporate Medical Policy 200802";
  d.policy_revision = "2024-07-12";
  d.payer_id = "medical-mutual";
  d.payer_name = "Medical Mutual";
  d.line_of_business = "commercial";
  d.billing_code = "47371";
  d.procedure = "Laparoscopic cryosurgical ablation of liver tumor(s)";
  d.basis = "criteria";
  d.covered = covered;
  policies::SectionResult s;
  s.title = "Hepatocellular carcinoma";
  s.indication = Truth::kTrue;
  s.criteria = d.covered == Covered::kCovered ? Truth::kTrue : Truth::kFalse;
  s.result = s.criteria;
  auto ind = row(0, "Hepatocellular carcinoma", "liver-tumor-type", Truth::kTrue, "",
                 "Hepatocellular carcinoma");
  ind.role = "indication";
  ind.evidence.push_back({"Condition/c1", "2026-01-02T10:00:00Z", "Condition C22.0"});
  s.rows.push_back(ind);
  s.rows.push_back(row(0, "All of the following", "", s.criteria, "all"));
  s.rows.push_back(row(1, "A: the tumor is unresectable", "unresectable", Truth::kTrue, "", "yes"));
  auto count = row(1, "E: three or fewer lesions", "liver-lesion-count",
                   d.covered == Covered::kCovered ? Truth::kTrue : Truth::kFalse, "", "4");
  count.evidence.push_back({"Observation/o1", "2026-01-03", "Number of liver lesions 4"});
  s.rows.push_back(count);
  d.sections.push_back(s);
  return od;
}

TEST(CardText, BundledFileLoadsWithEveryOutcome) {
  for (auto outcome : card_outcomes()) {
    EXPECT_FALSE(bundled().summaries(outcome).empty()) << outcome;
  }
}

TEST(CardText, RejectsUnknownOutcomesAndTemplatesWithoutThePayer) {
  auto dir = std::filesystem::temp_directory_path() / ("card-text-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& body) {
    std::ofstream(dir / "t.json") << body;
    return CardText::load(dir / "t.json");
  };
  auto bad = write(R"({"summaries": {"covred": ["{payer}: covered"]}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().to_string().find("summaries.covred"), std::string::npos);
  auto no_payer = write(R"({"summaries": {"covered": ["Covered"]}})");
  ASSERT_FALSE(no_payer.ok());
  EXPECT_NE(no_payer.error().to_string().find("{payer}"), std::string::npos);
  auto missing = write(R"({"summaries": {"covered": ["{payer}: covered"]}})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().to_string().find("is missing"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(CardWords, NotCoveredLeadsWithTheDecidingCriterion) {
  CardWords w = coverage_card_words(order(Covered::kNotCovered), bundled());
  EXPECT_EQ(w.outcome, "not-covered");
  EXPECT_EQ(w.summary, "Medical Mutual: not covered — three or fewer lesions: record shows 4");
  EXPECT_EQ(w.indicator, "warning");
  size_t why = w.detail.find("**Why not covered**");
  size_t lesions =
      w.detail.find("✘ Three or fewer lesions — record: 4 (Observation/o1, 2026-01-03");
  ASSERT_NE(why, std::string::npos) << w.detail;
  ASSERT_NE(lesions, std::string::npos) << w.detail;
  EXPECT_LT(why, w.detail.find("**Prior authorization:**"));
  EXPECT_EQ(w.detail.find(".."), std::string::npos) << w.detail;
  EXPECT_EQ(w.detail.find('|'), std::string::npos) << "no tables: " << w.detail;
}

TEST(CardWords, IndicatorPerOutcome) {
  auto covered = order(Covered::kCovered);
  covered.determination.pa_needed = PaNeeded::kNoAuth;
  EXPECT_EQ(coverage_card_words(covered, bundled()).indicator, "info");
  covered.determination.pa_needed = PaNeeded::kAuthNeeded;
  EXPECT_EQ(coverage_card_words(covered, bundled()).indicator, "warning");
  auto conditional = order(Covered::kConditional);
  conditional.determination.sections[0].criteria = Truth::kUnknown;
  conditional.determination.sections[0].result = Truth::kUnknown;
  conditional.determination.sections[0].rows[1].value = Truth::kUnknown;
  conditional.determination.sections[0].rows[3].value = Truth::kUnknown;
  conditional.determination.pa_needed = PaNeeded::kNoAuth;
  EXPECT_EQ(coverage_card_words(conditional, bundled()).indicator, "warning");
  auto member_protected = order(Covered::kNotCovered);
  member_protected.determination.policy_id = "bcbsri-liver-cryoablation";
  EXPECT_EQ(coverage_card_words(member_protected, bundled()).indicator, "critical");
}

TEST(CardWords, OneOfGroupsArePhrasedAsOneOf) {
  auto od = order(Covered::kConditional);
  auto& s = od.determination.sections[0];
  s.criteria = s.result = Truth::kUnknown;
  s.rows.resize(2);
  s.rows[1] = row(0, "At least one of the following", "", Truth::kUnknown, "any");
  s.rows.push_back(row(1, "The disease cannot be resected", "unresectable", Truth::kUnknown));
  s.rows.push_back(row(1, "Poor candidate for surgery", "poor-candidate", Truth::kUnknown));
  od.determination.pa_needed = PaNeeded::kNoAuth;
  CardWords w = coverage_card_words(od, bundled());
  EXPECT_EQ(w.summary,
            "Medical Mutual: not yet decided — document one of: the disease cannot be resected or "
            "poor candidate for surgery");
  EXPECT_NE(w.detail.find("One of these is needed:"), std::string::npos) << w.detail;
}

TEST(CardWords, SummaryNeverCutEvenWithLongLabels) {
  auto od = order(Covered::kNotCovered);
  od.determination.sections[0].rows[3].label = std::string(200, 'x');
  CardWords w = coverage_card_words(od, bundled());
  EXPECT_LT(utf8_length(w.summary), 140u);
  EXPECT_EQ(w.summary.find("…"), std::string::npos);
  EXPECT_EQ(w.summary, "Medical Mutual: not covered — a policy criterion is not met");
}

TEST(CardWords, TextFromTheRecordIsEscapedForCommonMark) {
  auto od = order(Covered::kNotCovered);
  auto& ev = od.determination.sections[0].rows[3].evidence[0];
  ev.text = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) *bold* `code` &amp;";
  od.determination.sections[0].rows[3].observed = "4\n# heading";
  od.policy_url = "javascript:alert(1)";
  CardWords w = coverage_card_words(od, bundled());
  for (size_t at = w.detail.find('<'); at != std::string::npos; at = w.detail.find('<', at + 1)) {
    EXPECT_EQ(w.detail[at - 1], '\\') << "raw HTML: " << w.detail;
  }
  EXPECT_NE(w.detail.find("\\<img src=x onerror=alert(1)\\>"), std::string::npos) << w.detail;
  EXPECT_NE(w.detail.find("\\[click\\](javascript:alert(1))"), std::string::npos) << w.detail;
  EXPECT_NE(w.detail.find("\\*bold\\* \\`code\\` \\&amp;"), std::string::npos) << w.detail;
  for (size_t at = w.detail.find("](javascript:"); at != std::string::npos;
       at = w.detail.find("](javascript:", at + 1)) {
    EXPECT_EQ(w.detail[at - 1], '\\') << "a live javascript: link: " << w.detail;
  }
  EXPECT_EQ(w.detail.find("[read the policy]"), std::string::npos) << "javascript: policy link";
  EXPECT_EQ(w.detail.find("\n# heading"), std::string::npos) << w.detail;
}

TEST(CardWords, DocumentsAreAChecklistWithDates) {
  auto od = order(Covered::kCovered);
  auto& d = od.determination;
  d.pa_needed = PaNeeded::kNoAuth;
  d.doc_needed = DocNeeded::kClinical;
  d.doc_purpose = DocPurpose::kWithClaim;
  d.documents.push_back({"Treatment plan", {"18776-5"}, true, false, "", "", ""});
  d.documents.push_back({"History and physical",
                         {"28626-0"},
                         true,
                         true,
                         "DocumentReference/d1",
                         "2026-01-01T09:00:00Z",
                         "Either type will do."});
  CardWords w = coverage_card_words(od, bundled());
  EXPECT_EQ(w.outcome, "covered-documents-missing");
  EXPECT_EQ(w.summary,
            "Medical Mutual: covered, no prior auth — send with the claim: treatment plan");
  EXPECT_EQ(w.indicator, "info");
  EXPECT_NE(w.detail.find("- ☐ Treatment plan — **missing**"), std::string::npos) << w.detail;
  EXPECT_NE(w.detail.find("- ☑ History and physical — found 2026-01-01 (DocumentReference/d1). "
                          "Either type will do."),
            std::string::npos)
      << w.detail;
  EXPECT_EQ(w.detail.find(".."), std::string::npos) << w.detail;
}

TEST(MarkdownEscape, EscapesInlineConstructsAndFoldsLines) {
  EXPECT_EQ(markdown_escape("a*b_c [d](e) <f> & g\nh"), "a\\*b\\_c \\[d\\](e) \\<f\\> \\& g h");
  EXPECT_EQ(markdown_escape("4.5 cm"), "4.5 cm");
}

}  // namespace
}  // namespace cryo::cds
