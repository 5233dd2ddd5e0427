// Running and watching the real cryo-crd binary like any service: --help and --version, data
// found next to the binary (never a build machine path), the relative path rule, /metrics in
// the Prometheus format with counters that move, /health/live and /health/ready, JSON logs
// with one line per call, systemd readiness notifications and reload on SIGHUP.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/sha.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server_process.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = CRYO_SOURCE_DIR;
const fs::path kBinary = CRYO_CRD_BINARY;
constexpr const char* kAdminToken = "ops-test-admin-token-0123456789abcdef";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::string sha256_hex(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  std::string out;
  char buf[3];
  for (unsigned char c : d) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

fs::path temp_dir(const std::string& stem) {
  std::string t = (fs::temp_directory_path() / (stem + "-XXXXXX")).string();
  std::vector<char> buf(t.begin(), t.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp");
  return buf.data();
}

// The example order-sign call with a fresh hookInstance and an EHR access token.
std::string example_call(const std::string& instance) {
  std::string body = read_file(kSource / "docs/examples/order-sign-florida-blue.json");
  body = std::regex_replace(body, std::regex("5f4c9f0e-8d8b-4c1e-9f5a-2b8e6c1d7a31"), instance);
  auto brace = body.find('{');
  body.insert(
      brace + 1,
      R"("fhirServer": "http://127.0.0.1:9/fhir", "fhirAuthorization": {"access_token": "ehr-secret-token-77", "token_type": )"
      R"("Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "crd"},)");
  return body;
}

// The value of one sample in a Prometheus text exposition; -1 when absent.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

httplib::Result get(int port, const std::string& path, const std::string& token = "") {
  httplib::Client c("127.0.0.1", port);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return c.Get(path.c_str(), h);
}

httplib::Result post(int port, const std::string& path, const std::string& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  return c.Post(path.c_str(), body, "application/json");
}

bool wait_for(const std::function<bool()>& done, int ms = 10000) {
  for (int waited = 0; waited < ms; waited += 20) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"serve", "--help"},
                                             {"evaluate", "--help"},
                                             {"policies", "check", "--help"},
                                             {"store", "purge", "--help"},
                                             {"conformance", "--help"}}) {
    std::vector<std::string> argv = {kBinary.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    EXPECT_NE((r.out + r.err).find("usage:"), std::string::npos) << args[0];
  }
  CommandResult serve_help = run_command({kBinary.string(), "serve", "--help"});
  EXPECT_NE(serve_help.out.find("--log-format"), std::string::npos);
  EXPECT_NE(serve_help.out.find("SIGHUP"), std::string::npos);
}

TEST(Cli, VersionNamesTheServiceAndTheDataHash) {
  CommandResult r = run_command({kBinary.string(), "--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^cryo-crd \d+\.\d+\.\d+\n)"))) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(data (sha256:[0-9a-f]{64}))"))) << r.out;
  const std::string bundled = m[1];

  // Another copy of the data with one policy changed has another hash.
  fs::path dir = temp_dir("cryo-ops-version");
  fs::copy(kSource / "policies/data", dir / "policies", fs::copy_options::recursive);
  CommandResult same =
      run_command({kBinary.string(), "--version", "--policies", (dir / "policies").string()});
  EXPECT_NE(same.out.find(bundled), std::string::npos) << same.out << same.err;
  std::string policy = read_file(dir / "policies/florida-blue.json");
  write_file(dir / "policies/florida-blue.json",
             std::regex_replace(policy, std::regex("2024-09-15"), "2026-11-30"));
  CommandResult changed =
      run_command({kBinary.string(), "--version", "--policies", (dir / "policies").string()});
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(changed.out.find(bundled), std::string::npos) << changed.out;
  fs::remove_all(dir);
}

TEST(DataFiles, NoBuildMachinePathIsCompiledIn) {
  // What `strings cryo-crd | grep <checkout>` would find.
  std::string binary = read_file(kBinary);
  ASSERT_GT(binary.size(), 100000u);
  std::string source = fs::canonical(kSource).string();
#ifdef CRYO_SANITIZED_BUILD
  // Instrumented builds only: clang 14 keeps the checkout's path in the sanitizers' source
  // locations and type names (-ffile-prefix-map does not reach them). Each occurrence must be
  // one of those: the path of a source file of the checkout, or a lambda's type name.
  for (size_t at = binary.find(source); at != std::string::npos; at = binary.find(source, at + 1)) {
    size_t end = binary.find_first_of(std::string_view("\0:'\")", 5), at);
    std::string named = binary.substr(at, end == std::string::npos ? 200 : end - at);
    EXPECT_TRUE(fs::is_regular_file(named))
        << "the binary contains " << source << " other than in a source location: " << named;
  }
#else
  EXPECT_EQ(binary.find(source), std::string::npos) << "the binary contains " << source;
#endif
  std::string build = fs::canonical(kBinary.parent_path()).string();
#ifdef CRYO_SANITIZED_BUILD
  // There the headers' source locations name the build's include trees (<build>/include/...,
  // links to the checkout's headers: cmake/CryoHeaders.cmake). Each occurrence must be one.
  for (size_t at = binary.find(build); at != std::string::npos; at = binary.find(build, at + 1)) {
    size_t end = binary.find_first_of(std::string_view("\0:'\")", 5), at);
    std::string named = binary.substr(at, end == std::string::npos ? 200 : end - at);
    std::error_code error;
    std::string target = fs::canonical(named, error).string();
    EXPECT_TRUE(!error && fs::is_symlink(named) && target.starts_with(source + "/"))
        << "the binary contains " << build
        << " other than in a header's source location: " << named;
  }
#else
  EXPECT_EQ(binary.find(build), std::string::npos) << "the binary contains " << build;
#endif
}

TEST(DataFiles, FoundInTheInstalledLayoutAndNextToTheBinary) {
  fs::path root = temp_dir("cryo-ops-layout");
  // Installed: <prefix>/bin/cryo-crd and <prefix>/share/cryo-crd/{policies,mappings}.
  fs::create_directories(root / "usr/bin");
  fs::create_directories(root / "usr/share/cryo-crd");
  fs::copy_file(kBinary, root / "usr/bin/cryo-crd");
  fs::copy(kSource / "policies/data", root / "usr/share/cryo-crd/policies",
           fs::copy_options::recursive);
  fs::copy(kSource / "mappings/data", root / "usr/share/cryo-crd/mappings",
           fs::copy_options::recursive);
  fs::copy(kSource / "cds/data", root / "usr/share/cryo-crd/card-text",
           fs::copy_options::recursive);
  CommandResult installed = run_command({(root / "usr/bin/cryo-crd").string(), "--version"});
  EXPECT_EQ(installed.exit_code, 0) << installed.err;
  EXPECT_NE(installed.out.find("policies " + (root / "usr/share/cryo-crd/policies").string()),
            std::string::npos)
      << installed.out;

  // With no data anywhere, the error names the places looked at.
  fs::create_directories(root / "bare");
  fs::copy_file(kBinary, root / "bare/cryo-crd");
  CommandResult bare = run_command({(root / "bare/cryo-crd").string(), "--version"});
  EXPECT_EQ(bare.exit_code, 1);
  EXPECT_NE(bare.err.find("share/cryo-crd/policies"), std::string::npos) << bare.err;
  fs::remove_all(root);
}

// Paths in a configuration file are relative to the file; on the command line, to the working
// directory. The server runs from a third directory to show that neither depends on it.
TEST(RelativePaths, ConfigurationFileAndCommandLine) {
  fs::path root = temp_dir("cryo-ops-paths");
  fs::create_directories(root / "etc");
  fs::create_directories(root / "cwd");
  fs::copy(kSource / "policies/data", root / "etc/my-policies", fs::copy_options::recursive);
  fs::copy(kSource / "mappings/data", root / "cwd/my-mappings", fs::copy_options::recursive);
  write_file(root / "etc/crd.json", R"({"server": {"policies_dir": "my-policies"},
                                        "store": {"data_dir": "state"}})");
  const fs::path old_cwd = fs::current_path();
  fs::current_path(root / "cwd");
  CommandResult version = run_command(
      {kBinary.string(), "--version", "--config", "../etc/crd.json", "--mappings", "my-mappings"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_NE(version.out.find("policies " + (root / "etc/my-policies").string()), std::string::npos)
      << version.out;
  EXPECT_NE(version.out.find("mappings " + (root / "cwd/my-mappings").string()), std::string::npos)
      << version.out;
  {
    ServerProcess server({"--config", "../etc/crd.json", "--mappings", "my-mappings"});
    auto r = post(server.port(), "/cds-services/order-sign-crd", example_call("paths-1"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_TRUE(fs::exists(root / "etc/state/cryo-audit.sqlite3"));
    EXPECT_FALSE(fs::exists(root / "cwd/state"));
  }
  fs::current_path(old_cwd);
  fs::remove_all(root);
}

class Watching : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_dir("cryo-ops-watch");
    fs::copy(kSource / "policies/data", root_ / "policies", fs::copy_options::recursive);
    write_file(root_ / "crd.json",
               R"({"admin": {"token_sha256": ")" + sha256_hex(kAdminToken) + R"("},
                   "store": {"data_dir": "state"},
                   "server": {"policies_dir": "policies"},
                   "log": {"format": "json"}})");
    // A systemd notification socket, as a Type=notify unit provides.
    notify_path_ = (root_ / "notify.sock").string();
    notify_fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", notify_path_.c_str());
    ASSERT_EQ(bind(notify_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{5, 0};
    setsockopt(notify_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setenv("NOTIFY_SOCKET", notify_path_.c_str(), 1);
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--config", (root_ / "crd.json").string()});
    unsetenv("NOTIFY_SOCKET");
  }
  void TearDown() override {
    server_.reset();
    close(notify_fd_);
    fs::remove_all(root_);
  }
  std::string next_notification() {
    char buf[512];
    ssize_t n = recv(notify_fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  std::string metrics() {
    auto r = get(server_->port(), "/metrics", kAdminToken);
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->get_header_value("Content-Type").find("text/plain; version=0.0.4"),
              std::string::npos);
    return r->body;
  }
  fs::path root_;
  std::string notify_path_;
  int notify_fd_ = -1;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(Watching, MetricsAreProtectedValidAndMove) {
  EXPECT_EQ(get(server_->port(), "/metrics")->status, 401);
  EXPECT_EQ(get(server_->port(), "/metrics", "wrong-token")->status, 401);
  const std::string calls = R"(cryo_crd_hook_calls_total{service="order-sign-crd",status="200"})";
  const std::string dets =
      R"(cryo_crd_determinations_total{payer="florida-blue",line_of_business="commercial",outcome="covered",pa_needed="no-auth"})";
  std::string before = metrics();
  EXPECT_EQ(sample(before, calls), -1);
  for (int i = 0; i < 3; ++i) {
    auto r = post(server_->port(), "/cds-services/order-sign-crd",
                  example_call("metrics-" + std::to_string(i)));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(post(server_->port(), "/cds-services/order-sign-crd", "{not json")->status, 400);
  std::string after = metrics();
  EXPECT_EQ(sample(after, calls), 3) << after;
  EXPECT_EQ(sample(after, R"(cryo_crd_hook_calls_total{service="order-sign-crd",status="400"})"),
            1);
  EXPECT_EQ(
      sample(after,
             R"(cryo_crd_hook_call_duration_seconds_count{service="order-sign-crd",status="200"})"),
      3);
  EXPECT_EQ(sample(after, dets), 3) << after;
  EXPECT_GE(sample(after, R"(cryo_crd_cards_total{service="order-sign-crd",type="coverage-info"})"),
            3)
      << after;
  EXPECT_EQ(sample(after, R"(cryo_crd_answers_within_5s_ratio{hook="order-sign"})"), 1);
  EXPECT_GE(sample(after, R"(cryo_crd_answers_within_500ms_ratio{hook="order-sign"})"), 0);
  EXPECT_EQ(sample(after, "cryo_crd_store_commit_duration_seconds_count"), 3);
  // Each record was committed in some group: between one group of three and three of one.
  EXPECT_GE(sample(after, "cryo_crd_store_commit_group_size_sum"), 3) << after;
  EXPECT_GE(sample(after, "cryo_crd_store_commit_group_size_count"), 1) << after;
  EXPECT_LE(sample(after, "cryo_crd_store_commit_group_size_count"), 3) << after;
  EXPECT_NE(after.find("cryo_crd_data_info{hash=\"sha256:"), std::string::npos);
  // The scrape's own connection is open while it is answered.
  EXPECT_GE(sample(after, R"(cryo_crd_connections{state="open"})"), 1) << after;
  EXPECT_GE(sample(after, R"(cryo_crd_connections{state="idle"})"), 0) << after;

  // promtool (Debian's prometheus package) accepts the exposition.
  if (system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  }
  fs::path file = root_ / "metrics.txt";
  write_file(file, after);
  std::string command = "promtool check metrics < " + file.string() + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof buf, p) != nullptr) output += buf;
  int status = pclose(p);
  EXPECT_EQ(status, 0) << output << "\n" << after;
}

TEST_F(Watching, HealthLiveAndReady) {
  auto live = get(server_->port(), "/health/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  auto ready = get(server_->port(), "/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  rapidjson::Document d;
  d.Parse(ready->body.c_str());
  ASSERT_FALSE(d.HasParseError()) << ready->body;
  EXPECT_STREQ(d["status"].GetString(), "ready");
  EXPECT_STREQ(d["checks"]["policies"].GetString(), "ok");
  EXPECT_STREQ(d["checks"]["store"].GetString(), "ok");
  EXPECT_FALSE(d["checks"]["draining"].GetBool());
}

TEST_F(Watching, OneJsonLinePerCallWithoutTokensOrClinicalContent) {
  auto r = post(server_->port(), "/cds-services/order-sign-crd", example_call("log-1"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const std::string request_id = r->get_header_value("X-Request-Id");
  EXPECT_FALSE(request_id.empty());
  std::string log;
  ASSERT_TRUE(wait_for([&] {
    log = server_->log();
    return log.find("\"hookInstance\":\"log-1\"") != std::string::npos;
  }));
  std::istringstream lines(log);
  std::string line;
  int call_lines = 0;
  while (std::getline(lines, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << "not one JSON object: " << line;
    if (!d.HasMember("hookInstance") || std::string(d["hookInstance"].GetString()) != "log-1")
      continue;
    ++call_lines;
    EXPECT_STREQ(d["msg"].GetString(), "hook call");
    EXPECT_EQ(d["request_id"].GetString(), request_id);
    EXPECT_STREQ(d["service"].GetString(), "order-sign-crd");
    EXPECT_STREQ(d["status"].GetString(), "200");
    EXPECT_STREQ(d["client"].GetString(), "unsigned");  // no trusted client configured
    EXPECT_NE(std::string(d["outcomes"].GetString()).find("=covered"), std::string::npos);
    EXPECT_TRUE(d.HasMember("latency_ms"));
  }
  EXPECT_EQ(call_lines, 1) << log;
  EXPECT_EQ(log.find("ehr-secret-token-77"), std::string::npos);
  EXPECT_EQ(log.find("Hepatocellular"), std::string::npos);  // no clinical content
}

TEST_F(Watching, SighupReloadsAndABrokenFileKeepsTheRunningSet) {
  EXPECT_NE(next_notification().find("READY=1"), std::string::npos);
  auto data_hash = [&] {
    std::smatch m;
    std::string text = metrics();
    return std::regex_search(text, m, std::regex(R"(cryo_crd_data_info\{hash="([^"]+)\"\})"))
               ? m[1].str()
               : std::string();
  };
  const std::string first_hash = data_hash();
  auto revision_in_answer = [&](const std::string& instance) {
    auto r = post(server_->port(), "/cds-services/order-sign-crd", example_call(instance));
    EXPECT_TRUE(r && r->status == 200);
    return r ? r->body : std::string();
  };
  ASSERT_NE(revision_in_answer("reload-0").find("2024-09-15"), std::string::npos);

  // A broken file: the reload fails, says where, and the running set stays.
  const fs::path policy = root_ / "policies/florida-blue.json";
  const std::string original = read_file(policy);
  write_file(policy, original.substr(0, original.size() / 2));
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  EXPECT_NE(next_notification().find("RELOADING=1"), std::string::npos);
  EXPECT_NE(next_notification().find("READY=1"), std::string::npos);
  ASSERT_TRUE(wait_for([&] { return server_->log().find("reload failed") != std::string::npos; }));
  std::string log = server_->log();
  EXPECT_NE(log.find("florida-blue.json"), std::string::npos) << log;
  EXPECT_TRUE(server_->running());
  EXPECT_EQ(data_hash(), first_hash);
  EXPECT_NE(revision_in_answer("reload-1").find("2024-09-15"), std::string::npos);
  EXPECT_EQ(sample(metrics(), R"(cryo_crd_reloads_total{result="failed"})"), 1);

  // A good change is picked up.
  // The revision's name changes (its dates stay, so the same revision is in force).
  write_file(policy, std::regex_replace(original, std::regex(R"("revision": "2024-09-15")"),
                                        R"("revision": "2026-11-30")"));
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  EXPECT_NE(next_notification().find("RELOADING=1"), std::string::npos);
  EXPECT_NE(next_notification().find("READY=1"), std::string::npos);
  ASSERT_TRUE(
      wait_for([&] { return server_->log().find("\"msg\":\"reloaded\"") != std::string::npos; }));
  EXPECT_NE(data_hash(), first_hash);
  EXPECT_NE(revision_in_answer("reload-2").find("2026-11-30"), std::string::npos);
  EXPECT_EQ(sample(metrics(), R"(cryo_crd_reloads_total{result="ok"})"), 1);

  // SIGTERM: the service says it is stopping and exits cleanly.
  int status = server_->stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(next_notification().find("STOPPING=1"), std::string::npos);
}

}  // namespace
}  // namespace cryo::testing
