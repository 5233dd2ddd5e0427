// Order-sign calls per second through the real cryo-crd server: the binary runs as its own
// process (`cryo-crd serve --threads 32` on a loopback port) and 1 or 16 keep-alive clients
// POST order-sign calls with full prefetch, each with a new hookInstance. With the audit store
// on (SQLite, synchronous=FULL, the default) every 200 answer waits until its record is
// committed to disk; concurrent calls share commits (group commit). The store-off run
// (--no-store) is the same server without the store, for comparison.
//
//   cmake --build build --target bench_hook_store && build/bench/bench_hook_store
//
// The SQLite file goes to a fresh directory under $CRYO_BENCH_DIR (default: the system temp
// dir), removed at the end. Loopback client and server share the machine's cores.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "hook_request_builder.h"
#include "server_process.h"

namespace {

namespace fs = std::filesystem;
using cryo::testing::HookRequestBuilder;
using cryo::testing::ServerProcess;

constexpr const char* kPlaceholder = "@@HOOK_INSTANCE@@";

// A covered Florida Blue order: hepatocellular carcinoma, unresectable, documents present.
struct RequestTemplate {
  std::string before, after;  // the request around its hookInstance
  RequestTemplate() {
    HookRequestBuilder b("florida-blue");
    b.resource(cryo::testing::condition("c-hcc", "C22.0"))
        .resource(cryo::testing::resectability("o-res", true))
        .resource(cryo::testing::document("d-hp", "28626-0", "2026-01-10"))
        .resource(cryo::testing::document("d-visit", "18733-6", "2026-01-12"))
        .resource(cryo::testing::document("d-plan", "18776-5", "2026-02-01"))
        .resource(cryo::testing::document("d-rad", "18726-0", "2026-01-20"))
        .order("47383")
        .hook_instance(kPlaceholder);
    std::string json = b.json();
    auto at = json.find(kPlaceholder);
    before = json.substr(0, at);
    after = json.substr(at + std::string(kPlaceholder).size());
  }
};

std::string run_id() {
  std::random_device rd;
  return std::to_string(rd()) + "-" + std::to_string(rd());
}

struct Servers {
  std::mutex mu;
  fs::path data_dir;
  std::unique_ptr<ServerProcess> with_store, without_store;

  ~Servers() {
    with_store.reset();
    without_store.reset();
    std::error_code ec;
    if (!data_dir.empty()) fs::remove_all(data_dir, ec);
  }

  int port(bool store) {
    std::lock_guard lock(mu);
    auto& server = store ? with_store : without_store;
    if (!server) {
      std::vector<std::string> args = {"--threads", "32"};
      if (store) {
        const char* base = std::getenv("CRYO_BENCH_DIR");
        data_dir = fs::path(base && *base ? base : fs::temp_directory_path().string()) /
                   ("cryo-bench-hook-store-" + run_id());
        fs::create_directories(data_dir);
        args.insert(args.end(), {"--data", data_dir.string()});
      } else {
        args.push_back("--no-store");
      }
      server = std::make_unique<ServerProcess>(args);
    }
    return server->port();
  }
};

Servers g_servers;
const RequestTemplate g_request;
const std::string g_run = run_id();
std::atomic<long> g_sequence{0};

void BM_OrderSignThroughServer(benchmark::State& state) {
  const bool store = state.range(0) != 0;
  const int port = g_servers.port(store);
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  client.set_read_timeout(30, 0);
  for (auto _ : state) {
    std::string body = g_request.before + "bench-" + g_run + "-" +
                       std::to_string(g_sequence.fetch_add(1)) + g_request.after;
    auto r = client.Post("/cds-services/order-sign-crd", body, "application/json");
    if (!r || r->status != 200) {
      state.SkipWithError(r ? ("HTTP " + std::to_string(r->status) + ": " + r->body).c_str()
                            : "no answer from the server");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(store ? "store on (SQLite)" : "store off");
}

BENCHMARK(BM_OrderSignThroughServer)
    ->ArgName("store")
    ->Arg(1)
    ->Arg(0)
    ->Threads(1)
    ->Threads(16)
    ->UseRealTime()
    ->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();
