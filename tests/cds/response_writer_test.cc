#include "cds/response_writer.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "fhir/json.h"

namespace cryo::cds {
namespace {

size_t characters(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

policies::Determination covered_determination() {
  policies::Determination d;
  d.policy_id = "florida-blue-02-40000-22";
  d.policy_title = "Cryosurgical Ablation of Liver Tumors";
  d.policy_document = "Medical Coverage Guideline 02-40000-22";
  d.policy_revision = "2024-09-15";
  d.payer_id = "florida-blue";
  d.payer_name = "Florida Blue";
  d.line_of_business = "commercial";
  d.billing_code = "47383";
  d.covered = "covered";
  d.pa_needed = "no-auth";
  d.basis = "criteria";
  policies::SectionResult s;
  s.title = "Liver malignancy";
  s.indication = mappings::Truth::kTrue;
  s.criteria = mappings::Truth::kTrue;
  s.result = mappings::Truth::kTrue;
  policies::CriterionResult row;
  row.label = "Tumor is unresectable | per imaging";
  row.fact = "unresectable";
  row.value = mappings::Truth::kTrue;
  row.observed = "unresectable";
  row.evidence.push_back({"Observation/res-1", "2026-02-01", "Resectability: unresectable"});
  s.rows.push_back(row);
  d.sections.push_back(s);
  return d;
}

TEST(CardSummary, StaysUnder140CharactersEvenWithLongReasons) {
  auto d = covered_determination();
  d.covered = "not-covered";
  d.pa_needed.clear();
  d.reasons = {std::string(300, 'x') + " ünïcödé"};
  std::string s = card_summary(d);
  EXPECT_LT(characters(s), 140u);
  EXPECT_EQ(s.rfind("Florida Blue, CPT 47383: not covered", 0), 0u) << s;
  // Multi-byte characters are never cut in half.
  d.reasons = {std::string(120, 'a') + std::string(40, '\xC3')};
  d.reasons = {std::string(110, 'a') + "ééééééééééééééééééééééééééééééé"};
  std::string t = card_summary(d);
  EXPECT_LT(characters(t), 140u);
  rapidjson::Document doc;
  std::string json = "\"" + t + "\"";
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.c_str());
  EXPECT_FALSE(doc.HasParseError()) << "summary is not valid UTF-8";
}

TEST(CardSummary, SaysTheBottomLine) {
  auto d = covered_determination();
  EXPECT_NE(card_summary(d).find("covered; no prior auth needed"), std::string::npos);
  d.pa_needed = "auth-needed";
  d.doc_needed = "clinical";
  EXPECT_NE(card_summary(d).find("prior auth required; send documentation"), std::string::npos);
  d.documents.push_back({"Treatment plan", {"18776-5"}, true, false, "", "", ""});
  d.documents.push_back({"Radiology report", {"18726-0"}, true, false, "", "", ""});
  d.documents.push_back(
      {"History and physical", {"28626-0"}, true, true, "DocumentReference/1", "2026-01-01", ""});
  EXPECT_NE(card_summary(d).find("prior auth required; 2 documents missing"), std::string::npos)
      << card_summary(d);
  d.covered = "conditional";
  d.missing_facts = {"Tumor resectability", "Largest lesion size"};
  EXPECT_NE(card_summary(d).find("document Tumor resectability, Largest lesion size"),
            std::string::npos);
}

TEST(CardDetail, ShowsEachCriterionWithItsEvidenceAndEscapesTableCells) {
  OrderDetermination od;
  od.order_reference = "ServiceRequest/sr-1";
  od.coverage_assertion_id = "a-1";
  od.policy_url = "https://crd.example/policies/florida-blue-02-40000-22";
  od.determination = covered_determination();
  od.determination.documents.push_back({"Treatment plan", {"18776-5"}, true, false, "", "", ""});
  std::string md = card_detail(od);
  EXPECT_NE(md.find("✔ Met"), std::string::npos) << md;
  EXPECT_NE(md.find("Tumor is unresectable \\| per imaging"), std::string::npos) << md;
  EXPECT_NE(md.find("Observation/res-1, 2026-02-01"), std::string::npos) << md;
  EXPECT_NE(md.find("✘ Missing — Treatment plan (LOINC 18776-5)"), std::string::npos) << md;
  EXPECT_NE(md.find("(https://crd.example/policies/florida-blue-02-40000-22)"), std::string::npos)
      << md;
  EXPECT_NE(md.find("revision 2024-09-15"), std::string::npos) << md;
}

ResponseInput input_for(std::span<OrderDetermination> orders, const CardConfiguration* config) {
  ResponseInput in;
  in.orders = orders;
  in.coverage_reference = "Coverage/cov-1";
  in.configuration = config;
  in.base_url = "https://crd.example";
  in.assertion_date = "2026-11-22";
  return in;
}

TEST(WriteResponse, AnnotatesTheOrderAndReplacesAnEarlierCoverageInformation) {
  std::string order_text =
      R"({"resourceType":"ServiceRequest","id":"sr-1","extension":[{"url":"http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information","extension":[{"url":"covered","valueCode":"conditional"}]},{"url":"http://example.org/other","valueBoolean":true}],"status":"draft"})";
  fhir::JsonDocument order;
  ASSERT_FALSE(fhir::parse_in_place(order_text, order, {}));
  std::vector<OrderDetermination> orders(1);
  orders[0].order = &order;
  orders[0].order_reference = "ServiceRequest/sr-1";
  orders[0].coverage_assertion_id = "assert-1";
  orders[0].policy_url = "https://crd.example/policies/p";
  orders[0].determination = covered_determination();
  CardConfiguration config;
  std::vector<std::string> uuids;
  std::string json = write_response(input_for(orders, &config), uuids);
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  ASSERT_EQ(d["cards"].Size(), 2u);
  EXPECT_EQ(uuids.size(), 2u);
  EXPECT_EQ(orders[0].card_uuid, uuids[0]);
  const auto& resource = d["systemActions"][0]["resource"];
  ASSERT_EQ(resource["extension"].Size(), 2u);  // the old coverage-information was replaced
  EXPECT_STREQ(resource["extension"][0]["url"].GetString(), "http://example.org/other");
  const auto& ci = resource["extension"][1];
  std::map<std::string, std::string> values;
  for (const auto& sub : ci["extension"].GetArray()) {
    std::string url = sub["url"].GetString();
    if (sub.HasMember("valueCode")) values[url] = sub["valueCode"].GetString();
    if (sub.HasMember("valueString")) values[url] = sub["valueString"].GetString();
    if (sub.HasMember("valueDate")) values[url] = sub["valueDate"].GetString();
  }
  EXPECT_EQ(values["covered"], "covered");
  EXPECT_EQ(values["pa-needed"], "no-auth");
  EXPECT_EQ(values["date"], "2026-11-22");
  EXPECT_EQ(values["coverage-assertion-id"], "assert-1");
  EXPECT_EQ(values.count("doc-needed"), 0u);
}

TEST(WriteResponse, NoOrdersMeansEmptyCardsAndNoActions) {
  CardConfiguration config;
  std::vector<std::string> uuids;
  std::string json = write_response(input_for({}, &config), uuids);
  EXPECT_EQ(json, R"({"cards":[]})");
}

}  // namespace
}  // namespace cryo::cds
