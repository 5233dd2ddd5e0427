#include "cds/response_writer.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "fhir/json.h"
#include "tests/support/coverage_codes_printer.h"

namespace cryo::cds {
namespace {

using policies::Covered;
using policies::PaNeeded;

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
  d.covered = Covered::kCovered;
  d.pa_needed = PaNeeded::kNoAuth;
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

// The card wording itself is tested in card_text_test.cc.

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
  std::vector<SentCard> cards;
  std::string json = write_response(input_for(orders, &config), cards);
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  ASSERT_EQ(d["cards"].Size(), 2u);
  ASSERT_EQ(cards.size(), 2u);
  EXPECT_EQ(orders[0].card_uuid, cards[0].uuid);
  // Each card as written: its uuid and CRD card type, in the order of the answer.
  for (size_t i = 0; i < cards.size(); ++i) {
    EXPECT_EQ(cards[i].uuid, d["cards"][i]["uuid"].GetString());
    EXPECT_EQ(cards[i].type, d["cards"][i]["source"]["topic"]["code"].GetString());
  }
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
  std::vector<SentCard> cards;
  std::string json = write_response(input_for({}, &config), cards);
  EXPECT_EQ(json, R"({"cards":[]})");
}

}  // namespace
}  // namespace cryo::cds
