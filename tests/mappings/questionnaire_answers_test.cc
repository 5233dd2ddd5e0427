// Completed questionnaires (DTR) as evidence: an answer fills what the record leaves unknown
// and names the response; it never overrides what the record establishes; responses still in
// progress, of another patient, or answers that do not fit the fact are not read; an attached
// document counts as found.
#include <gtest/gtest.h>

#include "fhir/datetime.h"
#include "test_support.h"

namespace cryo::mappings {
namespace {

using namespace testing;

std::string response(std::string_view id, std::string_view status, std::string_view items,
                     std::string_view patient = "p1") {
  return std::string(R"({"resourceType":"QuestionnaireResponse","id":")") + std::string(id) +
         R"(","status":")" + std::string(status) + R"(","subject":{"reference":"Patient/)" +
         std::string(patient) + R"("},"authored":"2026-02-10T09:00:00Z","item":[)" +
         std::string(items) + "]}";
}

std::string item(std::string_view link, std::string_view answer) {
  return std::string(R"({"linkId":")") + std::string(link) + R"(","answer":[)" +
         std::string(answer) + "]}";
}

TEST(QuestionnaireAnswers, BooleanAnswerFillsAnUnknownFactWithTheResponseAsEvidence) {
  Record r{order("47383"), response("qr-1", "completed",
                                    item("poor-surgical-candidate", R"({"valueBoolean":true})"))};
  Fact f = extract_one(r, "poor-surgical-candidate");
  EXPECT_EQ(f.truth, Truth::kTrue);
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].reference, "QuestionnaireResponse/qr-1");
  EXPECT_EQ(f.evidence[0].date, "2026-02-10T09:00:00Z");
}

TEST(QuestionnaireAnswers, TheRecordWinsAndOnlyCompletedResponsesOfThePatientCount) {
  Record established{
      order("47383"), bool_obs("o1", "poor-surgical-candidate", false, "2026-01-10"),
      response("qr-1", "completed", item("poor-surgical-candidate", R"({"valueBoolean":true})"))};
  EXPECT_EQ(extract_one(established, "poor-surgical-candidate").truth, Truth::kFalse);
  Record draft{
      order("47383"),
      response("qr-1", "in-progress", item("poor-surgical-candidate", R"({"valueBoolean":true})"))};
  EXPECT_EQ(extract_one(draft, "poor-surgical-candidate").truth, Truth::kUnknown);
  Record other{order("47383"),
               response("qr-1", "completed",
                        item("poor-surgical-candidate", R"({"valueBoolean":true})"), "p2")};
  EXPECT_EQ(extract_one(other, "poor-surgical-candidate").truth, Truth::kUnknown);
}

TEST(QuestionnaireAnswers, QuantityCountOrdinalAndCategoryAnswers) {
  Record size{
      order("47383"),
      response(
          "qr-1", "completed",
          item(
              "largest-liver-lesion",
              R"({"valueQuantity":{"value":42,"unit":"mm","system":"http://unitsofmeasure.org","code":"mm"}})"))};
  Fact s = extract_one(size, "largest-liver-lesion");
  ASSERT_TRUE(s.measure.has_value());
  EXPECT_DOUBLE_EQ(s.measure->low, 4.2);
  Record count{order("47383"),
               response("qr-1", "completed", item("liver-lesion-count", R"({"valueInteger":2})"))};
  Fact c = extract_one(count, "liver-lesion-count");
  ASSERT_TRUE(c.measure.has_value());
  EXPECT_DOUBLE_EQ(c.measure->high, 2);
  Record stage{
      order("55873"),
      response(
          "qr-1", "completed",
          item(
              "prostate-t-stage",
              R"({"valueCoding":{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"T2b"}})"))};
  Fact t = extract_one(stage, "prostate-t-stage", "55873");
  EXPECT_EQ(t.display, "T2b");
  Record type{
      order("47383"),
      response(
          "qr-1", "completed",
          item(
              "liver-tumor-type",
              R"({"valueCoding":{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"hcc"}})"))};
  Fact k = extract_one(type, "liver-tumor-type");
  EXPECT_EQ(k.categories.at("hcc"), Truth::kTrue);
  EXPECT_EQ(k.categories.at("icc"), Truth::kFalse);
  Record none{
      order("47383"),
      response(
          "qr-1", "completed",
          item(
              "liver-tumor-type",
              R"({"valueCoding":{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"none-of-these"}})"))};
  for (const auto& [m, v] : extract_one(none, "liver-tumor-type").categories)
    EXPECT_EQ(v, Truth::kFalse) << m;
}

TEST(QuestionnaireAnswers, AnAnswerThatDoesNotFitIsIgnoredWithANote) {
  Record r{order("47383"), response("qr-1", "completed",
                                    item("poor-surgical-candidate", R"({"valueString":"maybe"})"))};
  Fact f = extract_one(r, "poor-surgical-candidate");
  EXPECT_EQ(f.truth, Truth::kUnknown);
  EXPECT_TRUE(has_note(f, "QuestionnaireResponse/qr-1"));
}

TEST(QuestionnaireAnswers, AnAttachedDocumentIsFoundInTheWindow) {
  const std::string attached =
      item("document-28626-0",
           R"({"valueAttachment":{"contentType":"application/pdf","data":"JVBERi0xLjQK"}})");
  Record r{R"({"resourceType":"Patient","id":"p1"})", response("qr-1", "completed", attached)};
  std::vector<std::string> codes = {"28626-0", "18733-6"};
  auto in_window = fhir::months_before(*fhir::parse_fhir_date("2026-03-31"), 6);
  auto found = real_mappings().find_documents(r.index(), codes, in_window);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_TRUE(found[0].found);
  EXPECT_EQ(found[0].reference, "QuestionnaireResponse/qr-1");
  EXPECT_FALSE(found[1].found);
  auto too_late = fhir::months_before(*fhir::parse_fhir_date("2025-12-31"), 6);
  auto outside = real_mappings().find_documents(r.index(), codes, too_late);
  EXPECT_FALSE(outside[0].found);
  ASSERT_EQ(outside[0].outside_window.size(), 1u);
}

}  // namespace
}  // namespace cryo::mappings
