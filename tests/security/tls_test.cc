#include "security/tls.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tests/support/tls_probe.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/self_signed_cert.h"

namespace cryo::security {
namespace {

using Handshake = cryo::testing::TlsHandshake;
Handshake handshake(int port, int min_version, int max_version) {
  return cryo::testing::tls_handshake(port, min_version, max_version);
}

class RunningServer {
 public:
  explicit RunningServer(std::unique_ptr<httplib::SSLServer> server) : server_(std::move(server)) {
    server_->Get("/ping", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("pong", "text/plain");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~RunningServer() {
    server_->stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cryo-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    auto files = testing::write_self_signed_certificate(dir_);
    ASSERT_TRUE(files) << files.error().to_string();
    files_ = *files;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  testing::CertificateFiles files_;
};

TEST_F(TlsTest, AcceptsTls12And13AndRefusesOlderVersions) {
  auto server = make_https_server({files_.cert_file, files_.key_file});
  ASSERT_TRUE(server) << server.error().to_string();
  RunningServer running(std::move(*server));

  Handshake v13 = handshake(running.port(), TLS1_3_VERSION, TLS1_3_VERSION);
  EXPECT_TRUE(v13.ok);
  EXPECT_EQ(v13.version, TLS1_3_VERSION);
  Handshake v12 = handshake(running.port(), TLS1_2_VERSION, TLS1_2_VERSION);
  EXPECT_TRUE(v12.ok);
  EXPECT_EQ(v12.version, TLS1_2_VERSION);

  for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    Handshake old = handshake(running.port(), version, version);
    EXPECT_FALSE(old.ok) << std::hex << version;
    // The server answered with a protocol_version alert.
    EXPECT_EQ(ERR_GET_REASON(old.error), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
        << ERR_reason_error_string(old.error);
  }
}

TEST_F(TlsTest, SameClientCanSpeakTls11ToAPermissiveServer) {
  // Control for the test above: the pinned TLS 1.1 client works against a server that allows
  // it, so the refusal there is the server's policy.
  auto permissive = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    SSL_CTX_set_security_level(&ctx, 0);
    SSL_CTX_set_min_proto_version(&ctx, TLS1_VERSION);
    SSL_CTX_set_cipher_list(&ctx, "DEFAULT:@SECLEVEL=0");
    return SSL_CTX_use_certificate_chain_file(&ctx, files_.cert_file.c_str()) == 1 &&
           SSL_CTX_use_PrivateKey_file(&ctx, files_.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  });
  ASSERT_TRUE(permissive->is_valid());
  RunningServer running(std::move(permissive));
  Handshake v11 = handshake(running.port(), TLS1_1_VERSION, TLS1_1_VERSION);
  EXPECT_TRUE(v11.ok) << ERR_reason_error_string(v11.error);
  EXPECT_EQ(v11.version, TLS1_1_VERSION);
}

TEST_F(TlsTest, ServesHttpsWithVerifiedCertificate) {
  auto server = make_https_server({files_.cert_file, files_.key_file});
  ASSERT_TRUE(server);
  RunningServer running(std::move(*server));
  httplib::SSLClient client("localhost", running.port());
  client.set_ca_cert_path(files_.cert_file.c_str());
  client.enable_server_certificate_verification(true);
  auto res = client.Get("/ping");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "pong");
}

TEST_F(TlsTest, ClearErrorsForBadFiles) {
  auto missing = make_https_server({(dir_ / "nope.pem").string(), files_.key_file});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().where, (dir_ / "nope.pem").string());
  EXPECT_NE(missing.error().message.find("certificate"), std::string::npos);

  std::string garbage = (dir_ / "garbage.pem").string();
  std::ofstream(garbage) << "not a certificate\n";
  auto bad_cert = make_https_server({garbage, files_.key_file});
  ASSERT_FALSE(bad_cert);
  EXPECT_EQ(bad_cert.error().where, garbage);

  auto bad_key = make_https_server({files_.cert_file, garbage});
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().where, garbage);
  EXPECT_NE(bad_key.error().message.find("private key"), std::string::npos);

  std::filesystem::create_directories(dir_ / "other");
  auto other = testing::write_self_signed_certificate(dir_ / "other").value();
  auto mismatch = make_https_server({files_.cert_file, other.key_file});
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("does not match"), std::string::npos);

  auto empty = make_https_server({});
  EXPECT_FALSE(empty);
}

}  // namespace
}  // namespace cryo::security
