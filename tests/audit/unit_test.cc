// Admin credential, assertion page and determination record: no store needed.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "audit/admin_auth.h"
#include "audit/assertion_page.h"

namespace cryo::audit {
namespace {

// printf %s "correct horse battery staple" | sha256sum
constexpr const char* kHash = "c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a";

TEST(AdminCredential, AcceptsOnlyTheTokenWhoseHashIsConfigured) {
  auto cred = AdminCredential::from_sha256_hex(kHash);
  ASSERT_TRUE(cred.ok()) << cred.error().to_string();
  EXPECT_TRUE(cred->accepts("correct horse battery staple"));
  EXPECT_FALSE(cred->accepts("correct horse battery stapl"));
  EXPECT_FALSE(cred->accepts(""));
  EXPECT_FALSE(cred->accepts(kHash));

  std::string upper = kHash;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(AdminCredential::from_sha256_hex(upper)->accepts("correct horse battery staple"));
}

TEST(AdminCredential, RejectsMalformedConfiguration) {
  EXPECT_FALSE(AdminCredential::from_sha256_hex("").ok());
  EXPECT_FALSE(AdminCredential::from_sha256_hex("abc").ok());
  std::string bad(kHash);
  bad[10] = 'g';
  EXPECT_FALSE(AdminCredential::from_sha256_hex(bad).ok());
}

TEST(AdminCredential, ReadsBearerTokens) {
  EXPECT_EQ(bearer_token("Bearer abc.def"), "abc.def");
  EXPECT_EQ(bearer_token("bearer   tok "), "tok");
  EXPECT_FALSE(bearer_token("Basic dXNlcg==").has_value());
  EXPECT_FALSE(bearer_token("Bearer ").has_value());
  EXPECT_FALSE(bearer_token("").has_value());
}

AssertionRecord sample() {
  AssertionRecord a;
  a.call.hook_instance = "hi-<1>";
  a.call.hook = "order-sign";
  a.call.service_id = "cryoablation-crd";
  a.call.received_at = TimePoint(std::chrono::milliseconds(1769940030123));
  a.call.patient_id = "pat-\"1\"";
  a.determination.coverage_assertion_id = "ca-1";
  a.determination.order_ref = "ServiceRequest/sr-1";
  a.determination.covered = "conditional";
  a.determination.pa_needed = "auth-needed";
  a.determination.criteria_json =
      R"([{"section":"hcc","title":"Hepatocellular <b>carcinoma</b>","result":"true","rows":[)"
      R"({"depth":1,"label":"Lesion & size","fact":"largest-liver-lesion","condition":"<= 5",)"
      R"("value":"true","notes":["<i>x</i>"],)"
      R"("observed":"<script>alert(1)</script>","evidence":[{"reference":"Observation/o'7",)"
      R"("date":"2026-02-01"}]}]}])";
  return a;
}

TEST(AssertionPage, EscapesEveryStoredValue) {
  std::string html = render_assertion_page(sample());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("Lesion &amp; size"), std::string::npos);
  EXPECT_NE(html.find("&lt;= 5"), std::string::npos);
  EXPECT_NE(html.find("&lt;i&gt;x&lt;/i&gt;"), std::string::npos);
  EXPECT_NE(html.find("Observation/o&#39;7 (2026-02-01)"), std::string::npos);
  EXPECT_NE(html.find("pat-&quot;1&quot;"), std::string::npos);
  EXPECT_NE(html.find("hi-&lt;1&gt;"), std::string::npos);
  EXPECT_NE(html.find("2026-02-01T10:00:30.123Z"), std::string::npos);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("http"), std::string::npos);  // nothing loaded from elsewhere
}

TEST(AssertionPage, ShowsTheOutcomeInTheWordsStoredWithTheLookUpAndTheCodeWithout) {
  AssertionRecord a = sample();
  a.determination.lookup_json =
      R"({"outcome":"Conditional: more information is needed","priorAuthorization":"Required",)"
      R"("documentation":"Clinical documentation, with the claim"})";
  std::string html = render_assertion_page(a);
  EXPECT_NE(html.find("<th>Outcome</th><td>Conditional: more information is needed</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<th>Prior authorization</th><td>Required</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>Documentation</th><td>Clinical documentation, with the claim</td>"),
            std::string::npos);

  a.determination.lookup_json = "{}";
  html = render_assertion_page(a);
  EXPECT_NE(html.find("<th>Outcome</th><td>conditional</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<th>Prior authorization</th><td>auth-needed</td>"), std::string::npos);
}

TEST(AssertionPage, SurvivesCriteriaOfAnUnexpectedShape) {
  AssertionRecord a = sample();
  for (const char* c : {"", "{}", "[1,2]", "[{\"rows\":{}}]", "[{\"rows\":[1,{\"depth\":-4}]}]"}) {
    a.determination.criteria_json = c;
    std::string html = render_assertion_page(a);
    EXPECT_NE(html.find("</html>"), std::string::npos) << c;
  }
}

}  // namespace
}  // namespace cryo::audit
