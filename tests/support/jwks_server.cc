#include "tests/support/jwks_server.h"

#include <httplib.h>

#include <stdexcept>

namespace cryo::testing {

JwksServer::JwksServer() : server_(std::make_unique<httplib::Server>()) {
  server_->Get("/jwks.json", [this](const httplib::Request&, httplib::Response& res) {
    ++requests_;
    std::string body;
    int status;
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mu_);
      body = body_;
      status = status_;
      delay = delay_;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    res.status = status;
    res.set_content(body, "application/json");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("JwksServer: cannot bind to loopback");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

JwksServer::~JwksServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string JwksServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/jwks.json";
}

void JwksServer::set_body(std::string body) {
  std::lock_guard lock(mu_);
  body_ = std::move(body);
}

void JwksServer::set_status(int status) {
  std::lock_guard lock(mu_);
  status_ = status;
}

void JwksServer::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  delay_ = delay;
}

}  // namespace cryo::testing
