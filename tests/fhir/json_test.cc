#include "fhir/json.h"

#include <gtest/gtest.h>

namespace cryo::fhir {
namespace {

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(Json, ParsesInPlaceAndReadsMembers) {
  std::string body = R"({"hookInstance":"abc","n":3,"list":[1,2,3],"obj":{"a":"b"}})";
  JsonDocument doc;
  ASSERT_FALSE(parse_in_place(body, doc, ParseLimits{}).has_value());
  EXPECT_EQ(string_or_empty(member(doc, "hookInstance")), "abc");
  EXPECT_EQ(items(member(doc, "list")).size(), 3u);
  EXPECT_EQ(string_or_empty(member(member(doc, "obj"), "a")), "b");
  // Wrong shapes answer "absent".
  EXPECT_EQ(member(member(doc, "n"), "x"), nullptr);
  EXPECT_EQ(string_or_empty(member(doc, "n")), "");
  EXPECT_TRUE(items(member(doc, "obj")).empty());
  EXPECT_TRUE(items(nullptr).empty());
  EXPECT_EQ(member(nullptr, "a"), nullptr);
  EXPECT_EQ(to_string(*member(doc, "obj")), R"({"a":"b"})");
}

TEST(Json, DepthLimitIsEnforcedBeforeParsing) {
  ParseLimits limits;
  limits.max_depth = 5;
  JsonDocument doc;
  EXPECT_FALSE(parse_copy(nested(5), doc, limits).has_value());
  auto err = parse_copy(nested(6), doc, limits);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, ParseError::kTooDeep);
  // Mixed objects and arrays count alike.
  err = parse_copy(R"({"a":[{"b":[{"c":[1]}]}]})", doc, limits);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, ParseError::kTooDeep);
}

TEST(Json, DepthScanIgnoresBracketsInsideStrings) {
  ParseLimits limits;
  limits.max_depth = 2;
  JsonDocument doc;
  std::string text = R"({"a":"[[[[{{{{ \" [[[[ \\","b":[1]})";
  EXPECT_FALSE(parse_copy(text, doc, limits).has_value());
  EXPECT_EQ(string_or_empty(member(doc, "a")), "[[[[{{{{ \" [[[[ \\");
}

TEST(Json, HostileDepthIsRejectedNotCrashing) {
  std::string body = nested(200000);
  JsonDocument doc;
  auto err = parse_in_place(body, doc, ParseLimits{});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, ParseError::kTooDeep);
}

TEST(Json, SizeLimit) {
  ParseLimits limits;
  limits.max_bytes = 10;
  JsonDocument doc;
  EXPECT_FALSE(parse_copy(R"({"a":"b"})", doc, limits).has_value());
  auto err = parse_copy(R"({"a":"bcdef"})", doc, limits);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, ParseError::kTooLarge);
}

TEST(Json, SyntaxErrorsCarryOffset) {
  std::string body = R"({"a": tru})";
  JsonDocument doc;
  auto err = parse_in_place(body, doc, ParseLimits{});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, ParseError::kSyntax);
  EXPECT_NE(err->message.find("byte"), std::string::npos);
  std::string with_nul("{\"a\":1}\0{", 9);
  err = parse_in_place(with_nul, doc, ParseLimits{});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, ParseError::kSyntax);
  EXPECT_TRUE(parse_copy("[1,2", doc, ParseLimits{}).has_value());
}

}  // namespace
}  // namespace cryo::fhir

namespace cryo::fhir {
namespace {

TEST(JsonMember, FindsNamesGivenAsViewsIntoLongerStrings) {
  std::string text = R"({"patientId":"p1","patient":"x"})";
  JsonDocument doc;
  ASSERT_FALSE(parse_in_place(text, doc, {}).has_value());
  std::string longer = "patientIdentifier";
  std::string_view name = std::string_view(longer).substr(0, 9);  // "patientId", not NUL-terminated
  const Json* v = member(doc, name);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(string_or_empty(v), "p1");
  EXPECT_EQ(string_or_empty(member(doc, std::string_view(longer).substr(0, 7))), "x");
}

}  // namespace
}  // namespace cryo::fhir
