// The audit store over either back end: a group-committing writer thread and a pool of
// reader connections.
#include "audit/store.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <span>
#include <thread>

#include <openssl/evp.h>

#include "audit/db.h"
#include "audit/json_text.h"
#include "base/log.h"
#include "base/thread_annotations.h"

namespace cryo::audit {
namespace {

using db::Conn;
using db::Param;
using db::Row;

// Upper bound of calls committed in one transaction.
constexpr std::size_t kMaxBatch = 512;

std::int64_t to_ms(TimePoint t) {
  return t.time_since_epoch().count();
}
TimePoint from_ms(std::int64_t ms) {
  return TimePoint(std::chrono::milliseconds(ms));
}
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// ---- Statements ------------------------------------------------------------------------------

constexpr const char* kInsertCall =
    "INSERT INTO hook_calls (hook_instance, hook, service_id, received_at_ms, client_iss,"
    " patient_id, payer_id, line_of_business, request_json, response_json, recorded_at_ms,"
    " request_sha256, fetched_json)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    " ON CONFLICT (hook_instance) DO NOTHING";
// The same, sent with the rest of a group: a hookInstance stored before fails the group's
// transaction (unique key), which is then redone one call at a time.
constexpr std::string_view kInsertNewCall(kInsertCall,
                                          std::string_view(kInsertCall).find(" ON CONFLICT"));
constexpr const char* kInsertDetermination =
    "INSERT INTO determinations (coverage_assertion_id, hook_instance, position, order_ref,"
    " covered, pa_needed, doc_needed, doc_purpose, info_needed, criteria_json, policy_id,"
    " policy_revision, service_version)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
// An assertion id belongs to one hook call: reusing it in another call fails the insert.
constexpr const char* kInsertAssertion =
    "INSERT INTO assertions (coverage_assertion_id, hook_instance) VALUES ($1, $2)";
// A determination revising an id handed out before (DeterminationRecord::continues_assertion):
// the id stays with the call that first handed it out.
constexpr const char* kKeepAssertion =
    "INSERT INTO assertions (coverage_assertion_id, hook_instance) VALUES ($1, $2)"
    " ON CONFLICT (coverage_assertion_id) DO NOTHING";
constexpr const char* kInsertCard =
    "INSERT INTO cards (card_uuid, hook_instance) VALUES ($1, $2)"
    " ON CONFLICT (card_uuid) DO NOTHING";

constexpr const char* kCallColumns =
    "h.hook_instance, h.hook, h.service_id, h.received_at_ms, h.client_iss, h.patient_id,"
    " h.payer_id, h.line_of_business";
constexpr const char* kDeterminationColumns =
    "d.order_ref, d.coverage_assertion_id, d.covered, d.pa_needed, d.doc_needed,"
    " d.doc_purpose, d.info_needed, d.criteria_json, d.policy_id, d.policy_revision,"
    " d.service_version, l.member_id, l.date_of_service, l.billing_code, l.lookup_json,"
    " h.response_json";
// Determinations stored before the look-up columns existed have no row here (NULL -> "").
constexpr const char* kLookupJoin =
    " LEFT JOIN determination_lookup l"
    " ON l.hook_instance = d.hook_instance AND l.position = d.position";
constexpr const char* kInsertLookup =
    "INSERT INTO determination_lookup (hook_instance, position, member_id, date_of_service,"
    " billing_code, lookup_json) VALUES ($1, $2, $3, $4, $5, $6)";

HookCallInfo read_call(const Row& r, std::size_t at) {
  HookCallInfo c;
  c.hook_instance = r.text(at + 0);
  c.hook = r.text(at + 1);
  c.service_id = r.text(at + 2);
  c.received_at = from_ms(r.int64(at + 3));
  c.client_iss = r.text(at + 4);
  c.patient_id = r.text(at + 5);
  c.payer_id = r.text(at + 6);
  c.line_of_business = r.text(at + 7);
  return c;
}

DeterminationRecord read_determination(const Row& r, std::size_t at) {
  DeterminationRecord d;
  d.order_ref = r.text(at + 0);
  d.coverage_assertion_id = r.text(at + 1);
  d.covered = r.text(at + 2);
  d.pa_needed = r.text(at + 3);
  d.doc_needed = r.text(at + 4);
  d.doc_purpose = r.text(at + 5);
  d.info_needed = r.text(at + 6);
  d.criteria_json = r.text(at + 7);
  d.policy_id = r.text(at + 8);
  d.policy_revision = r.text(at + 9);
  d.service_version = r.text(at + 10);
  d.member_id = r.text(at + 11);
  d.date_of_service = r.text(at + 12);
  d.billing_code = r.text(at + 13);
  d.lookup_json = json::lookup_with_cards(r.text(at + 14).empty() ? "{}" : r.text(at + 14),
                                          r.text(at + 15), d.order_ref);
  return d;
}

// The determinations a look-up selects (columns: kCallColumns, then kDeterminationColumns).
Result<std::vector<AssertionRecord>> assertions_of(Conn& conn, std::string_view sql,
                                                   std::initializer_list<db::Param> params) {
  auto rows = conn.query(sql, params);
  if (!rows) return rows.error();
  std::vector<AssertionRecord> out;
  out.reserve(rows->size());
  for (const Row& r : *rows) out.push_back({read_call(r, 0), read_determination(r, 8)});
  return out;
}

// ---- Writes: jobs run by the writer thread inside a transaction ----------------------------

struct Job {
  virtual ~Job() = default;
  // Runs inside an open transaction; may run again (in a new one) if the first did not commit.
  virtual Status apply(Conn& conn) = 0;

  // Jobs whose statements do not depend on earlier results can be sent all at once, in one
  // transaction with the rest of the group: append them and return true. The statements
  // must fail, not quietly do nothing, when the job cannot complete as sent (a hookInstance
  // stored before): the group is then redone one job at a time with apply().
  virtual bool append(std::vector<db::Statement>&) { return false; }

  Status status;
  bool done = false;
  // Its caller waits on this, so that a commit wakes only the callers it concerns.
  CondVar done_cv;
  bool abandoned = false;  // its caller stopped waiting (deadline): skip it if not yet begun
};

struct RecordJob final : Job {
  HookRecord owned_call;
  std::vector<std::string> owned_cards;
  const HookRecord* call = nullptr;
  const std::vector<std::string>* cards = nullptr;
  bool duplicate = false;

  // The statements that store the call: the call first, then its assertion ids, its
  // determinations (orders under one Coverage share an assertion id) and its cards.
  std::vector<db::Statement> statements(bool in_group) const {
    const HookRecord& c = *call;
    std::vector<db::Statement> out;
    out.push_back({in_group ? kInsertNewCall : std::string_view(kInsertCall),
                   {std::string_view(c.hook_instance), std::string_view(c.hook),
                    std::string_view(c.service_id), to_ms(c.received_at),
                    std::string_view(c.client_iss), std::string_view(c.patient_id),
                    std::string_view(c.payer_id), std::string_view(c.line_of_business),
                    std::string_view(c.request_json), std::string_view(c.response_json), now_ms(),
                    std::string_view(c.request_sha256), std::string_view(c.fetched_json)}});
    std::vector<std::string_view> assertion_ids;
    for (const DeterminationRecord& d : c.determinations) {
      if (std::find(assertion_ids.begin(), assertion_ids.end(), d.coverage_assertion_id) !=
          assertion_ids.end())
        continue;
      assertion_ids.push_back(d.coverage_assertion_id);
      out.push_back(
          {d.continues_assertion ? kKeepAssertion : kInsertAssertion,
           {std::string_view(d.coverage_assertion_id), std::string_view(c.hook_instance)}});
    }
    std::int64_t position = 0;
    for (const DeterminationRecord& d : c.determinations) {
      out.push_back({kInsertDetermination,
                     {std::string_view(d.coverage_assertion_id), std::string_view(c.hook_instance),
                      position++, std::string_view(d.order_ref), std::string_view(d.covered),
                      std::string_view(d.pa_needed), std::string_view(d.doc_needed),
                      std::string_view(d.doc_purpose), std::string_view(d.info_needed),
                      std::string_view(d.criteria_json), std::string_view(d.policy_id),
                      std::string_view(d.policy_revision), std::string_view(d.service_version)}});
    }
    position = 0;
    for (const DeterminationRecord& d : c.determinations) {
      out.push_back({kInsertLookup,
                     {std::string_view(c.hook_instance), position++, std::string_view(d.member_id),
                      std::string_view(d.date_of_service), std::string_view(d.billing_code),
                      std::string_view(d.lookup_json)}});
    }
    for (const std::string& uuid : *cards) {
      out.push_back({kInsertCard, {std::string_view(uuid), std::string_view(c.hook_instance)}});
    }
    return out;
  }

  // Sent together with the group. A duplicate fails the group, which is redone with apply()
  // (that writes nothing else for a duplicate).
  bool append(std::vector<db::Statement>& out) override {
    duplicate = false;
    for (auto& st : statements(true)) out.push_back(std::move(st));
    return true;
  }

  Status apply(Conn& conn) override {
    duplicate = false;
    bool first = true;
    for (const db::Statement& st : statements(false)) {
      auto r = conn.execute(st.sql, std::span<const db::Param>(st.params));
      if (!r) return r.error();
      if (first && *r == 0) {
        duplicate = true;  // stored before (or earlier in this batch): write nothing
        return {};
      }
      first = false;
    }
    return {};
  }
};

struct FeedbackJob final : Job {
  FeedbackRecord owned;
  const FeedbackRecord* fb = nullptr;
  FeedbackOutcome outcome = FeedbackOutcome::kStored;

  Status apply(Conn& conn) override {
    const FeedbackRecord& f = *fb;
    // The card must have been handed out by this service.
    auto card = conn.query(
        "SELECT 1 FROM cards c JOIN hook_calls h ON h.hook_instance = c.hook_instance"
        " WHERE c.card_uuid = $1 AND h.service_id = $2",
        {std::string_view(f.card_uuid), std::string_view(f.service_id)});
    if (!card) return card.error();
    if (card->empty()) {
      outcome = FeedbackOutcome::kUnknownCard;
      return {};
    }
    auto n = conn.execute(
        "INSERT INTO feedback (service_id, card_uuid, outcome, outcome_timestamp,"
        " accepted_suggestions_json, override_reason_json, received_at_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (service_id, card_uuid, outcome, outcome_timestamp) DO NOTHING",
        {std::string_view(f.service_id), std::string_view(f.card_uuid), std::string_view(f.outcome),
         std::string_view(f.outcome_timestamp), std::string_view(f.accepted_suggestions_json),
         std::string_view(f.override_reason_json), now_ms()});
    if (!n) return n.error();
    outcome = *n == 1 ? FeedbackOutcome::kStored : FeedbackOutcome::kDuplicate;
    return {};
  }
};

struct PurgeJob final : Job {
  std::int64_t cutoff_ms = 0;
  std::int64_t deleted = 0;

  Status apply(Conn& conn) override {
    // Children first, so the purge does not depend on foreign-key enforcement.
    constexpr const char* kStatements[] = {
        "DELETE FROM feedback WHERE card_uuid IN (SELECT c.card_uuid FROM cards c JOIN hook_calls"
        " h ON h.hook_instance = c.hook_instance WHERE h.received_at_ms < $1)",
        "DELETE FROM cards WHERE hook_instance IN"
        " (SELECT hook_instance FROM hook_calls WHERE received_at_ms < $1)",
        "DELETE FROM determinations WHERE hook_instance IN"
        " (SELECT hook_instance FROM hook_calls WHERE received_at_ms < $1)",
        "DELETE FROM determination_lookup WHERE hook_instance IN"
        " (SELECT hook_instance FROM hook_calls WHERE received_at_ms < $1)",
        // An id a later call revised stays, with that call (its determinations are kept).
        "UPDATE assertions SET hook_instance = (SELECT MAX(d.hook_instance) FROM determinations d"
        " WHERE d.coverage_assertion_id = assertions.coverage_assertion_id)"
        " WHERE hook_instance IN (SELECT hook_instance FROM hook_calls WHERE received_at_ms < $1)"
        " AND EXISTS (SELECT 1 FROM determinations d"
        " WHERE d.coverage_assertion_id = assertions.coverage_assertion_id)",
        "DELETE FROM assertions WHERE hook_instance IN"
        " (SELECT hook_instance FROM hook_calls WHERE received_at_ms < $1)",
    };
    for (const char* sql : kStatements) {
      auto r = conn.execute(sql, {cutoff_ms});
      if (!r) return r.error();
    }
    auto n = conn.execute("DELETE FROM hook_calls WHERE received_at_ms < $1", {cutoff_ms});
    if (!n) return n.error();
    deleted = *n;
    return {};
  }
};

// ---- Health ----------------------------------------------------------------------------------

// What the store knows of its database: whether operations are answered. An operation that
// has run longer than the store deadline, or a lost connection, marks it down; new operations then
// fail at once and waiting ones stop waiting, so that callers are never held by a database that
// does not answer. It is up again as soon as an operation (or a probe) completes.
class Health {
 public:
  bool up() const { return up_.load(std::memory_order_acquire); }
  void succeeded() {
    failed_.store(false);
    up_.store(true, std::memory_order_release);
  }
  void failed() {
    failed_.store(true);
    up_.store(false, std::memory_order_release);
  }
  bool failing() const { return failed_.load(); }
  void stalled() { up_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> up_{true};
  std::atomic<bool> failed_{false};
};

Error unavailable() {
  return Error{"audit store", "the database does not answer"};
}
Error too_slow() {
  return Error{"audit store", "no answer within the store deadline"};
}

// Steady-clock milliseconds, for the stall watch.
std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- Reader pool -----------------------------------------------------------------------------

// Reads run on a few threads, each with its own connection; the caller waits for its read at
// most until its deadline (or until the store is down), so a database that stops answering
// holds a reader thread, never the caller.
class ReaderPool {
 public:
  ReaderPool(db::ConnFactory factory, Health& health, std::size_t threads)
      : factory_(std::move(factory)), health_(health), busy_since_(threads) {
    for (auto& b : busy_since_) b.store(0);
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { loop(i); });
  }
  ~ReaderPool() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Runs fn(conn) on a reader connection (once more on a fresh one if the connection broke)
  // and returns its result, or an Error when the deadline passes or the store is down first.
  // fn must own what it uses: it may run after the caller stopped waiting.
  template <class R>
  Result<R> run(std::function<Result<R>(Conn&)> fn,
                std::chrono::steady_clock::time_point deadline) {
    if (!health_.up()) return unavailable();
    auto promise = std::make_shared<std::promise<Result<R>>>();
    auto future = promise->get_future();
    auto task = std::make_shared<Task>();
    // Returns false to be run again on a fresh connection (this one broke during the read).
    task->run = [fn = std::move(fn), promise](Conn* conn, const Error* error, bool last) {
      if (conn == nullptr) {
        promise->set_value(Result<R>(*error));
        return true;
      }
      auto result = fn(*conn);
      if (conn->broken() && !last) return false;
      promise->set_value(std::move(result));
      return true;
    };
    {
      MutexLock lock(mu_);
      if (stopping_) return Error{"audit store", "closing"};
      queue_.push_back(task);
    }
    cv_.notify_one();
    for (;;) {
      auto now = std::chrono::steady_clock::now();
      auto slice = std::min(deadline, now + std::chrono::milliseconds(20));
      if (future.wait_until(slice) == std::future_status::ready) return future.get();
      if (std::chrono::steady_clock::now() >= deadline || !health_.up()) {
        task->abandoned.store(true);
        return std::chrono::steady_clock::now() >= deadline ? too_slow() : unavailable();
      }
    }
  }

  // A read that nobody waits for: completes (and so marks the store up) when the database
  // answers again.
  void probe() {
    bool expected = false;
    if (!probing_.compare_exchange_strong(expected, true)) return;
    auto task = std::make_shared<Task>();
    task->run = [this](Conn* conn, const Error*, bool) {
      if (conn) (void)conn->query("SELECT 1");
      probing_.store(false);
      return true;
    };
    {
      MutexLock lock(mu_);
      queue_.push_back(task);
    }
    cv_.notify_one();
  }

  // Milliseconds the longest-running read has been running (0: none running).
  std::int64_t oldest_running_ms(std::int64_t now) const {
    std::int64_t oldest = 0;
    for (const auto& b : busy_since_) {
      std::int64_t since = b.load();
      if (since != 0) oldest = std::max(oldest, now - since);
    }
    return oldest;
  }

 private:
  struct Task {
    std::function<bool(Conn*, const Error*, bool last)> run;
    std::atomic<bool> abandoned{false};
  };

  void loop(std::size_t index) {
    std::unique_ptr<Conn> conn;
    for (;;) {
      std::shared_ptr<Task> task;
      {
        MutexLock lock(mu_);
        cv_.wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      if (task->abandoned.load()) continue;
      busy_since_[index].store(steady_ms());
      for (int attempt = 0; attempt < 2; ++attempt) {
        if (!conn || conn->broken()) {
          conn.reset();
          auto c = factory_();
          if (!c) {
            health_.failed();
            task->run(nullptr, &c.error(), true);
            break;
          }
          conn = std::move(*c);
        }
        const bool finished = task->run(conn.get(), nullptr, attempt == 1);
        if (conn->broken()) {
          health_.failed();
        } else {
          health_.succeeded();
        }
        if (finished) break;
      }
      busy_since_[index].store(0);
    }
  }

  db::ConnFactory factory_;
  Health& health_;
  std::vector<std::atomic<std::int64_t>> busy_since_;
  std::vector<std::thread> threads_;
  Mutex mu_;
  CondVar cv_;
  std::deque<std::shared_ptr<Task>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::atomic<bool> probing_{false};
};

// ---- The store -------------------------------------------------------------------------------

class Store final : public AuditStore {
 public:
  Store(std::string backend, db::ConnFactory writer_factory, std::unique_ptr<Conn> writer,
        db::ConnFactory reader_factory, StoreOptions options)
      : backend_(std::move(backend)),
        options_(options),
        checkpoint_factory_(backend_ == "sqlite" ? writer_factory : db::ConnFactory()),
        writer_factory_(std::move(writer_factory)),
        writer_conn_(std::move(writer)),
        readers_(std::move(reader_factory), health_, kReaderThreads) {
    writer_ = std::thread([this] { writer_loop(); });
    watch_ = std::thread([this] { watch_loop(); });
    if (checkpoint_factory_) checkpointer_ = std::thread([this] { checkpoint_loop(); });
  }

  ~Store() override {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    watch_cv_.notify_all();
    watch_.join();
    if (checkpointer_.joinable()) checkpointer_.join();
    writer_.join();
  }

  bool healthy() const override { return health_.up(); }

  Result<RecordOutcome> record(HookRecord call) override {
    if (call.hook_instance.empty()) return Error{"hookInstance", "missing"};
    for (std::string_view id :
         {std::string_view(call.hook_instance), std::string_view(call.client_iss),
          std::string_view(call.patient_id), std::string_view(call.service_id)}) {
      if (id.find('\0') != std::string_view::npos) return Error{"hook call", "an id contains NUL"};
    }
    if (call.received_at == TimePoint{}) {
      call.received_at = std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now());
    }
    auto request = json::strip_authorization(std::move(call.request_json));
    if (!request) return request.error();
    call.request_json = std::move(*request);
    if (call.request_sha256.empty()) call.request_sha256 = request_digest(call.request_json);
    Result<std::vector<std::string>> cards =
        call.card_uuids ? Result<std::vector<std::string>>(std::move(*call.card_uuids))
                        : json::card_uuids(call.response_json);
    if (!cards) return cards.error();
    if (!call.fetched_json.empty() && !json::is_array(call.fetched_json))
      return Error{"hook call", "the data read from the FHIR server is not a JSON array"};
    for (const auto& d : call.determinations) {
      if (d.coverage_assertion_id.empty()) {
        return Error{"determination " + d.order_ref, "missing coverage-assertion-id"};
      }
      if (!json::is_array(d.criteria_json)) {
        return Error{"determination " + d.coverage_assertion_id, "criteria are not a JSON array"};
      }
    }

    const auto deadline = std::chrono::steady_clock::now() + options_.deadline;
    auto job = std::make_shared<RecordJob>();
    job->owned_call = std::move(call);
    job->owned_cards = std::move(*cards);
    job->call = &job->owned_call;
    job->cards = &job->owned_cards;
    if (Status s = submit(job, deadline); !s) return s.error();
    if (!job->duplicate) return RecordOutcome{};

    const HookRecord& call_ref = job->owned_call;
    auto existing = load_by_hook_instance(call_ref.hook_instance, deadline);
    if (!existing) return existing.error();
    if (!*existing) return Error{call_ref.hook_instance, "stored call disappeared (purged?)"};
    if (!same_call(**existing, call_ref.client_iss, call_ref.patient_id, call_ref.request_sha256)) {
      RecordOutcome conflict;
      conflict.conflict = true;
      return conflict;
    }
    return RecordOutcome{true, std::move(**existing), false};
  }

  Result<std::optional<HookRecord>> find_by_hook_instance(std::string_view id) override {
    return load_by_hook_instance(id, std::chrono::steady_clock::now() + options_.deadline);
  }

  Result<std::optional<HookRecord>> load_by_hook_instance(
      std::string_view id, std::chrono::steady_clock::time_point deadline) {
    if (id.find('\0') != std::string_view::npos) return Error{"hookInstance", "contains NUL"};
    return readers_.run<std::optional<HookRecord>>(
        [id = std::string(id)](Conn& conn) -> Result<std::optional<HookRecord>> {
          if (Status s = conn.begin(db::TxMode::kRead); !s) return s.error();
          auto result = load_call(conn, id);
          conn.rollback();  // read-only snapshot: nothing to commit
          return result;
        },
        deadline);
  }

  Result<std::vector<AssertionRecord>> find_assertion(std::string_view id_view) override {
    return read<std::vector<AssertionRecord>>(
        [id = std::string(id_view)](Conn& conn) -> Result<std::vector<AssertionRecord>> {
          return assertions_of(
              conn,
              std::string("SELECT ") + kCallColumns + ", " + kDeterminationColumns +
                  " FROM determinations d JOIN hook_calls h"
                  " ON h.hook_instance = d.hook_instance" +
                  kLookupJoin +
                  " WHERE d.coverage_assertion_id = $1"
                  " ORDER BY h.received_at_ms, h.recorded_at_ms, h.hook_instance, d.position",
              {std::string_view(id)});
        });
  }

  Result<std::vector<AssertionRecord>> find_assertions(std::string_view patient_view,
                                                       TimePoint since) override {
    return read<std::vector<AssertionRecord>>(
        [patient_id = std::string(patient_view),
         since](Conn& conn) -> Result<std::vector<AssertionRecord>> {
          return assertions_of(conn,
                               std::string("SELECT ") + kCallColumns + ", " +
                                   kDeterminationColumns +
                                   " FROM hook_calls h JOIN determinations d"
                                   " ON d.hook_instance = h.hook_instance" +
                                   kLookupJoin +
                                   " WHERE h.patient_id = $1 AND h.received_at_ms >= $2"
                                   " ORDER BY h.received_at_ms, h.hook_instance, d.position",
                               {std::string_view(patient_id), to_ms(since)});
        });
  }

  Result<std::vector<AssertionRecord>> find_by_member(std::string_view member_view,
                                                      std::string_view from_view,
                                                      std::string_view to_view) override {
    return read<std::vector<AssertionRecord>>(
        [member = std::string(member_view), from = std::string(from_view),
         to = std::string(to_view)](Conn& conn) -> Result<std::vector<AssertionRecord>> {
          return assertions_of(
              conn,
              std::string("SELECT ") + kCallColumns + ", " + kDeterminationColumns +
                  " FROM determination_lookup l JOIN determinations d"
                  " ON d.hook_instance = l.hook_instance AND d.position = l.position"
                  " JOIN hook_calls h ON h.hook_instance = d.hook_instance"
                  " WHERE l.member_id = $1 AND ($2 = '' OR l.date_of_service >= $2)"
                  " AND ($3 = '' OR l.date_of_service <= $3)"
                  " ORDER BY l.date_of_service, h.received_at_ms, h.hook_instance, d.position",
              {std::string_view(member), std::string_view(from), std::string_view(to)});
        });
  }

  Result<std::vector<AssertionRecord>> find_by_date_of_service(std::string_view from_view,
                                                               std::string_view to_view,
                                                               std::size_t limit) override {
    return read<std::vector<AssertionRecord>>(
        [from = std::string(from_view), to = std::string(to_view),
         limit](Conn& conn) -> Result<std::vector<AssertionRecord>> {
          return assertions_of(
              conn,
              std::string("SELECT ") + kCallColumns + ", " + kDeterminationColumns +
                  " FROM determination_lookup l JOIN determinations d"
                  " ON d.hook_instance = l.hook_instance AND d.position = l.position"
                  " JOIN hook_calls h ON h.hook_instance = d.hook_instance"
                  " WHERE l.date_of_service >= $1 AND l.date_of_service <= $2"
                  " ORDER BY l.date_of_service, h.received_at_ms, h.hook_instance, d.position"
                  " LIMIT " +
                  std::to_string(limit),
              {std::string_view(from), std::string_view(to)});
        });
  }

  Result<FeedbackOutcome> record_feedback(FeedbackRecord feedback) override {
    if (feedback.card_uuid.empty()) return FeedbackOutcome::kUnknownCard;
    if (feedback.accepted_suggestions_json.empty()) feedback.accepted_suggestions_json = "[]";
    if (!json::is_array(feedback.accepted_suggestions_json)) {
      return Error{"acceptedSuggestions", "not a JSON array"};
    }
    if (!feedback.override_reason_json.empty() && !json::is_object(feedback.override_reason_json)) {
      return Error{"overrideReason", "not a JSON object"};
    }
    auto job = std::make_shared<FeedbackJob>();
    job->owned = std::move(feedback);
    job->fb = &job->owned;
    if (Status s = submit(job, std::chrono::steady_clock::now() + options_.deadline); !s) {
      return s.error();
    }
    return job->outcome;
  }

  Result<bool> card_exists(std::string_view card_view) override {
    return read<bool>([card_uuid = std::string(card_view)](Conn& conn) -> Result<bool> {
      auto rows =
          conn.query("SELECT 1 FROM cards WHERE card_uuid = $1", {std::string_view(card_uuid)});
      if (!rows) return rows.error();
      return !rows->empty();
    });
  }

  Result<std::int64_t> purge_before(TimePoint cutoff) override {
    auto job = std::make_shared<PurgeJob>();
    job->cutoff_ms = to_ms(cutoff);
    // A purge may take long: it waits as long as the database answers.
    if (Status s = submit(job, std::chrono::steady_clock::time_point::max()); !s) {
      return s.error();
    }
    return job->deleted;
  }

  Result<bool> remember_token_id(std::string_view issuer, std::string_view jti,
                                 TimePoint expires_at, TimePoint now) override {
    if (backend_ != "postgresql")
      return Error{"audit store", "token ids are shared on PostgreSQL only"};
    const std::int64_t now_at = to_ms(now);
    return read<bool>([this, issuer = std::string(issuer), jti = std::string(jti),
                       expires = to_ms(expires_at), now_at](Conn& conn) -> Result<bool> {
      // One statement, atomic between replicas: a new id is inserted, an expired one renewed,
      // an unexpired one left alone (0 rows).
      auto n = conn.execute(
          "INSERT INTO token_ids (issuer, jti, expires_at_ms) VALUES ($1, $2, $3)"
          " ON CONFLICT (issuer, jti) DO UPDATE SET expires_at_ms = EXCLUDED.expires_at_ms"
          " WHERE token_ids.expires_at_ms <= $4",
          {std::string_view(issuer), std::string_view(jti), expires, now_at});
      if (!n) return n.error();
      if (now_at - last_token_purge_ms_.load() > kTokenPurgeIntervalMs) {
        last_token_purge_ms_ = now_at;
        if (auto p = conn.execute("DELETE FROM token_ids WHERE expires_at_ms <= $1", {now_at});
            !p) {
          log::warn("purging expired token ids failed", {{"error", p.error().to_string()}});
        }
      }
      return *n == 1;
    });
  }

  Result<std::int64_t> for_each_call(TimePoint since, std::string_view payer_id,
                                     const std::function<bool(const HookRecord&)>& visit) override {
    // Small pages: each is one short read (the store counts a long-running read as a stall).
    constexpr std::int64_t kPage = 20;
    struct Page {
      std::vector<HookRecord> calls;
      std::size_t fetched = 0;
      std::string last_id;
      std::int64_t last_ms = 0;
    };
    std::int64_t after_ms = to_ms(since) - 1;
    std::string after_id;  // keyset pagination on (received_at_ms, hook_instance)
    std::int64_t visited = 0;
    for (;;) {
      // The reader owns what it uses (it may outlive a caller that stopped waiting).
      auto page = read<Page>(
          [after_ms, after_id, payer = std::string(payer_id)](Conn& conn) -> Result<Page> {
            auto ids = conn.query(
                "SELECT hook_instance, received_at_ms FROM hook_calls"
                " WHERE (received_at_ms > $1 OR (received_at_ms = $1 AND hook_instance > $2))"
                " AND ($3 = '' OR payer_id = $3)"
                " ORDER BY received_at_ms, hook_instance LIMIT " +
                    std::to_string(kPage),
                {after_ms, std::string_view(after_id), std::string_view(payer)});
            if (!ids) return ids.error();
            Page out;
            out.fetched = ids->size();
            if (Status s = conn.begin(db::TxMode::kRead); !s) return s.error();
            for (const Row& r : *ids) {
              auto call = load_call(conn, r.text(0));
              if (!call) {
                conn.rollback();
                return call.error();
              }
              if (*call) out.calls.push_back(std::move(**call));
            }
            conn.rollback();
            if (!ids->empty()) {
              out.last_id = ids->back().text(0);
              out.last_ms = ids->back().int64(1);
            }
            return out;
          });
      if (!page) return page.error();
      for (const HookRecord& call : page->calls) {
        ++visited;
        if (!visit(call)) return visited;
      }
      if (static_cast<std::int64_t>(page->fetched) < kPage) return visited;
      after_id = page->last_id;
      after_ms = page->last_ms;
    }
  }

  std::string_view backend() const override { return backend_; }

 private:
  static constexpr std::int64_t kTokenPurgeIntervalMs = 60'000;
  std::atomic<std::int64_t> last_token_purge_ms_{0};

  static Result<std::optional<HookRecord>> load_call(Conn& conn, std::string_view id) {
    auto calls = conn.query(std::string("SELECT ") + kCallColumns +
                                ", h.request_json, h.response_json, h.request_sha256,"
                                " h.fetched_json FROM hook_calls h"
                                " WHERE h.hook_instance = $1",
                            {id});
    if (!calls) return calls.error();
    if (calls->empty()) return std::optional<HookRecord>();
    const Row& r = calls->front();
    HookCallInfo info = read_call(r, 0);
    HookRecord rec;
    rec.hook_instance = std::move(info.hook_instance);
    rec.hook = std::move(info.hook);
    rec.service_id = std::move(info.service_id);
    rec.received_at = info.received_at;
    rec.client_iss = std::move(info.client_iss);
    rec.patient_id = std::move(info.patient_id);
    rec.payer_id = std::move(info.payer_id);
    rec.line_of_business = std::move(info.line_of_business);
    rec.request_json = r.text(8);
    rec.response_json = r.text(9);
    rec.request_sha256 = r.text(10);
    rec.fetched_json = r.text(11);
    // Calls stored before digests were kept: the digest of what was stored.
    if (rec.request_sha256.empty()) rec.request_sha256 = request_digest(rec.request_json);

    auto dets =
        conn.query(std::string("SELECT ") + kDeterminationColumns + " FROM determinations d" +
                       " JOIN hook_calls h ON h.hook_instance = d.hook_instance" + kLookupJoin +
                       " WHERE d.hook_instance = $1 ORDER BY d.position",
                   {id});
    if (!dets) return dets.error();
    for (const Row& d : *dets) rec.determinations.push_back(read_determination(d, 0));
    return std::optional<HookRecord>(std::move(rec));
  }

  template <class R>
  Result<R> read(std::function<Result<R>(Conn&)> fn) {
    return readers_.run<R>(std::move(fn), std::chrono::steady_clock::now() + options_.deadline);
  }

  // Queues the job and waits until the writer has committed it (or failed), at most until
  // `deadline` and only while the database answers: a caller that stops waiting leaves the
  // job behind (skipped if it has not begun; if it commits later, its ids were never sent).
  Status submit(const std::shared_ptr<Job>& job, std::chrono::steady_clock::time_point deadline) {
    if (!health_.up()) return unavailable();
    {
      MutexLock lock(mu_);
      if (stopping_) return Error{"audit store", "closing"};
      queue_.push_back(job);
    }
    queue_cv_.notify_one();
    MutexLock lock(mu_);
    while (!job->done) {
      auto slice =
          std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
      job->done_cv.wait_until(lock, slice, [&] { return job->done; });
      if (job->done) break;
      const bool late = std::chrono::steady_clock::now() >= deadline;
      if (late || !health_.up()) {
        job->abandoned = true;
        return late ? too_slow() : unavailable();
      }
    }
    return job->status;
  }

  void writer_loop() {
    std::vector<std::shared_ptr<Job>> taken;
    std::vector<Job*> batch;
    for (;;) {
      {
        MutexLock lock(mu_);
        queue_cv_.wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        taken.clear();
        batch.clear();
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          std::shared_ptr<Job> j = std::move(queue_.front());
          queue_.pop_front();
          if (j->abandoned) continue;  // its caller has answered 503 already
          batch.push_back(j.get());
          taken.push_back(std::move(j));
        }
      }
      if (!batch.empty()) {
        writer_busy_since_.store(steady_ms());
        commit_batch(batch);
        writer_busy_since_.store(0);
        bool ok = false;
        std::size_t committed = 0;
        for (Job* j : batch) {
          ok |= j->status.ok();
          committed += j->status.ok() ? 1 : 0;
        }
        if (committed > 0 && options_.on_group_committed) options_.on_group_committed(committed);
        if (ok || (writer_conn_ && !writer_conn_->broken())) {
          health_.succeeded();
        } else {
          health_.failed();
        }
      }
      {
        MutexLock lock(mu_);
        for (Job* j : batch) j->done = true;
      }
      for (Job* j : batch) j->done_cv.notify_one();
      if (!batch.empty() && writer_conn_) {
        const std::int64_t start = steady_ms();
        writer_busy_since_.store(start);
        writer_conn_->after_commit();
        writer_busy_since_.store(0);
        // Commits queued meanwhile waited for it: say so when that was long.
        if (const std::int64_t took = steady_ms() - start; took > 250) {
          log::warn("audit store housekeeping held the writer",
                    {{"took_ms", std::to_string(took)}});
        }
      }
    }
  }

  // SQLite: copies the WAL into the database file every 50 ms, on a connection of its own, so
  // that no commit a caller waits for does it. Often enough that the writer's own checkpoint
  // (after_commit) finds little left to copy: at 32 clients its p99 fell from 25-36 ms (every
  // 250 ms) to 19-22 ms.
  void checkpoint_loop() {
    std::unique_ptr<Conn> conn;
    MutexLock lock(mu_);
    while (!stopping_) {
      watch_cv_.wait_for(lock, std::chrono::milliseconds(50));
      if (stopping_) break;
      lock.unlock();
      if (!conn) {
        auto c = checkpoint_factory_();
        if (c) conn = std::move(*c);
      }
      if (conn) {
        if (Status s = db::checkpoint_sqlite(*conn); !s) {
          log::warn("audit store checkpoint failed", {{"error", s.error().to_string()}});
          conn.reset();
        }
      }
      lock.lock();
    }
  }

  // Marks the store down when an operation stalls; while it is down and nothing is running,
  // probes the database so that it is marked up as soon as it answers.
  void watch_loop() {
    MutexLock lock(mu_);
    while (!stopping_) {
      watch_cv_.wait_for(lock, std::chrono::milliseconds(25));
      if (stopping_) break;
      const std::int64_t now = steady_ms();
      const std::int64_t writer_since = writer_busy_since_.load();
      const std::int64_t stalled =
          std::max(readers_.oldest_running_ms(now), writer_since ? now - writer_since : 0);
      if (stalled > options_.deadline.count()) {
        if (health_.up())
          log::warn("audit store not answering", {{"stalled_ms", std::to_string(stalled)}});
        health_.stalled();
      } else if (!health_.up() && stalled == 0) {
        readers_.probe();
      }
    }
  }

  Status ensure_writer() {
    if (writer_conn_ && !writer_conn_->broken()) return {};
    writer_conn_.reset();
    auto c = writer_factory_();
    if (!c) return c.error();
    writer_conn_ = std::move(*c);
    return {};
  }

  // All statements of the batch and its commit sent at once (one round trip on PostgreSQL).
  // False when some job cannot be sent that way or something failed (a duplicate hookInstance
  // among them); then nothing of the batch was committed.
  bool commit_sent_together(const std::vector<Job*>& batch) {
    std::vector<db::Statement> statements;
    for (Job* j : batch) {
      if (!j->append(statements)) return false;
    }
    if (!ensure_writer()) return false;
    Conn& conn = *writer_conn_;
    if (conn.execute_and_commit(statements)) {
      for (Job* j : batch) j->status = Status::Ok();
      return true;
    }
    conn.rollback();
    return false;
  }

  // Everything queued in one transaction; if that fails, each job on its own so that one bad
  // call does not fail the others.
  void commit_batch(const std::vector<Job*>& batch) {
    if (commit_sent_together(batch)) return;
    if (batch.size() > 1 && ensure_writer()) {
      Conn& conn = *writer_conn_;
      Status s = conn.begin(db::TxMode::kWrite);
      for (std::size_t i = 0; s && i < batch.size(); ++i) s = batch[i]->apply(conn);
      if (s) s = conn.commit();
      if (s) {
        for (Job* j : batch) j->status = Status::Ok();
        return;
      }
      conn.rollback();
    }
    for (Job* j : batch) j->status = commit_one(*j);
  }

  Status commit_one(Job& job) {
    Status s;
    // A second attempt only after a lost connection. Retrying is safe even if the first commit
    // did reach the database: calls and feedback are keyed, purges are repeatable.
    for (int attempt = 0; attempt < 2; ++attempt) {
      s = ensure_writer();
      if (!s) continue;
      Conn& conn = *writer_conn_;
      s = conn.begin(db::TxMode::kWrite);
      if (s) s = job.apply(conn);
      if (s) s = conn.commit();
      if (s) return s;
      conn.rollback();
      if (!conn.broken()) break;
    }
    log::error("audit store write failed", {{"error", s.error().to_string()}});
    return s;
  }

  static constexpr std::size_t kReaderThreads = 4;

  const std::string backend_;
  const StoreOptions options_;
  db::ConnFactory checkpoint_factory_;  // SQLite only
  Health health_;
  db::ConnFactory writer_factory_;
  std::unique_ptr<Conn> writer_conn_;  // used by the writer thread only
  ReaderPool readers_;

  Mutex mu_;
  CondVar queue_cv_;
  std::deque<std::shared_ptr<Job>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::atomic<std::int64_t> writer_busy_since_{0};
  CondVar watch_cv_;
  std::thread writer_;
  std::thread watch_;
  std::thread checkpointer_;
};

Result<std::unique_ptr<AuditStore>> open_with(std::string backend, db::ConnFactory writer_factory,
                                              db::ConnFactory reader_factory,
                                              StoreOptions options) {
  auto writer = writer_factory();
  if (!writer) return writer.error();
  if (Status s = db::migrate(**writer, db::latest_schema_version()); !s) return s.error();
  return std::unique_ptr<AuditStore>(
      std::make_unique<Store>(std::move(backend), std::move(writer_factory), std::move(*writer),
                              std::move(reader_factory), options));
}

}  // namespace

std::string request_digest(std::string_view request_json) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(request_json.data(), request_json.size(), digest, &len, EVP_sha256(), nullptr) !=
      1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

bool same_call(const HookRecord& stored, std::string_view client_iss, std::string_view patient_id,
               std::string_view request_sha256) {
  return !request_sha256.empty() && stored.client_iss == client_iss &&
         stored.patient_id == patient_id && stored.request_sha256 == request_sha256;
}

Result<std::unique_ptr<AuditStore>> open_store(std::string_view url_or_dir, StoreOptions options) {
  if (url_or_dir.starts_with("postgresql://") || url_or_dir.starts_with("postgres://")) {
    std::string url(url_or_dir);
    db::ConnFactory factory = [url] { return db::open_postgres(url); };
    return open_with("postgresql", factory, factory, options);
  }

  std::string file;
  if (url_or_dir.starts_with("sqlite:")) {
    file = std::string(url_or_dir.substr(7));
    if (file.empty()) return Error{"audit store", "sqlite: needs a file name"};
  } else {
    std::filesystem::path dir(url_or_dir.empty() ? std::string_view("./var") : url_or_dir);
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
      std::filesystem::create_directories(dir, ec);
      if (ec) return Error{dir.string(), "cannot create the data directory: " + ec.message()};
      ::chmod(dir.c_str(), 0700);
    }
    if (!std::filesystem::is_directory(dir, ec)) {
      return Error{dir.string(), "not a directory"};
    }
    file = (dir / "cryo-audit.sqlite3").string();
  }
  return open_with(
      "sqlite", [file] { return db::open_sqlite(file, db::SqliteRole::kWriter); },
      [file] { return db::open_sqlite(file, db::SqliteRole::kReader); }, options);
}

}  // namespace cryo::audit
