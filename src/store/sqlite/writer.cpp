// Group commit's transaction: one BEGIN IMMEDIATE, the inserts of every message of the group,
// one fsynced COMMIT. On any failure the whole group is rolled back, so the caller may retry it
// piecemeal. Delivery state changes are small transactions of their own on the same (only)
// writer, committed without an fsync of their own (see writer.h); redeliveries are durable.
#include "store/sqlite/writer.h"

#include "common/ids.h"
#include "common/time.h"
#include "store/row_codec.h"

namespace store::sqlite {

bool Writer::open(Connection db, std::string& error) {
  db_ = std::move(db);
  sqlite3* handle = db_.handle();
  int rc = SQLITE_OK;
  auto prepare = [&](Statement& statement, const char* sql) {
    if (rc == SQLITE_OK) rc = statement.prepare(handle, sql);
  };
  prepare(statements_.begin, "BEGIN IMMEDIATE");
  prepare(statements_.commit, "COMMIT");
  prepare(statements_.rollback, "ROLLBACK");
  prepare(statements_.insert_message,
          "INSERT INTO inbound_messages (id, received_at, mail_from, rcpt_to, envelope, size, data)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  prepare(statements_.insert_delivery,
          "INSERT INTO inbound_deliveries (id, message_id, endpoint, rcpt_to, state, attempts,"
          " next_attempt_at, created_at, updated_at, lease_until, lease_owner, render_attempts,"
          " origin) VALUES (?1, ?2, ?3, ?4, ?6, ?7, ?5, ?5, ?5, ?8, ?9, ?7, ?10)");
  // Due = queued, or deferred and its time has come; oldest due first (ARCHITECTURE.md states).
  // Both ranges come ordered from the index (state, next_attempt_at, id) and SQLite merges them,
  // so a claim reads `limit` rows however long the backlog is; the message bytes are read by id
  // afterwards, only for the rows claimed (never copied into a sorter). The index is partial
  // (schema 4: waiting rows only), and SQLite uses a partial index only for a query whose WHERE
  // repeats the index's own term: hence "state IN (...) AND state = ...".
  prepare(statements_.select_due,
          "SELECT id, message_id, endpoint, rcpt_to, attempts, next_attempt_at, render_attempts"
          " FROM inbound_deliveries WHERE state IN ('queued', 'deferred') AND state = 'queued'"
          " UNION ALL"
          " SELECT id, message_id, endpoint, rcpt_to, attempts, next_attempt_at, render_attempts"
          " FROM inbound_deliveries WHERE state IN ('queued', 'deferred') AND state = 'deferred'"
          " AND next_attempt_at <= ?1"
          " ORDER BY 6, 1 LIMIT ?2");
  prepare(statements_.select_message,
          "SELECT received_at, envelope, data FROM inbound_messages WHERE id = ?1");
  prepare(statements_.mark_in_flight,
          "UPDATE inbound_deliveries SET state = 'in_flight', attempts = attempts + 1,"
          " render_attempts = render_attempts + 1, updated_at = ?2, lease_until = ?3,"
          " lease_owner = ?4 WHERE id = ?1");
  prepare(statements_.finish,
          "UPDATE inbound_deliveries SET state = ?2,"
          " next_attempt_at = CASE WHEN ?2 = 'deferred' THEN ?3 ELSE next_attempt_at END,"
          " last_error = ?4, updated_at = ?5, lease_until = 0, lease_owner = '',"
          " render_attempts = CASE WHEN ?8 THEN 0 ELSE render_attempts END,"
          " origin = CASE WHEN ?9 = '' THEN origin ELSE ?9 END"
          " WHERE id = ?1 AND state = 'in_flight' AND lease_owner = ?6"
          " AND (?7 = 0 OR attempts = ?7)");
  // Leases that ended (store.h requeue_expired): "state = 'in_flight'" selects the partial
  // lease indexes (schema 6), so only the rows in flight are read.
  prepare(statements_.requeue_expired,
          "UPDATE inbound_deliveries SET state = 'queued', lease_until = 0, lease_owner = '',"
          " updated_at = ?1 WHERE state = 'in_flight' AND lease_until < ?1");
  // Orphaned rows (schema 8's partial index) whose endpoint is configured again.
  prepare(statements_.requeue_orphaned,
          "UPDATE inbound_deliveries SET state = 'queued', next_attempt_at = ?2, updated_at = ?2"
          " WHERE state = 'orphaned' AND endpoint = ?1");
  prepare(statements_.requeue_expired_outbound,
          "UPDATE outbound_recipients SET state = 'queued', lease_until = 0, lease_owner = '',"
          " updated_at = ?1 WHERE state = 'in_flight' AND lease_until < ?1");
  // A message goes when every one of its rows is finished and past its retention; the foreign
  // key's ON DELETE CASCADE takes its rows with it. An orphaned row (its endpoint no longer
  // configured) is kept like a dead letter.
  prepare(statements_.prune,
          "DELETE FROM inbound_messages WHERE id IN ("
          " SELECT message_id FROM inbound_deliveries GROUP BY message_id HAVING"
          " sum(CASE WHEN state = 'delivered' AND updated_at < ?1 THEN 0"
          "          WHEN state IN ('dead', 'orphaned') AND updated_at < ?2 THEN 0"
          "          ELSE 1 END) = 0"
          " LIMIT ?3)");
  // ?2 = -1 when the message does not exist, else the number of its delivery rows.
  prepare(statements_.count_rows,
          "SELECT CASE WHEN EXISTS (SELECT 1 FROM inbound_messages WHERE id = ?1)"
          " THEN (SELECT count(*) FROM inbound_deliveries WHERE message_id = ?1) ELSE -1 END");
  prepare(statements_.requeue,
          "UPDATE inbound_deliveries SET state = 'queued', next_attempt_at = ?2, updated_at = ?2,"
          " render_attempts = 0 WHERE message_id = ?1 AND state <> 'in_flight'");
  prepare(statements_.count_events,
          "SELECT CASE WHEN EXISTS (SELECT 1 FROM outbound_messages WHERE id = ?1)"
          " THEN (SELECT count(*) FROM event_deliveries WHERE message_id = ?1) ELSE -1 END");
  prepare(statements_.requeue_events,
          "UPDATE event_deliveries SET state = 'queued', next_attempt_at = ?2, updated_at = ?2"
          " WHERE message_id = ?1 AND state <> 'in_flight'");
  if (rc != SQLITE_OK) {
    error = "cannot prepare the writer's statements: " + db_.error_message();
    return false;
  }
  return true;
}

Status Writer::write(const std::vector<const InboundMessage*>& messages, const Also& also,
                     size_t claim, std::vector<Claimed>* claimed) {
  if (claimed != nullptr) claimed->clear();
  if (db_.handle() == nullptr) return Status::closed;
  // Never acknowledge a message on a commit that did not fsync.
  if (!set_durable(true)) return Status::io_error;
  int64_t now_ms = common::unix_ms(common::Clock::now());
  int rc = statements_.begin.run();
  if (rc != SQLITE_OK) return fail(rc);
  auto failed = [&](int code) {
    if (claimed != nullptr) claimed->clear();
    return fail(code);
  };
  for (size_t i = 0; i < messages.size(); ++i) {
    rc = insert(*messages[i], i, now_ms, claim, claimed);
    if (rc != SQLITE_OK) return failed(rc);
  }
  if (also) {
    rc = also(now_ms);
    if (rc != SQLITE_OK) return failed(rc);
  }
  // With WAL and synchronous=FULL this COMMIT returns only after the WAL is fsynced.
  rc = statements_.commit.run();
  if (rc != SQLITE_OK) return failed(rc);
  return Status::ok;
}

int Writer::insert(const InboundMessage& message, size_t index, int64_t now_ms, size_t& claim,
                   std::vector<Claimed>* claimed) {
  Statement& row = statements_.insert_message;
  row.bind_text(1, message.id);
  row.bind_int(2, message.received_at_ms);
  row.bind_text(3, message.mail_from);
  row.bind_text(4, encode_list(message.rcpt_to));
  row.bind_text(5, message.envelope_json);
  row.bind_int(6, static_cast<int64_t>(message.data.size()));
  row.bind_blob(7, message.data);
  int rc = row.run();
  for (size_t d = 0; d < message.deliveries.size() && rc == SQLITE_OK; ++d) {
    const Delivery& delivery = message.deliveries[d];
    bool claiming = claim > 0 && claimed != nullptr;
    std::string id = common::uuid_v7();
    Statement& delivery_row = statements_.insert_delivery;
    delivery_row.bind_text(1, id);
    delivery_row.bind_text(2, message.id);
    delivery_row.bind_text(3, delivery.endpoint);
    delivery_row.bind_text(4, encode_list(delivery.rcpt_to));
    delivery_row.bind_int(5, now_ms);  // due at once
    delivery_row.bind_text(6, claiming ? "in_flight" : "queued");
    delivery_row.bind_int(7, claiming ? 1 : 0);
    delivery_row.bind_int(8, claiming ? now_ms + lease_ms_ : 0);
    delivery_row.bind_text(9, claiming ? owner_ : std::string());
    delivery_row.bind_text(10, delivery.origin);
    rc = delivery_row.run();
    if (rc == SQLITE_OK && claiming) {
      --claim;
      claimed->push_back({index, d, std::move(id), now_ms});
    }
  }
  return rc;
}

std::vector<DeliveryJob> Writer::claim(size_t limit, int64_t now_ms) {
  std::vector<DeliveryJob> jobs;
  if (db_.handle() == nullptr || limit == 0) return jobs;
  set_durable(false);
  int rc = statements_.begin.run();
  if (rc == SQLITE_OK) rc = read_due(limit, now_ms, jobs);
  for (DeliveryJob& job : jobs) {
    if (rc != SQLITE_OK) break;
    Statement& mark = statements_.mark_in_flight;
    mark.bind_text(1, job.delivery.id);
    mark.bind_int(2, now_ms);
    mark.bind_int(3, now_ms + lease_ms_);
    mark.bind_text(4, owner_);
    rc = mark.run();
    job.delivery.state = "in_flight";
    job.delivery.attempts += 1;
    job.delivery.render_attempts += 1;
    job.delivery.lease_until_ms = now_ms + lease_ms_;
    job.delivery.lease_owner = owner_;
  }
  if (rc == SQLITE_OK) rc = statements_.commit.run();
  if (rc != SQLITE_OK) {
    fail(rc);
    jobs.clear();
  }
  return jobs;
}

int Writer::read_due(size_t limit, int64_t now_ms, std::vector<DeliveryJob>& jobs) {
  Statement& due = statements_.select_due;
  Reset reset(due);
  due.bind_int(1, now_ms);
  due.bind_int(2, static_cast<int64_t>(limit));
  int rc;
  while ((rc = due.step()) == SQLITE_ROW) {
    DeliveryJob job;
    job.delivery.id = due.column_text(0);
    job.delivery.message_id = due.column_text(1);
    job.delivery.endpoint = due.column_text(2);
    job.delivery.rcpt_to = decode_list(due.column_text(3));
    job.delivery.attempts = static_cast<int>(due.column_int(4));
    job.delivery.next_attempt_at_ms = due.column_int(5);
    job.delivery.render_attempts = static_cast<int>(due.column_int(6));
    jobs.push_back(std::move(job));
  }
  if (rc != SQLITE_DONE) return rc;
  for (DeliveryJob& job : jobs) {
    Statement& message = statements_.select_message;
    Reset reset_message(message);
    message.bind_text(1, job.delivery.message_id);
    rc = message.step();
    // The foreign key keeps a row's message; a missing one means a broken database.
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
    job.received_at_ms = message.column_int(0);
    job.envelope_json = message.column_text(1);
    job.data = message.column_blob(2);
  }
  return SQLITE_OK;
}

int Writer::finish(const std::string& delivery_id, DeliveryOutcome outcome,
                   int64_t next_attempt_at_ms, const std::string& last_error, int64_t now_ms,
                   int attempt, bool rendered, const std::string& origin) {
  if (db_.handle() == nullptr) return SQLITE_MISUSE;
  const char* state = outcome == DeliveryOutcome::delivered  ? "delivered"
                      : outcome == DeliveryOutcome::deferred ? "deferred"
                      : outcome == DeliveryOutcome::orphaned ? "orphaned"
                                                             : "dead";
  Statement& finish = statements_.finish;
  finish.bind_text(1, delivery_id);
  finish.bind_text(2, state);
  finish.bind_int(3, next_attempt_at_ms);
  if (!last_error.empty()) finish.bind_text(4, last_error);  // else NULL
  finish.bind_int(5, now_ms);
  finish.bind_text(6, owner_);
  finish.bind_int(7, attempt);
  finish.bind_int(8, rendered ? 1 : 0);
  finish.bind_text(9, origin);
  // One statement in autocommit mode: its own transaction, fsynced like any COMMIT.
  return finish.run();
}

int Writer::finish_all(const std::vector<Finish>& finishes, int64_t now_ms) {
  if (db_.handle() == nullptr) return SQLITE_MISUSE;
  set_durable(false);
  int rc = statements_.begin.run();
  for (const Finish& f : finishes) {
    if (rc != SQLITE_OK) break;
    rc = finish(f.delivery_id, f.outcome, f.next_attempt_at_ms, f.last_error, now_ms, f.attempt,
                f.rendered, f.origin);
  }
  if (rc == SQLITE_OK) rc = statements_.commit.run();
  if (rc != SQLITE_OK) fail(rc);
  return rc;
}

uint64_t Writer::requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now_ms) {
  if (db_.handle() == nullptr || endpoints.empty()) return 0;
  set_durable(false);  // lost to a crash: the next start queues them again
  int rc = statements_.begin.run();
  uint64_t requeued = 0;
  for (const std::string& endpoint : endpoints) {
    if (rc != SQLITE_OK) break;
    Statement& update = statements_.requeue_orphaned;
    update.bind_text(1, endpoint);
    update.bind_int(2, now_ms);
    rc = update.run();
    if (rc == SQLITE_OK) requeued += static_cast<uint64_t>(sqlite3_changes64(db_.handle()));
  }
  if (rc == SQLITE_OK) rc = statements_.commit.run();
  if (rc != SQLITE_OK) {
    fail(rc);
    return 0;
  }
  return requeued;
}

uint64_t Writer::requeue_expired(int64_t now_ms, int& rc) {
  rc = SQLITE_MISUSE;
  if (db_.handle() == nullptr) return 0;
  set_durable(false);  // lost to a crash: the next open queues every in-flight row anyway
  rc = statements_.begin.run();
  uint64_t requeued = 0;
  for (Statement* update : {&statements_.requeue_expired, &statements_.requeue_expired_outbound}) {
    if (rc != SQLITE_OK) break;
    update->bind_int(1, now_ms);
    rc = update->run();
    if (rc == SQLITE_OK) requeued += static_cast<uint64_t>(sqlite3_changes64(db_.handle()));
  }
  if (rc == SQLITE_OK) rc = statements_.commit.run();
  if (rc != SQLITE_OK) {
    fail(rc);
    return 0;
  }
  return requeued;
}

uint64_t Writer::prune(int64_t delivered_before_ms, int64_t dead_before_ms, size_t limit) {
  if (db_.handle() == nullptr) return 0;
  set_durable(false);
  Statement& prune = statements_.prune;
  prune.bind_int(1, delivered_before_ms);
  prune.bind_int(2, dead_before_ms);
  prune.bind_int(3, static_cast<int64_t>(limit));
  if (prune.run() != SQLITE_OK) return 0;
  // Counts the messages only: rows deleted by the cascade are not counted by sqlite3_changes.
  return static_cast<uint64_t>(sqlite3_changes64(db_.handle()));
}

Redelivery Writer::redeliver(const std::string& message_id, int64_t now_ms) {
  return requeue_message(message_id, now_ms, statements_.count_rows, statements_.requeue);
}

// `count` answers the message's rows (-1 when the message is not there), `requeue` puts those
// not in flight back to queued; one durable transaction (the API answers 202 after it).
Redelivery Writer::requeue_message(const std::string& message_id, int64_t now_ms, Statement& count,
                                   Statement& requeue) {
  Redelivery result;
  if (db_.handle() == nullptr) return result;
  int rc = set_durable(true) ? statements_.begin.run() : SQLITE_IOERR;
  int64_t rows = -1;
  if (rc == SQLITE_OK) {
    Reset reset(count);
    count.bind_text(1, message_id);
    rc = count.step();
    if (rc == SQLITE_ROW) rows = count.column_int(0), rc = SQLITE_OK;
  }
  uint64_t requeued = 0;
  if (rc == SQLITE_OK && rows > 0) {
    requeue.bind_text(1, message_id);
    requeue.bind_int(2, now_ms);
    rc = requeue.run();
    if (rc == SQLITE_OK) requeued = static_cast<uint64_t>(sqlite3_changes64(db_.handle()));
  }
  if (rc == SQLITE_OK) rc = statements_.commit.run();
  if (rc != SQLITE_OK) {
    fail(rc);
    return result;
  }
  result.found = rows >= 0;
  result.deliveries = rows > 0 ? static_cast<uint64_t>(rows) : 0;
  result.requeued = requeued;
  return result;
}

Status Writer::add_deliveries(const std::string& message_id,
                              const std::vector<Delivery>& deliveries, int64_t now_ms) {
  if (db_.handle() == nullptr) return Status::closed;
  int rc = set_durable(true) ? statements_.begin.run() : SQLITE_IOERR;
  for (size_t d = 0; rc == SQLITE_OK && d < deliveries.size(); ++d) {
    Statement& row = statements_.insert_delivery;
    row.bind_text(1, common::uuid_v7());
    row.bind_text(2, message_id);
    row.bind_text(3, deliveries[d].endpoint);
    row.bind_text(4, encode_list(deliveries[d].rcpt_to));
    row.bind_int(5, now_ms);
    row.bind_text(6, "queued");
    row.bind_int(7, 0);
    row.bind_int(8, 0);
    row.bind_text(9, std::string());
    row.bind_text(10, deliveries[d].origin);
    rc = row.run();
  }
  if (rc == SQLITE_OK) rc = statements_.commit.run();
  return rc == SQLITE_OK ? Status::ok : fail(rc);
}

Redelivery Writer::redeliver_events(const std::string& message_id, int64_t now_ms) {
  return requeue_message(message_id, now_ms, statements_.count_events, statements_.requeue_events);
}

Status Writer::probe(size_t bytes) {
  if (db_.handle() == nullptr) return Status::closed;
  // The id cannot be a message's (those are UUIDs), and the row never commits.
  int rc = statements_.begin.run();
  if (rc == SQLITE_OK)
    rc = db_.exec(
        "INSERT INTO inbound_messages (id, received_at, mail_from, rcpt_to, envelope, size, data)"
        " VALUES ('~writable-probe', 0, '', '[]', '{}', 0, zeroblob(" +
        std::to_string(bytes) + "))");
  if (rc != SQLITE_OK) return fail(rc);
  statements_.rollback.run();
  return Status::ok;
}

bool Writer::set_durable(bool durable) {
  if (durable == durable_) return true;
  if (db_.handle() == nullptr) return false;
  // Outside any transaction (SQLite applies it to the following ones). If it fails the
  // connection stays as it was: durable_ is only changed on success.
  if (db_.exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") != SQLITE_OK)
    return false;
  durable_ = durable;
  return true;
}

Status Writer::fail(int result_code) {
  // SQLite may already have rolled the transaction back itself (SQLITE_FULL, I/O errors).
  if (db_.in_transaction()) statements_.rollback.run();
  return status_from(result_code);
}

}  // namespace store::sqlite
