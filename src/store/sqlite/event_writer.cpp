// Delivery events' SQL on the SQLite writer's connection (event_writer.h). Order: a row is due
// only when no earlier row (seq) of its (endpoint, message) is still to be delivered, so one
// message's events reach an endpoint in the order they were committed.
#include "store/sqlite/event_writer.h"

#include "common/ids.h"

namespace store::sqlite {
namespace {

constexpr const char* kColumns =
    "seq, id, endpoint, type, message_id, rcpt, payload, state, attempts, next_attempt_at,"
    " created_at, last_error";

constexpr const char* kSelectDue =
    "SELECT seq, id, endpoint, type, message_id, rcpt, payload, state, attempts,"
    " next_attempt_at, created_at, last_error FROM event_deliveries e"
    " WHERE state IN ('queued', 'deferred')"  // the partial index event_deliveries_due
    " AND (state = 'queued' OR next_attempt_at <= ?1)"
    " AND NOT EXISTS (SELECT 1 FROM event_deliveries p WHERE p.endpoint = e.endpoint"
    "  AND p.message_id = e.message_id AND p.seq < e.seq"
    "  AND p.state NOT IN ('delivered', 'dead'))"
    " ORDER BY seq LIMIT ?2";

EventRow read_row(const Statement& row) {
  EventRow event;
  event.seq = row.column_int(0);
  event.id = row.column_text(1);
  event.endpoint = row.column_text(2);
  event.type = row.column_text(3);
  event.message_id = row.column_text(4);
  event.rcpt = row.column_text(5);
  event.payload = row.column_text(6);
  event.state = row.column_text(7);
  event.attempts = static_cast<int>(row.column_int(8));
  event.next_attempt_at_ms = row.column_int(9);
  event.created_at_ms = row.column_int(10);
  event.last_error = row.column_text(11);
  return event;
}

}  // namespace

bool EventWriter::open(Connection& db, std::vector<EventSubscription> endpoints, std::string owner,
                       int64_t lease_ms, std::string& error) {
  db_ = &db;
  endpoints_ = std::move(endpoints);
  owner_ = std::move(owner);
  lease_ms_ = lease_ms;
  int rc = SQLITE_OK;
  auto prepare = [&](Statement& statement, const std::string& sql) {
    if (rc == SQLITE_OK) rc = statement.prepare(db.handle(), sql);
  };
  prepare(statements_.insert,
          "INSERT INTO event_deliveries (id, endpoint, type, message_id, rcpt, payload, state,"
          " attempts, next_attempt_at, created_at, updated_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', 0, ?7, ?7, ?7)");
  prepare(statements_.message,
          "SELECT api_key, coalesce(metadata, '') FROM outbound_messages WHERE id = ?1");
  prepare(statements_.select_due, kSelectDue);
  prepare(statements_.mark,
          "UPDATE event_deliveries SET state = 'in_flight', attempts = attempts + 1,"
          " updated_at = ?2, lease_until = ?3, lease_owner = ?4 WHERE seq = ?1");
  prepare(statements_.finish,
          "UPDATE event_deliveries SET state = ?2,"
          " next_attempt_at = CASE WHEN ?2 = 'deferred' THEN ?3 ELSE next_attempt_at END,"
          " last_error = ?4, updated_at = ?5, lease_until = 0, lease_owner = ''"
          " WHERE id = ?1 AND state = 'in_flight' AND lease_owner = ?6"
          " AND (?7 = 0 OR attempts = ?7)");
  prepare(statements_.requeue_expired,
          "UPDATE event_deliveries SET state = 'queued', lease_until = 0, lease_owner = '',"
          " updated_at = ?1 WHERE state = 'in_flight' AND lease_until < ?1");
  prepare(statements_.requeue_all,
          "UPDATE event_deliveries SET state = 'queued', lease_until = 0, lease_owner = '',"
          " updated_at = ?1 WHERE state = 'in_flight'");
  prepare(statements_.prune,
          "DELETE FROM event_deliveries WHERE (state = 'delivered' AND updated_at < ?1)"
          " OR (state = 'dead' AND updated_at < ?2)");
  if (rc != SQLITE_OK) {
    error = "cannot prepare the event writer's statements: " + db.error_message();
    close();
    return false;
  }
  return true;
}

int EventWriter::record(const EventFacts& facts, int64_t now_ms) {
  int rc = SQLITE_OK;
  for (const std::string& endpoint : subscribers(endpoints_, facts.type)) {
    std::string id = common::uuid_v7();
    Statement& insert = statements_.insert;
    insert.bind_text(1, id);
    insert.bind_text(2, endpoint);
    insert.bind_text(3, facts.type);
    insert.bind_text(4, facts.message_id);
    insert.bind_text(5, facts.result != nullptr ? facts.result->rcpt : facts.recipient);
    insert.bind_text(6, event_payload(id, facts));
    insert.bind_int(7, now_ms);
    rc = insert.run();
    if (rc != SQLITE_OK) break;
  }
  return rc;
}

int EventWriter::message_facts(const std::string& message_id, EventFacts& facts) {
  Statement& select = statements_.message;
  Reset reset(select);
  select.bind_text(1, message_id);
  int rc = select.step();
  if (rc == SQLITE_ROW) {
    facts.api_key = select.column_text(0);
    facts.metadata_json = select.column_text(1);
    return SQLITE_OK;
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

std::vector<EventRow> EventWriter::claim(size_t limit, int64_t now_ms) {
  std::vector<EventRow> rows;
  if (db_ == nullptr || limit == 0) return rows;
  if (db_->exec("BEGIN IMMEDIATE") != SQLITE_OK) return rows;
  int rc;
  {
    Statement& due = statements_.select_due;
    Reset reset(due);
    due.bind_int(1, now_ms);
    due.bind_int(2, static_cast<int64_t>(limit));
    while ((rc = due.step()) == SQLITE_ROW) rows.push_back(read_row(due));
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  for (EventRow& row : rows) {
    if (rc != SQLITE_OK) break;
    Statement& mark = statements_.mark;
    mark.bind_int(1, row.seq);
    mark.bind_int(2, now_ms);
    mark.bind_int(3, now_ms + lease_ms_);
    mark.bind_text(4, owner_);
    rc = mark.run();
    row.state = "in_flight";
    row.attempts += 1;
  }
  if (rc == SQLITE_OK) rc = db_->exec("COMMIT");
  if (rc != SQLITE_OK) {
    if (db_->in_transaction()) db_->exec("ROLLBACK");
    rows.clear();
  }
  return rows;
}

bool EventWriter::finish(const std::string& id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
                         const std::string& last_error, int attempt, int64_t now_ms) {
  if (db_ == nullptr) return false;
  Statement& finish = statements_.finish;
  finish.bind_text(1, id);
  finish.bind_text(2, to_string(outcome));
  finish.bind_int(3, next_attempt_at_ms);
  finish.bind_text(4, last_error);
  finish.bind_int(5, now_ms);
  finish.bind_text(6, owner_);
  finish.bind_int(7, attempt);
  return finish.run() == SQLITE_OK;
}

uint64_t EventWriter::requeue_expired(int64_t now_ms) {
  if (db_ == nullptr) return 0;
  statements_.requeue_expired.bind_int(1, now_ms);
  if (statements_.requeue_expired.run() != SQLITE_OK) return 0;
  return static_cast<uint64_t>(sqlite3_changes64(db_->handle()));
}

uint64_t EventWriter::requeue_all_in_flight(int64_t now_ms) {
  if (db_ == nullptr) return 0;
  statements_.requeue_all.bind_int(1, now_ms);
  if (statements_.requeue_all.run() != SQLITE_OK) return 0;
  return static_cast<uint64_t>(sqlite3_changes64(db_->handle()));
}

uint64_t EventWriter::prune(int64_t delivered_before_ms, int64_t dead_before_ms) {
  if (db_ == nullptr) return 0;
  statements_.prune.bind_int(1, delivered_before_ms);
  statements_.prune.bind_int(2, dead_before_ms);
  if (statements_.prune.run() != SQLITE_OK) return 0;
  return static_cast<uint64_t>(sqlite3_changes64(db_->handle()));
}

std::vector<EventRow> read_events(Connection& db, const std::string& message_id) {
  std::vector<EventRow> rows;
  Statement select;
  if (select.prepare(db.handle(),
                     std::string("SELECT ") + kColumns +
                         " FROM event_deliveries WHERE message_id = ?1 ORDER BY seq") != SQLITE_OK)
    return rows;
  select.bind_text(1, message_id);
  while (select.step() == SQLITE_ROW) rows.push_back(read_row(select));
  return rows;
}

}  // namespace store::sqlite
