// One rule for relative paths: relative to the configuration file in a file, relative to the
// working directory on the command line.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "cds/config.h"

namespace cryo::cds {
namespace {

namespace fs = std::filesystem;

class ConfigPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cryo-config-paths-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "etc" / "crd");
    fs::create_directories(root_ / "elsewhere");
    old_cwd_ = fs::current_path();
    fs::current_path(root_ / "elsewhere");
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    fs::remove_all(root_);
  }
  fs::path write_config(const std::string& text) {
    fs::path file = root_ / "etc" / "crd" / "crd.json";
    std::ofstream(file) << text;
    return file;
  }
  fs::path root_, old_cwd_;
};

TEST_F(ConfigPaths, PathsInAFileAreRelativeToTheFile) {
  fs::path file = write_config(R"({
    "server": {"policies_dir": "policies", "mappings_dir": "../shared/mappings"},
    "tls": {"cert_file": "tls/cert.pem", "key_file": "/abs/key.pem"},
    "store": {"data_dir": "state"}})");
  // Loaded through a path relative to the working directory, as `--config ../etc/crd/crd.json`.
  auto c = load_config(fs::path("..") / "etc" / "crd" / "crd.json");
  ASSERT_TRUE(c) << c.error().to_string();
  const fs::path dir = file.parent_path();
  EXPECT_EQ(c->policies_dir, (dir / "policies").string());
  EXPECT_EQ(c->mappings_dir, (root_ / "etc" / "shared" / "mappings").string());
  EXPECT_EQ(c->tls_cert_file, (dir / "tls" / "cert.pem").string());
  EXPECT_EQ(c->tls_key_file, "/abs/key.pem");
  EXPECT_EQ(c->data_dir, (dir / "state").string());
}

TEST_F(ConfigPaths, PathsOnTheCommandLineAreRelativeToTheWorkingDirectory) {
  ServerConfig c;
  ASSERT_TRUE(apply_overrides(c, {{"--policies", "pol"},
                                  {"--mappings", "/abs/map"},
                                  {"--data", "./var"},
                                  {"--tls-cert", "c.pem"},
                                  {"--tls-key", "k.pem"}}));
  const fs::path cwd = root_ / "elsewhere";
  EXPECT_EQ(c.policies_dir, (cwd / "pol").string());
  EXPECT_EQ(c.mappings_dir, "/abs/map");
  EXPECT_EQ(c.data_dir, (cwd / "var").string());
  EXPECT_EQ(c.tls_cert_file, (cwd / "c.pem").string());
}

TEST_F(ConfigPaths, CommandLineOverridesTheFileWithItsOwnBase) {
  write_config(R"({"server": {"policies_dir": "policies"}})");
  auto c = load_config(root_ / "etc" / "crd" / "crd.json");
  ASSERT_TRUE(c);
  ASSERT_TRUE(apply_overrides(*c, {{"--policies", "mine"}}));
  EXPECT_EQ(c->policies_dir, (root_ / "elsewhere" / "mine").string());
}

TEST_F(ConfigPaths, LogSettingsAreChecked) {
  write_config(R"({"log": {"level": "loud"}})");
  auto c = load_config(root_ / "etc" / "crd" / "crd.json");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().to_string().find("log.level"), std::string::npos) << c.error().to_string();
  ServerConfig d;
  EXPECT_FALSE(apply_overrides(d, {{"--log-format", "xml"}}));
  EXPECT_TRUE(apply_overrides(d, {{"--log-format", "json"}, {"--log-level", "debug"}}));
  EXPECT_EQ(d.log_format, "json");
}

TEST_F(ConfigPaths, ThePatientDataCacheHasBoundedDefaultsAndCheckedSettings) {
  ServerConfig defaults;
  EXPECT_EQ(defaults.cache_ttl_seconds, 300);
  EXPECT_EQ(defaults.cache_max_entries, 1000);
  EXPECT_EQ(defaults.cache_max_bytes, 64 * 1024 * 1024);
  write_config(R"({"cache": {"ttl_seconds": 0, "max_entries": 10, "max_bytes": 1048576}})");
  auto c = load_config(root_ / "etc" / "crd" / "crd.json");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->cache_ttl_seconds, 0);
  EXPECT_EQ(c->cache_max_entries, 10);
  EXPECT_EQ(c->cache_max_bytes, 1048576);
  for (const char* bad : {R"({"cache": {"ttl_seconds": 86400}})",
                          R"({"cache": {"max_entries": 0}})", R"({"cache": {"ttl": 5}})"}) {
    write_config(bad);
    auto refused = load_config(root_ / "etc" / "crd" / "crd.json");
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.error().to_string().find("cache."), std::string::npos)
        << refused.error().to_string();
  }
}

TEST_F(ConfigPaths, TheStoreDeadlineDefaultsToOneSecondAndIsChecked) {
  EXPECT_EQ(ServerConfig{}.store_deadline_ms, 1000);
  write_config(R"({"store": {"deadline_ms": 2500}})");
  auto c = load_config(root_ / "etc" / "crd" / "crd.json");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->store_deadline_ms, 2500);
  for (const char* bad :
       {R"({"store": {"deadline_ms": 50}})", R"({"store": {"deadline_ms": 60000}})"}) {
    write_config(bad);
    auto refused = load_config(root_ / "etc" / "crd" / "crd.json");
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.error().to_string().find("store.deadline_ms"), std::string::npos)
        << refused.error().to_string();
  }
}

// The configuration file and its trust section are read like every file people write
// (base/json_file.h): located refusals, one wording, duplicate keys refused.
TEST_F(ConfigPaths, RefusalsNameFileLineColumnAndField) {
  const std::string file = (root_ / "etc" / "crd" / "crd.json").string();
  auto refusal = [&](const std::string& text) {
    write_config(text);
    auto c = load_config(file);
    EXPECT_FALSE(c) << text;
    return c ? std::string() : c.error().to_string();
  };
  EXPECT_EQ(refusal("{\n  \"server\": {\"port\": 8080\n}"),
            file + ":3:2: invalid JSON: Missing a comma or '}' after an object member.");
  EXPECT_EQ(refusal("{\n  \"server\": {\"port\": 8080, \"prot\": 1}}"),
            file + ":2:28: server.prot: unknown key 'prot' (expected one of: bind, port, " +
                "base_url, threads, max_body_bytes, read_timeout_seconds, write_timeout_seconds, " +
                "policies_dir, mappings_dir, io_threads, max_header_bytes, " +
                "max_body_memory_bytes, header_timeout_seconds, keep_alive_seconds, " +
                "max_connections, retry_after_seconds, drain_timeout_seconds, max_draft_orders, " +
                "max_resources, max_references)");
  EXPECT_EQ(refusal("{\"srever\": {}}"),
            file + ":1:2: srever: unknown key 'srever' (expected one of: server, tls, trust, " +
                "cors, store, admin, fhir, cache, demo, dtr, log)");
  EXPECT_EQ(refusal("{\"server\": {\"port\": 1},\n \"server\": {\"port\": 2}}"),
            file + ":2:2: server: duplicate key 'server' (first given at line 1)");
  EXPECT_EQ(refusal("{\"server\": {\"port\": 99999}}"),
            file + ":1:13: server.port: must be an integer from 0 to 65535");
  // The trust section.
  EXPECT_EQ(refusal("{\"trust\": {\"issuers\": [\n  {\"iss\": \"a\" \"jwks_file\": \"k.json\"}]}}"),
            file + ":2:15: invalid JSON: Missing a comma or '}' after an object member.");
  EXPECT_EQ(refusal("{\n  \"trust\": {\"algorithms\": [\"ES384\"]}}"),
            file + ":2:3: trust.issuers: missing required key 'issuers'");
  EXPECT_EQ(refusal("{\"trust\": {\"issuers\": [],\n  \"skew\": 5}}"),
            file + ":2:3: trust.skew: unknown key 'skew' (expected one of: issuers, " +
                "algorithms, clock_skew_seconds, max_token_lifetime_seconds, " +
                "replay_cache_capacity, jwks_min_refresh_interval_seconds, " +
                "jwks_max_age_seconds, jwks_fetch_timeout_seconds)");
  EXPECT_EQ(refusal("{\"trust\": {\"issuers\": [{\"iss\": \"a\", \"jwks_file\": \"k.json\",\n" +
                    std::string("    \"iss\": \"b\"}]}}")),
            file + ":2:5: trust.issuers[0].iss: duplicate key 'iss' (first given at line 1)");
  EXPECT_EQ(refusal("{\"trust\": {\"issuers\": [{\"iss\": \"a\",\n  \"jwks_url\": " +
                    std::string("\"http://ehr.example.org/jwks.json\"}]}}")),
            file + ":2:3: trust.issuers[0].jwks_url: must be an https:// URL (http:// only for " +
                "loopback hosts)");
  EXPECT_EQ(refusal("{\"tls\": {\"cert_file\": \"c.pem\"}}"),
            file + ":1:2: tls: needs both cert_file and key_file");
  EXPECT_EQ(load_config(root_ / "nowhere.json").error().to_string(),
            (root_ / "nowhere.json").string() + ": cannot read the file");
}

}  // namespace
}  // namespace cryo::cds
