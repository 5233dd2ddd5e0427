// The audit store's schema and its versioned migrations (the same SQL on both back ends).
//
// Times are milliseconds since the Unix epoch (UTC) in BIGINT columns; JSON is TEXT.
#include <chrono>
#include <string>

#include "audit/db.h"

namespace cryo::audit::db {
namespace {

constexpr Migration kMigrations[] = {
    {1, "hook calls, determinations, cards, feedback",
     R"sql(
CREATE TABLE hook_calls (
  hook_instance     TEXT PRIMARY KEY,
  hook              TEXT NOT NULL,
  service_id        TEXT NOT NULL,
  received_at_ms    BIGINT NOT NULL,
  client_iss        TEXT NOT NULL,
  patient_id        TEXT NOT NULL,
  payer_id          TEXT NOT NULL,
  line_of_business  TEXT NOT NULL,
  request_json      TEXT NOT NULL,
  response_json     TEXT NOT NULL,
  recorded_at_ms    BIGINT NOT NULL
);
CREATE TABLE assertions (
  coverage_assertion_id TEXT PRIMARY KEY,
  hook_instance     TEXT NOT NULL REFERENCES hook_calls (hook_instance) ON DELETE CASCADE
);
CREATE INDEX assertions_by_call ON assertions (hook_instance);
CREATE TABLE determinations (
  hook_instance     TEXT NOT NULL REFERENCES hook_calls (hook_instance) ON DELETE CASCADE,
  position          INTEGER NOT NULL,
  coverage_assertion_id TEXT NOT NULL REFERENCES assertions (coverage_assertion_id) ON DELETE CASCADE,
  order_ref         TEXT NOT NULL,
  covered           TEXT NOT NULL,
  pa_needed         TEXT NOT NULL,
  doc_needed        TEXT NOT NULL,
  doc_purpose       TEXT NOT NULL,
  info_needed       TEXT NOT NULL,
  criteria_json     TEXT NOT NULL,
  policy_id         TEXT NOT NULL,
  policy_revision   TEXT NOT NULL,
  service_version   TEXT NOT NULL,
  PRIMARY KEY (hook_instance, position)
);
CREATE INDEX determinations_by_assertion ON determinations (coverage_assertion_id);
CREATE TABLE cards (
  card_uuid         TEXT PRIMARY KEY,
  hook_instance     TEXT NOT NULL REFERENCES hook_calls (hook_instance) ON DELETE CASCADE
);
CREATE INDEX cards_by_call ON cards (hook_instance);
CREATE TABLE feedback (
  service_id        TEXT NOT NULL,
  card_uuid         TEXT NOT NULL REFERENCES cards (card_uuid) ON DELETE CASCADE,
  outcome           TEXT NOT NULL,
  outcome_timestamp TEXT NOT NULL,
  accepted_suggestions_json TEXT NOT NULL,
  override_reason_json TEXT NOT NULL,
  received_at_ms    BIGINT NOT NULL,
  PRIMARY KEY (service_id, card_uuid, outcome, outcome_timestamp)
);
CREATE INDEX feedback_by_card ON feedback (card_uuid);
)sql"},
    {2, "look-up by patient and retention by age",
     R"sql(
CREATE INDEX hook_calls_by_patient ON hook_calls (patient_id, received_at_ms);
CREATE INDEX hook_calls_by_age ON hook_calls (received_at_ms);
)sql"},
    {3, "digest of each stored request, to replay an answer only for the same request",
     R"sql(
ALTER TABLE hook_calls ADD COLUMN request_sha256 TEXT NOT NULL DEFAULT '';
)sql"},
    {4, "client token ids (jti) seen by any replica, until their tokens expire",
     R"sql(
CREATE TABLE token_ids (
  issuer            TEXT NOT NULL,
  jti               TEXT NOT NULL,
  expires_at_ms     BIGINT NOT NULL,
  PRIMARY KEY (issuer, jti)
);
CREATE INDEX token_ids_by_expiry ON token_ids (expires_at_ms);
)sql"},
    {5, "payer staff look-up: member, date of service, billing code and claim-matching details",
     R"sql(
CREATE TABLE determination_lookup (
  hook_instance     TEXT NOT NULL REFERENCES hook_calls (hook_instance) ON DELETE CASCADE,
  position          INTEGER NOT NULL,
  member_id         TEXT NOT NULL,
  date_of_service   TEXT NOT NULL,
  billing_code      TEXT NOT NULL,
  lookup_json       TEXT NOT NULL,
  PRIMARY KEY (hook_instance, position)
);
CREATE INDEX determination_lookup_by_member ON determination_lookup (member_id, date_of_service);
CREATE INDEX determination_lookup_by_date ON determination_lookup (date_of_service);
)sql"},
    {6,
     "what each call read from the client's FHIR server, so its questions are decided on the same "
     "record",
     R"sql(
ALTER TABLE hook_calls ADD COLUMN fetched_json TEXT NOT NULL DEFAULT '';
)sql"},
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<int> stored_version(Conn& conn) {
  auto rows = conn.query("SELECT MAX(version) FROM schema_migrations");
  if (!rows) return rows.error();
  return rows->empty() ? 0 : static_cast<int>(rows->front().int64(0));
}

Status apply(Conn& conn, int up_to) {
  if (Status s = conn.exec_script("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                  " version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                                  "applied_at_ms BIGINT NOT NULL)");
      !s) {
    return s;
  }
  auto current = stored_version(conn);
  if (!current) return current.error();
  if (*current > latest_schema_version()) {
    return Error{"audit store", "schema version " + std::to_string(*current) +
                                    " is newer than this service supports (" +
                                    std::to_string(latest_schema_version()) + ")"};
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= *current || m.version > up_to) continue;
    if (Status s = conn.exec_script(m.sql); !s) {
      return Error{"audit store migration " + std::to_string(m.version), s.error().to_string()};
    }
    auto ins = conn.execute(
        "INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES ($1, $2, $3)",
        {std::int64_t{m.version}, std::string_view(m.description), now_ms()});
    if (!ins) return ins.error();
  }
  return {};
}

}  // namespace

std::span<const Migration> migrations() {
  return kMigrations;
}

int latest_schema_version() {
  return std::end(kMigrations)[-1].version;
}

Status migrate(Conn& conn, int up_to) {
  if (Status s = conn.begin(TxMode::kExclusive); !s) return s;
  Status s = apply(conn, up_to);
  if (s) s = conn.commit();
  if (!s) conn.rollback();
  return s;
}

Result<int> schema_version(Conn& conn) {
  auto exists = conn.query("SELECT COUNT(*) FROM schema_migrations");
  if (!exists) return 0;  // no table yet
  return stored_version(conn);
}

}  // namespace cryo::audit::db
