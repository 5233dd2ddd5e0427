// HttpListener: the event-driven HTTP/1.1 transport under the CDS endpoints (Boost.Beast on
// Boost.Asio, optionally TLS through OpenSSL).
//
// A few I/O threads own every connection. A request is read on them with total deadlines
// (headers, then body), size limits and encoding checks; only a complete request (headers and
// decoded body) is handed to the worker pool, so idle keep-alive connections and slow clients
// cost no worker. Refusals the transport decides itself (400 malformed framing or invalid
// UTF-8, 413 body too large, 415 unsupported Content-Encoding, 431 headers too large, 503 over
// the connection limit, with Retry-After) are FHIR OperationOutcomes.
//
//   HttpListener listener(options, [](HttpRequest& r) { return HttpResponse{...}; });
//   if (auto s = listener.bind(); !s) fail(s.error());
//   listener.serve();  // until stop(): drains, then returns
//
// stop() is async-signal-safe: it may be called from a signal handler or any thread. It starts
// a graceful drain: no new connections, `Connection: close` on the next response of every
// connection, in-flight requests finished, serve() returns when all are done or the drain
// deadline passes.
//
// Thread safety: configure before bind(); stats() and stop() from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace cryo::cds {

// One complete request as the routes see it.
struct HttpRequest {
  std::string method;  // as sent, e.g. "POST"
  std::string target;  // as sent, e.g. "/assertions?patient=p1"
  std::string path;    // the target's path, percent-decoded
  std::string query;   // the raw query string (after '?'), "" when none
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;                                          // decoded (Content-Encoding undone)

  // The first value of a header (name in lower case), "" when absent.
  std::string_view header(std::string_view lower_name) const;
  bool has_header(std::string_view lower_name) const;
};

// What the routes answer.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using RequestHandler = std::function<HttpResponse(HttpRequest& request)>;

struct ListenerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: pick a free port
  size_t io_threads = 2;
  size_t worker_threads = 8;
  size_t max_header_bytes = 32 * 1024;      // request line + headers; over it -> 431
  size_t max_body_bytes = 5 * 1024 * 1024;  // decoded body; over it -> 413
  // All request bodies being received at once may hold at most this much memory; a request
  // growing past it is refused with 503 + Retry-After (bounds memory under many large bodies).
  size_t max_body_memory_bytes = 24 * 1024 * 1024;
  // A compressed body that expands more than this many times (past its first MiB) -> 413.
  size_t max_compression_ratio = 100;
  std::chrono::milliseconds header_timeout{10000};  // total, first byte to end of headers
  std::chrono::milliseconds body_timeout{10000};    // total, end of headers to end of body
  std::chrono::milliseconds write_timeout{10000};   // total, one response
  std::chrono::milliseconds idle_timeout{5000};     // a kept-alive connection without request
  size_t max_connections = 2048;                    // past it: 503 + Retry-After, then closed
  int retry_after_seconds = 1;
  std::chrono::milliseconds drain_timeout{10000};  // stop(): longest wait for in-flight calls
  size_t max_requests_per_connection = 10000;      // then `Connection: close`
  std::string tls_cert_file;  // both set: TLS 1.2/1.3 only (security/tls.h policy)
  std::string tls_key_file;
};

// What an operator's metrics endpoint reads.
struct ListenerStats {
  size_t open_connections = 0;
  size_t idle_connections = 0;  // kept alive, waiting for a request
  uint64_t accepted_connections = 0;
  uint64_t refused_connections = 0;  // over the connection limit
  std::map<int, uint64_t> responses_by_status;
};

class HttpListener {
 public:
  HttpListener(ListenerOptions options, RequestHandler handler);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Builds the TLS context (when configured) and binds; the Error names the option or file.
  Status bind();
  // Serves until stop() and the drain that follows; runs the I/O threads (this one included).
  void serve();
  void stop();
  int bound_port() const;
  ListenerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool valid_utf8(std::string_view text);

// Request text made safe to quote in a message or log: control characters, quotes, backslashes
// and bytes that are not UTF-8 become \xNN escapes; cut to `max_bytes` with "...(N bytes)".
std::string escape_request_text(std::string_view text, size_t max_bytes = 200);

}  // namespace cryo::cds
