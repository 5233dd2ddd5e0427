#include "cds/hook_request.h"

#include <gtest/gtest.h>

#include "fhir/json.h"

namespace cryo::cds {
namespace {

struct Parsed {
  std::string text;
  fhir::JsonDocument doc;
};

std::unique_ptr<Parsed> parse(std::string text) {
  auto p = std::make_unique<Parsed>();
  p->text = std::move(text);
  auto err = fhir::parse_in_place(p->text, p->doc, {});
  EXPECT_FALSE(err.has_value());
  return p;
}

constexpr const char* kOrders = R"("draftOrders":{"resourceType":"Bundle","entry":[]})";

TEST(HookRequest, AcceptsAMinimalOrderSignCall) {
  auto p = parse(
      std::string(
          R"({"hook":"order-sign","hookInstance":"h-1","context":{"patientId":"p1","userId":"Practitioner/1",)") +
      kOrders + "}}");
  auto r = read_hook_request(p->doc, "order-sign");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->patient_id, "p1");
  EXPECT_EQ(r->hook_instance, "h-1");
  EXPECT_NE(r->draft_orders, nullptr);
  EXPECT_EQ(r->prefetch, nullptr);
}

TEST(HookRequest, NamesTheMissingField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"hookInstance":"h","context":{}})", "hook"},
      {R"({"hook":"order-sign","context":{}})", "hookInstance"},
      {R"({"hook":"order-sign","hookInstance":"h"})", "context"},
      {R"({"hook":"order-sign","hookInstance":"h","context":{"draftOrders":{"resourceType":"Bundle"}}})",
       "context.patientId"},
      {R"({"hook":"order-sign","hookInstance":"h","context":{"patientId":"p"}})",
       "context.draftOrders"},
      {R"({"hook":"order-sign","hookInstance":"h","context":{"patientId":"p","draftOrders":[]}})",
       "context.draftOrders"},
      {R"({"hook":"order-sign","hookInstance":"h","fhirAuthorization":{"access_token":"t"},"context":{"patientId":"p","draftOrders":{"resourceType":"Bundle"}}})",
       "fhirServer"},
      {R"({"hook":"order-sign","hookInstance":"h","prefetch":{"coverage":"x"},"context":{"patientId":"p","draftOrders":{"resourceType":"Bundle"}}})",
       "prefetch.coverage"},
      {R"({"hook":"order-select","hookInstance":"h","context":{"patientId":"p","draftOrders":{"resourceType":"Bundle"}}})",
       "hook"},
  };
  for (const auto& c : cases) {
    auto p = parse(c.body);
    auto r = read_hook_request(p->doc, "order-sign");
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().where, c.field) << c.body << " -> " << r.error().to_string();
  }
}

TEST(HookRequest, OrderSelectNeedsSelections) {
  auto p = parse(
      std::string(R"({"hook":"order-select","hookInstance":"h","context":{"patientId":"p",)") +
      kOrders + "}}");
  auto r = read_hook_request(p->doc, "order-select");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().where, "context.selections");
  auto ok = parse(
      std::string(
          R"({"hook":"order-select","hookInstance":"h","context":{"patientId":"p","selections":["ServiceRequest/a"],)") +
      kOrders + "}}");
  auto r2 = read_hook_request(ok->doc, "order-select");
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->selections.size(), 1u);
  EXPECT_EQ(r2->selections[0], "ServiceRequest/a");
}

TEST(HookRequest, OrderDispatchAcceptsEverySpellingOfTheDispatchedOrders) {
  for (const char* name : {"dispatchedOrders", "dispatched-orders", "order"}) {
    auto p = parse(
        std::string(
            R"({"hook":"order-dispatch","hookInstance":"h","context":{"patientId":"p","performer":"Organization/o",")") +
        name + R"(":["ServiceRequest/1","ServiceRequest/2"]}})");
    auto r = read_hook_request(p->doc, "order-dispatch");
    ASSERT_TRUE(r) << name << ": " << r.error().to_string();
    ASSERT_EQ(r->order_references.size(), 2u) << name;
    EXPECT_EQ(r->order_references[1], "ServiceRequest/2");
    EXPECT_EQ(r->performer, "Organization/o");
  }
  auto missing =
      parse(R"({"hook":"order-dispatch","hookInstance":"h","context":{"patientId":"p"}})");
  EXPECT_FALSE(read_hook_request(missing->doc, "order-dispatch"));
}

TEST(HookRequest, AppointmentBookCollectsTheOrdersAppointmentsAreBasedOn) {
  auto p = parse(
      R"({"hook":"appointment-book","hookInstance":"h","context":{"patientId":"p","appointments":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Appointment","id":"a1","status":"proposed","basedOn":[{"reference":"ServiceRequest/sr-1"}]}}]}}})");
  auto r = read_hook_request(p->doc, "appointment-book");
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->order_references.size(), 1u);
  EXPECT_EQ(r->order_references[0], "ServiceRequest/sr-1");
}

TEST(HookRequest, ReadsCrdConfigurationAndIgnoresWhatItDoesNotKnow) {
  auto p = parse(
      std::string(R"({"hook":"order-sign","hookInstance":"h","context":{"patientId":"p",)") +
      kOrders +
      R"(},"extension":{"davinci-crd.configuration":{"guideline":false,"coverage-info":true,"max-cards":-3,"cost":"weird","unknown":{"a":1}}}})");
  auto r = read_hook_request(p->doc, "order-sign");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_FALSE(r->configuration.allows("guideline"));
  EXPECT_TRUE(r->configuration.allows("coverage-info"));
  EXPECT_TRUE(r->configuration.allows("cost"));  // a non-boolean value is ignored
  EXPECT_TRUE(r->configuration.allows("never-mentioned"));
  ASSERT_TRUE(r->configuration.max_cards.has_value());
  EXPECT_EQ(*r->configuration.max_cards, 0);  // nonsensical limit handled as "no cards"
}

TEST(HookRequest, KeepsTheAccessTokenOnlyAsAView) {
  auto p = parse(
      std::string(
          R"({"hook":"order-sign","hookInstance":"h","fhirServer":"https://ehr.example/fhir","fhirAuthorization":{"access_token":"secret-token","token_type":"Bearer","expires_in":30,"scope":"user/*.read","subject":"crd"},"context":{"patientId":"p",)") +
      kOrders + "}}");
  auto r = read_hook_request(p->doc, "order-sign");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_access_token);
  EXPECT_EQ(r->access_token, "secret-token");
  EXPECT_EQ(r->fhir_server, "https://ehr.example/fhir");
}

}  // namespace
}  // namespace cryo::cds
