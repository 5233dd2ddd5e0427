#include "tests/fhirclient/support/fhir_server_process.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include "fhir/json.h"

extern char** environ;

namespace cryo::testing {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// A client for the control endpoint (HTTPS servers: the test's own certificate, unverified).
httplib::Client control_client(bool tls, int port) {
  httplib::Client client((tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port));
  client.enable_server_certificate_verification(false);
  return client;
}

std::vector<std::string> request_field(const std::string& body, const char* field) {
  std::vector<std::string> out;
  fhir::JsonDocument doc;
  if (fhir::parse_copy(body, doc, fhir::ParseLimits{.max_bytes = 64 << 20, .max_depth = 16})) {
    return out;
  }
  for (const fhir::Json& r : fhir::items(fhir::member(doc, "requests"))) {
    out.emplace_back(fhir::string_or_empty(fhir::member(r, field)));
  }
  return out;
}

}  // namespace

FhirServerProcess::FhirServerProcess(Options options) : options_(std::move(options)) {}

FhirServerProcess::~FhirServerProcess() {
  stop();
}

std::string FhirServerProcess::base_url() const {
  return std::string(options_.tls_cert.empty() ? "http" : "https") +
         "://127.0.0.1:" + std::to_string(port_) + options_.base;
}

bool FhirServerProcess::start() {
  if (running()) return true;
  const char* node_env = std::getenv("CRYO_NODE");
  std::string node = node_env != nullptr && *node_env != '\0' ? node_env : "node";
  std::string script = std::string(CRYO_FHIR_SERVER_DIR) + "/server.mjs";

  std::vector<std::string> args = {node,     script,      "--port", "0",
                                   "--host", "127.0.0.1", "--base", options_.base};
  for (const auto& l : options_.load) {
    args.push_back("--load");
    args.push_back(l);
  }
  if (!options_.token.empty()) {
    args.push_back("--token");
    args.push_back(options_.token);
  }
  if (!options_.tls_cert.empty()) {
    args.insert(args.end(), {"--tls-cert", options_.tls_cert, "--tls-key", options_.tls_key});
  }
  args.push_back("--delay-ms");
  args.push_back(std::to_string(options_.delay_ms));
  args.push_back("--page-size");
  args.push_back(std::to_string(options_.page_size));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, node.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    error_ = "cannot start " + node + ": " + std::strerror(rc);
    return false;
  }
  pid_ = pid;
  stdout_fd_ = fds[0];

  // Wait for "PORT=<n>".
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{stdout_fd_, POLLIN, 0};
    int ready = poll(&p, 1, 100);
    if (ready > 0) {
      char buf[256];
      ssize_t n = read(stdout_fd_, buf, sizeof buf);
      if (n <= 0) break;  // the server closed stdout: it has exited
      out.append(buf, static_cast<size_t>(n));
      size_t at = out.find("PORT=");
      size_t eol = at == std::string::npos ? at : out.find('\n', at);
      if (eol != std::string::npos) {
        port_ = std::atoi(out.c_str() + at + 5);
        if (port_ > 0) return true;
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
  }
  error_ = "the FHIR server did not start (is `npm ci` done in tests/fhir-server?); output: " + out;
  stop();
  return false;
}

void FhirServerProcess::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    int status = 0;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

bool FhirServerProcess::set_controls(const std::string& json) {
  httplib::Client client = control_client(!options_.tls_cert.empty(), port_);
  auto res = client.Post("/__control", json, "application/json");
  return res && res->status == 200;
}

bool FhirServerProcess::reset() {
  std::string controls = "{\"delayMs\":" + std::to_string(options_.delay_ms) +
                         ",\"delays\":{},\"token\":" + json_string(options_.token) +
                         ",\"pageSize\":" + std::to_string(options_.page_size) +
                         ",\"outcomeEntry\":false,\"failStatus\":{},\"nextLinkBase\":\"\","
                         "\"refuseBareObservation\":true,\"unsupported\":[]}";
  if (!set_controls(controls)) return false;
  httplib::Client client = control_client(!options_.tls_cert.empty(), port_);
  auto res = client.Post("/__control/reset", "", "application/json");
  return res && res->status == 200;
}

std::vector<std::string> FhirServerProcess::request_urls() const {
  httplib::Client client = control_client(!options_.tls_cert.empty(), port_);
  auto res = client.Get("/__control");
  return res ? request_field(res->body, "url") : std::vector<std::string>{};
}

std::vector<std::string> FhirServerProcess::request_auth() const {
  httplib::Client client = control_client(!options_.tls_cert.empty(), port_);
  auto res = client.Get("/__control");
  return res ? request_field(res->body, "auth") : std::vector<std::string>{};
}

}  // namespace cryo::testing
