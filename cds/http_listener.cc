#include "cds/http_listener.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <list>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "base/log.h"
#include "base/thread_annotations.h"
#include "cds/operation_outcome.h"
#include "security/tls.h"

namespace cryo::cds {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string_view HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

bool HttpRequest::has_header(std::string_view lower_name) const {
  for (const auto& h : headers) {
    if (h.first == lower_name) return true;
  }
  return false;
}

namespace {

// Length of the well-formed UTF-8 sequence starting at text[i], 0 when it is not one.
size_t utf8_sequence(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t min = 0;
  uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    n = 2, min = 0x80, cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, min = 0x800, cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// Offset of the first byte that is not well-formed UTF-8, npos when none.
size_t first_invalid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    // Fast path over ASCII.
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = utf8_sequence(text, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

// Percent-decodes a path; nullopt when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

// Memory held by request bodies being received, across all connections.
class BodyBudget {
 public:
  explicit BodyBudget(size_t limit) : limit_(limit) {}
  bool take(size_t n) {
    size_t now = used_.fetch_add(n) + n;
    if (now <= limit_) return true;
    used_.fetch_sub(n);
    return false;
  }
  void give_back(size_t n) { used_.fetch_sub(n); }

 private:
  size_t limit_;
  std::atomic<size_t> used_{0};
};

// What went wrong while receiving a request, as it will be answered.
struct Refusal {
  int status = 400;
  std::string code;
  std::string message;
};

// The decoded body of one request, grown within the per-request limit and the shared budget;
// gzip and deflate are inflated as they stream in.
class BodyDecoder {
 public:
  enum class Coding { kIdentity, kGzip, kDeflate };

  BodyDecoder(Coding coding, size_t limit, size_t max_ratio, BodyBudget& budget)
      : coding_(coding), limit_(limit), max_ratio_(max_ratio), budget_(budget) {
    if (coding_ != Coding::kIdentity) {
      // 15 + 32: a zlib or gzip header, detected; "deflate" in HTTP is the zlib format.
      int bits = coding_ == Coding::kGzip ? 15 + 32 : 15;
      zlib_ready_ = inflateInit2(&z_, bits) == Z_OK;
    }
  }
  ~BodyDecoder() {
    if (zlib_ready_) inflateEnd(&z_);
    budget_.give_back(reserved_);
  }
  BodyDecoder(const BodyDecoder&) = delete;
  BodyDecoder& operator=(const BodyDecoder&) = delete;

  // Room for a body whose length is announced (Content-Length, identity).
  std::optional<Refusal> expect(size_t length) { return grow_to(length); }

  std::optional<Refusal> feed(const char* data, size_t n) {
    if (n == 0) return std::nullopt;
    if (coding_ == Coding::kIdentity) return append(data, n);
    if (!zlib_ready_) return Refusal{500, "exception", "cannot decompress the request body"};
    if (ended_) return Refusal{400, "invalid", "data follows the end of the compressed body"};
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    z_.avail_in = static_cast<uInt>(n);
    compressed_ += n;
    std::array<char, 16 * 1024> out;
    while (true) {
      z_.next_out = reinterpret_cast<Bytef*>(out.data());
      z_.avail_out = static_cast<uInt>(out.size());
      int r = inflate(&z_, Z_NO_FLUSH);
      if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
        return Refusal{400, "invalid", "the request body is not valid " + coding_name() + " data"};
      }
      size_t produced = out.size() - z_.avail_out;
      if (auto refused = append(out.data(), produced)) return refused;
      if (body_.size() > 1024 * 1024 && body_.size() > max_ratio_ * compressed_consumed()) {
        return Refusal{413, "too-long",
                       "the " + coding_name() + " request body expands more than " +
                           std::to_string(max_ratio_) + " times"};
      }
      if (r == Z_STREAM_END) {
        ended_ = true;
        if (z_.avail_in > 0)
          return Refusal{400, "invalid", "data follows the end of the compressed body"};
        return std::nullopt;
      }
      if (z_.avail_in == 0 && z_.avail_out > 0) return std::nullopt;
      if (r == Z_BUF_ERROR && produced == 0) return std::nullopt;
    }
  }

  std::optional<Refusal> finish() {
    if (coding_ != Coding::kIdentity && !ended_ && compressed_ > 0) {
      return Refusal{400, "invalid", "the " + coding_name() + " request body ends early"};
    }
    return std::nullopt;
  }

  // The body, leaving the budget (it is no longer being received).
  std::string take() {
    budget_.give_back(reserved_);
    reserved_ = 0;
    return std::move(body_);
  }

 private:
  std::string coding_name() const { return coding_ == Coding::kGzip ? "gzip" : "deflate"; }
  size_t compressed_consumed() const { return std::max<size_t>(1, compressed_ - z_.avail_in); }

  std::optional<Refusal> grow_to(size_t size) {
    if (size > limit_) {
      return Refusal{413, "too-long",
                     "the request body is larger than this service accepts (" +
                         std::to_string(limit_) + " bytes)"};
    }
    if (size <= reserved_) return std::nullopt;
    size_t target = std::min(limit_, std::max(size, reserved_ * 2));
    if (!budget_.take(target - reserved_)) {
      return Refusal{503, "transient", "the service is receiving too many large requests"};
    }
    body_.reserve(target);
    reserved_ = target;
    return std::nullopt;
  }

  std::optional<Refusal> append(const char* data, size_t n) {
    if (auto refused = grow_to(body_.size() + n)) return refused;
    body_.append(data, n);
    return std::nullopt;
  }

  Coding coding_;
  size_t limit_;
  size_t max_ratio_;
  BodyBudget& budget_;
  std::string body_;
  size_t reserved_ = 0;
  size_t compressed_ = 0;
  z_stream z_{};
  bool zlib_ready_ = false;
  bool ended_ = false;
};

}  // namespace

bool valid_utf8(std::string_view text) {
  return first_invalid_utf8(text) == std::string_view::npos;
}

std::string escape_request_text(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (out.size() >= max_bytes) {
      out += "...(" + std::to_string(text.size()) + " bytes)";
      return out;
    }
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = utf8_sequence(text, i);
    if (c >= 0x80 && n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '"' || c == '\\') {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
  return out;
}

namespace {

// Counters and settings the connections share with the listener.
struct Shared {
  ListenerOptions options;
  RequestHandler handler;
  BodyBudget budget;
  asio::thread_pool* pool = nullptr;
  std::atomic<bool> draining{false};
  std::atomic<size_t> open{0};  // admitted connections
  std::atomic<size_t> refusing{0};
  std::atomic<size_t> idle{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
  mutable Mutex status_mutex;
  std::map<int, uint64_t> by_status GUARDED_BY(status_mutex);

  Shared(ListenerOptions o, RequestHandler h)
      : options(std::move(o)), handler(std::move(h)), budget(options.max_body_memory_bytes) {}

  void count(int status) {
    MutexLock lock(status_mutex);
    ++by_status[status];
  }
};

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void drain() = 0;  // any thread
};

// Connections alive, for the drain.
class Registry {
 public:
  std::list<std::weak_ptr<SessionBase>>::iterator add(std::weak_ptr<SessionBase> s) {
    MutexLock lock(mutex_);
    return sessions_.insert(sessions_.end(), std::move(s));
  }
  void remove(std::list<std::weak_ptr<SessionBase>>::iterator it) {
    MutexLock lock(mutex_);
    sessions_.erase(it);
  }
  void drain_all() {
    std::vector<std::shared_ptr<SessionBase>> alive;
    {
      MutexLock lock(mutex_);
      for (auto& w : sessions_) {
        if (auto s = w.lock()) alive.push_back(std::move(s));
      }
    }
    for (auto& s : alive) s->drain();
  }

 private:
  Mutex mutex_;
  std::list<std::weak_ptr<SessionBase>> sessions_ GUARDED_BY(mutex_);
};

// How long a connection idle at the start of a drain may still deliver a request that was
// already on its way (it is answered, with `Connection: close`).
constexpr std::chrono::milliseconds kDrainIdleGrace{250};
// After a refusal, unread request bytes are read and dropped for at most this long or this
// much before the socket closes (closing with unread data would reset the connection before
// the client reads the answer).
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr size_t kLingerBytes = 1024 * 1024;

template <class Stream>
class Session : public SessionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(Stream stream, Shared& shared, Registry& registry, bool refusing)
      : stream_(std::move(stream)),
        shared_(shared),
        registry_(registry),
        refusing_(refusing),
        drain_timer_(stream_.get_executor()) {
    (refusing_ ? shared_.refusing : shared_.open).fetch_add(1);
  }
  ~Session() override {
    set_state(State::kClosed);
    (refusing_ ? shared_.refusing : shared_.open).fetch_sub(1);
    registry_.remove(entry_);
  }

  void start(std::list<std::weak_ptr<SessionBase>>::iterator entry) {
    entry_ = entry;
    asio::dispatch(stream_.get_executor(), [self = self()] { self->begin(); });
  }

  void drain() override {
    asio::post(stream_.get_executor(), [self = self()] { self->on_drain(); });
  }

 private:
  enum class State { kHandshake, kIdle, kHeaders, kBody, kBusy, kWriting, kClosing, kClosed };

  std::shared_ptr<Session> self() {
    return std::static_pointer_cast<Session>(this->shared_from_this());
  }
  auto& lowest() { return beast::get_lowest_layer(stream_); }
  const ListenerOptions& opt() const { return shared_.options; }

  void set_state(State s) {
    if (state_ == State::kIdle && s != State::kIdle) shared_.idle.fetch_sub(1);
    if (state_ != State::kIdle && s == State::kIdle) shared_.idle.fetch_add(1);
    state_ = s;
  }

  void begin() {
    if constexpr (kTls) {
      set_state(State::kHandshake);
      lowest().expires_after(opt().header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = self()](beast::error_code ec) {
                                if (ec) return self->close();
                                self->wait_request();
                              });
    } else {
      wait_request();
    }
  }

  void on_drain() {
    draining_ = true;
    if (state_ != State::kIdle) return;
    drain_timer_.expires_after(kDrainIdleGrace);
    drain_timer_.async_wait([self = self()](beast::error_code ec) {
      if (!ec && self->state_ == State::kIdle) self->close();
    });
  }

  // Waits (idle timeout) for the first byte of the next request.
  void wait_request() {
    set_state(State::kIdle);
    if (buffer_.size() > 0) return read_header();
    if (draining_) on_drain();
    lowest().expires_after(opt().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = self()](beast::error_code ec, size_t n) {
      if (ec) return self->close();
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    set_state(State::kHeaders);
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opt().max_header_bytes));
    // The decoded body is limited as it streams; this bounds the bytes on the wire.
    parser_->body_limit(opt().max_body_bytes + 1024 * 1024);
    lowest().expires_after(opt().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = self()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  // A refusal for a framing error the parser reported, or nullopt to just close.
  static std::optional<Refusal> framing_refusal(beast::error_code ec, const ListenerOptions& o) {
    if (ec == http::error::header_limit) {
      return Refusal{431, "too-long",
                     "the request headers are larger than this service accepts (" +
                         std::to_string(o.max_header_bytes) + " bytes)"};
    }
    if (ec == http::error::body_limit) {
      return Refusal{413, "too-long",
                     "the request body is larger than this service accepts (" +
                         std::to_string(o.max_body_bytes) + " bytes)"};
    }
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message &&
        ec != http::error::need_buffer) {
      return Refusal{400, "structure", "the HTTP request is malformed (" + ec.message() + ")"};
    }
    return std::nullopt;
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        log::warn("connection closed: request headers not received in time",
                  {{"deadline_ms", std::to_string(opt().header_timeout.count())}});
        return close();
      }
      if (auto r = framing_refusal(ec, opt())) return refuse(std::move(*r));
      return close();
    }
    auto& req = parser_->get();
    method_ = std::string(sv(req.method_string()));
    target_ = std::string(sv(req.target()));
    request_keep_alive_ = req.keep_alive();
    if (auto r = check_header(req)) return refuse(std::move(*r));
    if (refusing_) {
      Refusal r{503, "transient", "the service has too many open connections; retry shortly"};
      return refuse(std::move(r));
    }
    if (lower(sv(req[http::field::expect])) == "100-continue" && !parser_->is_done()) {
      continue_.emplace(http::status::continue_, 11);
      lowest().expires_after(opt().write_timeout);
      http::async_write(stream_, *continue_, [self = self()](beast::error_code e, size_t) {
        if (e) return self->close();
        self->start_body();
      });
      return;
    }
    start_body();
  }

  std::optional<Refusal> check_header(http::request<http::buffer_body>& req) {
    if (target_.empty() || target_.front() != '/') {
      return Refusal{400, "structure", "the request target must be an absolute path"};
    }
    size_t q = target_.find('?');
    auto path = percent_decode(std::string_view(target_).substr(0, q));
    if (!path || !valid_utf8(*path) || path->find('\0') != std::string::npos) {
      return Refusal{400, "structure",
                     "the request path is not valid UTF-8: " + escape_request_text(target_)};
    }
    request_.path = std::move(*path);
    request_.query = q == std::string::npos ? "" : target_.substr(q + 1);
    request_.method = method_;
    request_.target = target_;
    request_.headers.clear();
    for (const auto& field : req) {
      std::string name = lower(sv(field.name_string()));
      std::string_view value = sv(field.value());
      if (!valid_utf8(value)) {
        return Refusal{400, "structure",
                       "the request header '" + escape_request_text(name) +
                           "' is not valid UTF-8: " + escape_request_text(value)};
      }
      request_.headers.emplace_back(std::move(name), std::string(value));
    }
    if (req.count(http::field::transfer_encoding) > 1 ||
        (req.count(http::field::transfer_encoding) == 1 &&
         lower(trim(sv(req[http::field::transfer_encoding]))) != "chunked")) {
      return Refusal{400, "structure",
                     "unsupported Transfer-Encoding '" +
                         escape_request_text(sv(req[http::field::transfer_encoding])) +
                         "' (only chunked)"};
    }
    if (req.count(http::field::content_encoding) > 1) {
      return Refusal{415, "not-supported", "only one Content-Encoding is supported"};
    }
    std::string coding = lower(trim(sv(req[http::field::content_encoding])));
    BodyDecoder::Coding c = BodyDecoder::Coding::kIdentity;
    if (coding == "gzip" || coding == "x-gzip") {
      c = BodyDecoder::Coding::kGzip;
    } else if (coding == "deflate") {
      c = BodyDecoder::Coding::kDeflate;
    } else if (!coding.empty() && coding != "identity") {
      return Refusal{415, "not-supported",
                     "unsupported Content-Encoding '" + escape_request_text(coding) +
                         "' (gzip, deflate or none)"};
    }
    decoder_.emplace(c, opt().max_body_bytes, opt().max_compression_ratio, shared_.budget);
    if (auto length = parser_->content_length(); length && c == BodyDecoder::Coding::kIdentity) {
      if (auto r = decoder_->expect(static_cast<size_t>(*length))) return r;
    }
    return std::nullopt;
  }

  void start_body() {
    set_state(State::kBody);
    lowest().expires_after(opt().body_timeout);
    // A client that writes the headers and the body separately with Nagle's algorithm on
    // (the default of many HTTP stacks) holds the body back until the headers are
    // acknowledged: acknowledge them now rather than after the delayed-ACK timer (about 40 ms
    // on Linux, every call).
    if (!parser_->is_done()) acknowledge_now();
    read_body();
  }

  void acknowledge_now() {
    int one = 1;
    ::setsockopt(lowest().socket().native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  }

  void read_body() {
    if (parser_->is_done()) return finish_request();
    auto& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    http::async_read(stream_, buffer_, *parser_,
                     [self = self()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      if (ec == beast::error::timeout) {
        log::warn("connection closed: request body not received in time",
                  {{"deadline_ms", std::to_string(opt().body_timeout.count())},
                   {"path", escape_request_text(request_.path)}});
        return close();
      }
      if (auto r = framing_refusal(ec, opt())) return refuse(std::move(*r));
      return close();
    }
    size_t got = chunk_.size() - parser_->get().body().size;
    if (auto r = decoder_->feed(chunk_.data(), got)) return refuse(std::move(*r));
    read_body();
  }

  void finish_request() {
    if (auto r = decoder_->finish()) return refuse(std::move(*r));
    request_.body = decoder_->take();
    decoder_.reset();
    if (size_t bad = first_invalid_utf8(request_.body); bad != std::string::npos) {
      return refuse(
          Refusal{400, "structure",
                  "the request body is not valid UTF-8 (byte " + std::to_string(bad) + ")"});
    }
    head_ = request_.method == "HEAD";
    if (head_) request_.method = "GET";
    set_state(State::kBusy);
    lowest().expires_never();
    asio::post(*shared_.pool, [self = self()] {
      HttpResponse response;
      try {
        response = self->shared_.handler(self->request_);
      } catch (const std::exception& e) {
        log::error("request failed",
                   {{"path", escape_request_text(self->request_.path)}, {"error", e.what()}});
        response = {500,
                    "application/fhir+json",
                    {},
                    operation_outcome("exception", "the service failed to process the request")};
      }
      self->request_ = HttpRequest{};
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(response)]() mutable { self->write(std::move(r), false); });
    });
  }

  void refuse(Refusal r) {
    decoder_.reset();
    log::warn("request refused",
              {{"method", escape_request_text(method_, 16)},
               {"path", escape_request_text(request_.path.empty() ? std::string_view(target_)
                                                                  : request_.path)},
               {"status", std::to_string(r.status)},
               {"reason", r.message}});
    HttpResponse response{
        r.status, "application/fhir+json", {}, operation_outcome(r.code, r.message)};
    if (r.status == 503) {
      response.headers.emplace_back("Retry-After", std::to_string(opt().retry_after_seconds));
    }
    write(std::move(response), true);
  }

  void write(HttpResponse r, bool close_after) {
    set_state(State::kWriting);
    ++requests_;
    bool keep = !close_after && request_keep_alive_ && !draining_ && !shared_.draining.load() &&
                requests_ < opt().max_requests_per_connection;
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::content_type, r.content_type);
    response_.set("X-Content-Type-Options", "nosniff");
    response_.set(http::field::cache_control, "no-store");
    for (auto& [name, value] : r.headers) response_.insert(name, value);
    size_t length = r.body.size();
    if (!head_) response_.body() = std::move(r.body);
    response_.keep_alive(keep);
    response_.prepare_payload();
    if (head_) response_.content_length(length);
    head_ = false;
    keep_alive_ = keep;
    shared_.count(r.status);
    lowest().expires_after(opt().write_timeout);
    http::async_write(stream_, response_, [self = self()](beast::error_code ec, size_t) {
      self->response_ = {};
      if (ec) return self->close();
      if (!self->keep_alive_) return self->graceful_close();
      self->parser_.reset();
      self->wait_request();
    });
  }

  // Closes after an answer: TLS close_notify, or half-close and drop what the client still
  // sends, so the client reads the answer rather than a reset.
  void graceful_close() {
    set_state(State::kClosing);
    if constexpr (kTls) {
      lowest().expires_after(kLingerTime);
      stream_.async_shutdown([self = self()](beast::error_code) { self->close(); });
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return close();
      lowest().expires_after(kLingerTime);
      linger();
    }
  }

  void linger() {
    stream_.async_read_some(asio::buffer(chunk_), [self = self()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > kLingerBytes) return self->close();
      self->linger();
    });
  }

  void close() {
    drain_timer_.cancel();
    beast::error_code ec;
    lowest().socket().close(ec);
    set_state(State::kClosed);
  }

  Stream stream_;
  Shared& shared_;
  Registry& registry_;
  bool refusing_;
  asio::steady_timer drain_timer_;
  std::list<std::weak_ptr<SessionBase>>::iterator entry_;
  State state_ = State::kHandshake;
  beast::flat_buffer buffer_{64 * 1024};
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<BodyDecoder> decoder_;
  std::array<char, 16 * 1024> chunk_{};
  HttpRequest request_;
  std::string method_;
  std::string target_;
  http::response<http::string_body> response_;
  bool request_keep_alive_ = true;
  bool keep_alive_ = true;
  bool head_ = false;
  bool draining_ = false;
  size_t requests_ = 0;
  size_t lingered_ = 0;
};

}  // namespace

struct HttpListener::Impl {
  Shared shared;
  Registry registry;
  std::optional<asio::ssl::context> tls;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer retry_timer{io};
  asio::steady_timer drain_timer{io};
  std::chrono::steady_clock::time_point drain_deadline;
  int stop_pipe[2] = {-1, -1};
  std::optional<asio::posix::stream_descriptor> stop_reader;
  char stop_byte = 0;
  int port = 0;

  Impl(ListenerOptions o, RequestHandler h) : shared(std::move(o), std::move(h)) {}
  ~Impl() {
    for (int fd : stop_pipe) {
      if (fd >= 0) ::close(fd);
    }
  }

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // Out of descriptors or similar: try again shortly rather than spin.
        retry_timer.expires_after(std::chrono::milliseconds(50));
        retry_timer.async_wait([this](beast::error_code e) {
          if (!e) accept();
        });
        return;
      }
      admit(std::move(socket));
      accept();
    });
  }

  void admit(tcp::socket socket) {
    shared.accepted.fetch_add(1);
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    bool refusing = shared.open.load() >= shared.options.max_connections;
    if (refusing) {
      shared.refused.fetch_add(1);
      // A bounded number of refused connections is answered 503; past that they are closed.
      if (shared.refusing.load() >= 64) return;
    }
    std::shared_ptr<SessionBase> session;
    if (tls) {
      using S = Session<beast::ssl_stream<beast::tcp_stream>>;
      session = std::make_shared<S>(
          beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls), shared,
          registry, refusing);
      auto entry = registry.add(session);
      std::static_pointer_cast<S>(session)->start(entry);
    } else {
      using S = Session<beast::tcp_stream>;
      session =
          std::make_shared<S>(beast::tcp_stream(std::move(socket)), shared, registry, refusing);
      auto entry = registry.add(session);
      std::static_pointer_cast<S>(session)->start(entry);
    }
  }

  void wait_for_stop() {
    stop_reader->async_read_some(asio::buffer(&stop_byte, 1), [this](beast::error_code ec, size_t) {
      if (ec == asio::error::operation_aborted) return;
      begin_drain();
    });
  }

  void begin_drain() {
    if (shared.draining.exchange(true)) return;
    log::info("draining: no new connections; finishing calls in flight",
              {{"open_connections", std::to_string(shared.open.load())},
               {"deadline_ms", std::to_string(shared.options.drain_timeout.count())}});
    beast::error_code ec;
    acceptor.close(ec);
    retry_timer.cancel();
    registry.drain_all();
    drain_deadline = std::chrono::steady_clock::now() + shared.options.drain_timeout;
    poll_drain();
  }

  void poll_drain() {
    if (shared.open.load() == 0 && shared.refusing.load() == 0) {
      // Kept open (a later stop() still writes to it), only no longer waited on.
      beast::error_code ignored;
      stop_reader->cancel(ignored);
      return;  // nothing left: the I/O threads run out of work
    }
    if (std::chrono::steady_clock::now() >= drain_deadline) {
      log::warn("drain deadline passed; closing the remaining connections",
                {{"open_connections", std::to_string(shared.open.load())}});
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([this](beast::error_code e) {
      if (!e) poll_drain();
    });
  }
};

HttpListener::HttpListener(ListenerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpListener::~HttpListener() = default;

Status HttpListener::bind() {
  auto& o = impl_->shared.options;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
      return Error{"--tls-cert/--tls-key",
                   "both a certificate and a key file are needed for HTTPS"};
    }
    impl_->tls.emplace(asio::ssl::context::tls_server);
    if (auto s = security::configure_server_context(*impl_->tls->native_handle(),
                                                    {o.tls_cert_file, o.tls_key_file});
        !s) {
      return s;
    }
  }
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(o.bind, ec);
  if (ec) {
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(o.bind, std::to_string(o.port), ec);
    if (ec || results.empty()) return Error{"--bind", "cannot resolve " + o.bind};
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, static_cast<unsigned short>(o.port));
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error{
        o.port == 0 ? "--bind" : "--port",
        "cannot bind " + o.bind + ":" + std::to_string(o.port) + " (" + ec.message() + ")"};
  }
  impl_->port = acceptor.local_endpoint().port();
  if (::pipe2(impl_->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Error{"listener", "cannot create the stop pipe"};
  }
  impl_->stop_reader.emplace(impl_->io, impl_->stop_pipe[0]);
  impl_->stop_pipe[0] = -1;  // owned by stop_reader now
  return {};
}

void HttpListener::serve() {
  auto& impl = *impl_;
  if (!impl.acceptor.is_open()) return;
  asio::thread_pool pool(std::max<size_t>(1, impl.shared.options.worker_threads));
  impl.shared.pool = &pool;
  impl.accept();
  impl.wait_for_stop();
  std::vector<std::thread> io_threads;
  for (size_t i = 1; i < std::max<size_t>(1, impl.shared.options.io_threads); ++i) {
    io_threads.emplace_back([&impl] { impl.io.run(); });
  }
  impl.io.run();
  for (auto& t : io_threads) t.join();
  pool.join();  // calls still running finish (their records committed)
  impl.shared.pool = nullptr;
}

void HttpListener::stop() {
  // Async-signal-safe: one byte into the stop pipe wakes the I/O loop, which drains.
  if (impl_ && impl_->stop_pipe[1] >= 0) {
    char byte = 1;
    ssize_t ignored = ::write(impl_->stop_pipe[1], &byte, 1);
    (void)ignored;
  }
}

int HttpListener::bound_port() const {
  return impl_->port;
}

ListenerStats HttpListener::stats() const {
  ListenerStats s;
  s.open_connections = impl_->shared.open.load() + impl_->shared.refusing.load();
  s.idle_connections = impl_->shared.idle.load();
  s.accepted_connections = impl_->shared.accepted.load();
  s.refused_connections = impl_->shared.refused.load();
  MutexLock lock(impl_->shared.status_mutex);
  s.responses_by_status = impl_->shared.by_status;
  return s;
}

}  // namespace cryo::cds
