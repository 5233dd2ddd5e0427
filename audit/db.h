// Internal to audit/: the small SQL connection interface both back ends implement, so that
// the schema, the migrations and every statement of the store are written once.
//
// Statements use PostgreSQL-style numbered parameters ($1, $2, ...); the SQLite connection
// maps them to ?1, ?2. Values are bound, never spliced into SQL text. Prepared statements are
// cached per connection.
//
// Thread safety: a Conn is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"

namespace cryo::audit::db {

// A bound value. Strings are borrowed for the duration of the call.
using Param = std::variant<std::nullptr_t, std::int64_t, std::string_view>;

struct Row {
  std::vector<std::optional<std::string>> cols;

  const std::string& text(std::size_t i) const;  // "" for NULL
  std::int64_t int64(std::size_t i) const;       // 0 for NULL or non-numbers
};
using Rows = std::vector<Row>;

enum class TxMode {
  kRead,       // a consistent snapshot for several reads
  kWrite,      // a write transaction
  kExclusive,  // a write transaction serialised against every other process (migrations)
};

// A statement with its values, for execute_all().
struct Statement {
  std::string_view sql;
  std::vector<Param> params;
};

class Conn {
 public:
  virtual ~Conn() = default;

  // Runs one statement and returns its rows (none for statements without results).
  virtual Result<Rows> query(std::string_view sql, std::span<const Param> params) = 0;
  // Runs one statement and returns the number of rows it inserted, updated or deleted.
  virtual Result<std::int64_t> execute(std::string_view sql, std::span<const Param> params) = 0;
  // Runs several parameterless statements (schema changes).
  virtual Status exec_script(std::string_view sql) = 0;
  // Runs independent statements in order and returns each one's changed-row count; fails at
  // the first error (inside a transaction, which is then to be rolled back). PostgreSQL sends
  // them all in one round trip.
  virtual Result<std::vector<std::int64_t>> execute_all(std::span<const Statement> statements);

  // Runs the statements in a write transaction of their own and commits it; returns each
  // one's changed-row count. On the first error nothing is committed and the transaction is
  // left for rollback(). PostgreSQL sends BEGIN, the statements and COMMIT in one round trip.
  virtual Result<std::vector<std::int64_t>> execute_and_commit(
      std::span<const Statement> statements);

  virtual Status begin(TxMode mode) = 0;
  virtual Status commit() = 0;
  virtual void rollback() = 0;

  // Housekeeping the writer runs after a group's callers have their answer, never inside a
  // commit they wait for. SQLite: once the WAL holds more than a bound of frames, a passive
  // checkpoint on the writer itself, which (no commit running beside it) copies the tail the
  // background checkpointer left and lets the next commit restart the WAL from its beginning
  // instead of growing it. PostgreSQL: nothing.
  virtual void after_commit() {}

  // True once the connection is unusable (server gone); the owner discards it.
  virtual bool broken() const = 0;
  virtual std::string_view backend() const = 0;

  Result<Rows> query(std::string_view sql, std::initializer_list<Param> params = {}) {
    return query(sql, std::span<const Param>(params.begin(), params.size()));
  }
  Result<std::int64_t> execute(std::string_view sql, std::initializer_list<Param> params = {}) {
    return execute(sql, std::span<const Param>(params.begin(), params.size()));
  }
};

using ConnFactory = std::function<Result<std::unique_ptr<Conn>>()>;

enum class SqliteRole { kWriter, kReader };

// Opens the SQLite file (created if missing, mode 0600). Writers set WAL mode,
// synchronous=FULL, foreign keys and no automatic checkpoints; readers are query-only.
Result<std::unique_ptr<Conn>> open_sqlite(const std::string& file, SqliteRole role);

// Copies committed WAL frames into the database file (writers do not do it themselves).
Status checkpoint_sqlite(Conn& conn);

// Connects with a libpq connection URI; the session commits synchronously.
Result<std::unique_ptr<Conn>> open_postgres(const std::string& url);

// Migrations (audit/schema.cc).
struct Migration {
  int version;
  const char* description;
  const char* sql;
};
std::span<const Migration> migrations();
int latest_schema_version();

// Applies every migration above the stored version up to `up_to`, in one exclusive
// transaction. Fails when the store was migrated by a newer service.
Status migrate(Conn& conn, int up_to);
// The stored schema version; 0 for an empty store.
Result<int> schema_version(Conn& conn);

}  // namespace cryo::audit::db
