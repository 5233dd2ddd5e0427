// parse_hook_body: the one reader of a hook call's body, with its limits.
#include "cds/hook_body.h"

#include <gtest/gtest.h>

#include <string>

namespace cryo::cds {
namespace {

// Limits with these caps (0: none).
BodyLimits caps(size_t draft_orders, size_t resources, size_t references) {
  BodyLimits limits;
  if (draft_orders > 0) limits.max_draft_orders = draft_orders;
  if (resources > 0) limits.max_resources = resources;
  if (references > 0) limits.max_references = references;
  return limits;
}

std::optional<Refusal> parse(std::string body, const BodyLimits& limits) {
  fhir::JsonDocument doc;
  return parse_hook_body(body, doc, limits);
}

TEST(HookBody, AcceptsJsonWithinTheLimitsAndReadsItInPlace) {
  std::string body = R"({"hook":"order-sign","hookInstance":"h-1"})";
  fhir::JsonDocument doc;
  ASSERT_FALSE(parse_hook_body(body, doc, {}));
  EXPECT_EQ(fhir::string_or_empty(fhir::member(doc, "hookInstance")), "h-1");
  // In place: the document's strings point into the body.
  const char* instance = fhir::member(doc, "hookInstance")->GetString();
  EXPECT_TRUE(instance >= body.data() && instance < body.data() + body.size());
}

TEST(HookBody, RefusesWhatIsTooLargeTooDeepOrNotJson) {
  auto large = parse(std::string(100, ' ') + "{}", {.parse = {.max_bytes = 64}});
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 413);
  EXPECT_EQ(large->code, "too-long");
  auto deep = parse("[[[[[[1]]]]]]", {.parse = {.max_depth = 3}});
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->status, 400);
  EXPECT_EQ(deep->code, "structure");
  auto broken = parse(R"({"hook":)", {});
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 400);
  EXPECT_EQ(broken->code, "structure");
  EXPECT_TRUE(broken->message.starts_with("the request body is not acceptable JSON: "));
}

TEST(HookBody, AppliesThePerCallCapsNamingTheSetting) {
  const std::string body =
      R"({"context":{"draftOrders":{"resourceType":"Bundle","entry":[
          {"resource":{"resourceType":"ServiceRequest","subject":{"reference":"Patient/p"}}},
          {"resource":{"resourceType":"ServiceRequest","subject":{"reference":"Patient/p"}}}]}}})";
  EXPECT_FALSE(parse(body, {}));  // no caps unless set
  auto orders = parse(body, caps(1, 0, 0));
  ASSERT_TRUE(orders);
  EXPECT_EQ(orders->status, 400);
  EXPECT_EQ(orders->code, "too-costly");
  EXPECT_EQ(orders->message,
            "the call carries 2 draft orders; this service accepts at most 1 per call "
            "(server.max_draft_orders)");
  auto resources = parse(body, caps(0, 2, 0));  // the Bundle and two orders
  ASSERT_TRUE(resources);
  EXPECT_EQ(resources->message,
            "the call carries 3 resources; this service accepts at most 2 per call "
            "(server.max_resources)");
  auto references = parse(body, caps(0, 0, 1));
  ASSERT_TRUE(references);
  EXPECT_EQ(references->message,
            "the call carries 2 references; this service accepts at most 1 per call "
            "(server.max_references)");
  EXPECT_FALSE(parse(body, caps(2, 3, 2)));
}

TEST(HookBody, ANulInTheHookInstanceIsRefusedWhereCallsAreKept) {
  const std::string body = "{\"hookInstance\":\"a\\u0000b\"}";
  EXPECT_FALSE(parse(body, {}));
  BodyLimits kept;
  kept.refuse_nul_in_hook_instance = true;
  auto refused = parse(body, kept);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(refused->message, "hookInstance must not contain U+0000");
}

}  // namespace
}  // namespace cryo::cds
