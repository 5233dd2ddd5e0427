#include "server_process.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/sanitizer_report.h"
#include "tests/support/time_scale.h"

extern char** environ;

namespace cryo::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_path(const char* stem) {
  std::string tmpl = std::string("/tmp/") + stem + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = mkstemp(buf.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  return buf.data();
}

pid_t spawn(const std::vector<std::string>& args, const std::string& out_path,
            const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  return pid;
}

// A sanitizer report from a program the test started ends the test run, as a report from the
// test's own process does (abort_on_error): it must not pass unseen.
void fail_on_report(const std::string& program, const std::string& report) {
  if (report.empty()) return;
  std::fprintf(stderr, "%s: sanitizer report:\n%s\n", program.c_str(), report.c_str());
  std::abort();
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> extra_args, std::string binary) {
  log_path_ = temp_path("cryo-crd-server-log");
  std::vector<std::string> args = {binary, "serve", "--bind", "127.0.0.1", "--port", "0"};
  // Each server keeps its audit store in its own directory unless the test names one.
  bool has_store = false;
  for (const auto& a : extra_args)
    has_store |= (a == "--data" || a == "--db" || a == "--no-store" || a == "--config");
  if (!has_store) {
    std::vector<char> dir_template{'/', 't', 'm', 'p', '/', 'c', 'r', 'y', 'o', '-', 'd',
                                   'a', 't', 'a', '-', 'X', 'X', 'X', 'X', 'X', 'X', '\0'};
    if (mkdtemp(dir_template.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    data_dir_ = dir_template.data();
    args.push_back("--data");
    args.push_back(data_dir_);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = spawn(args, "/dev/null", log_path_);
  // The start-up line, in the text or the JSON log format.
  const std::regex serving(R"(cryo-crd serving.*port(?:=|":")(\d+))");
  auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(20));
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string text = read_file(log_path_);
    if (std::regex_search(text, m, serving)) {
      port_ = std::stoi(m[1]);
      return;
    }
    if (!running()) throw std::runtime_error("cryo-crd exited at start:\n" + text);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop(SIGKILL);
  throw std::runtime_error("cryo-crd did not start within 20 s:\n" + read_file(log_path_));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop(SIGTERM);
  if (!log_path_.empty()) {
    std::string report = sanitizer_report(read_file(log_path_));
    std::remove(log_path_.c_str());
    fail_on_report("cryo-crd serve", report);
  }
  if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_);
}

bool ServerProcess::running() const {
  if (pid_ <= 0) return false;
  int status = 0;
  return waitpid(pid_, &status, WNOHANG) == 0;
}

std::string ServerProcess::log() const {
  return read_file(log_path_);
}

int ServerProcess::stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(5));
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

CommandResult run_command(const std::vector<std::string>& args) {
  std::string out_path = temp_path("cryo-crd-out");
  std::string err_path = temp_path("cryo-crd-err");
  pid_t pid = spawn(args, out_path, err_path);
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  fail_on_report(args[0], sanitizer_report(r.err));
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

}  // namespace cryo::testing
