// Trusting only known CDS clients, end to end: the real cryo-crd binary, started with a
// configuration file (TLS, trusted issuers, CORS), called over real HTTPS on loopback.
//
// Two kinds of trusted issuer are configured: one whose JWK Set is a file (the Inferno CRD test
// kit's own JWK Set when it is present, otherwise a set generated here; every check runs with
// the generated keys too) and one whose JWK Set is fetched from a URL (a loopback JWKS server
// with keys generated here). Every genuine token must be accepted on discovery, a service call
// and feedback; every forged, stale, replayed or misaddressed one must get 401 with
// `WWW-Authenticate: Bearer` and nothing that says why. The server's log must never contain a
// token.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <httplib.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tests/support/tls_probe.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hook_request_builder.h"
#include "server_process.h"
#include "tests/support/jwks_server.h"
#include "tests/support/self_signed_cert.h"
#include "tests/support/token_minter.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kInfernoIss = "https://inferno.healthit.gov/suites/custom/crd_server";
const std::string kFileIss = "https://ehr-file.example.org";  // generated keys in a file
const std::string kUrlIss = "https://ehr.example.org";        // generated keys behind a URL
const std::string kRotatingIss = "https://rotating-ehr.example.org";
const std::string kAllowedOrigin = "https://ehr.example.org";
const std::string kCoverageInformation =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";
constexpr int kRefreshIntervalSeconds = 3;

const std::string kDiscovery = "/cds-services";
const std::string kService = "/cds-services/order-sign-crd";
const std::string kFeedback = "/cds-services/order-sign-crd/feedback";

bool inferno_jwks_present() {
  return fs::exists(CRYO_INFERNO_JWKS);
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A fresh directory under /tmp, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cryo-security-e2e-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Whether an answer is the uniform refusal: 401, `WWW-Authenticate: Bearer` and no reason.
void expect_refused(const httplib::Result& r, const std::string& what) {
  ASSERT_TRUE(r) << what << ": no answer (" << httplib::to_string(r.error()) << ")";
  EXPECT_EQ(r->status, 401) << what << ": " << r->body.substr(0, 300);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer") << what;
  // The same body whatever the reason: nothing tells a forger which check failed.
  EXPECT_NE(r->body.find("authentication required"), std::string::npos) << what << ": " << r->body;
  for (const char* detail :
       {"expired", "signature", "kid", "jku", "aud", "iat", "jti", "replay", "algorithm", "none",
        "HS384", "malformed", "trusted", "Authorization", "future", "lifetime"}) {
    EXPECT_EQ(r->body.find(detail), std::string::npos)
        << what << " leaks '" << detail << "': " << r->body;
  }
}

// ---- TLS handshakes pinned to one protocol version (as in tests/security/tls_test.cc) ----

using Handshake = TlsHandshake;
Handshake handshake(int port, int version) {
  return tls_handshake(port, version, version);
}

// ---- The deployment: keys, JWKS server, certificate, configuration file, server ----

struct DeploymentOptions {
  bool inferno = false;    // the file issuer is Inferno with its own JWK Set
  std::string base_url{};  // server.base_url ("" = built from bind and port)
};

class Deployment {
 public:
  explicit Deployment(DeploymentOptions o = {}) : options_(std::move(o)) {
    auto cert = write_self_signed_certificate(dir_.path());
    if (!cert) throw std::runtime_error(cert.error().to_string());
    cert_ = *cert;

    // The file issuer: Inferno's JWK Set, or a set with generated ES384 and RS384 keys.
    if (options_.inferno) {
      file_iss_ = kInfernoIss;
      jwks_file_ = CRYO_INFERNO_JWKS;
      file_es_ = std::make_unique<TokenMinter>(
          TokenMinter::from_jwk_set_file(jwks_file_, "ES384").value());
      file_rs_ = std::make_unique<TokenMinter>(
          TokenMinter::from_jwk_set_file(jwks_file_, "RS384").value());
    } else {
      file_iss_ = kFileIss;
      jwks_file_ = (dir_.path() / "ehr-file-jwks.json").string();
      file_es_ = std::make_unique<TokenMinter>(TokenMinter::generate("ES384", "file-es-1").value());
      file_rs_ = std::make_unique<TokenMinter>(TokenMinter::generate("RS384", "file-rs-1").value());
      write_file(jwks_file_, security::public_jwk_set_json({&file_es_->key(), &file_rs_->key()}));
    }
    // The URL issuer and the issuer that rotates its keys, both behind loopback JWKS servers.
    url_es_ = std::make_unique<TokenMinter>(TokenMinter::generate("ES384", "url-es-1").value());
    url_rs_ = std::make_unique<TokenMinter>(TokenMinter::generate("RS384", "url-rs-1").value());
    url_jwks_.set_body(security::public_jwk_set_json({&url_es_->key(), &url_rs_->key()}));
    rot_a_ = std::make_unique<TokenMinter>(TokenMinter::generate("ES384", "rot-a").value());
    rot_b_ = std::make_unique<TokenMinter>(TokenMinter::generate("ES384", "rot-b").value());
    rot_jwks_.set_body(security::public_jwk_set_json({&rot_a_->key()}));

    // Credentials on, so the allowed origin must be named exactly, never "*".
    std::string cors = R"({"allowed_origins": [")" + kAllowedOrigin +
                       R"("], "allow_credentials": true, "max_age_seconds": 300})";
    std::string server = options_.base_url.empty()
                             ? "{}"
                             : R"({"base_url": )" + json_string(options_.base_url) + "}";
    std::string tls = R"({"cert_file": )" + json_string(cert_.cert_file) + R"(, "key_file": )" +
                      json_string(cert_.key_file) + "}";
    std::string file_issuer = R"({"iss": )" + json_string(file_iss_) + R"(, "jwks_file": )" +
                              json_string(jwks_file_) + "}";
    std::string url_issuer = R"({"iss": )" + json_string(kUrlIss) + R"(, "jwks_url": )" +
                             json_string(url_jwks_.url()) + R"(, "jku_allowlist": [)" +
                             json_string(url_jwks_.url()) + "]}";
    std::string rotating_issuer = R"({"iss": )" + json_string(kRotatingIss) + R"(, "jwks_url": )" +
                                  json_string(rot_jwks_.url()) + "}";
    std::string trust =
        R"({"issuers": [)" + file_issuer + ", " + url_issuer + ", " + rotating_issuer +
        R"(], "algorithms": ["ES384", "RS384"], "clock_skew_seconds": 60, )" +
        R"("jwks_min_refresh_interval_seconds": )" + std::to_string(kRefreshIntervalSeconds) + "}";
    config_file_ = dir_.path() / "crd.json";
    write_file(config_file_, R"({"server": )" + server + R"(, "tls": )" + tls + R"(, "trust": )" +
                                 trust + R"(, "cors": )" + cors + "}\n");
    fs::create_directories(dir_.path() / "store");
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--config", config_file_.string(), "--data", (dir_.path() / "store").string()});
    origin_ = "https://127.0.0.1:" + std::to_string(server_->port());
    audience_base_ = origin_;
    if (!options_.base_url.empty()) {
      audience_base_ = options_.base_url;
      while (audience_base_.ends_with('/')) audience_base_.pop_back();
    }
  }

  ServerProcess& server() { return *server_; }
  const std::string& origin() const { return origin_; }  // where the server listens
  // What the server builds audiences from: server.base_url, or where it listens.
  const std::string& audience_base() const { return audience_base_; }
  const fs::path& dir() const { return dir_.path(); }
  const std::string& file_iss() const { return file_iss_; }
  const CertificateFiles& cert() const { return cert_; }
  const TokenMinter& file_es() const { return *file_es_; }
  const TokenMinter& file_rs() const { return *file_rs_; }
  const TokenMinter& url_es() const { return *url_es_; }
  const TokenMinter& url_rs() const { return *url_rs_; }
  const TokenMinter& rot_a() const { return *rot_a_; }
  const TokenMinter& rot_b() const { return *rot_b_; }
  JwksServer& url_jwks() { return url_jwks_; }
  JwksServer& rot_jwks() { return rot_jwks_; }

  // Every token a test sent: the log is checked for all of them.
  const std::string& remember(std::string token) {
    sent_.push_back(std::move(token));
    return sent_.back();
  }
  const std::vector<std::string>& sent() const { return sent_; }

  // An HTTPS client that trusts the server's certificate (and checks it names 127.0.0.1).
  std::unique_ptr<httplib::SSLClient> client() const {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port());
    c->set_ca_cert_path(cert_.cert_file.c_str());
    c->enable_server_certificate_verification(true);
    c->set_connection_timeout(10, 0);
    c->set_read_timeout(20, 0);
    return c;
  }

  httplib::Result call(const std::string& path, const std::string& body,
                       const std::optional<std::string>& authorization,
                       httplib::Headers extra = {}) {
    httplib::Headers h = std::move(extra);
    if (authorization) h.emplace("Authorization", *authorization);
    auto c = client();
    if (path == kDiscovery) return c->Get(path.c_str(), h);
    return c->Post(path.c_str(), h, body, "application/json");
  }

 private:
  DeploymentOptions options_;
  TempDir dir_;
  CertificateFiles cert_;
  std::string file_iss_;
  std::string jwks_file_;
  std::unique_ptr<TokenMinter> file_es_, file_rs_, url_es_, url_rs_, rot_a_, rot_b_;
  JwksServer url_jwks_;
  JwksServer rot_jwks_;
  fs::path config_file_;
  std::unique_ptr<ServerProcess> server_;
  std::string origin_;
  std::string audience_base_;
  std::vector<std::string> sent_;
};

// The base of the fixtures: checks after each test that the log holds none of the tokens sent.
class SecurityE2e : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!deployment_) return;
    std::string log = deployment_->server().log();
    EXPECT_FALSE(log.empty());
    for (const auto& token : deployment_->sent()) {
      EXPECT_EQ(log.find(token), std::string::npos) << "the server log contains a token";
      // Nor any part of one (its signature, or its payload with the unique jti).
      size_t dot1 = token.find('.');
      size_t dot2 = token.rfind('.');
      if (dot1 == std::string::npos || dot2 == dot1) continue;
      std::string payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
      std::string signature = token.substr(dot2 + 1);
      if (payload.size() >= 16) {
        EXPECT_EQ(log.find(payload), std::string::npos) << "the log contains a token payload";
      }
      if (signature.size() >= 16) {
        EXPECT_EQ(log.find(signature), std::string::npos) << "the log contains a signature";
      }
    }
    if (HasFailure()) std::cerr << "---- server log ----\n" << log << "--------------------\n";
  }

  Deployment& d() { return *deployment_; }

  // A genuine token of `minter` for issuer `iss`, addressed to `path` on this server.
  std::string token(const TokenMinter& minter, const std::string& iss, const std::string& path,
                    Forgery forgery = Forgery::kNone, TokenSpec spec = {}) {
    if (spec.iss.empty()) spec.iss = iss;
    if (spec.aud.empty()) spec.aud = {d().audience_base() + path};
    return d().remember(minter.mint(spec, forgery));
  }

  std::string service_body() const {
    HookRequestBuilder b("florida-blue");
    b.unresectable_hcc_with_documents().order("47383");
    return b.json();
  }

  static std::string feedback_body(const std::string& card_uuid) {
    return R"({"feedback":[{"card":")" + card_uuid +
           R"(","outcome":"accepted","outcomeTimestamp":"2026-03-01T10:00:00Z"}]})";
  }

  // The body each endpoint is called with (feedback names `card_uuid`).
  std::string body_for(const std::string& path, const std::string& card_uuid) const {
    if (path == kService) return service_body();
    if (path == kFeedback) return feedback_body(card_uuid);
    return "";
  }

  // Calls order-sign with a genuine token and returns the uuid of the first card handed out.
  std::string card_uuid() {
    auto r =
        d().call(kService, service_body(), bearer(token(d().file_es(), d().file_iss(), kService)));
    EXPECT_TRUE(r);
    if (!r || r->status != 200) {
      ADD_FAILURE() << "order-sign with a genuine token failed: "
                    << (r ? r->body : httplib::to_string(r.error()));
      return "";
    }
    rapidjson::Document doc;
    doc.Parse(r->body.c_str());
    if (doc.HasParseError() || !doc.HasMember("cards") || doc["cards"].Empty()) {
      ADD_FAILURE() << "no card in " << r->body.substr(0, 300);
      return "";
    }
    return doc["cards"][0]["uuid"].GetString();
  }

  // Checks an accepted answer of `path`: discovery lists order-sign-crd, the service call
  // carries coverage information, feedback answers {}.
  void expect_accepted(const httplib::Result& r, const std::string& path, const std::string& what) {
    ASSERT_TRUE(r) << what << ": no answer (" << httplib::to_string(r.error()) << ")";
    ASSERT_EQ(r->status, 200) << what << ": " << r->body.substr(0, 400);
    rapidjson::Document doc;
    doc.Parse(r->body.c_str());
    ASSERT_FALSE(doc.HasParseError()) << what << ": " << r->body.substr(0, 200);
    if (path == kDiscovery) {
      EXPECT_NE(r->body.find("\"order-sign-crd\""), std::string::npos) << what;
    } else if (path == kService) {
      ASSERT_TRUE(doc.HasMember("systemActions") && doc["systemActions"].IsArray() &&
                  !doc["systemActions"].Empty())
          << what << ": " << r->body.substr(0, 400);
      const auto& resource = doc["systemActions"][0]["resource"];
      bool has_coverage_information = false;
      for (const auto& ext : resource["extension"].GetArray()) {
        has_coverage_information |= std::string(ext["url"].GetString()) == kCoverageInformation;
      }
      EXPECT_TRUE(has_coverage_information) << what << ": " << r->body.substr(0, 400);
      EXPECT_TRUE(doc.HasMember("cards") && !doc["cards"].Empty()) << what;
    } else {
      EXPECT_TRUE(doc.IsObject()) << what;
    }
  }

  std::unique_ptr<Deployment> deployment_;
};

// ---- Tokens: genuine ones accepted, every kind of bad one refused ----

class SecurityE2eTrust : public SecurityE2e, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    if (GetParam() && !inferno_jwks_present()) {
      GTEST_SKIP() << "the Inferno CRD test kit's JWK Set is not at " << CRYO_INFERNO_JWKS;
    }
    deployment_ = std::make_unique<Deployment>(DeploymentOptions{.inferno = GetParam()});
  }

  struct Signer {
    std::string name;
    const TokenMinter* minter;
    std::string iss;
  };
  std::vector<Signer> signers() {
    return {{"file ES384", &d().file_es(), d().file_iss()},
            {"file RS384", &d().file_rs(), d().file_iss()},
            {"url ES384", &d().url_es(), kUrlIss},
            {"url RS384", &d().url_rs(), kUrlIss}};
  }
};

TEST_P(SecurityE2eTrust, GenuineTokensAreAcceptedOnDiscoveryServiceAndFeedback) {
  std::string card = card_uuid();
  ASSERT_FALSE(card.empty());
  for (const auto& s : signers()) {
    for (const std::string& path : {kDiscovery, kService, kFeedback}) {
      std::string what = s.name + " " + path;
      expect_accepted(d().call(path, body_for(path, card), bearer(token(*s.minter, s.iss, path))),
                      path, what);
    }
  }
  // `aud` may also be an array naming the endpoint among others.
  TokenSpec spec{.aud = {"https://other.example.org/cds-services", d().origin() + kDiscovery}};
  expect_accepted(
      d().call(kDiscovery, "",
               bearer(token(d().file_es(), d().file_iss(), kDiscovery, Forgery::kNone, spec))),
      kDiscovery, "aud array");
  // A `jku` naming the issuer's allowlisted JWK Set is fine.
  TokenSpec with_jku{.jku = d().url_jwks().url()};
  expect_accepted(
      d().call(kDiscovery, "",
               bearer(token(d().url_es(), kUrlIss, kDiscovery, Forgery::kNone, with_jku))),
      kDiscovery, "allowlisted jku");
  // The unsigned calls a loopback server without issuers would take are refused here.
  expect_refused(d().call(kDiscovery, "", std::nullopt), "no Authorization header");
}

TEST_P(SecurityE2eTrust, BadTokensAreRefusedWith401AndNoDetail) {
  std::string card = card_uuid();
  ASSERT_FALSE(card.empty());
  const int64_t now = now_seconds();
  const TokenMinter attacker = TokenMinter::generate("ES384", "attacker-key").value();
  // The audience a token wrongly names for each endpoint: another endpoint of this server.
  auto wrong_endpoint = [](const std::string& path) {
    return path == kDiscovery ? kService : kDiscovery;
  };

  struct Case {
    std::string name;
    std::vector<std::string> reasons;  // what the server logs (any of them)
    std::function<std::optional<std::string>(const Signer&, const std::string& path)> authorization;
  };
  std::vector<Case> cases = {
      {"no Authorization header",
       {"no Authorization header"},
       [](const Signer&, const std::string&) { return std::nullopt; }},
      {"not a JWT",
       {"malformed token"},
       [](const Signer&, const std::string&) { return std::string("Bearer not-a-jwt"); }},
      {"two-part JWT",
       {"malformed token"},
       [](const Signer&, const std::string&) {
         return std::string("Bearer eyJhbGciOiJFUzM4NCJ9.e30");
       }},
      {"Basic credentials",
       {"Authorization is not a Bearer token"},
       [](const Signer&, const std::string&) { return std::string("Basic dXNlcjpwYXNz"); }},
      {"alg none",
       {"unsigned token", "algorithm not allowed: none"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kAlgNone));
       }},
      {"HS384 keyed with the public key",
       {"algorithm not allowed: HS384"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kHs384WithPublicKey));
       }},
      {"wrong signature",
       {"bad signature"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kBadSignature));
       }},
      {"payload altered after signing",
       {"bad signature"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kTamperedPayload));
       }},
      {"unknown kid",
       {"unknown kid"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kNone, {.kid = "no-such-key"}));
       }},
      {"own key behind a jku that is not configured",
       {"unknown kid (jku not configured for the issuer: not fetched)"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(attacker, s.iss, p, Forgery::kNone,
                             {.jku = "https://attacker.example/jwks.json"}));
       }},
      {"nbf in the future",
       {"token not yet valid (nbf)"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kNone, {.iat = now, .nbf = now + 600}));
       }},
      {"wrong iss",
       {"issuer not trusted"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, "https://attacker.example", p));
       }},
      {"aud of another endpoint",
       {"aud does not name this endpoint"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kNone,
                             {.aud = {d().origin() + wrong_endpoint(p)}}));
       }},
      {"aud of another server",
       {"aud does not name this endpoint"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kNone,
                             {.aud = {"https://crd.other.example" + p}}));
       }},
      {"aud over http",
       {"aud does not name this endpoint"},
       [&](const Signer& s, const std::string& p) {
         std::string http_origin = "http://" + d().origin().substr(std::string("https://").size());
         return bearer(token(*s.minter, s.iss, p, Forgery::kNone, {.aud = {http_origin + p}}));
       }},
      {"expired",
       {"token expired"},
       [&](const Signer& s, const std::string& p) {
         return bearer(
             token(*s.minter, s.iss, p, Forgery::kNone, {.iat = now - 1200, .exp = now - 600}));
       }},
      {"iat in the future",
       {"iat in the future"},
       [&](const Signer& s, const std::string& p) {
         return bearer(
             token(*s.minter, s.iss, p, Forgery::kNone, {.iat = now + 600, .exp = now + 900}));
       }},
      {"lifetime over an hour",
       {"token lifetime too long"},
       [&](const Signer& s, const std::string& p) {
         return bearer(token(*s.minter, s.iss, p, Forgery::kNone, {.iat = now, .exp = now + 7200}));
       }},
  };

  for (const auto& s : signers()) {
    for (const std::string& path : {kDiscovery, kService, kFeedback}) {
      for (const auto& c : cases) {
        std::string what = s.name + " " + path + ": " + c.name;
        size_t log_before = d().server().log().size();
        expect_refused(d().call(path, body_for(path, card), c.authorization(s, path)), what);
        // The refusal was for the intended reason (the log says why; the client is not told).
        std::string logged = d().server().log().substr(log_before);
        bool reason_logged = false;
        for (const auto& reason : c.reasons)
          reason_logged |= logged.find(reason) != std::string::npos;
        EXPECT_TRUE(reason_logged) << what << ": log was: " << logged;
      }
    }
  }
}

// DTR's Questionnaire operations take the client's token exactly as hook calls do: refused
// without one, with a token addressed to another endpoint, accepted with a genuine one.
TEST_P(SecurityE2eTrust, DtrOperationsNeedAGenuineTokenForTheirOwnEndpoint) {
  auto signed_call =
      d().call(kService, service_body(), bearer(token(d().file_es(), d().file_iss(), kService)));
  ASSERT_TRUE(signed_call);
  ASSERT_EQ(signed_call->status, 200) << signed_call->body.substr(0, 300);
  const std::string marker = R"("url":"coverage-assertion-id","valueString":")";
  size_t at = signed_call->body.find(marker);
  ASSERT_NE(at, std::string::npos);
  std::string assertion = signed_call->body.substr(
      at + marker.size(), signed_call->body.find('"', at + marker.size()) - at - marker.size());
  const std::string package = "/Questionnaire/$questionnaire-package";
  const std::string body =
      R"({"resourceType":"Parameters","parameter":[{"name":"context","valueString":")" + assertion +
      R"("}]})";
  expect_refused(d().call(package, body, std::nullopt), "DTR package without a token");
  expect_refused(d().call(package, body, bearer(token(d().file_es(), d().file_iss(), kService))),
                 "DTR package with a token for the hook endpoint");
  auto ok = d().call(package, body, bearer(token(d().file_es(), d().file_iss(), package)));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body.substr(0, 300);
  // Covered with every document: nothing to ask, said in the operation's outcome.
  EXPECT_NE(ok->body.find("\"name\":\"outcome\""), std::string::npos) << ok->body.substr(0, 300);
  const std::string next = "/Questionnaire/$next-question";
  expect_refused(d().call(next, "{}", std::nullopt), "DTR next-question without a token");
  // Another trusted client cannot ask about this client's assertion.
  auto other = d().call(package, body, bearer(token(d().url_es(), kUrlIss, package)));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404) << other->body.substr(0, 300);
}

// The answers to the payer's questions revise an assertion only for the client it was handed
// to: another trusted client naming it in a completed QuestionnaireResponse gets a new id.
TEST_P(SecurityE2eTrust, OnlyTheClientAnAssertionWasHandedToRevisesIt) {
  auto assertion_of = [](const httplib::Result& r) {
    const std::string marker = R"("url":"coverage-assertion-id","valueString":")";
    if (!r || r->status != 200) return std::string();
    size_t at = r->body.find(marker);
    if (at == std::string::npos) return std::string();
    at += marker.size();
    return r->body.substr(at, r->body.find('"', at) - at);
  };
  const std::string assertion = assertion_of(
      d().call(kService, service_body(), bearer(token(d().file_es(), d().file_iss(), kService))));
  ASSERT_FALSE(assertion.empty());
  const std::string answered =
      R"({"resourceType":"QuestionnaireResponse","id":"qr-answered","status":"completed",)"
      R"("questionnaire":"#q","subject":{"reference":"Patient/pat-1"},)"
      R"("authored":"2026-11-30T10:00:00Z","extension":[{"url":)"
      R"("http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context",)"
      R"("valueReference":{"reference":"ServiceRequest/sr-1"}},{"url":)"
      R"("http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information",)"
      R"("extension":[{"url":"coverage-assertion-id","valueString":")" +
      assertion + R"("}]}],"item":[]})";
  auto with_answers = [&](const std::string& hook_instance) {
    HookRequestBuilder b("florida-blue");
    b.unresectable_hcc_with_documents().order("47383").resource(answered).hook_instance(
        hook_instance);
    return b.json();
  };
  const std::string unique =
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  std::string theirs = assertion_of(d().call(kService, with_answers("answers-theirs-" + unique),
                                             bearer(token(d().url_es(), kUrlIss, kService))));
  EXPECT_FALSE(theirs.empty());
  EXPECT_NE(theirs, assertion);
  std::string mine = assertion_of(d().call(kService, with_answers("answers-mine-" + unique),
                                           bearer(token(d().file_es(), d().file_iss(), kService))));
  EXPECT_EQ(mine, assertion);
}

TEST_P(SecurityE2eTrust, ReplayedTokensAreRefused) {
  std::string card = card_uuid();
  ASSERT_FALSE(card.empty());
  for (const std::string& path : {kDiscovery, kService, kFeedback}) {
    for (const auto& s : signers()) {
      std::string jwt = token(*s.minter, s.iss, path);
      expect_accepted(d().call(path, body_for(path, card), bearer(jwt)), path,
                      s.name + " " + path + " first use");
      size_t log_before = d().server().log().size();
      expect_refused(d().call(path, body_for(path, card), bearer(jwt)),
                     s.name + " " + path + " replay");
      EXPECT_NE(d().server().log().substr(log_before).find("jti replayed"), std::string::npos);
    }
  }
  // The same jti from another issuer is a different token.
  TokenSpec same_jti{.jti = "shared-jti-1"};
  expect_accepted(
      d().call(kDiscovery, "",
               bearer(token(d().file_es(), d().file_iss(), kDiscovery, Forgery::kNone, same_jti))),
      kDiscovery, "jti from the file issuer");
  expect_accepted(
      d().call(kDiscovery, "",
               bearer(token(d().url_es(), kUrlIss, kDiscovery, Forgery::kNone, same_jti))),
      kDiscovery, "same jti from the URL issuer");
}

INSTANTIATE_TEST_SUITE_P(Keys, SecurityE2eTrust, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("InfernoJwks")
                                             : std::string("GeneratedKeys");
                         });

// ---- Key rotation, TLS and CORS (generated keys only) ----

class SecurityE2eDeployment : public SecurityE2e {
 protected:
  void SetUp() override { deployment_ = std::make_unique<Deployment>(); }
};

TEST_F(SecurityE2eDeployment, RotatedKeysAreFetchedFromTheJwksUrlAfterTheRefreshInterval) {
  // First use fetches the set.
  expect_accepted(d().call(kDiscovery, "", bearer(token(d().rot_a(), kRotatingIss, kDiscovery))),
                  kDiscovery, "key A");
  EXPECT_EQ(d().rot_jwks().requests(), 1);
  auto fetched = std::chrono::steady_clock::now();

  // The client rotates: publishes B (and withdraws A), then signs with B.
  d().rot_jwks().set_body(security::public_jwk_set_json({&d().rot_b().key()}));
  auto early = d().call(kDiscovery, "", bearer(token(d().rot_b(), kRotatingIss, kDiscovery)));
  if (std::chrono::steady_clock::now() - fetched < std::chrono::seconds(kRefreshIntervalSeconds)) {
    // Within the interval the set is not fetched again, whatever kid a token names.
    expect_refused(early, "key B before the refresh interval");
    EXPECT_EQ(d().rot_jwks().requests(), 1);
  }

  std::this_thread::sleep_for(std::chrono::seconds(kRefreshIntervalSeconds) + 300ms);
  expect_accepted(d().call(kDiscovery, "", bearer(token(d().rot_b(), kRotatingIss, kDiscovery))),
                  kDiscovery, "key B after the refresh interval");
  int fetches = d().rot_jwks().requests();
  EXPECT_EQ(fetches, 2);
  std::string card = card_uuid();
  expect_accepted(
      d().call(kService, service_body(), bearer(token(d().rot_b(), kRotatingIss, kService))),
      kService, "key B on a service call");
  expect_accepted(
      d().call(kFeedback, feedback_body(card), bearer(token(d().rot_b(), kRotatingIss, kFeedback))),
      kFeedback, "key B on feedback");

  // A is gone from the reloaded set: its tokens are refused now.
  expect_refused(d().call(kDiscovery, "", bearer(token(d().rot_a(), kRotatingIss, kDiscovery))),
                 "withdrawn key A");
  // A flood of unknown kids does not turn into a flood of fetches.
  for (int i = 0; i < 20; ++i) {
    expect_refused(d().call(kDiscovery, "",
                            bearer(token(d().rot_b(), kRotatingIss, kDiscovery, Forgery::kNone,
                                         {.kid = "bogus-" + std::to_string(i)}))),
                   "bogus kid");
  }
  EXPECT_LE(d().rot_jwks().requests(), fetches + 1);
}

TEST_F(SecurityE2eDeployment, SpeaksTls12And13AndRefusesOlderVersions) {
  const int port = d().server().port();
  Handshake v13 = handshake(port, TLS1_3_VERSION);
  EXPECT_TRUE(v13.ok) << ERR_reason_error_string(v13.error);
  EXPECT_EQ(v13.version, TLS1_3_VERSION);
  Handshake v12 = handshake(port, TLS1_2_VERSION);
  EXPECT_TRUE(v12.ok) << ERR_reason_error_string(v12.error);
  EXPECT_EQ(v12.version, TLS1_2_VERSION);
  for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    Handshake old = handshake(port, version);
    EXPECT_FALSE(old.ok) << std::hex << version;
    EXPECT_EQ(ERR_GET_REASON(old.error), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
        << ERR_reason_error_string(old.error);
  }

  // A whole signed call over each accepted version, with the certificate checked.
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    auto c = d().client();
    SSL_CTX_set_min_proto_version(c->ssl_context(), version);
    SSL_CTX_set_max_proto_version(c->ssl_context(), version);
    auto r = c->Get(kDiscovery.c_str(),
                    {{"Authorization", bearer(token(d().file_es(), d().file_iss(), kDiscovery))}});
    expect_accepted(r, kDiscovery, "discovery over TLS version " + std::to_string(version));
  }

  // Plain HTTP on the TLS port gets no answer.
  httplib::Client plain("127.0.0.1", port);
  plain.set_read_timeout(5, 0);
  auto r = plain.Get(kDiscovery.c_str());
  EXPECT_TRUE(!r || r->status != 200);
}

TEST_F(SecurityE2eDeployment, CorsAnswersConfiguredOriginsOnly) {
  httplib::Headers allowed{{"Origin", kAllowedOrigin},
                           {"Access-Control-Request-Method", "POST"},
                           {"Access-Control-Request-Headers", "authorization, content-type"}};
  auto pre = d().client()->Options(kService.c_str(), allowed);
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204) << pre->body;
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), kAllowedOrigin);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Credentials"), "true");
  EXPECT_NE(pre->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  std::string allow_headers = pre->get_header_value("Access-Control-Allow-Headers");
  EXPECT_NE(allow_headers.find("Authorization"), std::string::npos) << allow_headers;
  EXPECT_NE(allow_headers.find("Content-Type"), std::string::npos) << allow_headers;
  EXPECT_EQ(pre->get_header_value("Access-Control-Max-Age"), "300");
  EXPECT_NE(pre->get_header_value("Vary").find("Origin"), std::string::npos);

  // Another origin, a method not allowed, a header not allowed: 403 without CORS headers.
  std::vector<httplib::Headers> refused = {
      {{"Origin", "https://attacker.example"}, {"Access-Control-Request-Method", "POST"}},
      {{"Origin", "https://ehr.example.org.attacker.example"},
       {"Access-Control-Request-Method", "POST"}},
      {{"Origin", "null"}, {"Access-Control-Request-Method", "POST"}},
      {{"Origin", kAllowedOrigin}, {"Access-Control-Request-Method", "DELETE"}},
      {{"Origin", kAllowedOrigin},
       {"Access-Control-Request-Method", "POST"},
       {"Access-Control-Request-Headers", "x-debug"}},
  };
  for (const auto& h : refused) {
    auto r = d().client()->Options(kService.c_str(), h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << h.find("Origin")->second;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin")) << h.find("Origin")->second;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Credentials"));
  }

  // Actual calls: the allowed origin is named exactly (never "*", since credentials are on);
  // other origins get no CORS headers, and the call itself still needs a token.
  auto ok = d().call(kDiscovery, "", bearer(token(d().file_es(), d().file_iss(), kDiscovery)),
                     {{"Origin", kAllowedOrigin}});
  expect_accepted(ok, kDiscovery, "discovery from the allowed origin");
  EXPECT_EQ(ok->get_header_value("Access-Control-Allow-Origin"), kAllowedOrigin);
  EXPECT_EQ(ok->get_header_value("Access-Control-Allow-Credentials"), "true");
  auto other = d().call(kDiscovery, "", bearer(token(d().file_es(), d().file_iss(), kDiscovery)),
                        {{"Origin", "https://attacker.example"}});
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  auto unsigned_call = d().call(kDiscovery, "", std::nullopt, {{"Origin", kAllowedOrigin}});
  expect_refused(unsigned_call, "cross-origin call without a token");
}

// ---- Audiences behind a proxy: built from server.base_url ----

TEST_F(SecurityE2e, AudiencesAreBuiltFromTheConfiguredBaseUrl) {
  deployment_ =
      std::make_unique<Deployment>(DeploymentOptions{.base_url = "https://crd.payer.example/crd/"});
  EXPECT_NE(d().server().log().find("base_url=https://crd.payer.example/crd"), std::string::npos)
      << d().server().log();
  std::string card = card_uuid();
  ASSERT_FALSE(card.empty());
  for (const std::string& path : {kDiscovery, kService, kFeedback}) {
    // The public URL the client called through the proxy.
    TokenSpec public_aud{.aud = {"https://crd.payer.example/crd" + path}};
    expect_accepted(
        d().call(path, body_for(path, card),
                 bearer(token(d().file_es(), d().file_iss(), path, Forgery::kNone, public_aud))),
        path, "public audience " + path);
    // The address the server listens on is not its public URL.
    TokenSpec listening{.aud = {d().origin() + path}};
    expect_refused(
        d().call(path, body_for(path, card),
                 bearer(token(d().file_es(), d().file_iss(), path, Forgery::kNone, listening))),
        "listening address as audience " + path);
    // Nor a trailing slash or another prefix.
    TokenSpec slash{.aud = {"https://crd.payer.example/crd/" + path}};
    expect_refused(
        d().call(path, body_for(path, card),
                 bearer(token(d().file_es(), d().file_iss(), path, Forgery::kNone, slash))),
        "double slash audience " + path);
  }
}

// ---- Unsigned calls: only on loopback with no issuer configured ----

TEST(SecurityE2eUnsigned, WithoutIssuersServeRefusesToStartOnAPublicAddress) {
  TempDir dir;
  for (std::string bind : {"0.0.0.0", "192.0.2.10", "::"}) {
    CommandResult r =
        run_command({CRYO_CRD_BINARY, "serve", "--bind", bind, "--port", "0", "--no-store"});
    EXPECT_NE(r.exit_code, 0) << bind;
    EXPECT_NE(r.err.find("refusing to start"), std::string::npos) << bind << ": " << r.err;
    EXPECT_NE(r.err.find("trust.issuers"), std::string::npos) << bind << ": " << r.err;
    EXPECT_NE(r.err.find("loopback"), std::string::npos) << bind << ": " << r.err;
    EXPECT_EQ(r.out.find("cryo-crd serving"), std::string::npos);
  }
  // The same with a configuration file whose trust section has no issuers.
  fs::path config = dir.path() / "crd.json";
  write_file(config, R"({"server": {"bind": "0.0.0.0"}, "trust": {"issuers": []}})");
  CommandResult r = run_command(
      {CRYO_CRD_BINARY, "serve", "--config", config.string(), "--port", "0", "--no-store"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no trusted CDS client"), std::string::npos) << r.err;
}

TEST(SecurityE2eUnsigned, WithoutIssuersOnLoopbackServeStartsWithALoudWarning) {
  ServerProcess server({"--no-store"});
  std::string log = server.log();
  EXPECT_NE(log.find("NO TRUSTED CDS CLIENT IS CONFIGURED"), std::string::npos) << log;
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get(kDiscovery.c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(SecurityE2eUnsigned, WithIssuersAPublicBindStarts) {
  // The refusal above is about missing issuers, not about the address.
  TempDir dir;
  auto key = TokenMinter::generate("ES384", "k1").value();
  write_file(dir.path() / "jwks.json", security::public_jwk_set_json({&key.key()}));
  write_file(
      dir.path() / "crd.json",
      R"({"trust": {"issuers": [{"iss": "https://ehr.example.org", "jwks_file": "jwks.json"}]}})");
  ServerProcess server(
      {"--config", (dir.path() / "crd.json").string(), "--no-store", "--bind", "0.0.0.0"});
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.log().find("NO TRUSTED CDS CLIENT"), std::string::npos);
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get(kDiscovery.c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
}

TEST(SecurityE2eCorsConfig, WildcardWithCredentialsIsRefusedAtStart) {
  TempDir dir;
  fs::path config = dir.path() / "crd.json";
  write_file(config, R"({"cors": {"allowed_origins": ["*"], "allow_credentials": true}})");
  CommandResult r = run_command({CRYO_CRD_BINARY, "serve", "--config", config.string(), "--bind",
                                 "127.0.0.1", "--port", "0", "--no-store"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("refusing to start"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cors"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cryo::testing
