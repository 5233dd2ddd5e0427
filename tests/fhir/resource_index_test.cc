#include "fhir/resource_index.h"

#include <gtest/gtest.h>

namespace cryo::fhir {
namespace {

JsonDocument parse(std::string_view text) {
  JsonDocument doc;
  auto err = parse_copy(text, doc, ParseLimits{});
  EXPECT_FALSE(err.has_value()) << (err ? err->message : "");
  return doc;
}

TEST(ResourceIndex, IndexesResourcesAndBundlesInOrder) {
  JsonDocument bundle = parse(R"({"resourceType":"Bundle","type":"searchset","entry":[
    {"fullUrl":"http://ehr/fhir/Condition/c1","resource":{"resourceType":"Condition","id":"c1"}},
    {"resource":{"resourceType":"Condition","id":"c2"}},
    {"resource":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition","id":"c3"}}]}},
    {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","diagnostics":"paged"}]}}
  ]})");
  JsonDocument single = parse(R"({"resourceType":"Patient","id":"p1"})");
  JsonDocument null_value = parse("null");
  ResourceIndex index;
  EXPECT_EQ(index.add(bundle, "prefetch.conditions"), 3u);
  EXPECT_EQ(index.add(single, "prefetch.patient"), 1u);
  EXPECT_EQ(index.add(null_value, "prefetch.x"), 0u);
  auto conditions = index.of_type("Condition");
  ASSERT_EQ(conditions.size(), 3u);
  EXPECT_EQ(string_or_empty(member(*conditions[0], "id")), "c1");
  EXPECT_EQ(string_or_empty(member(*conditions[2], "id")), "c3");
  EXPECT_TRUE(index.of_type("Observation").empty());
  EXPECT_NE(index.find("Patient", "p1"), nullptr);
  EXPECT_EQ(index.find("Patient", "p2"), nullptr);
  ASSERT_EQ(index.outcome_issues().size(), 1u);
  EXPECT_EQ(index.outcome_issues()[0], "prefetch.conditions: information informational: paged");
  EXPECT_EQ(ResourceIndex::key_of(*conditions[1]), "Condition/c2");
}

TEST(ResourceIndex, OperationOutcomeIsNotData) {
  JsonDocument oo = parse(
      R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","details":{"text":"no such patient"}}]})");
  ResourceIndex index;
  EXPECT_EQ(index.add(oo, "prefetch.patient"), 0u);
  EXPECT_TRUE(index.of_type("OperationOutcome").empty());
  ASSERT_EQ(index.outcome_issues().size(), 1u);
  EXPECT_EQ(index.outcome_issues()[0], "prefetch.patient: error not-found: no such patient");
}

TEST(ResourceIndex, SameIdTwiceKeepsOneEntryLaterWins) {
  JsonDocument a = parse(R"({"resourceType":"Coverage","id":"cov","status":"draft"})");
  JsonDocument b = parse(R"({"resourceType":"Coverage","id":"cov","status":"active"})");
  ResourceIndex index;
  index.add(a, "prefetch.coverage");
  index.add(b, "server");
  ASSERT_EQ(index.of_type("Coverage").size(), 1u);
  EXPECT_EQ(string_or_empty(member(*index.find("Coverage", "cov"), "status")), "active");
}

TEST(ResourceIndex, ResolvesRelativeAbsoluteHistoryContainedAndFullUrl) {
  JsonDocument doc = parse(R"({"resourceType":"Bundle","entry":[
    {"fullUrl":"urn:uuid:1111","resource":{"resourceType":"Organization","id":"org1","name":"Payer"}},
    {"resource":{"resourceType":"Coverage","id":"cov","contained":[{"resourceType":"Organization","id":"inner"}],
      "payor":[{"reference":"#inner"}]}}]})");
  ResourceIndex index;
  index.add(doc, "prefetch.coverage");
  const Json* cov = index.find("Coverage", "cov");
  ASSERT_NE(cov, nullptr);
  EXPECT_NE(index.resolve("Organization/org1"), nullptr);
  EXPECT_NE(index.resolve("https://ehr.example/fhir/Organization/org1"), nullptr);
  EXPECT_NE(index.resolve("https://ehr.example/fhir/Organization/org1/_history/3"), nullptr);
  EXPECT_NE(index.resolve("urn:uuid:1111"), nullptr);
  const Json* inner = index.resolve(*member(*cov, "payor")->Begin(), cov);
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(string_or_empty(member(*inner, "id")), "inner");
  EXPECT_EQ(index.resolve("#inner"), nullptr);  // no container
  EXPECT_EQ(index.resolve("Organization/missing"), nullptr);
  EXPECT_EQ(index.resolve(""), nullptr);
}

TEST(ResourceIndex, SplitReference) {
  std::string_view type, id;
  EXPECT_TRUE(split_reference("Patient/123", type, id));
  EXPECT_EQ(type, "Patient");
  EXPECT_EQ(id, "123");
  EXPECT_TRUE(split_reference("http://x/fhir/BodyStructure/l-1/_history/2", type, id));
  EXPECT_EQ(type, "BodyStructure");
  EXPECT_EQ(id, "l-1");
  EXPECT_FALSE(split_reference("123", type, id));
  EXPECT_FALSE(split_reference("#c1", type, id));
  EXPECT_FALSE(split_reference("patient/1", type, id));
}

TEST(ResourceIndex, AdoptKeepsDocumentsAlive) {
  ResourceIndex index;
  auto doc = std::make_unique<JsonDocument>(parse(R"({"resourceType":"Organization","id":"o"})"));
  const JsonDocument& kept = index.adopt(std::move(doc));
  index.add(kept, "https://ehr/fhir/Organization/o");
  ResourceIndex moved = std::move(index);
  EXPECT_NE(moved.find("Organization", "o"), nullptr);
}

}  // namespace
}  // namespace cryo::fhir
