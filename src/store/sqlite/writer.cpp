// Group commit's transaction: one BEGIN IMMEDIATE, the inserts of every message of the group,
// one COMMIT. On any failure the whole group is rolled back, so the caller may retry it piecemeal.
#include "store/sqlite/writer.h"

#include "common/ids.h"
#include "common/time.h"
#include "store/sqlite/codec.h"

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
          " next_attempt_at, created_at, updated_at)"
          " VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?5, ?5)");
  if (rc != SQLITE_OK) {
    error = "cannot prepare the writer's statements: " + db_.error_message();
    return false;
  }
  return true;
}

Status Writer::write(const std::vector<const InboundMessage*>& messages) {
  if (db_.handle() == nullptr) return Status::closed;
  int64_t now_ms = common::unix_ms(common::Clock::now());
  int rc = statements_.begin.run();
  if (rc != SQLITE_OK) return fail(rc);
  for (const InboundMessage* message : messages) {
    rc = insert(*message, now_ms);
    if (rc != SQLITE_OK) return fail(rc);
  }
  // With WAL and synchronous=FULL this COMMIT returns only after the WAL is fsynced.
  rc = statements_.commit.run();
  if (rc != SQLITE_OK) return fail(rc);
  return Status::ok;
}

int Writer::insert(const InboundMessage& message, int64_t now_ms) {
  Statement& row = statements_.insert_message;
  row.bind_text(1, message.id);
  row.bind_int(2, message.received_at_ms);
  row.bind_text(3, message.mail_from);
  row.bind_text(4, encode_list(message.rcpt_to));
  row.bind_text(5, message.envelope_json);
  row.bind_int(6, static_cast<int64_t>(message.data.size()));
  row.bind_blob(7, message.data);
  int rc = row.run();
  for (const Delivery& delivery : message.deliveries) {
    if (rc != SQLITE_OK) break;
    Statement& delivery_row = statements_.insert_delivery;
    delivery_row.bind_text(1, common::uuid_v7());
    delivery_row.bind_text(2, message.id);
    delivery_row.bind_text(3, delivery.endpoint);
    delivery_row.bind_text(4, encode_list(delivery.rcpt_to));
    delivery_row.bind_int(5, now_ms);  // due at once
    rc = delivery_row.run();
  }
  return rc;
}

Status Writer::fail(int result_code) {
  // SQLite may already have rolled the transaction back itself (SQLITE_FULL, I/O errors).
  if (db_.in_transaction()) statements_.rollback.run();
  return status_from(result_code);
}

}  // namespace store::sqlite
