// listener_load: the client side of bench/listener_bench.sh, against a server on loopback.
//
//   listener_load idle  PORT PID [IDLE=1000] [SLOW=100] [CALLS=300]
//       holds IDLE kept-alive connections (each used once) and SLOW clients trickling a request
//       header, while a fresh client makes CALLS order-sign calls; prints p50/p99 and RSS growth.
//   listener_load bombs PORT PID [EACH=10]
//       EACH concurrent 254 kB gzip bombs, 1 MB gzip bombs and 64 MiB chunked bodies; prints how
//       many were refused, the peak RSS growth, and the growth once they are over.
//   listener_load drain PORT PID [CLIENTS=32] [BEFORE_MS=1000] [OK_FILE]
//       CLIENTS kept-alive clients calling order-sign (unique hookInstances); SIGTERM to PID
//       after BEFORE_MS; prints answered-200 / refused-cleanly / reset counts and writes the
//       hookInstances answered 200 to OK_FILE (one a line) for checking against the store.
//   listener_load load  PORT CLIENTS SECONDS
//       closed-loop order-sign load (unique hookInstances): requests/s, p99, socket errors.
// Every loop is bounded (counts or seconds).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hook_request_builder.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

enum class Outcome { kAnswered, kRefused, kReset };

class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  bool send(std::string_view d) {
    while (!d.empty()) {
      ssize_t n = ::send(fd_, d.data(), d.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      d.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // One response: its status (0 when the connection ended first) and whether it closes.
  int response(bool& closes, int timeout_ms = 10000) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buf_.substr(0, end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t length = 0;
        if (size_t p = head.find("content-length:"); p != std::string::npos)
          length = std::stoul(head.substr(p + 15));
        if (buf_.size() >= end + 4 + length) {
          closes = head.find("connection: close") != std::string::npos;
          int status = std::stoi(buf_.substr(9, 3));
          buf_.erase(0, end + 4 + length);
          return status;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return 0;
      char tmp[16384];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return 0;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

// The order-sign body with a fixed-width hookInstance slot, rewritten per call.
class Bodies {
 public:
  Bodies() {
    cryo::testing::HookRequestBuilder b("florida-blue");
    b.unresectable_hcc_with_documents().order("47383").hook_instance(std::string(kSlot));
    body_ = b.json();
    slot_ = body_.find(kSlot);
  }
  std::string request(const std::string& instance) const {
    std::string body = body_;
    std::string id = padded(instance);
    body.replace(slot_, kSlot.size(), id);
    return "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  // The id ends at its first '.', so padding never makes two ids equal.
  static std::string padded(const std::string& instance) {
    std::string id = instance + ".";
    id.resize(kSlot.size(), '.');
    return id;
  }

 private:
  static constexpr std::string_view kSlot = "bench-instance-slot-xxxxxxxxxxxxxxxxxxxx";
  std::string body_;
  size_t slot_ = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i =
      std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

const std::string kHealth = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

int idle(int port, int pid, int n_idle, int n_slow, int calls) {
  long before = rss_kib(pid);
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < n_idle; ++i) {
    auto c = std::make_unique<Conn>(port);
    bool closes = false;
    if (!c->ok() || !c->send(kHealth) || c->response(closes) != 200) {
      std::fprintf(stderr, "idle connection %d not served\n", i);
      return 1;
    }
    held.push_back(std::move(c));
  }
  for (int i = 0; i < n_slow; ++i) {
    auto c = std::make_unique<Conn>(port);
    c->send("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    held.push_back(std::move(c));
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    for (int round = 0; round < 60 && !done; ++round) {
      for (int i = n_idle; i < n_idle + n_slow; ++i) held[static_cast<size_t>(i)]->send("a");
      for (int k = 0; k < 10 && !done; ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  Bodies bodies;
  Conn fresh(port);
  std::vector<double> lat;
  long peak = before;
  int failed = 0;
  for (int i = 0; i < calls; ++i) {
    auto t = Clock::now();
    bool closes = false;
    if (!fresh.send(bodies.request("idle-" + std::to_string(pid) + "-" + std::to_string(i))) ||
        fresh.response(closes) != 200) {
      ++failed;
      break;
    }
    lat.push_back(ms_since(t));
    peak = std::max(peak, rss_kib(pid));
  }
  done = true;
  trickle.join();
  std::printf("fresh_p50_ms=%.2f fresh_p99_ms=%.2f failed=%d rss_growth_mib=%.1f\n",
              percentile(lat, 0.5), percentile(lat, 0.99), failed,
              static_cast<double>(peak - before) / 1024.0);
  return failed == 0 ? 0 : 1;
}

std::string gzip_bomb(size_t decoded) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out, in(1024 * 1024, ' ');
  std::vector<char> buf(1 << 16);
  for (size_t done = 0; done < decoded; done += in.size()) {
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    int flush = done + in.size() >= decoded ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf.data());
      z.avail_out = static_cast<uInt>(buf.size());
      deflate(&z, flush);
      out.append(buf.data(), buf.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

int bombs(int port, int pid, int each) {
  std::string small = gzip_bomb(256ull << 20);  // ~254 kB -> 256 MiB
  std::string large = gzip_bomb(1ull << 30);    // ~1 MB -> 1 GiB
  auto post = [](const std::string& body, const std::string& extra) {
    return "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
  };
  std::string small_req = post(small, "Content-Encoding: gzip\r\n");
  std::string large_req = post(large, "Content-Encoding: gzip\r\n");
  long before = rss_kib(pid);
  std::atomic<long> peak{before};
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    for (int i = 0; i < 6000 && !done; ++i) {
      long r = rss_kib(pid);
      long p = peak.load();
      while (r > p && !peak.compare_exchange_weak(p, r)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::atomic<int> refused[3] = {0, 0, 0};
  std::vector<std::thread> clients;
  for (int i = 0; i < each; ++i) {
    clients.emplace_back([&] {
      Conn c(port);
      bool closes = false;
      c.send(small_req);
      int s = c.response(closes);
      if (s == 413 || s == 503) ++refused[0];
    });
    clients.emplace_back([&] {
      Conn c(port);
      bool closes = false;
      c.send(large_req);
      int s = c.response(closes);
      if (s == 413 || s == 503) ++refused[1];
    });
    clients.emplace_back([&] {
      Conn c(port);
      bool closes = false;
      c.send(
          "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          "Transfer-Encoding: chunked\r\n\r\n");
      std::string piece = "100000\r\n" + std::string(1 << 20, ' ') + "\r\n";
      for (int k = 0; k < 64 && c.send(piece); ++k) {
      }
      int s = c.response(closes);
      if (s == 413 || s == 503) ++refused[2];
    });
  }
  for (auto& t : clients) t.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  done = true;
  sampler.join();
  long after = rss_kib(pid);
  std::printf(
      "refused_254k=%d/%d refused_1m=%d/%d refused_chunked=%d/%d peak_growth_mib=%.1f "
      "after_growth_mib=%.1f\n",
      refused[0].load(), each, refused[1].load(), each, refused[2].load(), each,
      static_cast<double>(peak.load() - before) / 1024.0,
      static_cast<double>(after - before) / 1024.0);
  return 0;
}

int drain(int port, int pid, int clients, int before_ms, const std::string& ok_file) {
  Bodies bodies;
  std::atomic<int> answered{0}, refused{0}, reset{0}, other{0};
  std::mutex m;
  std::vector<std::string> ok_ids;
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<Conn> c;
      for (int i = 0; i < 100000 && ms_since(start) < before_ms + 15000.0; ++i) {
        if (!c) {
          c = std::make_unique<Conn>(port);
          if (!c->ok()) {
            ++refused;  // not accepted: refused before anything was read
            return;
          }
        }
        std::string id =
            "drain-" + std::to_string(pid) + "-" + std::to_string(t) + "-" + std::to_string(i);
        bool closes = false;
        if (!c->send(bodies.request(id))) {
          ++reset;
          return;
        }
        int s = c->response(closes);
        if (s == 200) {
          ++answered;
          std::lock_guard lock(m);
          ok_ids.push_back(Bodies::padded(id));
        } else if (s == 0) {
          ++reset;  // the request was sent and no answer came
          return;
        } else if (s == 503) {
          ++refused;
        } else {
          ++other;
        }
        if (closes) c.reset();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(before_ms));
  ::kill(pid, SIGTERM);
  auto term = Clock::now();
  for (auto& t : threads) t.join();
  std::printf("answered_200=%d refused_cleanly=%d reset=%d other=%d joined_ms=%.0f\n",
              answered.load(), refused.load(), reset.load(), other.load(), ms_since(term));
  if (!ok_file.empty()) {
    std::ofstream out(ok_file);
    for (const auto& id : ok_ids) out << id << "\n";
  }
  return 0;
}

int load(int port, int clients, int seconds) {
  Bodies bodies;
  std::atomic<long> requests{0}, errors{0};
  std::mutex m;
  std::vector<double> all;
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> lat;
      auto c = std::make_unique<Conn>(port);
      for (long i = 0; ms_since(start) < seconds * 1000.0; ++i) {
        auto t0 = Clock::now();
        bool closes = false;
        if (!c->send(bodies.request("load-" + std::to_string(t) + "-" + std::to_string(i))) ||
            c->response(closes) != 200) {
          ++errors;
          c = std::make_unique<Conn>(port);
          continue;
        }
        lat.push_back(ms_since(t0));
        ++requests;
        if (closes) c = std::make_unique<Conn>(port);
      }
      std::lock_guard lock(m);
      all.insert(all.end(), lat.begin(), lat.end());
    });
  }
  for (auto& t : threads) t.join();
  std::printf("requests_per_s=%.0f p50_ms=%.2f p99_ms=%.2f socket_errors=%ld\n",
              static_cast<double>(requests.load()) / seconds, percentile(all, 0.5),
              percentile(all, 0.99), errors.load());
  return 0;
}

int arg(int argc, char** argv, int i, int fallback) {
  return argc > i ? std::atoi(argv[i]) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string mode = argc > 1 ? argv[1] : "";
  if (argc < 3) {
    std::fprintf(stderr, "usage: listener_load idle|bombs|drain|load PORT ...\n");
    return 2;
  }
  int port = std::atoi(argv[2]);
  if (mode == "idle")
    return idle(port, arg(argc, argv, 3, 0), arg(argc, argv, 4, 1000), arg(argc, argv, 5, 100),
                arg(argc, argv, 6, 300));
  if (mode == "bombs") return bombs(port, arg(argc, argv, 3, 0), arg(argc, argv, 4, 10));
  if (mode == "drain")
    return drain(port, arg(argc, argv, 3, 0), arg(argc, argv, 4, 32), arg(argc, argv, 5, 1000),
                 argc > 6 ? argv[6] : "");
  if (mode == "load") return load(port, arg(argc, argv, 3, 32), arg(argc, argv, 4, 8));
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
