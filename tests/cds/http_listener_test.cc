// HttpListener (the transport) with a plain handler, in process on a loopback port; and
// HttpServer's routing alone (handle(): request in, reply out, no socket).
#include "cds/http_listener.h"

#include <zlib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "cds/coverage_service.h"
#include "cds/http_server.h"
#include "mappings/mapping_set.h"
#include "policies/policy_library.h"
#include "tests/support/time_scale.h"

namespace cryo::cds {
namespace {

TEST(Utf8, AcceptsWellFormedAndRejectsEverythingElse) {
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // cut short
}

TEST(EscapeRequestText, EscapesControlAndInvalidBytesAndTruncates) {
  EXPECT_EQ(escape_request_text("a\x1b[31m\r\n\xff\"b"), "a\\x1b[31m\\x0d\\x0a\\xff\\x22b");
  EXPECT_EQ(escape_request_text("caf\xc3\xa9"), "caf\xc3\xa9");
  std::string long_text(5000, 'x');
  std::string cut = escape_request_text(long_text, 100);
  EXPECT_EQ(cut, std::string(100, 'x') + "...(5000 bytes)");
}

std::string compress(const std::string& in, int window_bits) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

// A listener whose handler answers with the body it received, after an optional delay.
class Echo {
 public:
  explicit Echo(ListenerOptions o = {}) {
    o.bind = "127.0.0.1";
    o.port = 0;
    listener_ = std::make_unique<HttpListener>(o, [this](HttpRequest& r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
      ++handled;
      return HttpResponse{200, "text/plain", {{"X-Path", r.path}}, r.body};
    });
    EXPECT_TRUE(listener_->bind());
    thread_ = std::thread([this] { listener_->serve(); });
  }
  ~Echo() {
    listener_->stop();
    thread_.join();
  }
  HttpListener& listener() { return *listener_; }
  int port() const { return listener_->bound_port(); }
  std::atomic<int> delay_ms{0};
  std::atomic<int> handled{0};

 private:
  std::unique_ptr<HttpListener> listener_;
  std::thread thread_;
};

TEST(HttpListener, DecodesGzipDeflateAndChunkedBodiesAndCountsAnswers) {
  Echo echo;
  httplib::Client c("127.0.0.1", echo.port());
  c.set_keep_alive(true);
  std::string body = "{\"hook\":\"order-sign\"," + std::string(100000, ' ') + "}";
  httplib::Headers gzip = {{"Content-Encoding", "gzip"}};
  auto r = c.Post("/p%20q", gzip, compress(body, 15 + 16), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(r->get_header_value("X-Path"), "/p q");
  httplib::Headers deflate = {{"Content-Encoding", "deflate"}};
  r = c.Post("/d", deflate, compress(body, 15), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, body);
  // Chunked: cpp-httplib's content provider without a length sends chunks.
  r = c.Post(
      "/c",
      [&](size_t offset, httplib::DataSink& sink) {
        if (offset < body.size()) {
          sink.write(body.data() + offset, std::min<size_t>(4096, body.size() - offset));
        } else {
          sink.done();
        }
        return true;
      },
      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, body);
  ListenerStats s = echo.listener().stats();
  // The connection turns idle just after its answer went out.
  for (int i = 0; i < 100 && s.idle_connections == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s = echo.listener().stats();
  }
  EXPECT_EQ(s.responses_by_status[200], 3u);
  EXPECT_EQ(s.open_connections, 1u);
  EXPECT_EQ(s.idle_connections, 1u);
}

// cpp-httplib's client, like many HTTP stacks, writes a POST's headers and body separately
// with Nagle's algorithm on: the body leaves only once the headers are acknowledged. Left to
// the delayed-ACK timer that is about 40 ms a call; the listener acknowledges at once.
TEST(HttpListener, AClientWithNaglesAlgorithmIsNotKeptWaitingForAnAck) {
  Echo echo;
  httplib::Client c("127.0.0.1", echo.port());
  c.set_keep_alive(true);
  ASSERT_TRUE(c.Post("/warm", std::string(2000, 'a'), "application/json"));
  constexpr int kCalls = 25;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) {
    auto r = c.Post("/p", std::string(2000, 'a'), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  // Waiting for delayed ACKs, 25 calls take a second or more.
  EXPECT_LT(took, cryo::testing::scaled(std::chrono::milliseconds(250)))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST(HttpListener, CutsDecodedBodiesAtTheLimit) {
  ListenerOptions o;
  o.max_body_bytes = 64 * 1024;
  Echo echo(o);
  httplib::Client c("127.0.0.1", echo.port());
  httplib::Headers gzip = {{"Content-Encoding", "gzip"}};
  auto r = c.Post("/x", gzip, compress(std::string(200000, 'a'), 15 + 16), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("OperationOutcome"), std::string::npos);
  EXPECT_EQ(echo.handled.load(), 0);
  r = c.Post("/x", std::string(70000, 'a'), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST(HttpListener, StopFinishesTheCallInFlightAndClosesTheConnection) {
  auto echo = std::make_unique<Echo>();
  echo->delay_ms = 400;
  httplib::Client c("127.0.0.1", echo->port());
  c.set_keep_alive(true);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    echo->listener().stop();
  });
  auto r = c.Post("/slow", "in flight", "text/plain");
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "in flight");
  EXPECT_EQ(r->get_header_value("Connection"), "close");
  auto start = std::chrono::steady_clock::now();
  echo.reset();  // serve() has returned: the destructor joins at once
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// The routing alone, with the bundled policies and mappings.
class Routes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = mappings::MappingSet::load(std::string(CRYO_SOURCE_DIR) + "/mappings/data");
    ASSERT_TRUE(m) << m.error().to_string();
    mappings_ = new mappings::MappingSet(std::move(*m));
    auto l =
        policies::PolicyLibrary::load(std::string(CRYO_SOURCE_DIR) + "/policies/data", *mappings_);
    ASSERT_TRUE(l) << l.error().to_string();
    library_ = new policies::PolicyLibrary(std::move(*l));
  }
  static HttpRequest request(std::string method, std::string path, std::string body = "") {
    HttpRequest r;
    r.method = std::move(method);
    r.path = path;
    r.target = std::move(path);
    r.body = std::move(body);
    return r;
  }
  static inline mappings::MappingSet* mappings_ = nullptr;
  static inline policies::PolicyLibrary* library_ = nullptr;
};

TEST_F(Routes, UnknownEndpointsQuoteTheRequestEscaped) {
  CoverageService service(*mappings_, *library_, {});
  HttpServer server(service, {});
  HttpRequest r = request("GET", "/nope\x1b[2J");
  HttpResponse res = server.handle(r);
  EXPECT_EQ(res.status, 404);
  EXPECT_NE(res.body.find("/nope\\\\x1b[2J"), std::string::npos) << res.body;
}

TEST_F(Routes, ExtraPostRoutesReceiveTheBody) {
  CoverageService service(*mappings_, *library_, {});
  HttpServer server(service, {});
  server.add_post(R"(/Questionnaire/\$questionnaire-package)",
                  [](const std::string&, const std::map<std::string, std::string>& query,
                     std::string_view authorization, std::string_view body) {
                    return HttpServer::Reply{
                        201, "application/fhir+json",
                        std::string(body) + "|" + query.at("a") + "|" + std::string(authorization)};
                  });
  HttpRequest r = request("POST", "/Questionnaire/$questionnaire-package", "{}");
  r.query = "a=b%20c";
  r.headers.emplace_back("authorization", "Bearer t");
  HttpResponse res = server.handle(r);
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.body, "{}|b c|Bearer t");
}

TEST_F(Routes, ResourcesPastTheCapAreRefusedNamingTheLimit) {
  CoverageService service(*mappings_, *library_, {});
  ServerOptions o;
  o.max_resources = 2;
  HttpServer server(service, o);
  HttpRequest r = request("POST", "/cds-services/order-sign-crd",
                          R"({"hook":"order-sign","hookInstance":"x","context":{},"prefetch":{)"
                          R"("a":{"resourceType":"Patient"},"b":{"resourceType":"Coverage"},)"
                          R"("c":{"resourceType":"Condition"}}})");
  HttpResponse res = server.handle(r);
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("server.max_resources"), std::string::npos) << res.body;
}

}  // namespace
}  // namespace cryo::cds
