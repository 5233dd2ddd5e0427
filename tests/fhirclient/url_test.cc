#include "fhir/client/url.h"

#include <gtest/gtest.h>

#include "fhir/client/prefetch_fetcher.h"

namespace cryo::fhir::client {
namespace {

TEST(BaseUrl, ParsesSchemeHostPortAndPath) {
  auto b = parse_base_url("https://EHR.example.org/fhir/R4/");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->origin(), "https://ehr.example.org:443");
  EXPECT_EQ(b->path, "/fhir/R4");
  EXPECT_EQ(b->url_of("Patient/1"), "https://ehr.example.org:443/fhir/R4/Patient/1");

  auto local = parse_base_url("http://127.0.0.1:8080");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->origin(), "http://127.0.0.1:8080");
  EXPECT_EQ(local->path, "");

  auto v6 = parse_base_url("http://[::1]:9000/fhir");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 9000);
}

TEST(BaseUrl, RefusesWhatIsNotAnHttpBase) {
  EXPECT_FALSE(parse_base_url(""));
  EXPECT_FALSE(parse_base_url("ftp://x/fhir"));
  EXPECT_FALSE(parse_base_url("http://user:pw@ehr/fhir"));
  EXPECT_FALSE(parse_base_url("http://ehr/fhir?x=1"));
  EXPECT_FALSE(parse_base_url("http://ehr:99999/fhir"));
  EXPECT_FALSE(parse_base_url("ehr.example.org/fhir"));
}

TEST(SameServerTarget, FollowsOnlyLinksUnderTheBase) {
  auto b = *parse_base_url("https://ehr.example.org/fhir");
  EXPECT_EQ(same_server_target(b, "https://ehr.example.org/fhir/Condition?page=2"),
            "/fhir/Condition?page=2");
  EXPECT_EQ(same_server_target(b, "https://ehr.example.org:443/fhir/Condition?page=2"),
            "/fhir/Condition?page=2");
  EXPECT_EQ(same_server_target(b, "Condition?page=2"), "/fhir/Condition?page=2");
  EXPECT_FALSE(same_server_target(b, "https://evil.example.org/fhir/Condition?page=2"));
  EXPECT_FALSE(same_server_target(b, "http://ehr.example.org/fhir/Condition?page=2"));
  EXPECT_FALSE(same_server_target(b, "https://ehr.example.org:8443/fhir/Condition"));
  EXPECT_FALSE(same_server_target(b, "https://ehr.example.org/fhirx/Condition"));
  EXPECT_FALSE(same_server_target(b, "https://ehr.example.org/fhir/../admin"));
  EXPECT_FALSE(same_server_target(b, "/other/Condition"));
}

TEST(PercentEncode, KeepsUnreservedOnly) {
  EXPECT_EQ(percent_encode("abc-1.2_~"), "abc-1.2_~");
  EXPECT_EQ(percent_encode("a b&c=d/e"), "a%20b%26c%3Dd%2Fe");
}

class ExpandTemplate : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(parse_copy(R"({"patientId":"pat 1","encounterId":"enc-1",
                                "userId":"PractitionerRole/role-1","count":3,
                                "draftOrders":{"resourceType":"Bundle"}})",
                            context_, ParseLimits{}));
  }
  JsonDocument context_;
};

TEST_F(ExpandTemplate, SubstitutesContextAndUserTokens) {
  EXPECT_EQ(expand_template("Coverage?patient={{context.patientId}}&status=active", &context_),
            "Coverage?patient=pat%201&status=active");
  EXPECT_EQ(expand_template("Encounter/{{ context.encounterId }}", &context_), "Encounter/enc-1");
  EXPECT_EQ(expand_template("PractitionerRole/{{userPractitionerRoleId}}", &context_),
            "PractitionerRole/role-1");
  EXPECT_EQ(expand_template("X?n={{context.count}}", &context_), "X?n=3");
  EXPECT_EQ(expand_template("Patient?_count=1", &context_), "Patient?_count=1");
}

TEST_F(ExpandTemplate, SkipsTemplatesWhoseTokensHaveNoValue) {
  std::string why;
  EXPECT_FALSE(expand_template("Practitioner/{{userPractitionerId}}", &context_, &why));
  EXPECT_NE(why.find("userPractitionerId"), std::string::npos);
  EXPECT_FALSE(expand_template("Appointment/{{context.appointmentId}}", &context_, &why));
  EXPECT_FALSE(expand_template("Bundle/{{context.draftOrders}}", &context_, &why));
  EXPECT_FALSE(expand_template(
      "Device?_id={{context.draftOrders.entry.resource.ofType(DeviceRequest).code.resolve().id}}",
      &context_, &why));
  EXPECT_NE(why.find("not a root-level context field"), std::string::npos);
  EXPECT_FALSE(expand_template("Patient/{{context.patientId", &context_, &why));
  EXPECT_FALSE(expand_template("Patient/{{context.patientId}}", nullptr, &why));
}

}  // namespace
}  // namespace cryo::fhir::client
