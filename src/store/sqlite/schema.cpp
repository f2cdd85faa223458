// Schema version N is the first N entries of kMigrations; PRAGMA user_version records N inside
// the same transaction as the change, so a crash never leaves a half-applied migration.
#include "store/sqlite/schema.h"

#include <array>
#include <vector>

#include "store/row_codec.h"
#include "store/sqlite/outbound_writer.h"

namespace store::sqlite {
namespace {

// Other engineers' end-to-end tests read these tables and columns by name: keep them.
constexpr std::array<const char*, 11> kMigrations = {
    R"sql(
CREATE TABLE inbound_messages (
  id TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL,
  mail_from TEXT NOT NULL,
  rcpt_to TEXT NOT NULL,
  envelope TEXT NOT NULL,
  size INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE inbound_deliveries (
  id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL REFERENCES inbound_messages(id) ON DELETE CASCADE,
  endpoint TEXT NOT NULL,
  rcpt_to TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX inbound_deliveries_due ON inbound_deliveries(state, next_attempt_at);
CREATE INDEX inbound_deliveries_message ON inbound_deliveries(message_id);
)sql",
    // 2: the outbound side (the send API). idempotency_key is NULL when the request had none;
    // SQLite's UNIQUE allows many NULLs. An expired key is set to NULL when a new request reuses
    // it.
    R"sql(
CREATE TABLE outbound_messages (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  mail_from TEXT NOT NULL,
  rcpt_to TEXT NOT NULL,
  message_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  data BLOB NOT NULL,
  idempotency_key TEXT,
  request_hash TEXT,
  response_json TEXT NOT NULL,
  metadata TEXT
);
CREATE UNIQUE INDEX outbound_messages_idempotency ON outbound_messages(idempotency_key);
CREATE TABLE outbound_recipients (
  message_id TEXT NOT NULL REFERENCES outbound_messages(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  rcpt TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_code INTEGER NOT NULL DEFAULT 0,
  last_enhanced TEXT NOT NULL DEFAULT '',
  last_text TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (message_id, position)
);
CREATE INDEX outbound_recipients_due ON outbound_recipients(state, next_attempt_at);
)sql",
    // 3: the due index also orders by id, so that a claim reads the oldest due rows straight from
    // it (a merge of the queued and the deferred range) instead of sorting the whole backlog.
    R"sql(
DROP INDEX inbound_deliveries_due;
CREATE INDEX inbound_deliveries_due ON inbound_deliveries(state, next_attempt_at, id);
)sql",
    R"sql(
DROP INDEX inbound_deliveries_due;
CREATE INDEX inbound_deliveries_due ON inbound_deliveries(state, next_attempt_at, id)
  WHERE state IN ('queued', 'deferred');
)sql",
    // 5: deliveries keyed by their id alone (WITHOUT ROWID): no rowid b-tree beside the id's, so
    // a group commit writes one page fewer and a finish finds its row in one search.
    R"sql(
CREATE TABLE inbound_deliveries_5 (
  id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL REFERENCES inbound_messages(id) ON DELETE CASCADE,
  endpoint TEXT NOT NULL,
  rcpt_to TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO inbound_deliveries_5 SELECT id, message_id, endpoint, rcpt_to, state, attempts,
  next_attempt_at, last_error, created_at, updated_at FROM inbound_deliveries;
DROP TABLE inbound_deliveries;
ALTER TABLE inbound_deliveries_5 RENAME TO inbound_deliveries;
CREATE INDEX inbound_deliveries_due ON inbound_deliveries(state, next_attempt_at, id)
  WHERE state IN ('queued', 'deferred');
CREATE INDEX inbound_deliveries_message ON inbound_deliveries(message_id);
)sql",
    // 6: leases (ARCHITECTURE.md "Leases"): a claimed row is held by lease_owner until
    // lease_until (unix ms); the partial indexes find the expired ones among the few in flight.
    R"sql(
ALTER TABLE inbound_deliveries ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbound_deliveries ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
CREATE INDEX inbound_deliveries_lease ON inbound_deliveries(lease_until)
  WHERE state = 'in_flight';
ALTER TABLE outbound_recipients ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbound_recipients ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
CREATE INDEX outbound_recipients_lease ON outbound_recipients(lease_until)
  WHERE state = 'in_flight';
)sql",
    // 7: poison messages (store.h DeliveryRow::render_attempts): renders started since the last
    // outcome that followed a successful render, counted by the claim itself.
    R"sql(
ALTER TABLE inbound_deliveries ADD COLUMN render_attempts INTEGER NOT NULL DEFAULT 0;
)sql",
    // 8: endpoints by name (issue 11): `endpoint` holds the endpoint's name instead of its URL,
    // `origin` its URL's scheme://host:port. The rows' names are set by name_endpoints below.
    R"sql(
ALTER TABLE inbound_deliveries ADD COLUMN origin TEXT NOT NULL DEFAULT '';
CREATE INDEX inbound_deliveries_orphaned ON inbound_deliveries(endpoint)
  WHERE state = 'orphaned';
)sql",
    // 9: the suppression list (issue 14, store.h struct Suppression), keyed by the lower-cased
    // address: the list's pages and the enqueue's lookup read the key.
    R"sql(
CREATE TABLE suppressions (
  address TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT '',
  diagnostic TEXT NOT NULL DEFAULT '',
  message_id TEXT NOT NULL DEFAULT '',
  rcpt TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
)sql",
    // 10: delivery events (issue 14): the sending key's name on the message, and one row per
    // (event, events endpoint), its JSON stored (store/events.h); seq is the commit order that one
    // message's events follow to one endpoint (event_deliveries_order).
    R"sql(
ALTER TABLE outbound_messages ADD COLUMN api_key TEXT NOT NULL DEFAULT '';
CREATE TABLE event_deliveries (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  endpoint TEXT NOT NULL,
  type TEXT NOT NULL,
  message_id TEXT NOT NULL,
  rcpt TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  lease_until INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT NOT NULL DEFAULT ''
);
CREATE INDEX event_deliveries_due ON event_deliveries(seq) WHERE state IN ('queued', 'deferred');
CREATE INDEX event_deliveries_order ON event_deliveries(endpoint, message_id, seq);
CREATE INDEX event_deliveries_lease ON event_deliveries(lease_until) WHERE state = 'in_flight';
CREATE INDEX event_deliveries_finished ON event_deliveries(updated_at)
  WHERE state IN ('delivered', 'dead');
)sql",
    // 11: each outbound recipient's status history (issue 14, store.h RecipientHistory): one row
    // per attempt's outcome and per DSN recorded, seq counting 1, 2... per recipient; deleted
    // with its message. Keyed by (message, position, seq) WITHOUT ROWID: one b-tree, so that an
    // outcome on the relay's path writes one page more, not two (a rowid table and an index).
    R"sql(
CREATE TABLE outbound_history (
  message_id TEXT NOT NULL REFERENCES outbound_messages(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  code INTEGER NOT NULL DEFAULT 0,
  enhanced TEXT NOT NULL DEFAULT '',
  text TEXT NOT NULL DEFAULT '',
  inbound_id TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (message_id, position, seq)
) WITHOUT ROWID;
)sql",
};
constexpr size_t kEndpointNames = 8;

bool fail(Connection& db, const std::string& what, std::string& error) {
  error = what + ": " + db.error_message();
  if (db.in_transaction()) db.exec("ROLLBACK");
  return false;
}

// Schema 8: the rows stored under their endpoint's URL get its name and origin, in the
// migration's transaction.
int name_endpoints(Connection& db, const std::function<EndpointRef(const std::string&)>& resolve) {
  Statement select, update;
  int rc = select.prepare(db.handle(), "SELECT DISTINCT endpoint FROM inbound_deliveries");
  if (rc == SQLITE_OK)
    rc = update.prepare(db.handle(),
                        "UPDATE inbound_deliveries SET endpoint = ?2, origin = ?3"
                        " WHERE endpoint = ?1");
  std::vector<std::string> urls;
  while (rc == SQLITE_OK && (rc = select.step()) == SQLITE_ROW) {
    urls.push_back(select.column_text(0));
    rc = SQLITE_OK;
  }
  select.reset();
  if (rc != SQLITE_DONE && rc != SQLITE_OK) return rc;
  rc = SQLITE_OK;
  for (const std::string& url : urls) {
    EndpointRef ref = resolve_endpoint(resolve, url, /*derive_name=*/true);
    update.bind_text(1, url);
    update.bind_text(2, ref.name);
    update.bind_text(3, ref.origin);
    rc = update.run();
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace

bool configure(Connection& db, std::string& error) {
  // Takes effect only while the database is still empty; journal_mode=WAL below creates it.
  if (db.exec("PRAGMA page_size=" + std::to_string(kPageSize)) != SQLITE_OK)
    return fail(db, "cannot set the page size", error);
  auto mode = db.query_text("PRAGMA journal_mode=WAL");
  if (!mode || *mode != "wal") return fail(db, "cannot switch to WAL mode", error);
  if (db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") != SQLITE_OK) {
    return fail(db, "cannot set synchronous=FULL and foreign_keys=ON", error);
  }
  return true;
}

bool migrate(Connection& db, std::string& error,
             const std::function<EndpointRef(const std::string&)>& resolve) {
  auto version = db.query_int("PRAGMA user_version");
  if (!version) return fail(db, "cannot read the schema version", error);
  if (*version > static_cast<int64_t>(kMigrations.size())) {
    error = "the database's schema version " + std::to_string(*version) +
            " is newer than this build knows (" + std::to_string(kMigrations.size()) + ")";
    return false;
  }
  for (size_t next = static_cast<size_t>(*version); next < kMigrations.size(); ++next) {
    std::string failed = "schema migration " + std::to_string(next + 1) + " failed";
    if (db.exec(std::string("BEGIN IMMEDIATE;") + kMigrations[next]) != SQLITE_OK)
      return fail(db, failed, error);
    if (next + 1 == kEndpointNames && name_endpoints(db, resolve) != SQLITE_OK)
      return fail(db, failed, error);
    if (db.exec("PRAGMA user_version=" + std::to_string(next + 1) + ";COMMIT;") != SQLITE_OK)
      return fail(db, failed, error);
  }
  return true;
}

bool requeue_in_flight(Connection& db, int64_t now_ms, std::string& error) {
  Statement update;
  // One process owns an SQLite store: every lease at open is a dead process's.
  if (update.prepare(db.handle(),
                     "UPDATE inbound_deliveries SET state='queued', lease_until=0, lease_owner='',"
                     " updated_at=?1 WHERE state='in_flight'") != SQLITE_OK) {
    return fail(db, "cannot prepare the re-queue of in-flight deliveries", error);
  }
  update.bind_int(1, now_ms);
  if (update.run() != SQLITE_OK) return fail(db, "cannot re-queue in-flight deliveries", error);
  return requeue_outbound_in_flight(db, now_ms, error);
}

bool limit_size(Connection& db, uint64_t max_size, std::string& error) {
  if (max_size == 0) return true;
  auto page_size = db.query_int("PRAGMA page_size");
  if (!page_size || *page_size <= 0) return fail(db, "cannot read the page size", error);
  uint64_t pages = max_size / static_cast<uint64_t>(*page_size);
  if (pages == 0) pages = 1;  // SQLite keeps at least the pages the database already has
  if (!db.query_int("PRAGMA max_page_count=" + std::to_string(pages))) {
    return fail(db, "cannot set max_page_count", error);
  }
  return true;
}

}  // namespace store::sqlite
