// The loader's reports for broken policy files: every problem names the file, its line and
// column, the field (JSON path) and the problem. Each test copies the bundled data to a
// temporary directory and breaks one thing (the last tests break several at once).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "support.h"

namespace cryo::policies::testing {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

class BrokenPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cryo-policies-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& e : fs::directory_iterator(policy_dir())) {
      fs::copy_file(e.path(), dir_ / e.path().filename());
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Replaces the first occurrence of `from` in `file` (which must contain it).
  void edit(const std::string& file, const std::string& from, const std::string& to) {
    std::string text = read(dir_ / file);
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    write(dir_ / file, text);
  }

  Error load_error() {
    FactsMdVocabulary vocabulary;
    Result<PolicyLibrary> r = PolicyLibrary::load(dir_, vocabulary);
    EXPECT_FALSE(r.ok()) << "the broken file was accepted";
    return r.ok() ? Error{} : r.error();
  }

  std::vector<PolicyProblem> problems() {
    FactsMdVocabulary vocabulary;
    return PolicyLibrary::check(dir_, vocabulary);
  }

  // The load fails, and check() reports this problem (among possibly others) with a line.
  void expect_error(const std::string& file, const std::string& field,
                    const std::string& message_part) {
    load_error();
    std::vector<PolicyProblem> all = problems();
    std::string seen;
    for (const PolicyProblem& p : all) {
      seen += p.to_string() + "\n";
      if (p.file == (dir_ / file).generic_string() && p.field == field &&
          p.message.find(message_part) != std::string::npos) {
        EXPECT_GT(p.line, 0) << p.to_string();
        EXPECT_GT(p.column, 0) << p.to_string();
        return;
      }
    }
    ADD_FAILURE() << "no problem at " << file << ": " << field << " saying '" << message_part
                  << "'; got:\n"
                  << seen;
  }

  fs::path dir_;
};

TEST_F(BrokenPolicy, TheCopiedDataLoads) {
  FactsMdVocabulary vocabulary;
  Result<PolicyLibrary> r = PolicyLibrary::load(dir_, vocabulary);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
}

TEST_F(BrokenPolicy, MisspeltFact) {
  edit("florida-blue.json", R"("fact": "unresectable", "label": "The disease)",
       R"("fact": "unresectible", "label": "The disease)");
  expect_error("florida-blue.json", "sections[0].criteria.any[0].fact",
               "unknown fact 'unresectible'");
}

TEST_F(BrokenPolicy, UnknownKeyIsAnError) {
  edit("florida-blue.json", R"("criteria": {)", R"("critera": {)");
  expect_error("florida-blue.json", "sections[0].critera", "unknown key 'critera'");
}

TEST_F(BrokenPolicy, UnknownKeyOnALeaf) {
  edit("medical-mutual.json", R"("op": "<=", "value": 5,)", R"("op": "<=", "valeu": 5,)");
  expect_error("medical-mutual.json", "sections[0].criteria.all[2].valeu", "unknown key 'valeu'");
}

TEST_F(BrokenPolicy, UnknownCategoryMember) {
  edit("medical-mutual.json", R"("is": "hcc")", R"("is": "hepatoma")");
  expect_error("medical-mutual.json", "sections[0].indication.is",
               "unknown member 'hepatoma' of category fact 'liver-tumor-type'");
}

TEST_F(BrokenPolicy, UnknownOrdinalValue) {
  edit("medical-mutual.json", R"("value": "T2b")", R"("value": "T2d")");
  expect_error("medical-mutual.json", "sections[2].criteria.any[1].all[2].any[2].value",
               "unknown value 'T2d' of ordinal fact 'prostate-t-stage'");
}

TEST_F(BrokenPolicy, ComparisonOnABooleanFact) {
  edit("florida-blue.json", R"({ "fact": "unresectable", "label")",
       R"({ "fact": "unresectable", "op": "<=", "value": 5, "label")");
  expect_error("florida-blue.json", "sections[0].criteria.any[0].op",
               "does not apply to boolean fact 'unresectable'");
}

TEST_F(BrokenPolicy, TextThresholdOnAMeasure) {
  edit("medical-mutual.json", R"("op": "<=", "value": 5,)", R"("op": "<=", "value": "5 cm",)");
  expect_error("medical-mutual.json", "sections[0].criteria.all[2].value",
               "expected a number for measure fact 'largest-liver-lesion'");
}

TEST_F(BrokenPolicy, WrongUnit) {
  edit("medical-mutual.json", R"("op": "<=", "value": 5,)",
       R"("op": "<=", "value": 50, "unit": "mm",)");
  expect_error("medical-mutual.json", "sections[0].criteria.all[2].unit",
               "is measured in 'cm', not 'mm'");
}

TEST_F(BrokenPolicy, UnknownOperator) {
  edit("medical-mutual.json", R"("op": "<=", "value": 5,)", R"("op": "=<", "value": 5,)");
  expect_error("medical-mutual.json", "sections[0].criteria.all[2].op", "unknown operator '=<'");
}

TEST_F(BrokenPolicy, LeafWithoutLabel) {
  edit("florida-blue.json",
       R"({ "fact": "unresectable", "label": "The disease cannot be resected" })",
       R"({ "fact": "unresectable" })");
  expect_error("florida-blue.json", "sections[0].criteria.any[0].label", "needs a label");
}

TEST_F(BrokenPolicy, CodeNotAmongTheProcedures) {
  edit("medical-mutual.json", R"("codes": ["47371", "47381"])", R"("codes": ["47371", "47380"])");
  expect_error("medical-mutual.json", "sections[0].codes[1]",
               "code '47380' is not among the policy's procedures");
}

TEST_F(BrokenPolicy, UnknownLineOfBusiness) {
  edit("florida-blue.json", R"("lines_of_business": ["SAO"])", R"("lines_of_business": ["SOA"])");
  expect_error("florida-blue.json", "lines_of_business[1].lines_of_business[0]",
               "unknown line of business 'SOA'");
}

TEST_F(BrokenPolicy, UnknownOutcome) {
  edit("bcbsri.json", R"("outcome": "not-covered")", R"("outcome": "denied")");
  expect_error("bcbsri.json", "lines_of_business[0].outcome", "unknown outcome 'denied'");
}

TEST_F(BrokenPolicy, ProgramRuleNeedsAReason) {
  edit(
      "florida-blue.json",
      R"("reason": "Federal Employee Program members: coverage follows the FEP guidelines, not this guideline.")",
      R"("note": "FEP")");
  expect_error("florida-blue.json", "lines_of_business[0].reason", "missing required key 'reason'");
}

TEST_F(BrokenPolicy, UnknownPayer) {
  edit("bcbsri.json", R"("payers": ["bcbsri"])", R"("payers": ["bcbs-ri"])");
  expect_error("bcbsri.json", "payers[0]", "unknown payer 'bcbs-ri'");
}

TEST_F(BrokenPolicy, MissingRequiredKey) {
  edit("pacificsource.json", R"("revision": "2023-12",)", "");
  expect_error("pacificsource.json", "revision", "missing required key 'revision'");
}

TEST_F(BrokenPolicy, NotLoinc) {
  edit("florida-blue.json", R"("codes": ["28626-0", "34117-2"])", R"("codes": ["history"])");
  expect_error("florida-blue.json", "documentation.required_documents[0].codes[0]",
               "'history' is not a LOINC code");
}

TEST_F(BrokenPolicy, EmptyAnyList) {
  edit("medical-mutual.json", R"({ "fact": "symptomatic", "label": "The patient is symptomatic" })",
       R"({ "any": [] })");
  expect_error("medical-mutual.json", "sections[4].criteria.all[1].any",
               "needs at least one criterion");
}

TEST_F(BrokenPolicy, TwoShapesInOneCriterion) {
  edit("medical-mutual.json", R"({ "fact": "symptomatic", "label")",
       R"({ "fact": "symptomatic", "any": [], "label")");
  expect_error("medical-mutual.json", "sections[4].criteria.all[1]", "exactly one of");
}

TEST_F(BrokenPolicy, InvalidJsonNamesTheLine) {
  edit("bcbsri.json", R"("id": "bcbsri-liver-cryoablation",)",
       R"("id": "bcbsri-liver-cryoablation")");
  load_error();
  std::vector<PolicyProblem> all = problems();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].file, (dir_ / "bcbsri.json").generic_string());
  EXPECT_EQ(all[0].line, 3) << all[0].to_string();
  EXPECT_EQ(all[0].column, 3) << all[0].to_string();
  EXPECT_EQ(all[0].field, "");
  EXPECT_EQ(all[0].message, "invalid JSON: Missing a comma or '}' after an object member.");
  Error e = load_error();
  EXPECT_EQ(e.where, (dir_ / "bcbsri.json").generic_string() + ":3:3");
}

TEST_F(BrokenPolicy, DuplicateKeyIsAnError) {
  edit("bcbsri.json", R"("outcome": "not-covered")",
       R"("outcome": "not-covered", "outcome": "criteria")");
  load_error();
  std::vector<PolicyProblem> all = problems();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].field, "lines_of_business[0].outcome");
  EXPECT_GT(all[0].line, 1);
  EXPECT_GT(all[0].column, 1);
  EXPECT_NE(all[0].message.find("duplicate key 'outcome' (first given at line "), std::string::npos)
      << all[0].to_string();
}

TEST_F(BrokenPolicy, PayerRegistryDuplicateKey) {
  edit("payers.json", R"("name": "Florida Blue",)",
       R"("name": "Florida Blue", "name": "Florida Blue Cross",)");
  expect_error("payers.json", "payers[0].name", "duplicate key 'name'");
}

TEST_F(BrokenPolicy, PayerRegistryMissingKey) {
  edit("payers.json", R"("name": "Florida Blue",)", "");
  expect_error("payers.json", "payers[0].name", "missing required key 'name'");
}

TEST_F(BrokenPolicy, UnknownKeyNamesTheKeysOfTheFormat) {
  edit("bcbsri.json", R"("outcome": "not-covered")", R"("outcome": "not-covered", "reasn": "x")");
  expect_error("bcbsri.json", "lines_of_business[0].reasn",
               "unknown key 'reasn' (expected one of: payer, lines_of_business, codes, outcome, "
               "reason, note, interpretation)");
}

TEST_F(BrokenPolicy, CoverageTypesComeFromTheMappings) {
  // A plan's coverage type must be one of mappings/data/coverage.json's coverage_types.
  edit("payers.json", R"("coverage_type": "medicare")",
       R"("coverage_type": "medicare-supplement")");
  expect_error("payers.json", "payers[3].plans[2].coverage_type",
               "unknown coverage type 'medicare-supplement' (expected "
               "commercial, medicare-advantage, medicare or medicaid)");
}

TEST_F(BrokenPolicy, TwoPoliciesForTheSamePayerAndCode) {
  std::string text = read(dir_ / "bcbsri.json");
  size_t at = text.find(R"("id": "bcbsri-liver-cryoablation")");
  text.replace(at, 33, R"("id": "bcbsri-second-policy-copy")");
  write(dir_ / "zz-bcbsri-copy.json", text);
  Error e = load_error();
  EXPECT_NE(e.where.find("zz-bcbsri-copy.json"), std::string::npos) << e.to_string();
  EXPECT_NE(e.where.find("procedures"), std::string::npos) << e.to_string();
  EXPECT_NE(e.message.find("47371"), std::string::npos) << e.to_string();
}

TEST_F(BrokenPolicy, PolicyWithoutSectionsNeedsACatchAllRule) {
  edit("bcbsri.json", R"("lines_of_business": ["*"],)", R"("lines_of_business": ["medicaid"],)");
  expect_error("bcbsri.json", "sections", "needs a lines_of_business rule for \"*\"");
}

TEST_F(BrokenPolicy, PayerRegistryTypos) {
  edit("payers.json", R"("default_plans": {
        "commercial": "BCN-HMO",)",
       R"("default_plans": {
        "commercial": "BCN-PPO",)");
  expect_error("payers.json", "payers[3].default_plans.commercial",
               "plan 'BCN-PPO' is not in the payer's plans");
}

TEST_F(BrokenPolicy, PayerRegistryUnknownKey) {
  edit("payers.json", R"("name": "Florida Blue",)", R"("nmae": "Florida Blue",)");
  expect_error("payers.json", "payers[0].nmae", "unknown key 'nmae'");
}

TEST_F(BrokenPolicy, ImplausibleThresholds) {
  edit("medical-mutual.json", R"("op": "<=", "value": 5,)", R"("op": "<=", "value": 700,)");
  edit("medical-mutual.json", R"("op": "<", "value": 9,)", R"("op": "<", "value": 9.5,)");
  expect_error("medical-mutual.json", "sections[0].criteria.all[2].value",
               "700 is not a plausible threshold for 'largest-liver-lesion'");
  expect_error("medical-mutual.json", "sections[2].criteria.any[1].all[2].any[1].value",
               "9.5 is not a plausible threshold for 'gleason-score'");
}

TEST_F(BrokenPolicy, UnreachableSection) {
  // A "*" rule that decides every order before the sections leaves them unreachable.
  edit("pacificsource.json", R"("lines_of_business": [)",
       R"("lines_of_business": [
    { "lines_of_business": ["*"], "outcome": "not-covered", "reason": "Not covered." },)");
  expect_error("pacificsource.json", "sections[0]", "section 'primary-liver-tumor' is unreachable");
}

TEST_F(BrokenPolicy, EveryProblemInOneRunWithLineAndColumn) {
  edit("florida-blue.json", R"("fact": "unresectable", "label": "The disease)",
       R"("fact": "unresectible", "label": "The disease)");
  edit("medical-mutual.json", R"("op": "<=", "value": 3,)", R"("op": "<=", "value": -1,)");
  edit("bcbsri.json", R"("outcome": "not-covered")", R"("outcome": "denied")");
  std::vector<PolicyProblem> all = problems();
  std::string listed;
  for (const PolicyProblem& p : all) listed += p.to_string() + "\n";
  ASSERT_EQ(all.size(), 3u) << listed;
  for (const PolicyProblem& p : all) {
    EXPECT_GT(p.line, 1) << p.to_string();
    EXPECT_GT(p.column, 1) << p.to_string();
  }
  // The line is the one the field is on.
  std::string text = read(dir_ / "florida-blue.json");
  size_t at = text.find("\"unresectible\"");
  int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  bool found = false;
  for (const PolicyProblem& p : all)
    found |= p.field == "sections[0].criteria.any[0].fact" && p.line == line;
  EXPECT_TRUE(found);
}

TEST_F(BrokenPolicy, OverlappingRevisions) {
  edit("florida-blue.json", R"("effective_to": "2024-09-14")", R"("effective_to": "2024-09-15")");
  expect_error("florida-blue.json", "revisions[1]", "overlaps revision '2001-08-15'");
}

TEST_F(BrokenPolicy, RevisionDates) {
  edit("florida-blue.json", R"("effective_from": "2024-09-15")",
       R"("effective_from": "15/09/2024")");
  expect_error("florida-blue.json", "revisions[1].effective_from", "expected a date YYYY-MM-DD");
}

TEST_F(BrokenPolicy, RevisionKeyAtTheTopLevel) {
  edit("florida-blue.json", R"("payers": ["florida-blue"],)",
       R"("payers": ["florida-blue"], "revision": "2024-09-15",)");
  expect_error("florida-blue.json", "revision", "belongs in each entry of 'revisions'");
}

}  // namespace
}  // namespace cryo::policies::testing
