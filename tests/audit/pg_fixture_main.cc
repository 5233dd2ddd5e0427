// audit_test_pg start|stop <state-file> [--durable]: the ctest fixture that runs one PostgreSQL
// server for all audit store tests of a ctest run (started once, stopped and removed at the
// end). The tests' server does not fsync; --durable starts one that does (for benchmarks).
#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/audit/pg_server.h"

using namespace cryo::audit::testing;

int main(int argc, char** argv) {
  const bool durable = argc == 4 && std::string(argv[3]) == "--durable";
  if (argc != 3 && !durable) {
    std::fprintf(stderr, "usage: %s start|stop <state-file> [--durable]\n", argv[0]);
    return 2;
  }
  const std::string cmd = argv[1];
  const std::string state = argv[2];
  if (cmd == "start") {
    if (auto old = read_state(state); old) (void)stop_pg_server(*old);  // an interrupted run
    auto server = start_pg_server(Lifetime::kDetached, /*fast=*/!durable);
    if (!server) {
      std::fprintf(stderr, "%s\n", server.error().to_string().c_str());
      return 1;
    }
    if (auto s = write_state(state, *server); !s) {
      (void)stop_pg_server(*server);
      std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
      return 1;
    }
    std::printf("PostgreSQL test server %s (pid %d) in %s\n", server->url.c_str(),
                static_cast<int>(server->pid), server->dir.c_str());
    return 0;
  }
  if (cmd == "stop") {
    auto server = read_state(state);
    if (!server) return 0;  // nothing running
    auto s = stop_pg_server(*server);
    std::error_code ec;
    std::filesystem::remove(state, ec);
    if (!s) {
      std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
      return 1;
    }
    return 0;
  }
  std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
  return 2;
}
