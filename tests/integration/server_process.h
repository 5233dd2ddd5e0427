// ServerProcess: runs the real `cryo-crd serve` binary on a free loopback port for a test.
//
//   ServerProcess server({"--policies", dir});
//   httplib::Client http("127.0.0.1", server.port());
//
// The process is stopped (SIGTERM, then SIGKILL) when the object is destroyed; its log is
// kept in a temporary file that log() returns, for assertions and for failure output.
#pragma once

#include <string>
#include <vector>

#include <sys/types.h>

namespace cryo::testing {

class ServerProcess {
 public:
  // Starts `binary serve --bind 127.0.0.1 --port 0 <extra_args>` and waits until it serves.
  // Without --data/--db/--no-store/--config, the store goes to a fresh temporary directory.
  explicit ServerProcess(std::vector<std::string> extra_args = {},
                         std::string binary = CRYO_CRD_BINARY);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const;
  std::string log() const;
  // Stops the process with `signal` and waits for it; returns its exit status.
  int stop(int signal = 15);

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  std::string data_dir_;  // the audit store's directory when the test did not choose one
};

// Runs the binary to completion with arguments; returns (exit code, stdout, stderr).
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult run_command(const std::vector<std::string>& args);

}  // namespace cryo::testing
