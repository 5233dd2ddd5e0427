// The audit store on both back ends: SQLite in a temporary directory, PostgreSQL on a
// throw-away server (one per ctest run, started by the audit_pg fixture; or one for this
// process when the binary is run by hand), each test in its own schema.
#include <algorithm>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <rapidjson/document.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "audit/db.h"
#include "audit/store.h"
#include "base/ids.h"
#include "tests/audit/pg_server.h"

namespace cryo::audit {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- PostgreSQL server for this process ------------------------------------------------------

std::mutex g_pg_mu;
std::optional<testing::PgServer> g_own_pg;  // started here, stopped at exit
std::string g_pg_url;

class PgEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    std::lock_guard lock(g_pg_mu);
    if (g_own_pg) (void)testing::stop_pg_server(*g_own_pg);
    g_own_pg.reset();
  }
};
[[maybe_unused]] auto* const g_env = ::testing::AddGlobalTestEnvironment(new PgEnvironment);

// The server's URL: the fixture's (CRYO_AUDIT_TEST_PG_STATE) if running, else our own.
Result<std::string> pg_url() {
  std::lock_guard lock(g_pg_mu);
  if (!g_pg_url.empty()) return g_pg_url;
  if (const char* state = std::getenv("CRYO_AUDIT_TEST_PG_STATE"); state && fs::exists(state)) {
    auto s = testing::read_state(state);
    if (!s) return s.error();
    g_pg_url = s->url;
    return g_pg_url;
  }
  auto s = testing::start_pg_server(testing::Lifetime::kThisProcess);
  if (!s) return s.error();
  g_own_pg = *s;
  g_pg_url = s->url;
  return g_pg_url;
}

Status pg_admin(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  Status st;
  if (PQstatus(c) != CONNECTION_OK) {
    st = Error{"postgresql", PQerrorMessage(c)};
  } else {
    PGresult* r = PQexec(c, ("SET client_min_messages = warning; " + sql).c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
      st = Error{"postgresql", PQresultErrorMessage(r)};
    }
    PQclear(r);
  }
  PQfinish(c);
  return st;
}

std::int64_t pg_admin_count(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::int64_t n = -1;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
      n = std::atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  PQfinish(c);
  return n;
}

// ---- Test data -------------------------------------------------------------------------------

TimePoint now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now());
}

HookRecord make_call(const std::string& hook_instance, const std::string& patient = "pat-1",
                     TimePoint received = now(), int orders = 1) {
  HookRecord c;
  c.hook_instance = hook_instance;
  c.hook = "order-sign";
  c.service_id = "cryoablation-crd";
  c.received_at = received;
  c.client_iss = "https://ehr.example.org";
  c.patient_id = patient;
  c.payer_id = "florida-blue";
  c.line_of_business = "commercial";
  c.request_json = R"({"hook":"order-sign","hookInstance":")" + hook_instance +
                   R"(","fhirServer":"https://ehr.example.org/fhir","context":{"userId":)"
                   R"("Practitioner/pr-1","patientId":")" +
                   patient + R"("}})";
  std::string cards;
  for (int i = 0; i < orders; ++i) {
    DeterminationRecord d;
    d.order_ref = "ServiceRequest/sr-" + std::to_string(i + 1);
    d.coverage_assertion_id = random_uuid();
    d.covered = "conditional";
    d.pa_needed = "auth-needed";
    d.doc_needed = "clinical";
    d.doc_purpose = "withpa";
    d.info_needed = "OTH";
    d.criteria_json =
        R"([{"section":"hcc","title":"Hepatocellular carcinoma","result":"true","rows":[)"
        R"({"depth":0,"label":"Largest lesion <= 5 cm","fact":"largest-liver-lesion",)"
        R"("value":"true","observed":"4.2 cm","evidence":[{"reference":"Observation/obs-7",)"
        R"("date":"2026-02-01"}]}]}])";
    d.policy_id = "florida-blue-02-40000-22";
    d.policy_revision = "2024-09-15";
    d.service_version = "0.1.0";
    if (i) cards += ",";
    cards += R"({"uuid":")" + random_uuid() + R"(","summary":"Coverage for )" + d.order_ref +
             R"(","indicator":"info","source":{"label":"Florida Blue"}})";
    c.determinations.push_back(std::move(d));
  }
  c.response_json = R"({"cards":[)" + cards + R"(],"systemActions":[]})";
  return c;
}

std::vector<std::string> cards_of(const HookRecord& c) {
  rapidjson::Document doc;
  doc.Parse(c.response_json.c_str());
  std::vector<std::string> out;
  for (const auto& card : doc["cards"].GetArray()) out.push_back(card["uuid"].GetString());
  return out;
}

FeedbackRecord make_feedback(const std::string& card, const std::string& ts) {
  FeedbackRecord f;
  f.service_id = "cryoablation-crd";
  f.card_uuid = card;
  f.outcome = "overridden";
  f.override_reason_json =
      R"({"reason":{"code":"reason-code","system":"http://example.org/reasons"},)"
      R"("userComment":"patient declined"})";
  f.outcome_timestamp = ts;
  return f;
}

// ---- Fixture ---------------------------------------------------------------------------------

class AuditStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = fs::temp_directory_path() / ("cryo-audit-test-" + random_uuid());
      url_ = dir_.string();
      file_ = (dir_ / "cryo-audit.sqlite3").string();
    } else {
      auto base = pg_url();
      ASSERT_TRUE(base.ok()) << base.error().to_string();
      admin_url_ = *base;
      std::string id = random_uuid();
      schema_ = "t_" + id.substr(0, 8) + id.substr(9, 4);
      ASSERT_TRUE(pg_admin(admin_url_, "CREATE SCHEMA " + schema_).ok());
      url_ = admin_url_ + "?options=-csearch_path%3D" + schema_ + "&application_name=" + schema_;
    }
  }

  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
    if (!schema_.empty()) (void)pg_admin(admin_url_, "DROP SCHEMA " + schema_ + " CASCADE");
  }

  std::unique_ptr<AuditStore> open() {
    auto s = open_store(url_);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
    return s ? std::move(*s) : nullptr;
  }

  // A direct connection, for looking at what is really stored.
  std::unique_ptr<db::Conn> raw(bool writer = false) {
    auto c = GetParam() == "sqlite" ? db::open_sqlite(file_, writer ? db::SqliteRole::kWriter
                                                                    : db::SqliteRole::kReader)
                                    : db::open_postgres(url_);
    EXPECT_TRUE(c.ok()) << c.error().to_string();
    return c ? std::move(*c) : nullptr;
  }

  std::int64_t count(const std::string& sql) {
    auto c = raw();
    auto rows = c->query(sql);
    EXPECT_TRUE(rows.ok()) << rows.error().to_string();
    return rows && !rows->empty() ? rows->front().int64(0) : -1;
  }

  void prepare_dir() {
    if (!dir_.empty()) fs::create_directories(dir_);
  }

  std::string url_;
  fs::path dir_;
  std::string file_;
  std::string admin_url_;
  std::string schema_;
};

INSTANTIATE_TEST_SUITE_P(Backends, AuditStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// ---- Migrations ------------------------------------------------------------------------------

TEST_P(AuditStoreTest, FreshStoreIsCreatedAtTheLatestSchema) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->backend(), GetParam());
  auto c = raw();
  auto v = db::schema_version(*c);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, db::latest_schema_version());
  EXPECT_EQ(count("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<std::int64_t>(db::migrations().size()));
  if (GetParam() == "sqlite") {
    EXPECT_EQ(fs::status(file_).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    auto mode = c->query("PRAGMA journal_mode");
    ASSERT_TRUE(mode.ok());
    EXPECT_EQ(mode->front().text(0), "wal");
  }
}

TEST_P(AuditStoreTest, ExistingStoreIsMigratedAndKeepsItsRecords) {
  prepare_dir();
  {
    // A store left by an older service: schema version 1 only, one call in it.
    auto c = raw(true);
    ASSERT_TRUE(db::migrate(*c, 1).ok());
    auto v = db::schema_version(*c);
    ASSERT_TRUE(v.ok());
    ASSERT_EQ(*v, 1);
    auto ins = c->execute(
        "INSERT INTO hook_calls (hook_instance, hook, service_id, received_at_ms, client_iss,"
        " patient_id, payer_id, line_of_business, request_json, response_json, recorded_at_ms)"
        " VALUES ('old-1', 'order-sign', 'cryoablation-crd', 1, 'iss', 'pat-9', 'florida-blue',"
        " 'commercial', '{}', '{\"cards\":[]}', 1)");
    ASSERT_TRUE(ins.ok()) << ins.error().to_string();
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto store = open();
    ASSERT_TRUE(store);
    auto old = store->find_by_hook_instance("old-1");
    ASSERT_TRUE(old.ok());
    ASSERT_TRUE(old->has_value());
    EXPECT_EQ((*old)->patient_id, "pat-9");
    auto c = raw();
    EXPECT_EQ(*db::schema_version(*c), db::latest_schema_version());
    EXPECT_EQ(count("SELECT COUNT(*) FROM schema_migrations"),
              static_cast<std::int64_t>(db::migrations().size()));
  }
}

TEST_P(AuditStoreTest, StoreFromANewerServiceIsRefused) {
  { ASSERT_TRUE(open()); }
  {
    auto c = raw(true);
    ASSERT_TRUE(c->execute("INSERT INTO schema_migrations (version, description, applied_at_ms)"
                           " VALUES (999, 'future', 0)")
                    .ok());
  }
  auto s = open_store(url_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("newer"), std::string::npos) << s.error().to_string();
}

// ---- Record and look up ----------------------------------------------------------------------

TEST_P(AuditStoreTest, RecordedCallIsFoundByHookInstanceAndAssertionId) {
  auto store = open();
  ASSERT_TRUE(store);
  HookRecord call = make_call("hi-1", "pat-1", now(), 2);
  auto r = store->record(call);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(r->duplicate);

  auto found = store->find_by_hook_instance("hi-1");
  ASSERT_TRUE(found.ok()) << found.error().to_string();
  ASSERT_TRUE(found->has_value());
  const HookRecord& f = **found;
  EXPECT_EQ(f.hook, call.hook);
  EXPECT_EQ(f.service_id, call.service_id);
  EXPECT_EQ(f.received_at, call.received_at);
  EXPECT_EQ(f.client_iss, call.client_iss);
  EXPECT_EQ(f.patient_id, call.patient_id);
  EXPECT_EQ(f.payer_id, call.payer_id);
  EXPECT_EQ(f.line_of_business, call.line_of_business);
  EXPECT_EQ(f.request_json, call.request_json);
  EXPECT_EQ(f.response_json, call.response_json);
  ASSERT_EQ(f.determinations.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& a = f.determinations[i];
    const auto& b = call.determinations[i];
    EXPECT_EQ(a.order_ref, b.order_ref);
    EXPECT_EQ(a.coverage_assertion_id, b.coverage_assertion_id);
    EXPECT_EQ(a.covered, b.covered);
    EXPECT_EQ(a.pa_needed, b.pa_needed);
    EXPECT_EQ(a.doc_needed, b.doc_needed);
    EXPECT_EQ(a.doc_purpose, b.doc_purpose);
    EXPECT_EQ(a.info_needed, b.info_needed);
    EXPECT_EQ(a.criteria_json, b.criteria_json);
    EXPECT_EQ(a.policy_id, b.policy_id);
    EXPECT_EQ(a.policy_revision, b.policy_revision);
    EXPECT_EQ(a.service_version, b.service_version);
  }

  auto a = store->find_assertion(call.determinations[1].coverage_assertion_id);
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].call.hook_instance, "hi-1");
  EXPECT_EQ((*a)[0].determination.order_ref, "ServiceRequest/sr-2");

  rapidjson::Document doc;
  doc.Parse(to_json((*a)[0]).c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["coverageAssertionId"].GetString(),
               call.determinations[1].coverage_assertion_id.c_str());
  EXPECT_STREQ(doc["paNeeded"].GetString(), "auth-needed");
  EXPECT_STREQ(doc["criteria"][0]["rows"][0]["evidence"][0]["reference"].GetString(),
               "Observation/obs-7");
  EXPECT_STREQ(doc["hookCall"]["patientId"].GetString(), "pat-1");
  EXPECT_STREQ(doc["hookCall"]["receivedAt"].GetString(), format_time(call.received_at).c_str());

  for (const auto& uuid : cards_of(call)) EXPECT_TRUE(*store->card_exists(uuid));

  auto missing = store->find_assertion("no-such-assertion");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  auto missing_call = store->find_by_hook_instance("no-such-call");
  ASSERT_TRUE(missing_call.ok());
  EXPECT_FALSE(missing_call->has_value());
}

TEST_P(AuditStoreTest, AssertionsAreListedByPatientSinceATime) {
  auto store = open();
  ASSERT_TRUE(store);
  TimePoint t0 = now() - std::chrono::hours(48);
  ASSERT_TRUE(store->record(make_call("p-old", "pat-7", t0)).ok());
  ASSERT_TRUE(store->record(make_call("p-new", "pat-7", t0 + 24h, 2)).ok());
  ASSERT_TRUE(store->record(make_call("p-other", "pat-8", t0 + 24h)).ok());

  auto all = store->find_assertions("pat-7", t0);
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].call.hook_instance, "p-old");
  EXPECT_EQ((*all)[1].determination.order_ref, "ServiceRequest/sr-1");
  EXPECT_EQ((*all)[2].determination.order_ref, "ServiceRequest/sr-2");

  auto recent = store->find_assertions("pat-7", t0 + 1h);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(recent->size(), 2u);
  rapidjson::Document doc;
  doc.Parse(to_json(*recent).c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_EQ(doc["assertions"].Size(), 2u);
}

// ---- Idempotence -----------------------------------------------------------------------------

TEST_P(AuditStoreTest, SecondRecordOfAHookInstanceIsANoOpReturningTheFirst) {
  auto store = open();
  ASSERT_TRUE(store);
  HookRecord first = make_call("retry-1");
  HookRecord second = make_call("retry-1");  // same call evaluated again: new ids
  ASSERT_TRUE(store->record(first).ok());
  auto r = store->record(second);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(r->duplicate);
  ASSERT_TRUE(r->existing.has_value());
  EXPECT_EQ(r->existing->response_json, first.response_json);
  EXPECT_EQ(r->existing->determinations[0].coverage_assertion_id,
            first.determinations[0].coverage_assertion_id);
  // Nothing of the second evaluation was kept.
  EXPECT_TRUE(store->find_assertion(second.determinations[0].coverage_assertion_id)->empty());
  EXPECT_FALSE(*store->card_exists(cards_of(second)[0]));
  EXPECT_EQ(count("SELECT COUNT(*) FROM hook_calls"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM determinations"), 1);
}

TEST_P(AuditStoreTest, OrdersUnderOneCoverageShareOneAssertionId) {
  auto store = open();
  ASSERT_TRUE(store);
  HookRecord call = make_call("one-coverage-1", "pat-9", now(), 2);
  ASSERT_GE(call.determinations.size(), 2u);
  for (auto& d : call.determinations) d.coverage_assertion_id = "shared-assertion";
  auto r = store->record(call);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto found = store->find_assertion("shared-assertion");
  ASSERT_TRUE(found.ok()) << found.error().to_string();
  ASSERT_EQ(found->size(), call.determinations.size());
  EXPECT_EQ((*found)[0].determination.order_ref, call.determinations[0].order_ref);
  EXPECT_EQ((*found)[1].determination.order_ref, call.determinations[1].order_ref);
  // The id belongs to that call: another call cannot hand it out again.
  HookRecord other = make_call("one-coverage-2", "pat-9");
  other.determinations.resize(1);
  other.determinations[0].coverage_assertion_id = "shared-assertion";
  EXPECT_FALSE(store->record(other).ok());
  EXPECT_FALSE(store->find_by_hook_instance("one-coverage-2")->has_value());
}

TEST_P(AuditStoreTest, ConcurrentRetriesOfOneHookInstanceStoreExactlyOne) {
  auto store = open();
  ASSERT_TRUE(store);
  constexpr int kThreads = 16;
  std::vector<HookRecord> calls;
  for (int i = 0; i < kThreads; ++i) calls.push_back(make_call("race-1"));
  std::vector<Result<RecordOutcome>> results(kThreads, Error{"", "not run"});
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = store->record(calls[i]); });
  }
  for (auto& t : threads) t.join();
  int winners = 0;
  std::string winner_response;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].error().to_string();
    if (!results[i]->duplicate) {
      ++winners;
      winner_response = calls[i].response_json;
    }
  }
  ASSERT_EQ(winners, 1);
  for (int i = 0; i < kThreads; ++i) {
    if (results[i]->duplicate) {
      EXPECT_EQ(results[i]->existing->response_json, winner_response);
    }
  }
  EXPECT_EQ((*store->find_by_hook_instance("race-1"))->response_json, winner_response);
  EXPECT_EQ(count("SELECT COUNT(*) FROM determinations"), 1);
}

TEST_P(AuditStoreTest, TwoServersOnOneStoreStoreEachHookInstanceOnce) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  constexpr int kCalls = 40;
  std::atomic<int> inserted{0};
  std::atomic<int> failures{0};
  auto run = [&](AuditStore* store) {
    for (int i = 0; i < kCalls; ++i) {
      auto r = store->record(make_call("shared-" + std::to_string(i)));
      if (!r) {
        ++failures;
        ADD_FAILURE() << r.error().to_string();
      } else if (!r->duplicate) {
        ++inserted;
      }
    }
  };
  std::thread ta(run, a.get()), tb(run, b.get());
  ta.join();
  tb.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(inserted.load(), kCalls);
  EXPECT_EQ(count("SELECT COUNT(*) FROM hook_calls"), kCalls);
  EXPECT_EQ(count("SELECT COUNT(*) FROM determinations"), kCalls);
}

// ---- Concurrency and group commit ------------------------------------------------------------

TEST_P(AuditStoreTest, ConcurrentWritersAreAllRetrievable) {
  auto store = open();
  ASSERT_TRUE(store);
  constexpr int kThreads = 16;
  constexpr int kPerThread = 40;
  std::vector<std::vector<HookRecord>> calls(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      calls[t].push_back(make_call("c-" + std::to_string(t) + "-" + std::to_string(i),
                                   "pat-" + std::to_string(t)));
    }
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (const auto& c : calls[t]) {
        auto r = store->record(c);
        if (!r || r->duplicate) ++failures;
        // Durable and visible once record() returns.
        auto a = store->find_assertion(c.determinations[0].coverage_assertion_id);
        if (!a || a->empty()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  store.reset();  // and still there after a restart

  auto reopened = open();
  ASSERT_TRUE(reopened);
  for (const auto& per : calls) {
    for (const auto& c : per) {
      auto a = reopened->find_assertion(c.determinations[0].coverage_assertion_id);
      ASSERT_TRUE(a.ok() && !a->empty()) << c.hook_instance;
      EXPECT_EQ((*a)[0].call.hook_instance, c.hook_instance);
    }
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM hook_calls"), kThreads * kPerThread);
}

TEST_P(AuditStoreTest, ABadCallDoesNotFailTheOthersCommittedWithIt) {
  auto store = open();
  ASSERT_TRUE(store);
  HookRecord taken = make_call("first");
  ASSERT_TRUE(store->record(taken).ok());
  constexpr int kThreads = 12;
  std::vector<HookRecord> calls;
  for (int i = 0; i < kThreads; ++i) calls.push_back(make_call("batch-" + std::to_string(i)));
  // One call reuses an assertion id already handed out: it must fail, alone.
  calls[5].determinations[0].coverage_assertion_id = taken.determinations[0].coverage_assertion_id;
  std::vector<int> ok(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { ok[i] = store->record(calls[i]).ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(ok[i], i == 5 ? 0 : 1) << i;
  EXPECT_FALSE(store->find_by_hook_instance("batch-5")->has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM hook_calls"), kThreads);  // 11 + "first"
}

TEST_P(AuditStoreTest, StoreReconnectsWhenTheDatabaseDropsItsConnections) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "PostgreSQL only: a server-side disconnect";
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->record(make_call("before")).ok());
  ASSERT_TRUE(store->find_by_hook_instance("before")->has_value());
  // As when the database restarts or fails over: every connection of this store is cut.
  EXPECT_GE(pg_admin_count(admin_url_,
                           "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE application_name = '" +
                               schema_ + "'"),
            2);  // the writer and a reader
  HookRecord after = make_call("after");
  auto r = store->record(after);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(r->duplicate);
  auto found = store->find_assertion(after.determinations[0].coverage_assertion_id);
  ASSERT_TRUE(found.ok()) << found.error().to_string();
  EXPECT_FALSE(found->empty());
  EXPECT_TRUE(store->find_by_hook_instance("before")->has_value());
}

// ---- Feedback --------------------------------------------------------------------------------

TEST_P(AuditStoreTest, TheSameFeedbackIsStoredOnce) {
  auto store = open();
  ASSERT_TRUE(store);
  HookRecord call = make_call("fb-1");
  ASSERT_TRUE(store->record(call).ok());
  std::string card = cards_of(call)[0];
  auto f = make_feedback(card, "2026-02-01T10:00:00Z");
  auto r1 = store->record_feedback(f);
  ASSERT_TRUE(r1.ok()) << r1.error().to_string();
  EXPECT_EQ(*r1, FeedbackOutcome::kStored);
  auto r2 = store->record_feedback(f);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, FeedbackOutcome::kDuplicate);
  auto later = make_feedback(card, "2026-02-01T11:00:00Z");
  later.outcome = "accepted";
  later.override_reason_json.clear();
  later.accepted_suggestions_json = R"([{"id":"a1b2"}])";
  EXPECT_EQ(*store->record_feedback(later), FeedbackOutcome::kStored);
  EXPECT_EQ(count("SELECT COUNT(*) FROM feedback"), 2);

  // Concurrent deliveries of one feedback: one row.
  auto again = make_feedback(card, "2026-02-02T09:00:00Z");
  std::atomic<int> stored{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = store->record_feedback(again);
      if (r.ok() && *r == FeedbackOutcome::kStored) ++stored;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(stored.load(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM feedback"), 3);
}

TEST_P(AuditStoreTest, FeedbackForAnUnknownCardIsRejected) {
  auto store = open();
  ASSERT_TRUE(store);
  HookRecord call = make_call("fb-2");
  ASSERT_TRUE(store->record(call).ok());
  EXPECT_FALSE(*store->card_exists("00000000-0000-4000-8000-000000000000"));
  EXPECT_TRUE(*store->card_exists(cards_of(call)[0]));
  EXPECT_EQ(*store->record_feedback(make_feedback("00000000-0000-4000-8000-000000000000", "t")),
            FeedbackOutcome::kUnknownCard);
  auto other_service = make_feedback(cards_of(call)[0], "t");
  other_service.service_id = "another-service";
  EXPECT_EQ(*store->record_feedback(other_service), FeedbackOutcome::kUnknownCard);
  EXPECT_EQ(count("SELECT COUNT(*) FROM feedback"), 0);
  auto bad = make_feedback(cards_of(call)[0], "t");
  bad.accepted_suggestions_json = "{not json";
  EXPECT_FALSE(store->record_feedback(bad).ok());
}

// ---- Retention -------------------------------------------------------------------------------

TEST_P(AuditStoreTest, PurgeDeletesOldCallsWithEverythingTheyHandedOut) {
  auto store = open();
  ASSERT_TRUE(store);
  TimePoint t = now();
  HookRecord old_call = make_call("old", "pat-1", t - std::chrono::hours(24 * 400), 2);
  HookRecord new_call = make_call("new", "pat-1", t - std::chrono::hours(24));
  ASSERT_TRUE(store->record(old_call).ok());
  ASSERT_TRUE(store->record(new_call).ok());
  ASSERT_EQ(*store->record_feedback(make_feedback(cards_of(old_call)[0], "a")),
            FeedbackOutcome::kStored);
  ASSERT_EQ(*store->record_feedback(make_feedback(cards_of(new_call)[0], "b")),
            FeedbackOutcome::kStored);

  auto n = store->purge_before(t - std::chrono::hours(24 * 365));
  ASSERT_TRUE(n.ok()) << n.error().to_string();
  EXPECT_EQ(*n, 1);
  EXPECT_FALSE(store->find_by_hook_instance("old")->has_value());
  EXPECT_FALSE(!store->find_assertion(old_call.determinations[0].coverage_assertion_id)->empty());
  EXPECT_FALSE(*store->card_exists(cards_of(old_call)[0]));
  EXPECT_TRUE(store->find_by_hook_instance("new")->has_value());
  EXPECT_TRUE(*store->card_exists(cards_of(new_call)[0]));
  EXPECT_EQ(count("SELECT COUNT(*) FROM determinations"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM cards"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM feedback"), 1);
  EXPECT_EQ(*store->purge_before(t - std::chrono::hours(24 * 365)), 0);
}

TEST_P(AuditStoreTest, ARevisionKeepsTheAssertionIdAndSurvivesThePurgeOfTheFirstCall) {
  auto store = open();
  ASSERT_TRUE(store);
  TimePoint t = now();
  HookRecord first = make_call("first-sign", "pat-4", t - std::chrono::hours(24 * 400));
  first.determinations.resize(1);
  const std::string id = first.determinations[0].coverage_assertion_id;
  ASSERT_TRUE(store->record(first).ok());
  // A later call decides the same order again under the same id (the answers settled it).
  HookRecord revision = make_call("answered-sign", "pat-4", t - std::chrono::hours(1));
  revision.determinations.resize(1);
  revision.determinations[0].coverage_assertion_id = id;
  revision.determinations[0].order_ref = first.determinations[0].order_ref;
  revision.determinations[0].covered = "covered";
  revision.determinations[0].continues_assertion = true;
  auto r = store->record(revision);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto found = store->find_assertion(id);
  ASSERT_TRUE(found.ok()) << found.error().to_string();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].call.hook_instance, "first-sign");
  EXPECT_EQ((*found)[1].call.hook_instance, "answered-sign");
  EXPECT_EQ((*found)[1].determination.covered, "covered");
  // Without the flag the id is still refused to any other call.
  HookRecord other = make_call("other-sign", "pat-4");
  other.determinations.resize(1);
  other.determinations[0].coverage_assertion_id = id;
  EXPECT_FALSE(store->record(other).ok());
  // Retention removes the first call; the revision and its id stay.
  ASSERT_EQ(*store->purge_before(t - std::chrono::hours(24 * 365)), 1);
  found = store->find_assertion(id);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].call.hook_instance, "answered-sign");
  EXPECT_EQ(count("SELECT COUNT(*) FROM assertions"), 1);
}

// ---- What is never kept ----------------------------------------------------------------------

TEST_P(AuditStoreTest, FhirAuthorizationIsNeverStored) {
  const std::string secret = "SECRET-ACCESS-TOKEN-" + random_uuid();
  {
    auto store = open();
    ASSERT_TRUE(store);
    HookRecord call = make_call("auth-1");
    call.request_json =
        R"({"hook":"order-sign","hookInstance":"auth-1","fhirServer":"https://ehr.example.org/fhir",)"
        R"("fhirAuthorization":{"access_token":")" +
        secret +
        R"(","token_type":"Bearer","expires_in":300,"scope":"user/Patient.read","subject":"cds"},)"
        R"("context":{"patientId":"pat-1"}})";
    ASSERT_TRUE(store->record(call).ok());
    auto f = store->find_by_hook_instance("auth-1");
    ASSERT_TRUE(f.ok() && f->has_value());
    rapidjson::Document doc;
    doc.Parse((*f)->request_json.c_str());
    ASSERT_FALSE(doc.HasParseError());
    EXPECT_FALSE(doc.HasMember("fhirAuthorization"));
    EXPECT_STREQ(doc["context"]["patientId"].GetString(), "pat-1");
    EXPECT_EQ(count("SELECT COUNT(*) FROM hook_calls WHERE request_json LIKE '%SECRET-ACCESS%'"),
              0);
  }
  if (GetParam() == "sqlite") {
    // Not in the database file nor its write-ahead log.
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      EXPECT_EQ(bytes.str().find(secret), std::string::npos) << e.path();
    }
  }
}

TEST_P(AuditStoreTest, MalformedCallsAreRefusedAndNothingIsStored) {
  auto store = open();
  ASSERT_TRUE(store);
  HookRecord not_json = make_call("bad-1");
  not_json.request_json = "{\"fhirAuthorization\": \"tok";
  EXPECT_FALSE(store->record(not_json).ok());
  HookRecord no_id = make_call("");
  EXPECT_FALSE(store->record(no_id).ok());
  HookRecord bad_response = make_call("bad-2");
  bad_response.response_json = "[]";
  EXPECT_FALSE(store->record(bad_response).ok());
  // Criteria and fetched data must each be one JSON array: not an object, not cut short, not
  // followed by more.
  int n = 3;
  for (const char* criteria : {R"({"a":1})", "[1,2", "[1] [2]", "[] x", ""}) {
    HookRecord bad_criteria = make_call("bad-" + std::to_string(n++));
    bad_criteria.determinations.at(0).criteria_json = criteria;
    EXPECT_FALSE(store->record(bad_criteria).ok()) << criteria;
  }
  for (const char* fetched : {R"({"resourceType":"Bundle"})", "[{}", "[] []"}) {
    HookRecord bad_fetched = make_call("bad-" + std::to_string(n++));
    bad_fetched.fetched_json = fetched;
    EXPECT_FALSE(store->record(bad_fetched).ok()) << fetched;
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM hook_calls"), 0);
  HookRecord good = make_call("good-1");
  good.determinations.at(0).criteria_json = " [ ] ";
  good.fetched_json = R"([{"resourceType":"Bundle","type":"searchset"}])";
  EXPECT_TRUE(store->record(good).ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM hook_calls"), 1);
}

}  // namespace
}  // namespace cryo::audit

// ---- Payer staff look-up: member, date of service, export --------------------------------------

namespace cryo::audit {
namespace {

HookRecord call_for_member(const std::string& hook_instance, const std::string& member,
                           const std::string& date_of_service) {
  HookRecord c = make_call(hook_instance, "pat-" + member, now());
  for (auto& d : c.determinations) {
    d.member_id = member;
    d.date_of_service = date_of_service;
    d.billing_code = "47383";
    d.lookup_json = R"({"outcome":"Conditional: more information is needed","dateOfService":")" +
                    date_of_service + R"("})";
  }
  return c;
}

TEST_P(AuditStoreTest, DeterminationsAreFoundByMemberAndDateOfServiceAndExported) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->record(call_for_member("m-1", "M100", "2026-03-01")).ok());
  ASSERT_TRUE(store->record(call_for_member("m-2", "M100", "2026-04-15")).ok());
  ASSERT_TRUE(store->record(call_for_member("m-3", "M200", "2026-04-16")).ok());

  auto all = store->find_by_member("M100", "", "");
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].determination.date_of_service, "2026-03-01");
  EXPECT_EQ((*all)[1].call.hook_instance, "m-2");
  EXPECT_EQ((*all)[1].determination.member_id, "M100");
  EXPECT_EQ((*all)[1].determination.billing_code, "47383");

  auto april = store->find_by_member("M100", "2026-04-01", "2026-04-30");
  ASSERT_TRUE(april.ok());
  ASSERT_EQ(april->size(), 1u);
  EXPECT_EQ((*april)[0].call.hook_instance, "m-2");
  auto none = store->find_by_member("M100", "2026-05-01", "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // The claims export of a date range, oldest date of service first, bounded.
  auto range = store->find_by_date_of_service("2026-04-01", "2026-04-30", 100);
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->size(), 2u);
  EXPECT_EQ((*range)[0].determination.member_id, "M100");
  EXPECT_EQ((*range)[1].determination.member_id, "M200");
  auto capped = store->find_by_date_of_service("2026-01-01", "2026-12-31", 2);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->size(), 2u);
  std::string ndjson = to_ndjson(*range);
  EXPECT_EQ(std::count(ndjson.begin(), ndjson.end(), '\n'), 2);
  rapidjson::Document line;
  line.Parse(ndjson.substr(0, ndjson.find('\n')).c_str());
  ASSERT_FALSE(line.HasParseError());
  EXPECT_STREQ(line["memberId"].GetString(), "M100");
  EXPECT_STREQ(line["dateOfService"].GetString(), "2026-04-15");
  EXPECT_STREQ(line["lookup"]["outcome"].GetString(), "Conditional: more information is needed");

  // The look-up by assertion id carries the same details; a purge removes them with the call.
  auto one = store->find_assertion((*range)[0].determination.coverage_assertion_id);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].determination.member_id, "M100");
  EXPECT_NE((*one)[0].determination.lookup_json.find("Conditional"), std::string::npos);
  auto purged = store->purge_before(now() + std::chrono::hours(1));
  ASSERT_TRUE(purged.ok()) << purged.error().to_string();
  auto after = store->find_by_date_of_service("2026-01-01", "2026-12-31", 100);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

}  // namespace
}  // namespace cryo::audit
