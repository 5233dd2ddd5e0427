#include "fhir/client/connection_pool.h"

#include <cstdlib>
#include <utility>

namespace cryo::fhir::client::detail {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string ms_text(Clock::duration d) {
  return std::to_string(duration_cast<milliseconds>(d).count()) + " ms";
}

HttpAnswer http_get(ConnectionPool& pool, const std::string& target, std::string_view token,
                    Clock::time_point request_deadline, const FetchOptions& options,
                    CallState& state) {
  for (int attempt = 0;; ++attempt) {
    HttpAnswer answer;
    Clock::time_point now = Clock::now();
    if (now >= request_deadline) {
      answer.error = FetchError{FetchErrorKind::kTimeout, 0, "no time left before the request"};
      return answer;
    }
    ConnectionPool::Lease lease = pool.acquire();
    httplib::Client& client = *lease.client;
    auto remaining = duration_cast<std::chrono::microseconds>(request_deadline - now);
    time_t sec = static_cast<time_t>(remaining.count() / 1000000);
    time_t usec = static_cast<time_t>(remaining.count() % 1000000);
    client.set_connection_timeout(sec, usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);

    {
      MutexLock lock(state.mu);
      if (state.cancelled) {
        answer.error = FetchError{FetchErrorKind::kTimeout, 0, "the time budget is spent"};
        return answer;
      }
      state.in_flight.insert(&client);
    }

    httplib::Headers headers{{"Accept", "application/fhir+json"}};
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + std::string(token));
    bool too_large = false;
    bool expired = false;
    bool got_headers = false;
    auto result = client.Get(
        target, headers,
        [&](const httplib::Response& response) {
          got_headers = true;
          answer.status = response.status;
          if (response.has_header("Content-Length")) {
            size_t length =
                std::strtoull(response.get_header_value("Content-Length").c_str(), nullptr, 10);
            if (length > options.max_response_bytes) {
              too_large = true;
              return false;
            }
            answer.body.reserve(length);
          }
          return true;
        },
        [&](const char* data, size_t length) {
          if (answer.body.size() + length > options.max_response_bytes ||
              state.bytes.fetch_add(length) + length > options.max_total_bytes) {
            too_large = true;
            return false;
          }
          if (Clock::now() >= request_deadline) {
            expired = true;
            return false;
          }
          answer.body.append(data, length);
          return true;
        });

    bool cancelled;
    {
      MutexLock lock(state.mu);
      state.in_flight.erase(&client);
      cancelled = state.cancelled;
    }
    if (got_headers) state.reached = true;

    if (result) {
      answer.status = result->status;
      if (!cancelled) pool.release(std::move(lease.client));
      return answer;
    }

    // The connection is dropped (not returned to the pool) after any failure.
    httplib::Error err = result.error();
    now = Clock::now();
    bool out_of_time = expired || cancelled || now + milliseconds(20) >= request_deadline;
    if (too_large) {
      answer.error = FetchError{
          FetchErrorKind::kTooLarge, answer.status,
          "response larger than " + std::to_string(options.max_response_bytes) + " bytes"};
    } else if (out_of_time || err == httplib::Error::ConnectionTimeout) {
      answer.error = FetchError{FetchErrorKind::kTimeout, answer.status,
                                "no complete answer within " + ms_text(remaining)};
    } else if ((err == httplib::Error::Read || err == httplib::Error::Write) && lease.reused &&
               !got_headers && attempt == 0) {
      continue;  // the server closed an idle keep-alive connection: one fresh attempt
    } else {
      answer.error = FetchError{FetchErrorKind::kUnreachable, 0, httplib::to_string(err)};
    }
    return answer;
  }
}

}  // namespace cryo::fhir::client::detail
