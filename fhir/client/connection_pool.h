// Internal to fhir/client: keep-alive connections to one FHIR server origin, the shared state
// of one fetch() call's worker threads, and the one HTTP GET every request goes through.
//
// Thread safety: ConnectionPool and CallState are shared by the workers of a call (and a pool
// by every call to the same origin); http_get() may run concurrently on both.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include "base/thread_annotations.h"
#include "fhir/client/prefetch_fetcher.h"
#include "fhir/client/url.h"

namespace cryo::fhir::client::detail {

using Clock = std::chrono::steady_clock;

// "1500 ms".
std::string ms_text(Clock::duration d);

// ---------------------------------------------------------------------------------------
// Keep-alive connections to one FHIR server origin. A connection (httplib::Client) serves one
// request at a time: it is taken out of the pool for a request and put back afterwards. The
// pool never holds credentials: headers are given per request.
class ConnectionPool {
 public:
  ConnectionPool(BaseUrl base, const FetchOptions& options)
      : origin_(base.origin()), https_(base.scheme == "https"), options_(options) {}

  struct Lease {
    std::unique_ptr<httplib::Client> client;
    bool reused = false;
  };

  Lease acquire() EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (!idle_.empty()) {
        Lease lease{std::move(idle_.back()), true};
        idle_.pop_back();
        return lease;
      }
    }
    auto client = std::make_unique<httplib::Client>(origin_);
    client->set_keep_alive(true);
    client->set_follow_location(false);  // a redirect must not carry the token elsewhere
    if (https_) {
      client->enable_server_certificate_verification(true);
      if (!options_.ca_cert_file.empty()) client->set_ca_cert_path(options_.ca_cert_file);
    }
    return Lease{std::move(client), false};
  }

  void release(std::unique_ptr<httplib::Client> client) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(client));
  }

  size_t idle() const EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return idle_.size();
  }

 private:
  const std::string origin_;
  const bool https_;
  const FetchOptions& options_;
  mutable Mutex mu_;
  std::vector<std::unique_ptr<httplib::Client>> idle_ GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------------------
// One fetch() call: the shared state of its worker threads.
struct CallState {
  Clock::time_point deadline;
  Mutex mu;
  CondVar cv;
  size_t next_task GUARDED_BY(mu) = 0;
  size_t finished GUARDED_BY(mu) = 0;
  bool cancelled GUARDED_BY(mu) = false;                // the budget is spent: abandon everything
  std::set<httplib::Client*> in_flight GUARDED_BY(mu);  // stopped on cancellation
  std::atomic<size_t> bytes{0};
  std::atomic<bool> reached{false};
};

struct HttpAnswer {
  std::optional<FetchError> error;  // transport-level failure
  int status = 0;
  std::string body;
};

// One HTTP GET with the call's token, within `request_deadline`.
HttpAnswer http_get(ConnectionPool& pool, const std::string& target, std::string_view token,
                    Clock::time_point request_deadline, const FetchOptions& options,
                    CallState& state);

}  // namespace cryo::fhir::client::detail
