// Suppressions on SQLite: the lower-cased address is the key (store.h suppression_key). An add
// reads and upserts in one BEGIN IMMEDIATE transaction, fsynced (synchronous=FULL) before the
// API answers; statements are prepared per call (a suppression change is rare).
#include "store/sqlite/suppressions.h"

namespace store::sqlite {
namespace {

constexpr const char* kExists = "SELECT 1 FROM suppressions WHERE address = ?1";
constexpr const char* kUpsert =
    "INSERT INTO suppressions (address, reason, created_at, status, diagnostic, message_id, rcpt)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (address) DO UPDATE SET"
    " reason = excluded.reason, created_at = excluded.created_at, status = excluded.status, "
    "diagnostic = excluded.diagnostic,"
    " message_id = excluded.message_id, rcpt = excluded.rcpt";
constexpr const char* kDelete = "DELETE FROM suppressions WHERE address = ?1";
constexpr const char* kList =
    "SELECT address, reason, created_at, status, diagnostic, message_id, rcpt FROM suppressions"
    " WHERE address > ?1 ORDER BY address LIMIT ?2";

int upsert(Connection& db, const Suppression& suppression, const std::string& key, bool& created) {
  Statement exists, insert;
  int rc = exists.prepare(db.handle(), kExists);
  if (rc == SQLITE_OK) rc = insert.prepare(db.handle(), kUpsert);
  if (rc != SQLITE_OK) return rc;
  exists.bind_text(1, key);
  rc = exists.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  created = rc == SQLITE_DONE;
  exists.reset();
  insert.bind_text(1, key);
  insert.bind_text(2, suppression.reason);
  insert.bind_int(3, suppression.created_at_ms);
  insert.bind_text(4, suppression.status);
  insert.bind_text(5, suppression.diagnostic);
  insert.bind_text(6, suppression.message_id);
  insert.bind_text(7, suppression.rcpt);
  return insert.run();
}

}  // namespace

int upsert_suppression(Connection& db, const Suppression& suppression, bool& created) {
  return upsert(db, suppression, suppression_key(suppression.address), created);
}

Status add_suppression(Writer& writer, const Suppression& suppression, bool& created) {
  created = false;
  Connection& db = writer.connection();
  if (db.handle() == nullptr) return Status::closed;
  if (!writer.set_durable(true)) return Status::io_error;
  int rc = db.exec("BEGIN IMMEDIATE");
  if (rc == SQLITE_OK) rc = upsert_suppression(db, suppression, created);
  if (rc == SQLITE_OK) rc = db.exec("COMMIT");
  if (rc != SQLITE_OK) {
    if (db.in_transaction()) db.exec("ROLLBACK");
    created = false;
    return status_from(rc);
  }
  return Status::ok;
}

std::optional<bool> remove_suppression(Writer& writer, const std::string& address) {
  Connection& db = writer.connection();
  if (db.handle() == nullptr || !writer.set_durable(true)) return std::nullopt;
  Statement remove;
  if (remove.prepare(db.handle(), kDelete) != SQLITE_OK) return std::nullopt;
  remove.bind_text(1, suppression_key(address));
  if (remove.run() != SQLITE_OK) return std::nullopt;
  return sqlite3_changes64(db.handle()) > 0;
}

std::vector<Suppression> list_suppressions(Connection& db, const std::string& after, size_t limit) {
  std::vector<Suppression> out;
  Statement list;
  if (list.prepare(db.handle(), kList) != SQLITE_OK) return out;
  list.bind_text(1, after);
  list.bind_int(2, static_cast<int64_t>(limit));
  int rc;
  while ((rc = list.step()) == SQLITE_ROW) {
    Suppression s;
    s.address = list.column_text(0);
    s.reason = list.column_text(1);
    s.created_at_ms = list.column_int(2);
    s.status = list.column_text(3);
    s.diagnostic = list.column_text(4);
    s.message_id = list.column_text(5);
    s.rcpt = list.column_text(6);
    out.push_back(std::move(s));
  }
  list.reset();
  if (rc != SQLITE_DONE) out.clear();
  return out;
}

std::vector<std::string> find_suppressed(Connection& db,
                                         const std::vector<std::string>& addresses) {
  std::vector<std::string> out;
  Statement exists;
  if (addresses.empty() || exists.prepare(db.handle(), kExists) != SQLITE_OK) return out;
  for (const std::string& address : addresses) {
    exists.bind_text(1, suppression_key(address));
    int rc = exists.step();
    exists.reset();
    if (rc == SQLITE_ROW) out.push_back(address);
  }
  return out;
}

}  // namespace store::sqlite
