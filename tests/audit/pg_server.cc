#include "tests/audit/pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace cryo::audit::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<std::string> bin_dir() {
  if (const char* env = std::getenv("CRYO_PG_BINDIR"); env && *env) return std::string(env);
  std::error_code ec;
  int best = -1;
  std::string dir;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int v = std::atoi(e.path().filename().c_str());
    if (v > best && fs::exists(e.path() / "bin" / "postgres")) {
      best = v;
      dir = (e.path() / "bin").string();
    }
  }
  if (dir.empty()) {
    return Error{"/usr/lib/postgresql",
                 "no PostgreSQL server binaries (apt-get install postgresql)"};
  }
  return dir;
}

struct RunAs {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// initdb and postgres refuse to run as root.
Result<RunAs> run_as() {
  RunAs r;
  if (geteuid() != 0) return r;
  passwd* pw = getpwnam("postgres");
  if (!pw) {
    int rc = std::system(
        "useradd --system --user-group --no-create-home --home-dir /nonexistent"
        " --shell /usr/sbin/nologin postgres >/dev/null 2>&1");
    (void)rc;
    pw = getpwnam("postgres");
  }
  if (!pw) return Error{"postgres user", "running as root and cannot find or create it"};
  r.drop = true;
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  return r;
}

// In a forked child: become the server's user, send output to `log`, then exec.
// Only async-signal-safe calls here: `argv` is prepared before fork().
[[noreturn]] void exec_child(const RunAs& as, const std::string& cwd, const std::string& log,
                             char* const* argv, Lifetime lifetime) {
  if (lifetime == Lifetime::kDetached) setsid();  // survives the fixture's process group
  int devnull = ::open("/dev/null", O_RDONLY);
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (devnull < 0 || out < 0) _exit(126);
  if (as.drop && fchown(out, as.uid, as.gid) != 0) _exit(126);
  dup2(devnull, 0);
  dup2(out, 1);
  dup2(out, 2);
  // Keep no descriptor of the test process (ctest waits for its pipes to close).
  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  if (as.drop) {
    if (setgroups(0, nullptr) != 0 || setgid(as.gid) != 0 || setuid(as.uid) != 0) _exit(126);
  }
  // After the user change (which clears it): stop the server if the test process dies.
  if (lifetime == Lifetime::kThisProcess) prctl(PR_SET_PDEATHSIG, SIGQUIT);
  if (chdir(cwd.c_str()) != 0) _exit(126);
  execv(argv[0], argv);
  _exit(127);
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

Result<int> free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return Error{"port", "no socket"};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    return Error{"port", "cannot bind a loopback port"};
  }
  ::close(s);
  return static_cast<int>(ntohs(a.sin_port));
}

bool exists(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  // A zombie (exited, not yet reaped) no longer runs.
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

// Removes what test runs that were killed outright left behind: directories of ours whose
// postmaster no longer runs, once they are old enough not to be a server still starting.
void remove_stale_servers() {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator("/tmp", ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("cryo-audit-pg-") || !e.is_directory(ec)) continue;
    auto mtime = fs::last_write_time(e.path(), ec);
    if (ec || now - mtime < 10min) continue;
    std::string pidfile = read_file(e.path() / "data" / "postmaster.pid");
    pid_t pid = static_cast<pid_t>(std::atoi(pidfile.c_str()));
    if (pid > 0 && exists(pid)) continue;
    fs::remove_all(e.path(), ec);
  }
}

// Starts postgres on server.dir's cluster at `port`; sets pid and url. An Error whose message
// starts with "exited" means postgres exited at start (for example the port was taken).
Status launch(PgServer& server, const std::string& bin, const RunAs& as, int port, bool fast,
              Lifetime lifetime) {
  const std::string data = server.dir + "/data";
  const std::string sock = server.dir + "/sock";
  std::vector<std::string> argv = {bin + "/postgres",
                                   "-D",
                                   data,
                                   "-p",
                                   std::to_string(port),
                                   "-k",
                                   sock,
                                   "-c",
                                   "listen_addresses=127.0.0.1",
                                   "-c",
                                   "max_connections=200",
                                   "-c",
                                   "shared_buffers=32MB",
                                   "-c",
                                   "logging_collector=off"};
  if (fast) {
    for (const char* o : {"fsync=off", "full_page_writes=off", "synchronous_commit=off"}) {
      argv.push_back("-c");
      argv.push_back(o);
    }
  }
  auto postgres_argv = c_argv(argv);
  const std::string log = server.dir + "/postgres.log";
  pid_t pid = fork();
  if (pid == 0) exec_child(as, server.dir, log, postgres_argv.data(), lifetime);
  if (pid < 0) return Error{"postgres", "cannot fork"};

  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(port) + " dbname=postgres user=postgres";
  auto deadline = std::chrono::steady_clock::now() + 60s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return Error{"postgres", "exited at start"};
    if (PQping(conninfo.c_str()) == PQPING_OK) {
      server.pid = pid;
      server.url = "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/postgres";
      return {};
    }
    std::this_thread::sleep_for(20ms);
  }
  kill(pid, SIGQUIT);
  waitpid(pid, &status, 0);
  return Error{"postgres", "did not start in 60 s: " + read_file(server.dir + "/postgres.log")};
}

}  // namespace

Result<PgServer> start_pg_server(Lifetime lifetime, bool fast) {
  remove_stale_servers();
  auto bin = bin_dir();
  if (!bin) return bin.error();
  auto as = run_as();
  if (!as) return as.error();

  char tmpl[] = "/tmp/cryo-audit-pg-XXXXXX";
  if (!mkdtemp(tmpl)) return Error{"/tmp", "cannot create a temporary directory"};
  PgServer server;
  server.dir = tmpl;
  auto fail = [&](std::string where, std::string message) -> Result<PgServer> {
    std::error_code ec;
    fs::remove_all(server.dir, ec);
    return Error{std::move(where), std::move(message)};
  };
  const std::string data = server.dir + "/data";
  const std::string sock = server.dir + "/sock";
  ::mkdir(sock.c_str(), 0700);
  if (as->drop && (chown(server.dir.c_str(), as->uid, as->gid) != 0 ||
                   chown(sock.c_str(), as->uid, as->gid) != 0)) {
    return fail(server.dir, "cannot hand the directory to the postgres user");
  }

  const std::vector<std::string> initdb = {
      *bin + "/initdb", "-D", data,   "-U",         "postgres",  "-A",
      "trust",          "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"};
  auto initdb_argv = c_argv(initdb);
  const std::string initdb_log = server.dir + "/initdb.log";
  pid_t pid = fork();
  if (pid == 0) exec_child(*as, server.dir, initdb_log, initdb_argv.data(), Lifetime::kThisProcess);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    return fail("initdb", read_file(server.dir + "/initdb.log"));
  }

  for (int attempt = 0; attempt < 5; ++attempt) {
    auto port = free_port();
    if (!port) return fail("port", port.error().message);
    auto started = launch(server, *bin, *as, *port, fast, lifetime);
    if (started) return server;
    if (!started.error().message.starts_with("exited")) {
      return fail(started.error().where, started.error().message);
    }
    // Most likely the port was taken between the probe and the bind: try another.
  }
  return fail("postgres", "could not start: " + read_file(server.dir + "/postgres.log"));
}

std::vector<pid_t> server_processes(const PgServer& server) {
  std::vector<pid_t> out;
  if (server.pid <= 0) return out;
  out.push_back(server.pid);
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::string stat = read_file(e.path().string() + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == server.pid) {
      out.push_back(static_cast<pid_t>(std::atoi(name.c_str())));
    }
  }
  return out;
}

Status restart_pg_server(PgServer& server, Lifetime lifetime, bool fast) {
  auto bin = bin_dir();
  if (!bin) return bin.error();
  auto as = run_as();
  if (!as) return as.error();
  if (server.pid > 0) {
    int status = 0;
    waitpid(server.pid, &status, WNOHANG);  // reap it if it was ours
  }
  auto colon = server.url.rfind(':');
  int port = std::atoi(server.url.c_str() + colon + 1);
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto started = launch(server, *bin, *as, port, fast, lifetime);
    if (started) return {};
    std::this_thread::sleep_for(100ms);  // the old socket may linger a moment
  }
  return Error{"postgres", "could not restart: " + read_file(server.dir + "/postgres.log")};
}

Status stop_pg_server(const PgServer& server) {
  // Signal only the postmaster of this directory.
  std::string pidfile = read_file(server.dir + "/data/postmaster.pid");
  bool ours = server.pid > 0 && std::atoi(pidfile.c_str()) == server.pid;
  if (ours && exists(server.pid)) {
    kill(server.pid, SIGINT);  // fast shutdown
    auto deadline = std::chrono::steady_clock::now() + 20s;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(server.pid, &status, WNOHANG) == server.pid || !exists(server.pid)) break;
      std::this_thread::sleep_for(20ms);
    }
    if (exists(server.pid)) {
      kill(server.pid, SIGQUIT);
      std::this_thread::sleep_for(500ms);
      if (exists(server.pid)) kill(server.pid, SIGKILL);
      waitpid(server.pid, &status, WNOHANG);
    }
  }
  std::error_code ec;
  if (!server.dir.empty() && server.dir.starts_with("/tmp/cryo-audit-pg-")) {
    fs::remove_all(server.dir, ec);
  }
  if (ec) return Error{server.dir, "cannot remove: " + ec.message()};
  return {};
}

Status write_state(const std::string& path, const PgServer& server) {
  std::ofstream out(path, std::ios::trunc);
  out << server.url << "\n" << server.pid << "\n" << server.dir << "\n";
  out.close();
  if (!out) return Error{path, "cannot write"};
  return {};
}

Result<PgServer> read_state(const std::string& path) {
  std::ifstream in(path);
  PgServer s;
  std::string pid;
  if (!std::getline(in, s.url) || !std::getline(in, pid) || !std::getline(in, s.dir)) {
    return Error{path, "no running test server described here"};
  }
  s.pid = static_cast<pid_t>(std::atoi(pid.c_str()));
  return s;
}

}  // namespace cryo::audit::testing
