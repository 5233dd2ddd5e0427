// The policy analyst's tools, end to end with the real binary:
//   - a seventh payer added with data files only (payers.json entry, a policy file copied
//     under a new payer id, its test cases) is decided by `policies test` and by the service
//     over HTTP;
//   - `policies check` on a file with five deliberate mistakes reports all five with lines;
//   - `policies replay` over 500 stored calls with one threshold changed in a candidate copy
//     names exactly the determinations that cross it.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <unistd.h>

#include "audit/db.h"
#include "hook_request_builder.h"
#include "server_process.h"
#include "tests/audit/pg_server.h"

namespace cryo::testing {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    path_ = fs::temp_directory_path() / ("cryo-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A copy of the bundled policies (and their test cases).
void copy_bundled(const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(fs::path(CRYO_SOURCE_DIR) / "policies" / "data"))
    fs::copy_file(e.path(), to / e.path().filename());
}

int count_cases(const std::string& tests_json) {
  rapidjson::Document d;
  d.Parse(tests_json.c_str());
  return d.IsObject() && d.HasMember("cases") ? static_cast<int>(d["cases"].Size()) : -1;
}

TEST(SeventhPayer, AddedWithDataFilesOnlyIsDecidedByTestsAndByTheService) {
  TempDir tmp("seventh-payer");
  fs::path dir = tmp.path() / "policies";
  copy_bundled(dir);
  // 1. payers.json: one more payer.
  std::string payers = read(dir / "payers.json");
  size_t list = payers.find("\"payers\": [");
  ASSERT_NE(list, std::string::npos);
  payers.insert(list + 11, R"(
    { "id": "lakeshore-health", "name": "Lakeshore Health Plan",
      "identifiers": [{ "system": "http://cryocrd.org/fhir/sid/payer-id", "value": "lakeshore-health" }] },)");
  write(dir / "payers.json", payers);
  // 2. Its policy: a copy of Medical Mutual's under the new payer id; 3. its test cases.
  write(dir / "lakeshore-health.json",
        replace_all(read(dir / "medical-mutual.json"), "medical-mutual", "lakeshore-health"));
  std::string cases =
      replace_all(read(dir / "medical-mutual.tests.json"), "medical-mutual", "lakeshore-health");
  write(dir / "lakeshore-health.tests.json", cases);
  int added = count_cases(cases);
  ASSERT_GT(added, 40);

  CommandResult t = run_command({CRYO_CRD_BINARY, "policies", "test", dir.string()});
  EXPECT_EQ(t.exit_code, 0) << t.out << t.err;
  std::regex pass("^PASS lakeshore-health\\.tests\\.json: ", std::regex::multiline);
  int passed = static_cast<int>(std::distance(
      std::sregex_iterator(t.out.begin(), t.out.end(), pass), std::sregex_iterator()));
  EXPECT_EQ(passed, added) << t.out;
  EXPECT_NE(t.out.find(" passed, 0 failed"), std::string::npos) << t.out;

  // The service decides for the new payer: covered HCC, not-covered 5.1 cm.
  ServerProcess server({"--policies", dir.string(), "--no-store"});
  httplib::Client http("127.0.0.1", server.port());
  auto call = [&](double size_cm) {
    HookRequestBuilder b("lakeshore-health");
    b.resource(condition("c1", "C22.0"))
        .resource(resectability("r1", true))
        .resource(boolean_observation("a1", "location-accessible", true))
        .resource(lesion_count("n1", 2))
        .resource(tumor_size("s1", size_cm, "cm"))
        .order("47371");
    auto res = http.Post("/cds-services/order-sign-crd", b.json(), "application/json");
    EXPECT_TRUE(res) << server.log();
    return res ? res->body : std::string();
  };
  std::string covered = call(4.5);
  EXPECT_NE(covered.find(R"("valueCode":"covered")"), std::string::npos) << covered;
  EXPECT_NE(covered.find("lakeshore-health-200802"), std::string::npos) << covered;
  std::string not_covered = call(5.1);
  EXPECT_NE(not_covered.find(R"("valueCode":"not-covered")"), std::string::npos) << not_covered;
  auto page = http.Get("/policies/lakeshore-health-200802");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("Lakeshore Health Plan"), std::string::npos);
}

TEST(PoliciesCheck, ReportsFiveMistakesInOneFileWithLines) {
  TempDir tmp("check-five");
  fs::path dir = tmp.path();
  copy_bundled(dir);
  std::string text = read(dir / "medical-mutual.json");
  struct Mistake {
    std::string from, to, field_part, message_part;
  };
  std::vector<Mistake> mistakes = {
      {R"("op": "<=", "value": 5,)", R"("op": "<=", "value": 700,)", "value",
       "not a plausible threshold"},
      {R"("op": "<=", "value": 3,)", R"("op": "<=", "value": -1,)", "value",
       "not a plausible threshold"},
      {R"("fact": "near-complete-treatment")", R"("fact": "near-complete-treatmnt")", "fact",
       "unknown fact 'near-complete-treatmnt'"},
      {R"("codes": ["55873"])", R"("codes": ["55874"])", "codes[0]",
       "not among the policy's procedures"},
      {R"("title": "Renal cell carcinoma",)", R"("titel": "Renal cell carcinoma",)", "titel",
       "unknown key 'titel'"},
  };
  std::vector<int> lines;
  for (const Mistake& m : mistakes) {
    size_t at = text.find(m.from);
    ASSERT_NE(at, std::string::npos) << m.from;
    lines.push_back(1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n')));
    text.replace(at, m.from.size(), m.to);
  }
  write(dir / "medical-mutual.json", text);
  CommandResult r = run_command({CRYO_CRD_BINARY, "policies", "check", dir.string()});
  EXPECT_EQ(r.exit_code, 1);
  for (size_t i = 0; i < mistakes.size(); ++i) {
    // "<file>:<line>:<column>: <field>: <message>"
    std::string prefix =
        (dir / "medical-mutual.json").generic_string() + ":" + std::to_string(lines[i]) + ":";
    bool found = false;
    std::istringstream err(r.err);
    for (std::string line; std::getline(err, line);) {
      if (line.rfind(prefix, 0) == 0 && line.find(mistakes[i].field_part) != std::string::npos &&
          line.find(mistakes[i].message_part) != std::string::npos) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << "mistake " << i + 1 << " (line " << lines[i] << ", "
                       << mistakes[i].message_part << ") not reported:\n"
                       << r.err;
  }
  EXPECT_NE(r.err.find(" problems\n"), std::string::npos) << r.err;
}

// Where the replayed store lives: SQLite in a temporary directory, or a fresh schema of the
// audit_pg fixture's PostgreSQL server (CRYO_AUDIT_TEST_PG_STATE; one is started otherwise).
class ReplayStore {
 public:
  ReplayStore(const std::string& backend, const fs::path& dir) {
    if (backend == "sqlite") {
      option_ = "--data";
      where_ = (dir / "store").string();
      return;
    }
    if (const char* state = std::getenv("CRYO_AUDIT_TEST_PG_STATE"); state && fs::exists(state)) {
      auto s = audit::testing::read_state(state);
      if (s) admin_url_ = s->url;
    } else if (auto s = audit::testing::start_pg_server(audit::testing::Lifetime::kThisProcess)) {
      own_ = *s;
      admin_url_ = s->url;
    }
    if (admin_url_.empty()) return;
    schema_ = "replay_" + std::to_string(::getpid());
    auto admin = audit::db::open_postgres(admin_url_);
    if (!admin || !(*admin)->exec_script("CREATE SCHEMA " + schema_)) {
      admin_url_.clear();
      return;
    }
    option_ = "--db";
    where_ = admin_url_ + "?options=-csearch_path%3D" + schema_;
  }
  ~ReplayStore() {
    if (!schema_.empty() && !admin_url_.empty()) {
      if (auto admin = audit::db::open_postgres(admin_url_))
        (void)(*admin)->exec_script("DROP SCHEMA " + schema_ + " CASCADE");
    }
    if (own_) (void)audit::testing::stop_pg_server(*own_);
  }
  bool ok() const { return !where_.empty(); }
  std::vector<std::string> args() const { return {option_, where_}; }

 private:
  std::string option_, where_, admin_url_, schema_;
  std::optional<audit::testing::PgServer> own_;
};

class PoliciesReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(PoliciesReplay, FiveHundredStoredCallsOneThresholdChanged) {
  TempDir tmp("replay-" + GetParam());
  ReplayStore store(GetParam(), tmp.path());
  ASSERT_TRUE(store.ok()) << "no " << GetParam() << " store";
  std::map<std::string, int> size_mm;  // hookInstance -> largest lesion sent
  {
    ServerProcess server(store.args());
    httplib::Client http("127.0.0.1", server.port());
    for (int i = 0; i < 500; ++i) {
      int mm = 30 + i % 40;  // 3.0 .. 6.9 cm
      std::string id = "00000000-0000-4000-8000-" +
                       std::string(12 - std::to_string(i).size(), '0') + std::to_string(i);
      HookRequestBuilder b("medical-mutual");
      b.hook_instance(id)
          .resource(condition("c1", "C22.0"))
          .resource(resectability("r1", true))
          .resource(boolean_observation("a1", "location-accessible", true))
          .resource(lesion_count("n1", 2))
          .resource(tumor_size("s1", mm, "mm"))
          .order("47381");
      auto res = http.Post("/cds-services/order-sign-crd", b.json(), "application/json");
      ASSERT_TRUE(res) << server.log();
      ASSERT_EQ(res->status, 200) << res->body;
      size_mm[id] = mm;
    }
    EXPECT_EQ(server.stop(), 0) << server.log();
  }
  // The candidate: Medical Mutual's HCC size threshold from 5 cm to 4 cm.
  fs::path candidate = tmp.path() / "candidate";
  copy_bundled(candidate);
  std::string mm_policy = read(candidate / "medical-mutual.json");
  std::string from = R"({ "fact": "largest-liver-lesion", "op": "<=", "value": 5,)";
  size_t at = mm_policy.find(from);
  ASSERT_NE(at, std::string::npos);
  mm_policy.replace(at, from.size(),
                    R"({ "fact": "largest-liver-lesion", "op": "<=", "value": 4,)");
  write(candidate / "medical-mutual.json", mm_policy);

  fs::path report = tmp.path() / "report.json";
  CommandResult r =
      run_command({CRYO_CRD_BINARY, "policies", "replay", "--candidate", candidate.string(),
                   store.args()[0], store.args()[1], "--report", report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  rapidjson::Document d;
  std::string text = read(report);
  d.Parse(text.c_str());
  ASSERT_TRUE(d.IsObject()) << text;
  EXPECT_EQ(d["calls"].GetInt64(), 500);
  EXPECT_EQ(d["notRedecided"].GetInt64(), 0);
  std::set<std::string> expected, reported;
  for (const auto& [id, mm] : size_mm) {
    if (mm > 40 && mm <= 50) expected.insert(id);  // between the old and the new threshold
  }
  for (const auto& c : d["changes"].GetArray()) {
    reported.insert(c["hookInstance"].GetString());
    EXPECT_STREQ(c["coveredFrom"].GetString(), "covered");
    EXPECT_STREQ(c["coveredTo"].GetString(), "not-covered");
    EXPECT_STRNE(c["coverageAssertionId"].GetString(), "");
    ASSERT_EQ(c["flipped"].Size(), 1u) << text;
    EXPECT_STREQ(c["flipped"][0]["fact"].GetString(), "largest-liver-lesion");
    EXPECT_STREQ(c["flipped"][0]["from"].GetString(), "true");
    EXPECT_STREQ(c["flipped"][0]["to"].GetString(), "false");
  }
  EXPECT_EQ(reported, expected);
  EXPECT_EQ(expected.size(), 129u);
  EXPECT_EQ(d["bySection"]["medical-mutual-200802/hcc"].GetInt64(), 129);
  EXPECT_EQ(d["byTransition"]["covered -> not-covered"].GetInt64(), 129);
  EXPECT_NE(r.out.find("129 determinations would change"), std::string::npos) << r.out;
  // Nothing was written: the same replay against the unchanged policies changes nothing.
  CommandResult same = run_command({CRYO_CRD_BINARY, "policies", "replay", "--candidate",
                                    (fs::path(CRYO_SOURCE_DIR) / "policies" / "data").string(),
                                    store.args()[0], store.args()[1]});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("0 determinations would change"), std::string::npos) << same.out;
}

INSTANTIATE_TEST_SUITE_P(Stores, PoliciesReplay, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace cryo::testing
