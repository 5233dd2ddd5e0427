// A throw-away PostgreSQL server for the audit store tests: initdb in a fresh directory under
// /tmp, a free loopback port, its unix socket inside that directory, trust authentication on
// loopback only. When the tests run as root (CI), the server runs as the unprivileged
// `postgres` system user (created if missing), which owns the directory. Nothing outside the
// directory is touched; the distribution's own cluster is neither needed nor used.
//
// Binaries: $CRYO_PG_BINDIR, else the newest /usr/lib/postgresql/<version>/bin.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace cryo::audit::testing {

struct PgServer {
  std::string url;  // postgresql://postgres@127.0.0.1:<port>/postgres
  std::string dir;  // everything of the server lives here
  pid_t pid = 0;    // the postmaster
};

enum class Lifetime {
  kThisProcess,  // the server is shut down if this process dies
  kDetached,     // outlives this process (a ctest fixture); stop it with stop_pg_server()
};

// fast = true turns off fsync (tests); false keeps a durable server (benchmarks).
Result<PgServer> start_pg_server(Lifetime lifetime, bool fast = true);

// Every process of the server: the postmaster and its children (to freeze it with SIGSTOP or
// kill it with SIGKILL as a whole).
std::vector<pid_t> server_processes(const PgServer& server);

// Starts the server again on its directory and port after it died (e.g. SIGKILL); updates pid.
Status restart_pg_server(PgServer& server, Lifetime lifetime, bool fast = true);

// Shuts the server down and removes its directory.
Status stop_pg_server(const PgServer& server);

// The state file a detached server is described by (url, pid, dir; one per line).
Status write_state(const std::string& path, const PgServer& server);
Result<PgServer> read_state(const std::string& path);

}  // namespace cryo::audit::testing
