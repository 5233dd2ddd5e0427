// PostgreSQL connection for the shared audit store (several server replicas, one database).
#include <libpq-fe.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/db.h"

namespace cryo::audit::db {
namespace {

// Serialises migrations of every replica against each other (pg_advisory_xact_lock key).
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7249316410385)";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

class PgConn final : public Conn {
 public:
  using Conn::execute;
  using Conn::query;

  explicit PgConn(PGconn* conn) : conn_(conn) {}
  ~PgConn() override { PQfinish(conn_); }

  Result<Rows> query(std::string_view sql, std::span<const Param> params) override {
    auto res = run(sql, params);
    if (!res) return res.error();
    Rows rows;
    PGresult* r = res->get();
    const int n = PQntuples(r);
    const int ncols = PQnfields(r);
    rows.reserve(n);
    for (int i = 0; i < n; ++i) {
      Row row;
      row.cols.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(r, i, c)) {
          row.cols.emplace_back(std::nullopt);
        } else {
          row.cols.emplace_back(std::string(PQgetvalue(r, i, c), PQgetlength(r, i, c)));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<std::int64_t> execute(std::string_view sql, std::span<const Param> params) override {
    auto res = run(sql, params);
    if (!res) return res.error();
    const char* n = PQcmdTuples(res->get());
    return static_cast<std::int64_t>(n && *n ? std::stoll(n) : 0);
  }

  Status exec_script(std::string_view sql) override {
    std::string text(sql);
    PgResult r(PQexec(conn_, text.c_str()));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error(r.get());
    return {};
  }

  // Pipeline mode: every statement is sent before any result is read.
  Result<std::vector<std::int64_t>> execute_all(std::span<const Statement> statements) override {
    return pipeline(statements, false);
  }

  // BEGIN, the statements and COMMIT in one pipeline: one round trip for the whole
  // transaction. After an error the server skips the rest (COMMIT included) up to the sync
  // and the transaction stays open, aborted, for rollback().
  Result<std::vector<std::int64_t>> execute_and_commit(
      std::span<const Statement> statements) override {
    return pipeline(statements, true);
  }

  Result<std::vector<std::int64_t>> pipeline(std::span<const Statement> statements,
                                             bool transaction) {
    std::vector<const std::string*> names;
    names.reserve(statements.size());
    for (const Statement& s : statements) {
      if (Status ok = check_no_nul(s.params); !ok) return ok.error();
      auto name = prepared(s.sql, s.params.size());
      if (!name) return name.error();
      names.push_back(*name);
    }
    if (PQenterPipelineMode(conn_) != 1) return Error{"postgresql", "cannot enter pipeline mode"};

    // Transaction control goes as unnamed statements around the prepared ones.
    auto send_plain = [this](const char* sql) {
      return PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    };
    const std::size_t wanted = statements.size() + (transaction ? 2 : 0);
    std::size_t sent = 0;
    if (!transaction || send_plain("BEGIN")) {
      if (transaction) ++sent;
      for (std::size_t i = 0; i < statements.size(); ++i) {
        Values v(statements[i].params);
        if (!PQsendQueryPrepared(conn_, names[i]->c_str(), v.count(), v.values.data(),
                                 v.lengths.data(), nullptr, 0)) {
          break;
        }
        ++sent;
      }
      if (transaction && sent == wanted - 1 && send_plain("COMMIT")) ++sent;
    }
    const bool synced = PQpipelineSync(conn_) == 1;

    std::vector<std::int64_t> counts;
    std::optional<Error> failure;
    if (sent < wanted) failure = Error{"postgresql", trimmed(PQerrorMessage(conn_))};
    for (std::size_t i = 0; i < sent; ++i) {
      PgResult r(PQgetResult(conn_));
      if (!r) {
        failure = Error{"postgresql", "pipeline ended early: " + trimmed(PQerrorMessage(conn_))};
        poisoned_ = true;
        break;
      }
      auto st = PQresultStatus(r.get());
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        const bool control = transaction && (i == 0 || i == wanted - 1);  // BEGIN, COMMIT
        const char* n = PQcmdTuples(r.get());
        if (!control) counts.push_back(n && *n ? std::stoll(n) : 0);
      } else if (!failure) {
        failure = error(r.get());
      }
      PgResult end(PQgetResult(conn_));  // the NULL that ends this statement's results
    }
    if (synced && !poisoned_) {
      for (int nulls = 0; nulls < 2;) {
        PgResult r(PQgetResult(conn_));
        if (!r) {
          ++nulls;
          continue;
        }
        if (PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC) break;
      }
    }
    if (PQexitPipelineMode(conn_) != 1) {
      poisoned_ = true;  // results left unread: this connection cannot be trusted any more
      if (!failure) failure = Error{"postgresql", "cannot leave pipeline mode"};
    }
    if (failure) return *failure;
    return counts;
  }

  Status begin(TxMode mode) override {
    switch (mode) {
      case TxMode::kRead:
        return exec_script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      case TxMode::kWrite:
        return exec_script("BEGIN");
      case TxMode::kExclusive:
        if (Status s = exec_script("BEGIN"); !s) return s;
        return exec_script(kMigrationLock);
    }
    return {};
  }
  Status commit() override { return exec_script("COMMIT"); }
  void rollback() override {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
  }
  bool broken() const override { return poisoned_ || PQstatus(conn_) == CONNECTION_BAD; }
  std::string_view backend() const override { return "postgresql"; }

 private:
  Error error(const PGresult* r) const {
    std::string m = r ? trimmed(PQresultErrorMessage(r)) : "";
    if (m.empty()) m = trimmed(PQerrorMessage(conn_));
    return Error{"postgresql", m};
  }

  // Text parameters reach the server as C strings: a value with a NUL would be cut there
  // (and two ids differing only after it would be one). PostgreSQL text cannot hold NUL.
  static Status check_no_nul(std::span<const Param> params) {
    for (const Param& p : params) {
      if (auto* s = std::get_if<std::string_view>(&p); s && s->find('\0') != s->npos) {
        return Error{"postgresql", "a text value contains NUL"};
      }
    }
    return {};
  }

  // Parameter values in libpq's text form.
  struct Values {
    explicit Values(std::span<const Param> params)
        : storage(params.size()), values(params.size(), nullptr), lengths(params.size(), 0) {
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (auto* v = std::get_if<std::int64_t>(&params[i])) {
          storage[i] = std::to_string(*v);
        } else if (auto* s = std::get_if<std::string_view>(&params[i])) {
          storage[i].assign(s->data(), s->size());
        } else {
          continue;  // NULL
        }
        values[i] = storage[i].c_str();
        lengths[i] = static_cast<int>(storage[i].size());
      }
    }
    int count() const { return static_cast<int>(values.size()); }
    std::vector<std::string> storage;
    std::vector<const char*> values;
    std::vector<int> lengths;
  };

  // The name of the prepared statement for `sql`, preparing it on first use.
  Result<const std::string*> prepared(std::string_view sql, std::size_t nparams) {
    std::string key(sql);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      std::string name = "s" + std::to_string(cache_.size());
      PgResult p(PQprepare(conn_, name.c_str(), key.c_str(), static_cast<int>(nparams), nullptr));
      if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) return error(p.get());
      it = cache_.emplace(std::move(key), std::move(name)).first;
    }
    return &it->second;
  }

  Result<PgResult> run(std::string_view sql, std::span<const Param> params) {
    if (Status ok = check_no_nul(params); !ok) return ok.error();
    auto name = prepared(sql, params.size());
    if (!name) return name.error();
    Values v(params);
    PgResult r(PQexecPrepared(conn_, (*name)->c_str(), v.count(), v.values.data(), v.lengths.data(),
                              nullptr, 0));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error(r.get());
    return r;
  }

  PGconn* conn_;
  bool poisoned_ = false;
  std::unordered_map<std::string, std::string> cache_;  // SQL -> prepared statement name
};

}  // namespace

Result<std::unique_ptr<Conn>> open_postgres(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  if (!c || PQstatus(c) != CONNECTION_OK) {
    // The message names host and port, never the password.
    std::string m = c ? trimmed(PQerrorMessage(c)) : "out of memory";
    PQfinish(c);
    return Error{"postgresql", "cannot connect: " + m};
  }
  auto conn = std::make_unique<PgConn>(c);
  if (PQsetClientEncoding(c, "UTF8") != 0) return Error{"postgresql", "cannot use UTF8"};
  // A commit is acknowledged only once it is on disk, whatever the server's default.
  if (Status s =
          conn->exec_script("SET synchronous_commit = on; SET client_min_messages = warning");
      !s) {
    return s.error();
  }
  return std::unique_ptr<Conn>(std::move(conn));
}

}  // namespace cryo::audit::db
