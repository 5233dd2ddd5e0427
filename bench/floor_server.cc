// The floor of the side-by-side benchmark: the least an HTTP JSON service on this machine can
// do per call. cpp-httplib (the same listener library and worker count as cryo-crd) and
// RapidJSON: every POST body is parsed (in place, like the service does), and the answer is
// a constant CDS Hooks response. Nothing is decided, nothing stored.
//
//   bench_floor_server [--port N] [--threads N] [--bind ADDR]
//
// Prints "PORT=<n>" on stdout once it accepts connections (--port 0, the default, picks a free
// port), then serves until SIGINT/SIGTERM. Any POST path answers 200 with the constant body
// when the body is a JSON object, 400 otherwise; GET /healthz answers 200.
// Used by bench/side_by_side.sh and by the listener benchmark; drive it with bench/wrk/.
#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/bench_server.h"

namespace {

constexpr const char* kAnswer = R"({"cards":[],"systemActions":[]})";

int usage() {
  std::fprintf(stderr, "usage: bench_floor_server [--port N] [--threads N] [--bind ADDR]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int threads = 8;  // cryo-crd's default worker pool
  std::string bind = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--port") {
      port = std::atoi(argv[++i]);
    } else if (a == "--threads") {
      threads = std::atoi(argv[++i]);
    } else if (a == "--bind") {
      bind = argv[++i];
    } else {
      return usage();
    }
  }
  if (threads < 1) return usage();

  httplib::Server server;
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  server.set_payload_max_length(5 * 1024 * 1024);
  server.set_keep_alive_max_count(1000);  // as cryo-crd
  server.set_keep_alive_timeout(5);
  server.set_tcp_nodelay(true);  // as cryo-crd: no answer waits for the client's delayed ACK
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  server.Post(".*", [](const httplib::Request& req, httplib::Response& res) {
    std::string& body = const_cast<std::string&>(req.body);
    rapidjson::Document doc;
    doc.ParseInsitu(body.data());
    if (doc.HasParseError() || !doc.IsObject()) {
      res.status = 400;
      res.set_content(
          std::string(R"({"error":")") + rapidjson::GetParseError_En(doc.GetParseError()) + "\"}",
          "application/json");
      return;
    }
    res.set_content(kAnswer, "application/json");
  });

  return bench::serve(server, bind, port, "bench_floor_server");
}
