// Schema version N is the first N entries of kMigrations; each runs in one transaction with its
// row in schema_versions, all under a session advisory lock, so a second replica waits for the
// first and then finds nothing left to do. Names are unqualified: they land in current_schema(),
// the first existing schema of the connection's search_path.
#include "store/postgres/schema.h"

#include <array>

namespace store::postgres {
namespace {

// Version 1 is SQLite's schema 8 in PostgreSQL types: bytea for message bytes, bigint for unix
// milliseconds and sizes, ids in the "C" collation (UUIDv7 order is byte order, whatever the
// database's locale, so that paging and claims read the indexes in order). The partial indexes
// serve the claims (due rows), the lease sweep (rows in flight) and requeue_orphaned, as in SQLite.
//
// Version 2 stores message bytes uncompressed (STORAGE EXTERNAL: out of line, no pglz): mail is
// mostly base64 and already-compressed attachments, and compressing every message on the server,
// whose CPU all replicas share, cost more than the bytes it saved. Rows written before keep their
// form; both read the same.
constexpr std::array<const char*, 5> kMigrations = {
    R"sql(
CREATE TABLE inbound_messages (
  id text COLLATE "C" PRIMARY KEY,
  received_at bigint NOT NULL,
  mail_from text NOT NULL,
  rcpt_to text NOT NULL,
  envelope text NOT NULL,
  size bigint NOT NULL,
  data bytea NOT NULL
);
CREATE TABLE inbound_deliveries (
  id text COLLATE "C" PRIMARY KEY,
  message_id text COLLATE "C" NOT NULL REFERENCES inbound_messages(id) ON DELETE CASCADE,
  endpoint text NOT NULL,
  rcpt_to text NOT NULL,
  state text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  last_error text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  lease_until bigint NOT NULL DEFAULT 0,
  lease_owner text NOT NULL DEFAULT '',
  render_attempts integer NOT NULL DEFAULT 0,
  origin text NOT NULL DEFAULT ''
);
CREATE INDEX inbound_deliveries_due ON inbound_deliveries(next_attempt_at, id)
  WHERE state IN ('queued', 'deferred');
CREATE INDEX inbound_deliveries_message ON inbound_deliveries(message_id);
CREATE INDEX inbound_deliveries_lease ON inbound_deliveries(lease_until)
  WHERE state = 'in_flight';
CREATE INDEX inbound_deliveries_orphaned ON inbound_deliveries(endpoint)
  WHERE state = 'orphaned';
CREATE TABLE outbound_messages (
  id text COLLATE "C" PRIMARY KEY,
  created_at bigint NOT NULL,
  mail_from text NOT NULL,
  rcpt_to text NOT NULL,
  message_id text NOT NULL,
  size bigint NOT NULL,
  data bytea NOT NULL,
  idempotency_key text,
  request_hash text,
  response_json text NOT NULL,
  metadata text,
  CONSTRAINT outbound_messages_idempotency UNIQUE (idempotency_key)
);
CREATE TABLE outbound_recipients (
  message_id text COLLATE "C" NOT NULL REFERENCES outbound_messages(id) ON DELETE CASCADE,
  position integer NOT NULL,
  rcpt text NOT NULL,
  state text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  last_code integer NOT NULL DEFAULT 0,
  last_enhanced text NOT NULL DEFAULT '',
  last_text text NOT NULL DEFAULT '',
  lease_until bigint NOT NULL DEFAULT 0,
  lease_owner text NOT NULL DEFAULT '',
  PRIMARY KEY (message_id, position)
);
CREATE INDEX outbound_recipients_due ON outbound_recipients(state, next_attempt_at);
CREATE INDEX outbound_recipients_lease ON outbound_recipients(lease_until)
  WHERE state = 'in_flight';
)sql",
    R"sql(
ALTER TABLE inbound_messages ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE outbound_messages ALTER COLUMN data SET STORAGE EXTERNAL;
)sql",
    // The suppression list (issue 14, store.h struct Suppression): the lower-cased address in
    // byte order ("C"), the key of the list's pages and of the enqueue's lookup.
    R"sql(
CREATE TABLE suppressions (
  address text COLLATE "C" PRIMARY KEY,
  reason text NOT NULL,
  created_at bigint NOT NULL,
  status text NOT NULL DEFAULT '',
  diagnostic text NOT NULL DEFAULT '',
  message_id text NOT NULL DEFAULT '',
  rcpt text NOT NULL DEFAULT ''
);
)sql",
    // Delivery events (issue 14), as SQLite's: the sending key's name on the message, one row per
    // (event, events endpoint) with its JSON; seq orders one message's events to one endpoint.
    // IF NOT EXISTS: self-contained, whatever position it takes among the migrations.
    R"sql(
ALTER TABLE outbound_messages ADD COLUMN IF NOT EXISTS api_key text NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS event_deliveries (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL UNIQUE,
  endpoint text NOT NULL,
  type text NOT NULL,
  message_id text COLLATE "C" NOT NULL,
  rcpt text NOT NULL,
  payload text NOT NULL,
  state text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  last_error text NOT NULL DEFAULT '',
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  lease_until bigint NOT NULL DEFAULT 0,
  lease_owner text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS event_deliveries_due ON event_deliveries(seq) WHERE state IN ('queued', 'deferred');
CREATE INDEX IF NOT EXISTS event_deliveries_order ON event_deliveries(endpoint, message_id, seq);
CREATE INDEX IF NOT EXISTS event_deliveries_lease ON event_deliveries(lease_until) WHERE state = 'in_flight';
CREATE INDEX IF NOT EXISTS event_deliveries_finished ON event_deliveries(updated_at)
  WHERE state IN ('delivered', 'dead');
)sql",
    // Each outbound recipient's status history (issue 14, store.h RecipientHistory), as SQLite's
    // (there seq counts per recipient, here it is an identity: both order a recipient's entries)
    // but without a foreign key: its check would take a KEY SHARE lock on the message row at
    // every outcome, which a replica's claim (FOR UPDATE SKIP LOCKED on that row) would then
    // skip. Retention deletes the history with its message (readers.cpp kPruneOutbound).
    R"sql(
CREATE TABLE IF NOT EXISTS outbound_history (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id text COLLATE "C" NOT NULL,
  position integer NOT NULL,
  created_at bigint NOT NULL,
  state text NOT NULL,
  code integer NOT NULL DEFAULT 0,
  enhanced text NOT NULL DEFAULT '',
  text text NOT NULL DEFAULT '',
  inbound_id text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbound_history_message
  ON outbound_history(message_id, position, seq);
)sql",
};

bool failed(Connection& db, const Result& result, const std::string& what, std::string& error) {
  db.fail(result);
  error = what + ": " + db.error();
  return false;
}

bool read_version(Connection& db, int& version, std::string& error) {
  Result result = db.exec("SELECT coalesce(max(version), 0) FROM schema_versions");
  if (!result.ok()) return failed(db, result, "cannot read the schema version", error);
  version = static_cast<int>(result.integer(0, 0));
  return true;
}

bool has_schema(Connection& db, std::string& error) {
  Result result = db.exec("SELECT current_schema()");
  if (!result.ok()) return failed(db, result, "cannot read the current schema", error);
  if (result.null(0, 0)) {
    error = "the connection's search_path names no existing schema to create the tables in";
    return false;
  }
  return true;
}

bool apply(Connection& db, std::string& error) {
  Result created = db.exec(
      "CREATE TABLE IF NOT EXISTS schema_versions (version integer PRIMARY KEY,"
      " applied_at bigint NOT NULL)");
  if (!created.ok()) return failed(db, created, "cannot create schema_versions", error);
  int version = 0;
  if (!read_version(db, version, error)) return false;
  if (version > known_schema_version()) {
    error = "the database's schema version " + std::to_string(version) +
            " is newer than this build knows (" + std::to_string(known_schema_version()) +
            "): run a newer smtp-bridge";
    return false;
  }
  for (int next = version; next < known_schema_version(); ++next) {
    std::string sql = std::string("BEGIN;") + kMigrations[static_cast<size_t>(next)] +
                      "INSERT INTO schema_versions VALUES (" + std::to_string(next + 1) +
                      ", (extract(epoch from clock_timestamp()) * 1000)::bigint); COMMIT;";
    Result result = db.exec(sql);
    if (!result.ok()) {
      failed(db, result, "schema migration " + std::to_string(next + 1) + " failed", error);
      db.exec("ROLLBACK");
      return false;
    }
  }
  return true;
}

}  // namespace

int known_schema_version() {
  return static_cast<int>(kMigrations.size());
}

bool migrate(Connection& db, std::string& error) {
  if (!has_schema(db, error)) return false;
  const std::string key = std::to_string(kLockClass) + ", " + kMigrateKey;
  Result locked = db.exec("SELECT pg_advisory_lock(" + key + ")");
  if (!locked.ok()) return failed(db, locked, "cannot take the migration lock", error);
  bool ok = apply(db, error);
  db.exec("SELECT pg_advisory_unlock(" + key + ")");
  return ok;
}

bool read_schema_version(Connection& db, int& version, std::string& error) {
  Result exists = db.exec("SELECT to_regclass('schema_versions') IS NOT NULL");
  if (!exists.ok()) return failed(db, exists, "cannot look for schema_versions", error);
  version = 0;
  if (exists.text(0, 0) != "t") return true;
  return read_version(db, version, error);
}

}  // namespace store::postgres
