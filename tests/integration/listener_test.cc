// The listener under clients that hold connections, trickle, flood or leave: the real cryo-crd
// server on loopback, spoken to over raw TCP sockets so each test controls every byte.
//   - idle keep-alive connections and slow-header clients do not starve a new client;
//   - the header deadline cuts a trickling client off while others are served;
//   - a header flood is cut off at the limit (431) with memory bounded;
//   - past the connection limit: 503 with Retry-After;
//   - SIGTERM drains: kept-alive connections get `Connection: close`, calls in flight finish;
//   - a gzip bomb is refused (413) with memory bounded; malformed framing is answered at once;
//   - a client that half-closes after its request still gets its answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "hook_request_builder.h"
#include "server_process.h"
#include "tests/support/time_scale.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// One TCP connection to the server.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool connected() const { return connected_; }
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void half_close() { ::shutdown(fd_, SHUT_WR); }

  // Reads one response (headers + Content-Length body); nullopt on close/timeout first.
  std::optional<std::string> response(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = Clock::now() + timeout;
    while (true) {
      size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        std::string head = lower(pending_.substr(0, end));
        if (size_t cl = head.find("content-length:"); cl != std::string::npos)
          length = std::stoul(head.substr(cl + 15));
        if (pending_.size() >= end + 4 + length) {
          std::string r = pending_.substr(0, end + 4 + length);
          pending_.erase(0, end + 4 + length);
          return r;
        }
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }
  // True when the server closed the connection (EOF or reset) before `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (read_some(deadline)) {
    }
    return eof_;
  }

  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

 private:
  bool read_some(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string pending_;
};

int status_of(const std::optional<std::string>& r) {
  if (!r || r->size() < 12) return 0;
  return std::stoi(r->substr(9, 3));
}
std::string body_of(const std::string& r) {
  return r.substr(r.find("\r\n\r\n") + 4);
}

std::string post_request(const std::string& body, const std::string& extra_headers = "") {
  return "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Content-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}
const std::string kHealth = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

std::string order_sign(const std::string& instance) {
  HookRequestBuilder b("florida-blue");
  b.unresectable_hcc_with_documents().order("47383").hook_instance(instance);
  return b.json();
}

// Resident memory of a process, in KiB.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("cryo-listener-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// A server with a `server` config section.
std::unique_ptr<ServerProcess> start_server(const TempDir& dir, const std::string& server_section,
                                            std::vector<std::string> extra = {"--no-store"}) {
  fs::path config = dir.path() / "crd.json";
  std::ofstream(config) << R"({"server": )" << server_section << "}\n";
  std::vector<std::string> args = {"--config", config.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<ServerProcess>(args);
}

TEST(Listener, IdleKeepAliveConnectionsAndSlowClientsDoNotStarveANewClient) {
  TempDir dir;
  auto server = start_server(dir, R"({"threads": 2, "keep_alive_seconds": 60})");
  // 300 pooled connections, each used once and then left open, and 50 clients that sent half
  // a request line: with one worker per connection, these would hold every worker.
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 300; ++i) {
    auto c = std::make_unique<Conn>(server->port());
    ASSERT_TRUE(c->connected());
    ASSERT_TRUE(c->send(kHealth));
    ASSERT_EQ(status_of(c->response()), 200);
    held.push_back(std::move(c));
  }
  for (int i = 0; i < 50; ++i) {
    auto c = std::make_unique<Conn>(server->port());
    ASSERT_TRUE(c->send("POST /cds-services/order-sign-crd HT"));
    held.push_back(std::move(c));
  }
  Conn fresh(server->port());
  ASSERT_TRUE(fresh.send(post_request(order_sign("fresh-1"))));
  auto r = fresh.response(std::chrono::seconds(3));
  ASSERT_TRUE(r) << "no answer while idle connections are held";
  EXPECT_EQ(status_of(r), 200) << *r;
  // The held connections are still usable.
  ASSERT_TRUE(held[0]->send(kHealth));
  EXPECT_EQ(status_of(held[0]->response()), 200);
}

TEST(Listener, HeaderDeadlineCutsOffATricklingClientWhileOthersAreServed) {
  TempDir dir;
  auto server = start_server(dir, R"({"header_timeout_seconds": 1})");
  Conn slow(server->port());
  const std::string request = kHealth;
  auto start = Clock::now();
  bool cut = false;
  for (size_t i = 0; i < request.size() - 1 && Clock::now() - start < std::chrono::seconds(5);
       ++i) {
    if (!slow.send(request.substr(i, 1))) {
      cut = true;
      break;
    }
    // Meanwhile another client is answered at once.
    if (i == 3) {
      Conn other(server->port());
      ASSERT_TRUE(other.send(kHealth));
      EXPECT_EQ(status_of(other.response(std::chrono::seconds(2))), 200);
    }
    if (slow.closed_within(std::chrono::milliseconds(200))) {
      cut = true;
      break;
    }
  }
  auto took = Clock::now() - start;
  EXPECT_TRUE(cut) << "the trickling client was never cut off";
  EXPECT_LT(took, std::chrono::milliseconds(3000)) << "cut off only after the header deadline";
  EXPECT_GE(took, std::chrono::milliseconds(900)) << "cut off before its deadline";
}

TEST(Listener, HeaderFloodIsCutOffAtTheLimitWithMemoryBounded) {
  TempDir dir;
  auto server = start_server(dir, R"({"max_header_bytes": 16384})");
  long before = rss_kib(server->pid());
  Conn flood(server->port());
  ASSERT_TRUE(flood.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: "));
  std::string chunk(64 * 1024, 'a');
  size_t sent = 0;
  while (sent < 100u * 1024 * 1024 && flood.send(chunk)) sent += chunk.size();
  auto r = flood.response(std::chrono::seconds(2));
  // The answer is 431 (or the connection is gone, when the flood outran it).
  if (r) {
    EXPECT_EQ(status_of(r), 431) << *r;
  }
  EXPECT_LT(sent, 100u * 1024 * 1024) << "the server kept reading the flood";
  long after = rss_kib(server->pid());
  EXPECT_LT(after - before, 16 * 1024) << "RSS grew from " << before << " to " << after << " KiB";
  // A token of 16 KiB in Authorization fits the default limit.
  TempDir dir2;
  auto normal = start_server(dir2, "{}");
  Conn c(normal->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     std::string(16 * 1024, 'k') + "\r\n\r\n"));
  EXPECT_EQ(status_of(c.response()), 200);
}

TEST(Listener, PastTheConnectionLimitClientsGet503WithRetryAfter) {
  TempDir dir;
  auto server = start_server(dir, R"({"max_connections": 4, "retry_after_seconds": 2})");
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Conn>(server->port()));
    ASSERT_TRUE(held.back()->send(kHealth));
    ASSERT_EQ(status_of(held.back()->response()), 200);
  }
  Conn extra(server->port());
  ASSERT_TRUE(extra.send(kHealth));
  auto r = extra.response(std::chrono::seconds(3));
  ASSERT_TRUE(r);
  EXPECT_EQ(status_of(r), 503) << *r;
  EXPECT_NE(Conn::lower(*r).find("retry-after: 2"), std::string::npos) << *r;
  EXPECT_NE(body_of(*r).find("OperationOutcome"), std::string::npos);
  // Once a connection closes, a new client is served again.
  held.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Conn again(server->port());
  ASSERT_TRUE(again.send(kHealth));
  EXPECT_EQ(status_of(again.response()), 200);
}

TEST(Listener, SigtermDrainsKeptAliveConnectionsAndFinishesCallsInFlight) {
  TempDir dir;
  fs::create_directories(dir.path() / "store");
  auto server = start_server(dir, R"({"drain_timeout_seconds": 5, "keep_alive_seconds": 30})",
                             {"--data", (dir.path() / "store").string()});
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < 8; ++i) {
    conns.push_back(std::make_unique<Conn>(server->port()));
    ASSERT_TRUE(conns.back()->send(post_request(order_sign("before-" + std::to_string(i)))));
    auto r = conns.back()->response();
    ASSERT_EQ(status_of(r), 200);
    EXPECT_EQ(Conn::lower(*r).find("connection: close"), std::string::npos);
  }
  // Calls in flight when the signal arrives: each is answered 200 (its record committed) and
  // told the connection closes.
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(conns[i]->send(post_request(order_sign("during-" + std::to_string(i)))));
  }
  ::kill(server->pid(), SIGTERM);
  std::vector<std::optional<std::string>> answers;
  for (int i = 0; i < 8; ++i) answers.push_back(conns[i]->response());
  // The signal is handled asynchronously: a call can be answered before the drain begins. Only
  // once the server says it drains is every next request on a kept-alive connection refused.
  auto deadline = std::chrono::steady_clock::now() + cryo::testing::scaled(std::chrono::seconds(5));
  while (server->log().find("draining") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(server->log().find("draining"), std::string::npos) << server->log();
  for (int i = 0; i < 8; ++i) {
    auto& r = answers[i];
    ASSERT_TRUE(r) << "call " << i << " in flight was not answered";
    EXPECT_EQ(status_of(r), 200) << *r;
    if (Conn::lower(*r).find("connection: close") == std::string::npos) {
      // Answered before the drain began; the connection's next request is told to close.
      if (conns[i]->send(kHealth)) {
        auto next = conns[i]->response(std::chrono::seconds(2));
        if (next) {
          EXPECT_NE(Conn::lower(*next).find("connection: close"), std::string::npos);
        }
      }
    }
    EXPECT_TRUE(conns[i]->closed_within(std::chrono::seconds(3)));
  }
  int status = server->stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(server->log().find("draining"), std::string::npos);
}

std::string gzip_of_zeros(size_t size) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out, in(1024 * 1024, ' ');
  char buf[65536];
  for (size_t done = 0; done < size; done += in.size()) {
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    int flush = done + in.size() >= size ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, flush);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

TEST(Listener, GzipBombsAndHugeChunkedBodiesAreRefusedWithMemoryBounded) {
  TempDir dir;
  auto server = start_server(dir, "{}");
  long before = rss_kib(server->pid());
  std::string bomb = gzip_of_zeros(256u * 1024 * 1024);
  ASSERT_LT(bomb.size(), 300u * 1024);
  std::vector<std::thread> clients;
  std::atomic<int> refused{0};
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back([&] {
      Conn c(server->port());
      c.send(post_request(bomb, "Content-Encoding: gzip\r\n"));
      if (status_of(c.response()) == 413) ++refused;
    });
    clients.emplace_back([&] {
      Conn c(server->port());
      c.send(
          "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
          "chunked\r\n\r\n");
      std::string piece(1024 * 1024, ' ');
      char size_line[32];
      snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
      for (int k = 0; k < 64; ++k) {
        if (!c.send(size_line + piece + "\r\n")) break;
      }
      int s = status_of(c.response());
      if (s == 413 || s == 503) ++refused;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(refused.load(), 10);
  long after = rss_kib(server->pid());
  // 1.6 GB sent: a growth of 40 MiB (more under AddressSanitizer) shows nothing was kept.
  EXPECT_LT(after - before, 40 * 1024 * memory_scale())
      << "RSS grew from " << before << " to " << after << " KiB";
  // Still serving.
  Conn c(server->port());
  ASSERT_TRUE(c.send(post_request(order_sign("after-bombs"))));
  EXPECT_EQ(status_of(c.response()), 200);
}

TEST(Listener, MalformedFramingIsAnsweredAtOnce) {
  TempDir dir;
  auto server = start_server(dir, "{}");
  struct Case {
    std::string name, bytes;
    int status;
  } cases[] = {
      {"negative Content-Length",
       "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\n"
       "Content-Length: -5\r\n\r\n",
       400},
      {"TLS ClientHello on the plain port",
       std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11), 400},
      {"unknown transfer coding",
       "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\n"
       "Transfer-Encoding: gzip, chunked\r\n\r\n",
       400},
      {"unsupported content coding",
       "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\n"
       "Content-Encoding: br\r\nContent-Length: 2\r\n\r\n{}",
       415},
      {"invalid UTF-8 in the body", post_request("{\"hook\": \"order-sign\xff\"}"), 400},
  };
  for (const auto& c : cases) {
    Conn conn(server->port());
    ASSERT_TRUE(conn.send(c.bytes));
    auto start = Clock::now();
    auto r = conn.response(std::chrono::seconds(2));
    ASSERT_TRUE(r) << c.name << ": no answer";
    EXPECT_EQ(status_of(r), c.status) << c.name << ": " << *r;
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(1)) << c.name;
    rapidjson::Document d;
    d.Parse(body_of(*r).c_str());
    EXPECT_FALSE(d.HasParseError()) << c.name << ": answer is not valid JSON";
  }
  // Raw bytes are quoted escaped, never echoed.
  Conn conn(server->port());
  ASSERT_TRUE(conn.send("GET /nope%ff%1b HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = conn.response();
  ASSERT_EQ(status_of(r), 400);
  EXPECT_EQ(r->find('\xff'), std::string::npos);
}

TEST(Listener, AClientThatHalfClosesAfterItsRequestGetsItsAnswer) {
  TempDir dir;
  auto server = start_server(dir, "{}");
  for (int i = 0; i < 20; ++i) {
    Conn c(server->port());
    ASSERT_TRUE(c.send(post_request(order_sign("half-" + std::to_string(i)))));
    c.half_close();
    auto r = c.response();
    ASSERT_TRUE(r) << "call " << i << " was not answered";
    EXPECT_EQ(status_of(r), 200);
  }
}

TEST(Listener, DraftOrdersPastTheCapAreRefusedNamingTheLimit) {
  TempDir dir;
  auto server = start_server(dir, R"({"max_draft_orders": 3})");
  HookRequestBuilder b("florida-blue");
  b.unresectable_hcc_with_documents();
  for (int i = 0; i < 4; ++i) b.order("47383", "sr-" + std::to_string(i));
  Conn c(server->port());
  ASSERT_TRUE(c.send(post_request(b.json())));
  auto r = c.response();
  ASSERT_EQ(status_of(r), 400) << *r;
  EXPECT_NE(r->find("server.max_draft_orders"), std::string::npos) << *r;
}

}  // namespace
}  // namespace cryo::testing
