// Unit tests of the response checks and of the in-memory record the runner queries.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include "conformance/record.h"
#include "conformance/validate.h"

namespace cryo::conformance {
namespace {

Problems template_problems(const char* t) {
  Problems p;
  validate_prefetch_template(t, p);
  return p;
}

TEST(PrefetchTemplate, AcceptsContextAndUserTokens) {
  EXPECT_TRUE(template_problems("Patient/{{context.patientId}}").empty());
  EXPECT_TRUE(template_problems(
                  "Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor")
                  .empty());
  EXPECT_TRUE(template_problems("Practitioner/{{userPractitionerId}}").empty());
  EXPECT_TRUE(
      template_problems("Observation?patient={{ context.patientId }}&code=http://loinc.org|21889-1")
          .empty());
}

TEST(PrefetchTemplate, RejectsOtherTokensAndSyntax) {
  EXPECT_FALSE(
      template_problems("ServiceRequest?_id={{context.draftOrders.ServiceRequest.id}}").empty());
  EXPECT_FALSE(template_problems("Coverage?patient={{context.patientId}}&status=active}}").empty());
  EXPECT_FALSE(template_problems("Patient/{{context.patientId").empty());
  EXPECT_FALSE(template_problems("patient/{{context.patientId}}").empty());
  EXPECT_FALSE(template_problems("Coverage?patient=").empty());
  EXPECT_FALSE(template_problems("Coverage?patient={{context.patientId}} &status=active").empty());
}

TEST(Card, SummaryLengthCountsCharactersNotBytes) {
  EXPECT_EQ(utf8_length("é"), 1u);
  rapidjson::Document d;
  std::string summary;
  for (int i = 0; i < 139; ++i) summary += "é";
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("summary", rapidjson::Value(summary.c_str(), a), a);
  d.AddMember("indicator", "info", a);
  d.Parse((R"({"summary":")" + summary +
           R"(","indicator":"info","source":{"label":"P","topic":{"system":"s","code":"c"}}})")
              .c_str());
  Problems p;
  validate_card(d, "cards[0]", p);
  EXPECT_TRUE(p.empty()) << p.front();
}

// A covered answer with a policy-link detail: valid in CRD 2.1, not in 2.0.1 (no policy-link,
// no valueUrl), not in 2.2 (no category).
Problems version_problems(const char* version, const char* extra) {
  rapidjson::Document d;
  std::string text =
      std::string(
          R"({"url":"http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information",
    "extension":[{"url":"coverage","valueReference":{"reference":"Coverage/c"}},
      {"url":"pa-needed","valueCode":"no-auth"},{"url":"date","valueDate":"2026-12-01"},
      {"url":"coverage-assertion-id","valueString":"a"},)") +
      extra + "]}";
  d.Parse(text.c_str());
  EXPECT_FALSE(d.HasParseError()) << text;
  Problems p;
  validate_coverage_information(d, "ext", p, version);
  return p;
}

TEST(CoverageInformation, EachVersionItsOwnDefinitions) {
  const char* policy_link = R"({"url":"covered","valueCode":"covered"},
    {"url":"detail","extension":[{"url":"code","valueCodeableConcept":{"coding":[
      {"system":"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp","code":"policy-link"}]}},
      {"url":"value","valueUrl":"https://crd.example/policies/p"}]})";
  EXPECT_TRUE(version_problems("2.1", policy_link).empty())
      << version_problems("2.1", policy_link).front();
  EXPECT_FALSE(version_problems("2.0.1", policy_link).empty());
  EXPECT_FALSE(version_problems("2.2", policy_link).empty());
  const char* categorised = R"({"url":"covered","valueCode":"covered"},
    {"url":"detail","extension":[{"url":"category","valueCode":"cat-other"},
      {"url":"code","valueCodeableConcept":{"coding":[
      {"system":"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp","code":"policy-link"}]}},
      {"url":"value","valueUrl":"https://crd.example/policies/p"}]})";
  EXPECT_TRUE(version_problems("2.2", categorised).empty());
  const char* indeterminate = R"({"url":"covered","valueCode":"indeterminate"},
    {"url":"reason","valueCodeableConcept":{"coding":[
      {"system":"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp","code":"technical"}],
      "text":"The EHR's FHIR server did not answer."}})";
  EXPECT_TRUE(version_problems("2.2", indeterminate).empty());
  EXPECT_FALSE(version_problems("2.0.1", indeterminate).empty());
  EXPECT_FALSE(version_problems("2.1", indeterminate).empty());
}

TEST(Card, ClassifiedAsTheInfernoKitDoes) {
  rapidjson::Document d;
  d.Parse(R"([{"summary":"a"},{"links":[{"type":"absolute","url":"https://x","label":"x"}]},
    {"links":[{"type":"smart","url":"https://x","label":"x"}]},{"suggestions":[{"label":"s"}]}])");
  EXPECT_EQ(classify_card(d[0]), "instructions");
  EXPECT_EQ(classify_card(d[1]), "external-reference");
  EXPECT_EQ(classify_card(d[2]), "launch-smart");
  EXPECT_EQ(classify_card(d[3]), "suggestions");
}

TEST(CoverageInformation, ChecksValueSetsAndInvariants) {
  rapidjson::Document d;
  d.Parse(
      R"({"url":"http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information",
    "extension":[{"url":"coverage","valueReference":{"reference":"Coverage/c"}},
      {"url":"covered","valueCode":"maybe"},{"url":"info-needed","valueCode":"OTH"},
      {"url":"satisfied-pa-id","valueString":"x"},{"url":"date","valueDate":"2025-13-01"},
      {"url":"coverage-assertion-id","valueString":"a"},{"url":"colour","valueString":"blue"}]})");
  Problems p;
  validate_coverage_information(d, "ext", p);
  auto has = [&](const std::string& s) {
    for (auto& x : p)
      if (x.find(s) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("'maybe' is not in"));
  EXPECT_TRUE(has("(q5)"));
  EXPECT_TRUE(has("(q6)"));
  EXPECT_TRUE(has("not a FHIR date"));
  EXPECT_TRUE(has("'colour' is not a sub-extension") || has("colour is not a sub-extension"));
}

TEST(OrderPreserved, DetectsChangedAndDroppedElements) {
  rapidjson::Document a, b;
  a.Parse(R"({"resourceType":"ServiceRequest","id":"1","status":"draft","note":[{"text":"x"}],
              "extension":[{"url":"u","valueString":"v"}]})");
  b.Parse(R"({"resourceType":"ServiceRequest","id":"1","status":"active",
              "extension":[{"url":"http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information","extension":[]}]})");
  Problems p;
  validate_order_preserved(a, b, "r", p);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_NE(p[0].find("status differs"), std::string::npos);
  EXPECT_NE(p[1].find("note of the draft order was dropped"), std::string::npos);
  EXPECT_NE(p[2].find("extension 'u'"), std::string::npos);
}

TEST(Record, AnswersReadsAndSearchesLikeAnEhr) {
  rapidjson::Document d;
  d.Parse(R"([{"resourceType":"Patient","id":"p"},
    {"resourceType":"Organization","id":"o"},
    {"resourceType":"Coverage","id":"c1","status":"active","beneficiary":{"reference":"Patient/p"},"payor":[{"reference":"Organization/o"}]},
    {"resourceType":"Coverage","id":"c2","status":"cancelled","beneficiary":{"reference":"Patient/p"}},
    {"resourceType":"Condition","id":"x","subject":{"reference":"Patient/q"}}])");
  Record r(d);
  rapidjson::Document out;
  r.query("Patient/p", out, out.GetAllocator());
  EXPECT_STREQ(out["id"].GetString(), "p");
  r.query("Patient/nobody", out, out.GetAllocator());
  EXPECT_TRUE(out.IsNull());
  r.query("Coverage?patient=p&status=active&_include=Coverage:payor", out, out.GetAllocator());
  ASSERT_TRUE(out.IsObject());
  EXPECT_STREQ(out["type"].GetString(), "searchset");
  ASSERT_EQ(out["entry"].Size(), 2u);
  EXPECT_STREQ(out["entry"][0]["resource"]["id"].GetString(), "c1");
  EXPECT_STREQ(out["entry"][1]["search"]["mode"].GetString(), "include");
  r.query("Condition?patient=Patient%2Fp", out, out.GetAllocator());
  EXPECT_FALSE(out.HasMember("entry"));
  EXPECT_EQ(out["total"].GetInt(), 0);
}

TEST(FillTemplate, SubstitutesContextAndUserTokens) {
  std::map<std::string, std::string> ctx{{"patientId", "p1"}, {"userId", "Practitioner/dr"}};
  EXPECT_EQ(fill_template("Coverage?patient={{context.patientId}}", ctx), "Coverage?patient=p1");
  EXPECT_EQ(fill_template("Practitioner/{{userPractitionerId}}", ctx), "Practitioner/dr");
  EXPECT_FALSE(fill_template("Encounter/{{context.encounterId}}", ctx));
  EXPECT_FALSE(fill_template("PractitionerRole/{{userPractitionerRoleId}}", ctx));
}

}  // namespace
}  // namespace cryo::conformance
