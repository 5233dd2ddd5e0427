// Tokens as the Inferno CRD test kit sends them, end to end: the real cryo-crd binary, started
// with the "trust" object the README documents for Inferno (taken from README.md itself), and
// the kit's own JWK Set saved where that configuration says. Calls over real HTTP on loopback.
//
// Inferno's JwtHelper signs ES384 or RS384 with header {alg, typ, kid, jku} (jku is
// "<iss>/jwks.json", Inferno's own route) and claims {iss, aud, exp, iat, jti}. The service must
// accept those tokens offline (the key set on disk is authoritative), refuse a token whose kid
// is in no configured set without ever fetching its jku (a loopback JWKS server counts the
// requests), fetch a jku only once it is allow-listed, and log every refusal with iss, kid and
// jti but never the token.
#include <gtest/gtest.h>

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "hook_request_builder.h"
#include "server_process.h"
#include "tests/support/jwks_server.h"
#include "tests/support/token_minter.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;

const std::string kDiscovery = "/cds-services";
const std::string kService = "/cds-services/order-sign-crd";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string serialise(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

// The first ```json block after `heading` in a Markdown file.
std::string json_block_after(const std::string& markdown, const std::string& heading) {
  size_t at = markdown.find(heading);
  if (at == std::string::npos) return "";
  size_t start = markdown.find("```json\n", at);
  if (start == std::string::npos) return "";
  start += 8;
  size_t end = markdown.find("```", start);
  return end == std::string::npos ? "" : markdown.substr(start, end - start);
}

// The "trust" object of the README's documented configuration.
std::string readme_trust() {
  std::string block = json_block_after(read_file(fs::path(CRYO_SOURCE_DIR) / "README.md"),
                                       "## Trust: which CDS clients may call");
  rapidjson::Document doc;
  doc.Parse(block.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("trust")) return "";
  return serialise(doc["trust"]);
}

// The README's Inferno issuer: the `iss` of its first issuer with a jwks_file.
std::string readme_inferno_iss(const std::string& trust) {
  rapidjson::Document doc;
  doc.Parse(trust.c_str());
  for (auto& i : doc["issuers"].GetArray())
    if (i.HasMember("jwks_file")) return i["iss"].GetString();
  return "";
}

std::string hex_jti(int seed) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 64; ++i) out.push_back(hex[(seed * 11 + i * 7 + i * i) % 16]);
  return out;
}

// A token exactly as JwtHelper builds it (same members, same order), plus optional extra
// claims text appended to the claims object (for size tests).
std::string jwt_helper_token(const TokenMinter& m, const std::string& iss, const std::string& aud,
                             const std::string& jti, const std::string& extra_claims = "") {
  int64_t iat = now_seconds();
  std::string header = R"({"alg":")" + m.key().alg() + R"(","typ":"JWT","kid":")" + m.key().kid() +
                       R"(","jku":")" + iss + R"(/jwks.json"})";
  std::string claims = R"({"iss":")" + iss + R"(","aud":")" + aud + R"(","exp":)" +
                       std::to_string(iat + 300) + R"(,"iat":)" + std::to_string(iat) +
                       R"(,"jti":")" + jti + "\"" + extra_claims + "}";
  return m.mint_raw(header, claims);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cryo-inferno-e2e-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class InfernoTokensE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(CRYO_INFERNO_JWKS)) GTEST_SKIP() << "no Inferno JWK Set at " CRYO_INFERNO_JWKS;
    trust_ = readme_trust();
    ASSERT_FALSE(trust_.empty()) << "README.md has no trust configuration block";
    iss_ = readme_inferno_iss(trust_);
    ASSERT_FALSE(iss_.empty());
    // Where the README's configuration expects the kit's JWK Set: relative to the config.
    fs::create_directories(dir_.path() / "keys");
    fs::copy_file(CRYO_INFERNO_JWKS, dir_.path() / "keys" / "inferno-crd-jwks.json");
    es_ = std::make_unique<TokenMinter>(
        TokenMinter::from_jwk_set_file(CRYO_INFERNO_JWKS, "ES384").value());
    rs_ = std::make_unique<TokenMinter>(
        TokenMinter::from_jwk_set_file(CRYO_INFERNO_JWKS, "RS384").value());
  }

  void TearDown() override {
    if (!server_) return;
    std::string log = server_->log();
    for (const auto& t : sent_) {
      EXPECT_EQ(log.find(t.substr(t.rfind('.') + 1)), std::string::npos)
          << "the log holds a token signature";
      EXPECT_EQ(log.find(t.substr(0, t.find('.'))), std::string::npos)
          << "the log holds a token header";
    }
    if (HasFailure()) std::cerr << "---- server log ----\n" << log << "--------------------\n";
  }

  // Starts the server with `trust` as the configuration's "trust" object.
  void start(const std::string& trust) {
    fs::path config = dir_.path() / "crd.json";
    std::ofstream(config) << R"({"trust": )" << trust << "}\n";
    fs::create_directories(dir_.path() / "store");
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--config", config.string(), "--data", (dir_.path() / "store").string()});
    origin_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  httplib::Result call(const std::string& path, const std::string& token) {
    sent_.push_back(token);
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(20, 0);
    httplib::Headers h{{"Authorization", bearer(token)}};
    if (path == kDiscovery) return c.Get(path.c_str(), h);
    HookRequestBuilder b("florida-blue");
    b.unresectable_hcc_with_documents().order("47383");
    return c.Post(path.c_str(), h, b.json(), "application/json");
  }

  TempDir dir_;
  std::string trust_;
  std::string iss_;
  std::unique_ptr<TokenMinter> es_, rs_;
  std::unique_ptr<ServerProcess> server_;
  std::string origin_;
  std::vector<std::string> sent_;
};

TEST_F(InfernoTokensE2e, ReadmeConfigurationAcceptsJwtHelperTokensOffline) {
  start(trust_);
  int n = 0;
  for (const TokenMinter* m : {es_.get(), rs_.get()}) {
    for (const std::string& path : {kDiscovery, kService}) {
      auto r = call(path, jwt_helper_token(*m, iss_, origin_ + path, hex_jti(++n)));
      ASSERT_TRUE(r) << httplib::to_string(r.error());
      EXPECT_EQ(r->status, 200) << m->key().alg() << " " << path << ": " << r->body.substr(0, 300);
      if (path == kService) {
        EXPECT_NE(r->body.find("\"cards\""), std::string::npos);
      }
    }
  }
  EXPECT_EQ(server_->log().find("refused client token"), std::string::npos) << server_->log();
}

TEST_F(InfernoTokensE2e, UnknownKidIsRefusedAndItsJkuNeverFetched) {
  JwksServer attacker_set;  // what the token's jku points to, with the signing key in it
  auto attacker = TokenMinter::generate("ES384", "attacker-key").value();
  attacker_set.set_body(security::public_jwk_set_json({&attacker.key()}));
  start(trust_);
  // Inferno's shape, but the jku is the loopback server and the kid is in no configured set.
  std::string header =
      R"({"alg":"ES384","typ":"JWT","kid":"attacker-key","jku":")" + attacker_set.url() + R"("})";
  const std::string jti = hex_jti(99);
  int64_t iat = now_seconds();
  std::string claims = R"({"iss":")" + iss_ + R"(","aud":")" + origin_ + kService + R"(","exp":)" +
                       std::to_string(iat + 300) + R"(,"iat":)" + std::to_string(iat) +
                       R"(,"jti":")" + jti + R"("})";
  auto r = call(kService, attacker.mint_raw(header, claims));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(attacker_set.requests(), 0) << "the service fetched a jku that is not configured";
  // The refusal's log line names the client, the key and the token id.
  std::string log = server_->log();
  size_t line = log.find("refused client token");
  ASSERT_NE(line, std::string::npos) << log;
  std::string refusal = log.substr(line, log.find('\n', line) - line);
  EXPECT_NE(refusal.find("unknown kid (jku not configured for the issuer: not fetched)"),
            std::string::npos)
      << refusal;
  EXPECT_NE(refusal.find("iss=" + iss_), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("kid=attacker-key"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("jti=" + jti), std::string::npos) << refusal;
}

TEST_F(InfernoTokensE2e, AJkuIsFetchedOnlyOnceAllowListed) {
  JwksServer extra_set;
  auto extra = TokenMinter::generate("ES384", "extra-key").value();
  extra_set.set_body(security::public_jwk_set_json({&extra.key()}));
  // The README's configuration, with the loopback set allow-listed for the Inferno issuer.
  rapidjson::Document doc;
  doc.Parse(trust_.c_str());
  for (auto& i : doc["issuers"].GetArray()) {
    if (i["iss"].GetString() != iss_) continue;
    rapidjson::Value list(rapidjson::kArrayType);
    list.PushBack(rapidjson::Value(extra_set.url().c_str(), doc.GetAllocator()),
                  doc.GetAllocator());
    i.AddMember("jku_allowlist", list, doc.GetAllocator());
  }
  start(serialise(doc));
  std::string header =
      R"({"alg":"ES384","typ":"JWT","kid":"extra-key","jku":")" + extra_set.url() + R"("})";
  int64_t iat = now_seconds();
  std::string claims = R"({"iss":")" + iss_ + R"(","aud":")" + origin_ + kService + R"(","exp":)" +
                       std::to_string(iat + 300) + R"(,"iat":)" + std::to_string(iat) +
                       R"(,"jti":")" + hex_jti(7) + R"("})";
  auto r = call(kService, extra.mint_raw(header, claims));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body.substr(0, 300);
  EXPECT_EQ(extra_set.requests(), 1);
  // Inferno's own tokens still verify against the file.
  auto own = call(kService, jwt_helper_token(*es_, iss_, origin_ + kService, hex_jti(8)));
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200) << own->body.substr(0, 300);
}

TEST_F(InfernoTokensE2e, NotYetValidTokenIsRefused) {
  start(trust_);
  const std::string nbf = ",\"nbf\":" + std::to_string(now_seconds() + 600);
  auto r = call(kService, jwt_helper_token(*rs_, iss_, origin_ + kService, hex_jti(5), nbf));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(server_->log().find("token not yet valid (nbf)"), std::string::npos);
}

}  // namespace
}  // namespace cryo::testing
