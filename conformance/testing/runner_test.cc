// The runner against a conforming test server (no failures) and against servers with one
// defect each (the failure names the defect).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include <rapidjson/document.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "conformance/runner.h"
#include "conformance/testing/broken_server.h"

namespace cryo::conformance::testing {
namespace {

namespace fs = std::filesystem;

const char* kScenario = R"({
  "name": "two-orders",
  "description": "Two cryoablation orders for one patient",
  "hook": "order-sign",
  "patientId": "p1",
  "record": [
    {"resourceType": "Patient", "id": "p1"},
    {"resourceType": "Organization", "id": "payer",
     "identifier": [{"system": "http://cryocrd.org/fhir/sid/payer-id", "value": "test"}]},
    {"resourceType": "Coverage", "id": "cov1", "status": "active",
     "beneficiary": {"reference": "Patient/p1"}, "payor": [{"reference": "Organization/payer"}]}
  ],
  "draftOrders": [
    {"resourceType": "ServiceRequest", "id": "sr1", "status": "draft", "intent": "original-order",
     "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "47383"}]},
     "subject": {"reference": "Patient/p1"}, "authoredOn": "2025-06-01",
     "requester": {"reference": "Practitioner/dr"}, "occurrenceDateTime": "2025-06-10",
     "extension": [{"url": "http://ehr.example/ext", "valueString": "kept"}]},
    {"resourceType": "ServiceRequest", "id": "sr2", "status": "draft", "intent": "original-order",
     "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "47371"}]},
     "subject": {"reference": "Patient/p1"}, "authoredOn": "2025-06-01",
     "requester": {"reference": "Practitioner/dr"}}
  ],
  "expected": {
    "status": 200,
    "orders": {
      "ServiceRequest/sr1": {"covered": "covered", "pa-needed": "no-auth", "doc-needed": null},
      "ServiceRequest/sr2": {"covered": "covered", "pa-needed": "no-auth", "info-needed": null}
    },
    "cards": {"min": 1, "textContains": ["criteria met"]}
  }
})";

std::string b64url(const unsigned char* d, size_t n) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    buffer = (buffer << 8) | d[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(k[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(k[(buffer << (6 - bits)) & 63]);
  return out;
}

std::string bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return b64url(reinterpret_cast<const unsigned char*>(out.data()), out.size());
}

// A JWK Set with a fresh P-384 key ("ec-key") and a fresh RSA key ("rsa-key").
void write_jwks(const fs::path& path) {
  EVP_PKEY* ec = EVP_EC_gen("P-384");
  unsigned char point[97];
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len);
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  std::ofstream f(path);
  f << R"({"keys":[{"kty":"EC","crv":"P-384","kid":"ec-key","alg":"ES384","d":")"
    << bn_param(ec, OSSL_PKEY_PARAM_PRIV_KEY) << R"(","x":")" << b64url(point + 1, 48)
    << R"(","y":")" << b64url(point + 49, 48) << R"("},)"
    << R"({"kty":"RSA","kid":"rsa-key","alg":"RS384","n":")" << bn_param(rsa, OSSL_PKEY_PARAM_RSA_N)
    << R"(","e":")" << bn_param(rsa, OSSL_PKEY_PARAM_RSA_E) << R"(","d":")"
    << bn_param(rsa, OSSL_PKEY_PARAM_RSA_D) << R"(","p":")"
    << bn_param(rsa, OSSL_PKEY_PARAM_RSA_FACTOR1) << R"(","q":")"
    << bn_param(rsa, OSSL_PKEY_PARAM_RSA_FACTOR2) << R"(","dp":")"
    << bn_param(rsa, OSSL_PKEY_PARAM_RSA_EXPONENT1) << R"(","dq":")"
    << bn_param(rsa, OSSL_PKEY_PARAM_RSA_EXPONENT2) << R"(","qi":")"
    << bn_param(rsa, OSSL_PKEY_PARAM_RSA_COEFFICIENT1) << R"("}]})";
  EVP_PKEY_free(ec);
  EVP_PKEY_free(rsa);
}

class RunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("crd-conformance-test-" + std::to_string(::getpid())));
    fs::create_directories(*dir_ / "scenarios");
    std::ofstream(*dir_ / "scenarios" / "two-orders.json") << kScenario;
    write_jwks(*dir_ / "jwks.json");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  static Options options(const BrokenServer& server) {
    Options o;
    o.base_url = server.url();
    o.scenarios_dir = (*dir_ / "scenarios").string();
    o.timeout_seconds = 10;
    return o;
  }

  static std::string describe(const Report& r) {
    std::ostringstream s;
    for (auto& c : r.checks)
      if (c.outcome == Check::Outcome::kFail) s << "FAIL " << c.name << " — " << c.reason << "\n";
    return s.str();
  }

  static fs::path* dir_;
};

fs::path* RunnerTest::dir_ = nullptr;

TEST_F(RunnerTest, ConformingServerPassesEveryCheck) {
  BrokenServer server(Defect::kNone);
  Report r = run(options(server), nullptr);
  EXPECT_EQ(r.failed(), 0) << describe(r);
  EXPECT_GT(r.passed(), 15);
  EXPECT_FALSE(r.calls.empty());
  // Configuration options were exercised.
  bool guideline = false, max_cards = false;
  for (auto& c : r.checks) {
    guideline = guideline || c.name.find("configuration guideline=false") != std::string::npos;
    max_cards = max_cards || c.name.find("configuration max-cards=1") != std::string::npos;
  }
  EXPECT_TRUE(guideline);
  EXPECT_TRUE(max_cards);
}

TEST_F(RunnerTest, SignsCallsWithEs384AndRs384) {
  for (const char* kid : {"ec-key", "rsa-key"}) {
    auto signer = load_jwks_signer((*dir_ / "jwks.json").string(), "https://ehr.example", kid);
    ASSERT_TRUE(signer) << signer.error().to_string();
    std::shared_ptr<RequestSigner> verifier = std::move(*signer);
    BrokenServer server(Defect::kNone, verifier);
    Options o = options(server);
    o.jwks_path = (*dir_ / "jwks.json").string();
    o.issuer = "https://ehr.example";
    o.kid = kid;
    Report r = run(o, nullptr);
    EXPECT_EQ(r.failed(), 0) << kid << "\n" << describe(r);
    EXPECT_FALSE(r.failures("", "").size());
    bool checked_401 = false;
    for (auto& c : r.checks) checked_401 = checked_401 || c.name.find("401") != std::string::npos;
    EXPECT_TRUE(checked_401);
  }
}

TEST_F(RunnerTest, ServerAcceptingAnyTokenFails) {
  auto signer = load_jwks_signer((*dir_ / "jwks.json").string(), "https://ehr.example", "ec-key");
  ASSERT_TRUE(signer);
  std::shared_ptr<RequestSigner> verifier = std::move(*signer);
  BrokenServer server(Defect::kAcceptsAnyToken, verifier);
  Options o = options(server);
  o.jwks_path = (*dir_ / "jwks.json").string();
  o.issuer = "https://ehr.example";
  o.kid = "ec-key";
  Report r = run(o, nullptr);
  EXPECT_EQ(r.failures("bad signature answers 401", "status 200").size(), 1u) << describe(r);
  EXPECT_EQ(r.failures("expired JWT answers 401", "status 200").size(), 1u);
  EXPECT_EQ(r.failures("without a JWT answers 401", "status 200").size(), 1u);
}

// Decodes one base64url segment of a JWT.
std::string b64url_decode(const std::string& in) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
            : c == '_'             ? 63
                                   : -1;
    if (v < 0) return "";
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

// The runner's tokens have the shape the Inferno CRD test kit's JwtHelper gives its own:
// header {alg, typ, kid, jku = <iss>/jwks.json}, claims {iss, aud, exp, iat, jti} with
// exp = iat + 300 and a 64-hex-digit jti.
TEST_F(RunnerTest, SignsLikeTheInfernoKitByDefault) {
  for (const char* alg : {"ES384", "RS384"}) {
    auto signer = load_jwks_signer(SignerSettings{(*dir_ / "jwks.json").string(),
                                                  "https://ehr.example", "", alg, std::nullopt});
    ASSERT_TRUE(signer) << signer.error().to_string();
    std::shared_ptr<RequestSigner> verifier = std::move(*signer);
    BrokenServer server(Defect::kNone, verifier);
    Options o = options(server);
    o.jwks_path = (*dir_ / "jwks.json").string();
    o.issuer = "https://ehr.example";
    o.alg = alg;  // no kid: the first private key for the algorithm, as the kit picks it
    Report r = run(o, nullptr);
    EXPECT_EQ(r.failed(), 0) << describe(r);
    std::string auth = server.first_authorization();
    ASSERT_EQ(auth.rfind("Bearer ", 0), 0u) << auth;
    std::string jwt = auth.substr(7);
    size_t d1 = jwt.find('.'), d2 = jwt.rfind('.');
    ASSERT_NE(d1, d2);
    rapidjson::Document header, claims;
    header.Parse(b64url_decode(jwt.substr(0, d1)).c_str());
    claims.Parse(b64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1)).c_str());
    ASSERT_TRUE(header.IsObject() && claims.IsObject());
    std::vector<std::string> names;
    for (auto& m : header.GetObject()) names.push_back(m.name.GetString());
    EXPECT_EQ(names, (std::vector<std::string>{"alg", "typ", "kid", "jku"}));
    EXPECT_STREQ(header["alg"].GetString(), alg);
    EXPECT_STREQ(header["typ"].GetString(), "JWT");
    EXPECT_STREQ(header["kid"].GetString(), std::string(alg) == "ES384" ? "ec-key" : "rsa-key");
    EXPECT_STREQ(header["jku"].GetString(), "https://ehr.example/jwks.json");
    names.clear();
    for (auto& m : claims.GetObject()) names.push_back(m.name.GetString());
    EXPECT_EQ(names, (std::vector<std::string>{"iss", "aud", "exp", "iat", "jti"}));
    EXPECT_STREQ(claims["iss"].GetString(), "https://ehr.example");
    EXPECT_EQ(std::string(claims["aud"].GetString()).rfind(server.url() + "/cds-services", 0), 0u);
    EXPECT_EQ(claims["exp"].GetInt64() - claims["iat"].GetInt64(), 300);
    std::string jti = claims["jti"].GetString();
    EXPECT_EQ(jti.size(), 64u);
    EXPECT_EQ(jti.find_first_not_of("0123456789abcdef"), std::string::npos) << jti;
  }
  // --jku URL and --no-jku.
  Options o;
  o.timeout_seconds = 10;
  o.jwks_path = (*dir_ / "jwks.json").string();
  o.issuer = "https://ehr.example";
  o.jku = "https://keys.ehr.example/set.json";
  BrokenServer with_jku(Defect::kNone, nullptr);
  o.base_url = with_jku.url();
  run(o, nullptr);
  std::string jwt = with_jku.first_authorization().substr(7);
  EXPECT_NE(b64url_decode(jwt.substr(0, jwt.find('.')))
                .find("\"jku\":\"https://keys.ehr.example/set.json\""),
            std::string::npos);
  o.send_jku = false;
  BrokenServer without_jku(Defect::kNone, nullptr);
  o.base_url = without_jku.url();
  run(o, nullptr);
  jwt = without_jku.first_authorization().substr(7);
  EXPECT_EQ(b64url_decode(jwt.substr(0, jwt.find('.'))).find("jku"), std::string::npos);
}

// Nothing to measure, nothing to build a request from: those checks are SKIP, not PASS, in
// the report, the JSON, the JUnit file and the summary line.
TEST_F(RunnerTest, ChecksThatCouldNotRunAreSkipped) {
  BrokenServer server(Defect::kNone);
  auto dir = *dir_ / "skip";
  fs::create_directories(dir);
  std::string base = server.url(), json = (dir / "r.json").string(),
              junit = (dir / "r.xml").string();
  const char* argv[] = {"crd-conformance", "--base-url", base.c_str(), "--report",
                        json.c_str(),      "--junit",    junit.c_str()};
  std::ostringstream captured;
  auto* saved = std::cout.rdbuf(captured.rdbuf());
  int code = run_conformance(7, const_cast<char**>(argv));
  std::cout.rdbuf(saved);
  const std::string text = captured.str();
  EXPECT_EQ(code, 0) << text;
  EXPECT_NE(text.find("SKIP  latency: p90 within the CRD limit of 5 s"), std::string::npos) << text;
  EXPECT_NE(text.find("SKIP  negative: declared prefetch missing"), std::string::npos) << text;
  EXPECT_EQ(text.find("PASS  latency"), std::string::npos) << text;
  EXPECT_NE(text.find(" failed, 3 skipped\n"), std::string::npos) << text;

  Options o = options(server);
  o.scenarios_dir.clear();
  Report r = run(o, nullptr);
  EXPECT_EQ(r.skipped(), 3);
  for (auto& c : r.checks)
    if (c.group == "latency") {
      EXPECT_EQ(c.outcome, Check::Outcome::kSkip) << c.name;
    }

  std::ifstream jf(json), xf(junit);
  std::stringstream js, xs;
  js << jf.rdbuf();
  xs << xf.rdbuf();
  rapidjson::Document doc;
  doc.Parse(js.str().c_str());
  ASSERT_TRUE(doc.IsObject()) << js.str();
  EXPECT_EQ(doc["skipped"].GetInt(), 3);
  int skip_outcomes = 0;
  for (auto& c : doc["checks"].GetArray())
    skip_outcomes += std::string(c["outcome"].GetString()) == "skip";
  EXPECT_EQ(skip_outcomes, 3);
  EXPECT_NE(xs.str().find("skipped=\"3\""), std::string::npos) << xs.str();
  EXPECT_NE(xs.str().find("<skipped message=\"no successful service call"), std::string::npos)
      << xs.str();

  // With scenarios, latency is measured and passes.
  Report measured = run(options(server), nullptr);
  for (auto& c : measured.checks)
    if (c.name == "latency: p90 within the CRD limit of 5 s") {
      EXPECT_EQ(c.outcome, Check::Outcome::kPass) << c.reason;
    }
}

// A failure shows the call it judged: request line, headers (token elided), body, and the
// answer, each bounded.
TEST_F(RunnerTest, FailuresShowTheRequestAndTheResponse) {
  auto signer = load_jwks_signer((*dir_ / "jwks.json").string(), "https://ehr.example", "ec-key");
  std::shared_ptr<RequestSigner> verifier = std::move(*signer);
  BrokenServer server(Defect::kLongSummary, verifier);
  Options o = options(server);
  o.jwks_path = (*dir_ / "jwks.json").string();
  o.issuer = "https://ehr.example";
  o.kid = "ec-key";
  std::ostringstream out;
  Report r = run(o, &out);
  auto failures = r.failures("two-orders: cards", "");
  ASSERT_EQ(failures.size(), 1u) << describe(r);
  const Check& c = *failures[0];
  EXPECT_EQ(c.request.rfind("POST /cds-services/test-order-sign\n", 0), 0u) << c.request;
  EXPECT_NE(c.request.find("Authorization: Bearer <JWT of "), std::string::npos) << c.request;
  EXPECT_NE(c.request.find("\"hookInstance\""), std::string::npos);
  EXPECT_EQ(c.request.find("eyJ"), std::string::npos) << "a token is shown";
  EXPECT_EQ(c.response.rfind("HTTP 200\n", 0), 0u) << c.response;
  EXPECT_NE(c.response.find("\"summary\""), std::string::npos);
  EXPECT_LE(c.request.size(), 4096u);
  EXPECT_LE(c.response.size(), 4096u);
  EXPECT_NE(out.str().find("      request:\n        POST /cds-services/test-order-sign"),
            std::string::npos);
  EXPECT_NE(out.str().find("      response:\n        HTTP 200"), std::string::npos);
  // Passing checks carry no exchange.
  for (auto& p : r.checks)
    if (p.outcome == Check::Outcome::kPass) {
      EXPECT_TRUE(p.request.empty()) << p.name;
    }
}

// Every call of a run goes over one kept-alive connection.
TEST_F(RunnerTest, CallsReuseKeepAliveConnections) {
  BrokenServer server(Defect::kNone);
  Report r = run(options(server), nullptr);
  EXPECT_EQ(r.failed(), 0) << describe(r);
  EXPECT_GE(r.http_calls, 10);
  EXPECT_EQ(r.connections, server.connections());
  EXPECT_LE(server.connections(), 2) << r.http_calls << " calls";
}

struct DefectCase {
  Defect defect;
  const char* check;   // part of the failing check's name
  const char* reason;  // part of its reason
};

class DefectTest : public RunnerTest, public ::testing::WithParamInterface<DefectCase> {};

TEST_P(DefectTest, RunnerReportsTheDefect) {
  const DefectCase& c = GetParam();
  BrokenServer server(c.defect);
  Report r = run(options(server), nullptr);
  EXPECT_FALSE(r.failures(c.check, c.reason).empty())
      << "expected a failure of '" << c.check << "' mentioning '" << c.reason << "'; got:\n"
      << describe(r);
  std::ostringstream summary;
  EXPECT_GT(r.failed(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Defects, DefectTest,
    ::testing::Values(
        DefectCase{Defect::kLongSummary, "two-orders: cards",
                   "summary is 150 characters (must be < 140)"},
        DefectCase{Defect::kSuggestionWithoutUuid, "two-orders: cards",
                   "suggestions[0].uuid is missing"},
        DefectCase{Defect::kCoverageInfoWithoutAssertionId, "coverage-information",
                   "lacks the required sub-extension 'coverage-assertion-id'"},
        DefectCase{Defect::kNotCoveredWithPaNeeded, "coverage-information",
                   "not-covered with pa-needed 'no-auth' (q2)"},
        DefectCase{Defect::kConditionalWithoutInfoNeeded, "coverage-information",
                   "conditional without info-needed (q3)"},
        DefectCase{Defect::kActionWithoutDescription, "coverage-information",
                   "description is missing"},
        DefectCase{Defect::kAcceptsBadJson, "malformed JSON", "status 200, expected 400"},
        DefectCase{Defect::kPlainTextErrors, "unknown service", "not a FHIR OperationOutcome"},
        DefectCase{Defect::kUnknownServiceAnswers200, "unknown service",
                   "status 200, expected 404"},
        DefectCase{Defect::kNo412WithoutPrefetch, "prefetch missing", "status 200, expected 412"},
        DefectCase{Defect::kDropsDraftElement, "coverage-information",
                   "authoredOn of the draft order was dropped"},
        DefectCase{Defect::kAddsElementToOrder, "coverage-information", "note was added"},
        DefectCase{Defect::kBadIndicator, "two-orders: cards", "indicator is 'hard-stop'"},
        DefectCase{Defect::kRelativeLink, "two-orders: cards", "'/portal' is not an absolute URL"},
        DefectCase{Defect::kAppContextOnAbsoluteLink, "two-orders: cards",
                   "appContext is only allowed on smart links"},
        DefectCase{Defect::kMissingSourceTopic, "two-orders: cards", "source.topic is missing"},
        DefectCase{Defect::kNoSelectionBehavior, "two-orders: cards",
                   "selectionBehavior is absent"},
        DefectCase{Defect::kIgnoresConfiguration, "configuration guideline=false",
                   "has topic guideline"},
        DefectCase{Defect::kIgnoresConfiguration, "configuration max-cards=1",
                   "2 cards with max-cards=1"},
        DefectCase{Defect::kIgnoresConfiguration, "configuration coverage-info=false",
                   "coverage-information returned"},
        DefectCase{Defect::kTwoAssertionIdsForOneCoverage, "coverage-information",
                   "2 different coverage-assertion-ids"},
        DefectCase{Defect::kWrongDecision, "expected coverage decision",
                   "covered=not-covered, expected covered"},
        DefectCase{Defect::kBadPrefetchTemplate, "discovery: services document",
                   "is not a root-level context field"},
        DefectCase{Defect::kBadConfigurationOption, "discovery: services document",
                   "must be boolean|integer"},
        DefectCase{Defect::kMissingCards, "response shape", "`cards` is missing"}));

TEST(RunConformance, UsageErrorsExitWith2) {
  const char* no_url[] = {"crd-conformance"};
  EXPECT_EQ(run_conformance(1, const_cast<char**>(no_url)), 2);
  const char* unknown[] = {"crd-conformance", "--base-url", "http://x", "--frobnicate"};
  EXPECT_EQ(run_conformance(4, const_cast<char**>(unknown)), 2);
  const char* jwks_alone[] = {"crd-conformance", "--base-url", "http://x", "--jwks", "k.json"};
  EXPECT_EQ(run_conformance(5, const_cast<char**>(jwks_alone)), 2);
}

TEST(RunConformance, UnreachableServerFailsAndWritesReports) {
  auto dir =
      fs::temp_directory_path() / ("crd-conformance-unreachable-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Options o;
  o.base_url = "http://127.0.0.1:1";
  o.report_path = (dir / "report.json").string();
  o.junit_path = (dir / "junit.xml").string();
  o.timeout_seconds = 2;
  Report r = run(o, nullptr);
  EXPECT_FALSE(r.failures("discovery", "no answer").empty());
  std::ifstream report(o.report_path), junit(o.junit_path);
  std::stringstream a, b;
  a << report.rdbuf();
  b << junit.rdbuf();
  EXPECT_NE(a.str().find("\"failed\""), std::string::npos);
  EXPECT_NE(b.str().find("<failure"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cryo::conformance::testing
