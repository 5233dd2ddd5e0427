// What the audit store keeps of a determination: every criterion with its evidence references.
#include "cds/determination_record.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "tests/support/coverage_codes_printer.h"

namespace cryo::cds {
namespace {

using policies::Covered;
using policies::PaNeeded;

TEST(DeterminationRecord, KeepsEveryCriterionWithItsEvidenceReferences) {
  policies::Determination d;
  d.policy_id = "florida-blue-02-40000-22";
  d.policy_revision = "2024-09-15";
  d.covered = Covered::kCovered;
  d.pa_needed = PaNeeded::kNoAuth;
  policies::SectionResult s;
  s.id = "hcc";
  s.title = "Hepatocellular carcinoma";
  s.indication = mappings::Truth::kTrue;
  s.criteria = mappings::Truth::kTrue;
  s.result = mappings::Truth::kTrue;
  policies::CriterionResult all;
  all.label = "All of";
  all.value = mappings::Truth::kTrue;
  policies::CriterionResult leaf;
  leaf.depth = 1;
  leaf.label = "Largest lesion <= 5 cm";
  leaf.fact = "largest-liver-lesion";
  leaf.value = mappings::Truth::kTrue;
  leaf.observed = "4.2 cm";
  leaf.role = "criteria";
  leaf.condition = "<= 5 cm";
  leaf.notes.push_back("two measurements disagree");
  leaf.evidence.push_back({"Observation/obs-7", "2026-02-01", "Tumor size 42 mm"});
  s.rows = {all, leaf};
  d.sections.push_back(s);

  audit::DeterminationRecord r =
      make_determination_record("ServiceRequest/sr-1", "ca-9", d, "0.1.0");
  EXPECT_EQ(r.coverage_assertion_id, "ca-9");
  EXPECT_EQ(r.covered, "covered");  // the CRD codes, as the store keeps them
  EXPECT_EQ(r.pa_needed, "no-auth");
  EXPECT_EQ(r.doc_needed, "");
  EXPECT_EQ(r.service_version, "0.1.0");
  rapidjson::Document doc;
  doc.Parse(r.criteria_json.c_str());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_TRUE(doc.IsArray());
  const auto& rows = doc[0]["rows"];
  ASSERT_EQ(rows.Size(), 2u);
  EXPECT_STREQ(rows[1]["fact"].GetString(), "largest-liver-lesion");
  EXPECT_STREQ(rows[1]["value"].GetString(), "true");
  EXPECT_STREQ(rows[1]["condition"].GetString(), "<= 5 cm");
  EXPECT_STREQ(rows[1]["role"].GetString(), "criteria");
  EXPECT_STREQ(rows[1]["notes"][0].GetString(), "two measurements disagree");
  EXPECT_FALSE(rows[0].HasMember("condition"));
  EXPECT_STREQ(rows[1]["evidence"][0]["reference"].GetString(), "Observation/obs-7");
  // References and dates only: the resources' text stays in the stored request.
  EXPECT_FALSE(rows[1]["evidence"][0].HasMember("text"));

  policies::Determination lob;
  lob.covered = Covered::kNotCovered;
  lob.basis = "line-of-business";
  EXPECT_EQ(criteria_json(lob),
            R"([{"section":"","title":"line-of-business","result":"not-covered","rows":[]}])");
  EXPECT_EQ(criteria_json(policies::Determination{}), "[]");
}

}  // namespace
}  // namespace cryo::cds
