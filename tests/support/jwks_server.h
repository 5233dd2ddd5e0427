// Test support: a CDS client's JWK Set served over HTTP on loopback, for key-rotation and
// `jku` tests.
//
//   JwksServer server;                        // listens on 127.0.0.1, an ephemeral port
//   server.set_body(public_jwk_set_json({&key_a}));
//   std::string url = server.url();           // "http://127.0.0.1:<port>/jwks.json"
//   ... server.set_body(public_jwk_set_json({&key_b}));   // rotate
//   EXPECT_EQ(server.requests(), 2);
//
// Thread safety: set_body(), requests() and set_delay() may be called while the server runs.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace cryo::testing {

class JwksServer {
 public:
  JwksServer();
  ~JwksServer();
  JwksServer(const JwksServer&) = delete;
  JwksServer& operator=(const JwksServer&) = delete;

  // The URL of the JWK Set document (other paths answer 404).
  std::string url() const;
  int port() const { return port_; }

  void set_body(std::string body);
  void set_status(int status);
  // Delays every answer (to exercise fetch timeouts).
  void set_delay(std::chrono::milliseconds delay);
  int requests() const { return requests_.load(); }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::string body_ = "{\"keys\":[]}";
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
  std::atomic<int> requests_{0};
};

}  // namespace cryo::testing
