#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <rapidjson/document.h>

#include "test_support.h"

namespace cryo::mappings {
namespace {

using testing::real_mappings;
using testing::source_dir;

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Load, EveryFactOfTheVocabularyExistsWithItsKind) {
  const MappingSet& m = real_mappings();
  std::string doc = read(source_dir() + "/docs/facts.md");
  std::regex row(R"(\| `([a-z0-9-]+)` \| (boolean|measure|ordinal|category))");
  int n = 0;
  for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it, ++n) {
    std::string id = (*it)[1], kind = (*it)[2];
    ASSERT_TRUE(m.has_fact(id)) << id;
    FactKind expected = kind == "boolean"   ? FactKind::kBoolean
                        : kind == "measure" ? FactKind::kMeasure
                        : kind == "ordinal" ? FactKind::kOrdinal
                                            : FactKind::kCategory;
    EXPECT_EQ(m.fact_kind(id), expected) << id;
  }
  // As many rows as the mappings define facts (every file's "facts" array): a new fact needs
  // its mapping and its row, no count here.
  int defined = 0;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/mappings/data")) {
    rapidjson::Document d;
    std::string text = read(e.path());
    d.Parse(text.c_str());
    if (d.IsObject() && d.HasMember("facts") && d["facts"].IsArray())
      defined += static_cast<int>(d["facts"].Size());
  }
  EXPECT_EQ(n, defined);
  EXPECT_GT(n, 0);
  EXPECT_EQ(m.fact_unit("largest-liver-lesion"), "cm");
  EXPECT_EQ(m.fact_unit("psa"), "ng/mL");
  EXPECT_TRUE(m.has_category("liver-tumor-type", "crc-liver-mets"));
  EXPECT_FALSE(m.has_category("liver-tumor-type", "breast"));
  EXPECT_EQ(m.fact_label("largest-liver-lesion"), "Largest liver lesion");
  EXPECT_FALSE(m.has_fact("unresectible"));
}

TEST(Load, OrdinalScale) {
  const MappingSet& m = real_mappings();
  auto t2 = m.ordinal_value("prostate-t-stage", "T2");
  auto t2a = m.ordinal_value("prostate-t-stage", "T2a");
  auto t2c = m.ordinal_value("prostate-t-stage", "T2c");
  auto t2b = m.ordinal_value("prostate-t-stage", "T2b");
  ASSERT_TRUE(t2 && t2a && t2b && t2c);
  EXPECT_EQ(t2->low, t2a->low);
  EXPECT_EQ(t2->high, t2c->high);
  EXPECT_TRUE(t2b->is_point());
  EXPECT_LT(m.ordinal_value("prostate-t-stage", "T0")->high,
            m.ordinal_value("prostate-t-stage", "T1a")->low);
  EXPECT_FALSE(m.ordinal_value("prostate-t-stage", "TX").has_value());
  EXPECT_FALSE(m.ordinal_value("prostate-t-stage", "T9").has_value());
}

TEST(Load, PrefetchAndCodeSystem) {
  const MappingSet& m = real_mappings();
  const auto& pf = m.prefetch_templates();
  auto query = [&](std::string_view key) {
    for (const auto& t : pf) {
      if (t.key == key) return t.query;
    }
    return std::string();
  };
  EXPECT_EQ(query("patient"), "Patient/{{context.patientId}}");
  EXPECT_EQ(query("coverage"),
            "Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor");
  EXPECT_EQ(query("documents"), "DocumentReference?patient={{context.patientId}}");
  EXPECT_EQ(query("bodyStructures"), "BodyStructure?patient={{context.patientId}}");
  EXPECT_EQ(query("questionnaireResponses"),
            "QuestionnaireResponse?patient={{context.patientId}}&status=completed,amended");
  EXPECT_EQ(pf.size(), 8u);
  for (const auto& t : pf) EXPECT_EQ(t.optional, t.key == "questionnaireResponses") << t.key;
  std::set<std::string> codes;
  for (const auto& c : m.criteria_concepts()) {
    EXPECT_FALSE(c.display.empty());
    EXPECT_FALSE(c.definition.empty());
    codes.insert(c.code);
  }
  for (const char* c : {"bridge-to-transplant", "hepatic-lesion-count", "resectability",
                        "unresectable", "resectable", "T1", "T1a", "T4", "TX", "T0",
                        "gleason-score", "symptomatic", "renal-preservation-necessary"}) {
    EXPECT_TRUE(codes.count(c)) << c;
  }
  EXPECT_EQ(m.criteria_system(), "http://cryocrd.org/fhir/CodeSystem/criteria");
  EXPECT_NE(m.criteria_codesystem_json().find("\"resourceType\": \"CodeSystem\""),
            std::string::npos);
  EXPECT_EQ(m.organ_for_billing_code("47381"), "liver");
  EXPECT_EQ(m.organ_for_billing_code("50593"), "kidney");
  EXPECT_EQ(m.organ_for_billing_code("99999"), "");
}

// Copies the real data to a scratch directory, applies `edit` to one file, loads it.
Error load_broken(const std::string& file, const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / ("cryo-mappings-" + std::to_string(::getpid()) + "-" + file);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(source_dir() + "/mappings/data")) {
    fs::copy_file(e.path(), dir / e.path().filename());
  }
  std::string text = read(dir / file);
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  std::ofstream(dir / file, std::ios::trunc) << text;
  auto r = MappingSet::load(dir);
  fs::remove_all(dir);
  EXPECT_FALSE(r.ok());
  return r.ok() ? Error{} : r.error();
}

// "…/file.json:line:column: field" with a line and column.
void expect_at(const Error& e, const std::string& file, const std::string& field) {
  std::regex located(".*/" + std::regex_replace(file, std::regex(R"(\.)"), R"(\.)") +
                     R"(:[1-9][0-9]*:[1-9][0-9]*: )" +
                     std::regex_replace(field, std::regex(R"([\[\]\.])"), R"(\$&)"));
  EXPECT_TRUE(std::regex_match(e.where, located))
      << e.to_string() << "\nexpected at " << file << ": " << field;
}

TEST(Load, ErrorsNameFileLineColumnFieldAndProblem) {
  Error e = load_broken("facts-liver.json", R"("closed_world": true)", R"("closedworld": true)");
  expect_at(e, "facts-liver.json", "facts[6].closedworld");
  EXPECT_NE(e.message.find("unknown key 'closedworld' (expected one of: id, label, kind, unit, "
                           "closed_world, members, scale, values, sources, about)"),
            std::string::npos)
      << e.message;

  e = load_broken("facts-liver.json", R"("icd10:C22.1")", R"("icd:C22.1")");
  expect_at(e, "facts-liver.json", "facts[0].sources[0].diagnoses[1].codes[0]");
  EXPECT_NE(e.message.find("unknown code system 'icd'"), std::string::npos);

  e = load_broken("facts-other.json", R"("crit:solitary-kidney")", R"("crit:solitary-kidny")");
  expect_at(e, "facts-other.json", "facts[9].sources[0].codes[0]");
  EXPECT_NE(e.message.find("not a concept"), std::string::npos);

  e = load_broken("facts-other.json", R"("rule": "latest-quantity", "codes": ["loinc:2857-1"])",
                  R"("rule": "latest-quantty", "codes": ["loinc:2857-1"])");
  EXPECT_NE(e.message.find("unknown rule 'latest-quantty'"), std::string::npos);

  e = load_broken("facts-liver.json", R"("organ": "liver",
          "count_observations")",
                  R"("organ": "spleen",
          "count_observations")");
  EXPECT_NE(e.message.find("unknown organ 'spleen'"), std::string::npos);

  e = load_broken("prefetch.json", "{{context.patientId}}&status", "{{context.patient.id}}&status");
  expect_at(e, "prefetch.json", "prefetch[1].query");

  e = load_broken("facts-other.json", R"("range": ["T2a", "T2c"])", R"("range": ["T2c", "T2a"])");
  EXPECT_NE(e.where.find("values[5].range"), std::string::npos) << e.where;

  e = load_broken("reading-rules.json", R"("factor": 0.1)", R"("factor": "0.1")");
  expect_at(e, "reading-rules.json", "unit_conversions[0].factor");

  e = load_broken("facts-liver.json", R"("id": "unresectable")", R"("id": "liver-tumor-type")");
  EXPECT_NE(e.message.find("defined twice"), std::string::npos);
}

TEST(Load, SyntaxErrorNamesLineAndColumn) {
  std::string text = read(source_dir() + "/mappings/data/organs.json");
  size_t at = text.find(R"("label": "Liver",)");
  int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  Error e = load_broken("organs.json", R"("label": "Liver",)", R"("label": "Liver",,)");
  EXPECT_TRUE(std::regex_match(
      e.where, std::regex(".*/organs\\.json:" + std::to_string(line) + ":[1-9][0-9]*")))
      << e.to_string();
  EXPECT_EQ(e.message, "invalid JSON: Missing a name for object member.");
}

TEST(Load, DuplicateKeysAreRefused) {
  Error e =
      load_broken("organs.json", R"("label": "Liver",)", R"("label": "Liver", "label": "Hepar",)");
  expect_at(e, "organs.json", "organs[0].label");
  EXPECT_NE(e.message.find("duplicate key 'label' (first given at line "), std::string::npos)
      << e.to_string();
}

TEST(Load, MissingKeysAreNamed) {
  Error e = load_broken("organs.json", R"("label": "Liver",)", "");
  expect_at(e, "organs.json", "organs[0].label");
  EXPECT_EQ(e.message, "missing required key 'label'");
  e = load_broken("coverage.json", R"("default": "commercial")", R"("fallback": "commercial")");
  expect_at(e, "coverage.json", "coverage.fallback");
  EXPECT_NE(e.message.find("unknown key 'fallback'"), std::string::npos) << e.message;
}

TEST(Load, CoverageTypesAreData) {
  EXPECT_EQ(real_mappings().coverage_types(),
            (std::vector<std::string>{"commercial", "medicare-advantage", "medicare", "medicaid"}));
  EXPECT_TRUE(real_mappings().is_coverage_type("medicaid"));
  EXPECT_FALSE(real_mappings().is_coverage_type("FEP"));
  // Every line of business the SOPT prefixes give is one of them.
  Error e = load_broken("coverage.json", R"("prefix": "2", "line_of_business": "medicaid")",
                        R"("prefix": "2", "line_of_business": "medi-cal")");
  expect_at(e, "coverage.json", "coverage.type_prefixes[2].line_of_business");
  EXPECT_EQ(e.message, "'medi-cal' is not one of 'coverage_types'");
}

TEST(Load, MissingDirectoryIsAnError) {
  auto r = MappingSet::load(source_dir() + "/mappings/no-such-dir");
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.error().message.empty());
}

}  // namespace
}  // namespace cryo::mappings
