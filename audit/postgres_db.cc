// PostgreSQL connection for the shared audit store (several server replicas, one database).
#include <libpq-fe.h>

#include <string>
#include <unordered_map>

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
  bool broken() const override { return PQstatus(conn_) == CONNECTION_BAD; }
  std::string_view backend() const override { return "postgresql"; }

 private:
  Error error(const PGresult* r) const {
    std::string m = r ? trimmed(PQresultErrorMessage(r)) : "";
    if (m.empty()) m = trimmed(PQerrorMessage(conn_));
    return Error{"postgresql", m};
  }

  Result<PgResult> run(std::string_view sql, std::span<const Param> params) {
    std::string key(sql);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      std::string name = "s" + std::to_string(cache_.size());
      PgResult p(
          PQprepare(conn_, name.c_str(), key.c_str(), static_cast<int>(params.size()), nullptr));
      if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) return error(p.get());
      it = cache_.emplace(std::move(key), std::move(name)).first;
    }

    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    std::vector<int> lengths(params.size(), 0);
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
    PgResult r(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                              values.data(), lengths.data(), nullptr, 0));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error(r.get());
    return r;
  }

  PGconn* conn_;
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
