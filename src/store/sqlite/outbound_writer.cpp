// Outbound SQL on the writer's connection. The idempotency lookup runs in the same transaction as
// the insert, so two requests with one key can never both be written; every value is bound.
// Recipients move queued → in_flight → sent | deferred | failed (ARCHITECTURE.md states), and
// to bounced when a DSN with Action failed is recorded for them (record_bounce).
#include "store/sqlite/outbound_writer.h"

#include "store/row_codec.h"
#include "store/sqlite/event_writer.h"
#include "store/sqlite/suppressions.h"

namespace store::sqlite {
namespace {

// A recipient is due when queued, or deferred and its time has come (?1 = now).
#define SB_OUTBOUND_DUE "(state = 'queued' OR (state = 'deferred' AND next_attempt_at <= ?1))"

constexpr const char* kSelectDue =
    "SELECT m.id, m.created_at, m.mail_from, m.data FROM outbound_messages m JOIN ("
    " SELECT message_id, min(next_attempt_at) AS due FROM outbound_recipients"
    " WHERE " SB_OUTBOUND_DUE
    " GROUP BY message_id ORDER BY due, message_id LIMIT ?2"
    ") d ON d.message_id = m.id ORDER BY d.due, m.id";
constexpr const char* kSelectDueRecipients =
    "SELECT rcpt, attempts, position FROM outbound_recipients WHERE message_id = ?2 "
    "AND " SB_OUTBOUND_DUE " ORDER BY position";
constexpr const char* kMarkInFlight =
    "UPDATE outbound_recipients SET state = 'in_flight', attempts = attempts + 1,"
    " updated_at = ?3, lease_until = ?4, lease_owner = ?5 WHERE message_id = ?2 "
    "AND " SB_OUTBOUND_DUE;
#undef SB_OUTBOUND_DUE

constexpr const char* kFinish =
    "UPDATE outbound_recipients SET state = ?3,"
    " next_attempt_at = CASE WHEN ?3 = 'deferred' THEN ?4 ELSE next_attempt_at END,"
    " last_code = ?5, last_enhanced = ?6, last_text = ?7, updated_at = ?8"
    " WHERE message_id = ?1 AND rcpt = ?2 AND state = 'in_flight' RETURNING position";
// record_bounce (store.h): the recipient a DSN answers, and its state change for Action failed
// (a row in flight keeps its state: its attempt's outcome is still to come).
constexpr const char* kBounceRecipient =
    "SELECT rcpt FROM outbound_recipients WHERE message_id = ?1 AND position = ?2";
constexpr const char* kBounced =
    "UPDATE outbound_recipients SET state = 'bounced', last_code = ?3, last_enhanced = ?4,"
    " last_text = ?5, updated_at = ?6"
    " WHERE message_id = ?1 AND position = ?2 AND state <> 'in_flight'";
// One entry of the recipient's status history (store.h RecipientHistory), after its last one
// (the key's own range: the page the insert writes).
constexpr const char* kInsertHistory =
    "INSERT INTO outbound_history (message_id, position, seq, created_at, state, code, enhanced,"
    " text, inbound_id) VALUES (?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM outbound_history"
    " WHERE message_id = ?1 AND position = ?2), ?3, ?4, ?5, ?6, ?7, ?8)";
// Like inbound retention: sent is delivered, failed (bounced, suppressed) is dead; ON DELETE
// CASCADE takes the rows.
constexpr const char* kPrune =
    "DELETE FROM outbound_messages WHERE id IN ("
    " SELECT message_id FROM outbound_recipients GROUP BY message_id HAVING"
    " sum(CASE WHEN state = 'sent' AND updated_at < ?1 THEN 0"
    "          WHEN state IN ('failed', 'bounced', 'suppressed') AND updated_at < ?2 THEN 0"
    "          ELSE 1 END) = 0"
    " LIMIT ?3)";

}  // namespace

bool requeue_outbound_in_flight(Connection& db, int64_t now_ms, std::string& error) {
  Statement update;
  int rc = update.prepare(db.handle(),
                          "UPDATE outbound_recipients SET state = 'queued', lease_until = 0,"
                          " lease_owner = '', updated_at = ?1 WHERE state = 'in_flight'");
  if (rc == SQLITE_OK) {
    update.bind_int(1, now_ms);
    rc = update.run();
  }
  if (rc != SQLITE_OK) {
    error = "cannot re-queue in-flight outbound recipients: " + db.error_message();
    return false;
  }
  return true;
}

bool OutboundWriter::open(Writer& writer, std::chrono::milliseconds idempotency_ttl,
                          std::string& error) {
  writer_ = &writer;
  db_ = &writer.connection();
  Connection& db = *db_;
  ttl_ms_ = idempotency_ttl.count();
  int rc = SQLITE_OK;
  auto prepare = [&](Statement& statement, const char* sql) {
    if (rc == SQLITE_OK) rc = statement.prepare(db.handle(), sql);
  };
  prepare(statements_.begin, "BEGIN IMMEDIATE");
  prepare(statements_.commit, "COMMIT");
  prepare(statements_.rollback, "ROLLBACK");
  prepare(statements_.find_key,
          "SELECT id, created_at, coalesce(request_hash, ''), response_json"
          " FROM outbound_messages WHERE idempotency_key = ?1");
  prepare(statements_.release_key,
          "UPDATE outbound_messages SET idempotency_key = NULL WHERE id = ?1");
  prepare(statements_.insert_message,
          "INSERT INTO outbound_messages (id, created_at, mail_from, rcpt_to, message_id, size,"
          " data, idempotency_key, request_hash, response_json, metadata, api_key)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  prepare(statements_.insert_recipient,
          "INSERT INTO outbound_recipients (message_id, position, rcpt, state, attempts,"
          " next_attempt_at, updated_at) VALUES (?1, ?2, ?3,"
          // Issue 14: decided in the enqueue's transaction (lower() is ASCII-only in SQLite,
          // like store.h suppression_key).
          " CASE WHEN EXISTS (SELECT 1 FROM suppressions WHERE address = lower(?3))"
          " THEN 'suppressed' ELSE 'queued' END, 0, ?4, ?4)");
  prepare(statements_.select_due, kSelectDue);
  prepare(statements_.select_due_recipients, kSelectDueRecipients);
  prepare(statements_.mark_in_flight, kMarkInFlight);
  prepare(statements_.finish, kFinish);
  prepare(statements_.insert_history, kInsertHistory);
  prepare(statements_.bounce_recipient, kBounceRecipient);
  prepare(statements_.bounced, kBounced);
  prepare(statements_.prune, kPrune);
  if (rc != SQLITE_OK) {
    error = "cannot prepare the outbound writer's statements: " + db.error_message();
    close();
    return false;
  }
  return true;
}

void OutboundWriter::close() {
  statements_ = {};
  db_ = nullptr;
  writer_ = nullptr;
}

int OutboundWriter::insert(const OutboundMessage& message, int64_t now_ms,
                           OutboundEnqueued& result) {
  if (db_ == nullptr) return SQLITE_MISUSE;
  result.replay = false;
  result.conflict = false;
  result.response_json = message.response_json;
  if (!message.idempotency_key.empty()) {
    int rc = check_key(message, result);
    if (rc != SQLITE_OK || result.replay || result.conflict) return rc;
  }
  return insert_rows(message, now_ms);
}

// CONTRACTS.md 2: the same key within the TTL replays the first response (same body) or is a
// conflict (another body). An older holder of the key keeps its message but gives the key up.
int OutboundWriter::check_key(const OutboundMessage& message, OutboundEnqueued& result) {
  Statement& find = statements_.find_key;
  Reset reset(find);
  find.bind_text(1, message.idempotency_key);
  int rc = find.step();
  if (rc == SQLITE_DONE) return SQLITE_OK;
  if (rc != SQLITE_ROW) return rc;
  std::string holder = find.column_text(0);
  int64_t created_at_ms = find.column_int(1);
  if (created_at_ms >= message.created_at_ms - ttl_ms_) {
    if (find.column_text(2) == message.request_hash) {
      result.replay = true;
      result.response_json = find.column_text(3);
    } else {
      result.conflict = true;
    }
    return SQLITE_OK;
  }
  Statement& release = statements_.release_key;
  release.bind_text(1, holder);
  return release.run();
}

int OutboundWriter::insert_rows(const OutboundMessage& message, int64_t now_ms) {
  Statement& row = statements_.insert_message;
  row.bind_text(1, message.id);
  row.bind_int(2, message.created_at_ms);
  row.bind_text(3, message.mail_from);
  row.bind_text(4, encode_list(message.rcpt_to));
  row.bind_text(5, message.message_id);
  row.bind_int(6, static_cast<int64_t>(message.data.size()));
  row.bind_blob(7, message.data);
  if (!message.idempotency_key.empty()) {  // else NULL: many messages without a key
    row.bind_text(8, message.idempotency_key);
    row.bind_text(9, message.request_hash);
  }
  row.bind_text(10, message.response_json);
  if (!message.metadata_json.empty()) row.bind_text(11, message.metadata_json);  // else NULL
  row.bind_text(12, message.api_key);
  int rc = row.run();
  for (size_t position = 0; rc == SQLITE_OK && position < message.rcpt_to.size(); ++position) {
    Statement& recipient = statements_.insert_recipient;
    recipient.bind_text(1, message.id);
    recipient.bind_int(2, static_cast<int64_t>(position));
    recipient.bind_text(3, message.rcpt_to[position]);
    recipient.bind_int(4, now_ms);  // due at once
    rc = recipient.run();
  }
  if (rc == SQLITE_OK && events_ != nullptr && events_->enabled()) {
    EventFacts facts;
    facts.type = "message.queued";
    facts.message_id = message.id;
    facts.api_key = message.api_key;
    facts.metadata_json = message.metadata_json;
    facts.recipients = message.rcpt_to;
    facts.at_ms = now_ms;
    rc = events_->record(facts, now_ms);
  }
  return rc;
}

std::vector<OutboundJob> OutboundWriter::claim(size_t limit, int64_t now_ms) {
  std::vector<OutboundJob> jobs;
  if (db_ == nullptr || limit == 0) return jobs;
  writer_->set_durable(false);
  int rc = statements_.begin.run();
  if (rc == SQLITE_OK) rc = read_due_messages(limit, now_ms, jobs);
  for (OutboundJob& job : jobs) {
    if (rc != SQLITE_OK) break;
    rc = claim_recipients(job, now_ms);
  }
  if (rc == SQLITE_OK) rc = statements_.commit.run();
  if (rc != SQLITE_OK) {
    rollback();
    jobs.clear();
  }
  return jobs;
}

int OutboundWriter::read_due_messages(size_t limit, int64_t now_ms,
                                      std::vector<OutboundJob>& jobs) {
  Statement& due = statements_.select_due;
  Reset reset(due);
  due.bind_int(1, now_ms);
  due.bind_int(2, static_cast<int64_t>(limit));
  int rc;
  while ((rc = due.step()) == SQLITE_ROW) {
    OutboundJob job;
    job.id = due.column_text(0);
    job.created_at_ms = due.column_int(1);
    job.mail_from = due.column_text(2);
    job.data = due.column_blob(3);
    jobs.push_back(std::move(job));
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// Reads the message's due recipients, then marks exactly those (same predicate, same
// transaction) in_flight with one more attempt.
int OutboundWriter::claim_recipients(OutboundJob& job, int64_t now_ms) {
  int rc;
  {
    Statement& select = statements_.select_due_recipients;
    Reset reset(select);
    select.bind_int(1, now_ms);
    select.bind_text(2, job.id);
    while ((rc = select.step()) == SQLITE_ROW) {
      job.rcpt_to.push_back(select.column_text(0));
      job.attempts.push_back(static_cast<int>(select.column_int(1)) + 1);
      job.positions.push_back(static_cast<int>(select.column_int(2)));
    }
    if (rc != SQLITE_DONE) return rc;
  }
  Statement& mark = statements_.mark_in_flight;
  mark.bind_int(1, now_ms);
  mark.bind_text(2, job.id);
  mark.bind_int(3, now_ms);
  mark.bind_int(4, now_ms + lease_ms_);
  mark.bind_text(5, owner_);
  return mark.run();
}

int OutboundWriter::finish_all(const std::vector<Finish>& finishes, int64_t now_ms) {
  if (db_ == nullptr) return SQLITE_MISUSE;
  int rc = writer_->set_durable(true) ? statements_.begin.run() : SQLITE_IOERR;
  for (const Finish& finish : finishes) {
    if (rc != SQLITE_OK) break;
    rc = finish_one(finish, now_ms);
  }
  if (rc == SQLITE_OK) rc = statements_.commit.run();
  if (rc != SQLITE_OK) rollback();
  return rc;
}

int OutboundWriter::finish_one(const Finish& finish, int64_t now_ms) {
  const RecipientResult& result = finish.result;
  Statement& update = statements_.finish;
  update.bind_text(1, finish.message_id);
  update.bind_text(2, result.rcpt);
  update.bind_text(3, to_string(result.outcome));
  update.bind_int(4, result.next_attempt_at_ms);
  update.bind_int(5, result.code);
  update.bind_text(6, result.enhanced);
  update.bind_text(7, result.text);
  update.bind_int(8, now_ms);
  int64_t position = -1;  // the row's, when it was in flight (RETURNING)
  int rc;
  {
    Reset reset(update);
    rc = update.step();
    if (rc == SQLITE_ROW) {
      position = update.column_int(0);
      rc = update.step();
    }
    if (rc != SQLITE_DONE) return rc;
  }
  // The history entry and the recipient's event in the same transaction, when the row was in
  // flight (one outcome, one entry, one event: a finish that came after its lease ended changes
  // nothing and reports nothing).
  if (position < 0) return SQLITE_OK;
  rc = insert_history(finish.message_id, position, now_ms, to_string(result.outcome), result.code,
                      result.enhanced, result.text, "");
  if (rc != SQLITE_OK || events_ == nullptr || !events_->enabled()) return rc;
  EventFacts facts;
  facts.type = event_type(result.outcome);
  facts.message_id = finish.message_id;
  facts.result = &result;
  facts.at_ms = now_ms;
  rc = events_->message_facts(finish.message_id, facts);
  return rc == SQLITE_OK ? events_->record(facts, now_ms) : rc;
}

int OutboundWriter::insert_history(const std::string& message_id, int64_t position, int64_t at_ms,
                                   const std::string& state, int code, const std::string& enhanced,
                                   const std::string& text, const std::string& inbound_id) {
  Statement& insert = statements_.insert_history;
  insert.bind_text(1, message_id);
  insert.bind_int(2, position);
  insert.bind_int(3, at_ms);
  insert.bind_text(4, state);
  insert.bind_int(5, code);
  insert.bind_text(6, enhanced);
  insert.bind_text(7, text);
  insert.bind_text(8, inbound_id);
  return insert.run();
}

BounceRecorded OutboundWriter::record_bounce(const Bounce& bounce, int64_t now_ms) {
  BounceRecorded recorded;
  if (db_ == nullptr) return recorded.status = Status::closed, recorded;
  // Durable like the API's suppressions: the DSN is acknowledged once this returns.
  int rc = writer_->set_durable(true) ? statements_.begin.run() : SQLITE_IOERR;
  if (rc == SQLITE_OK) {
    Statement& find = statements_.bounce_recipient;
    Reset reset(find);
    find.bind_text(1, bounce.message_id);
    find.bind_int(2, bounce.position);
    rc = find.step();
    if (rc == SQLITE_ROW) {
      recorded.matched = true;
      recorded.rcpt = find.column_text(0);
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
  }
  if (rc == SQLITE_OK && recorded.matched) rc = write_bounce(bounce, now_ms, recorded);
  if (rc == SQLITE_OK && recorded.matched) rc = statements_.commit.run();
  if (rc == SQLITE_OK && !recorded.matched) rollback();  // nothing was written
  if (rc != SQLITE_OK) {
    rollback();
    recorded.status = status_from(rc);
    recorded.suppressed = false;
  }
  return recorded;
}

int OutboundWriter::write_bounce(const Bounce& bounce, int64_t now_ms, BounceRecorded& recorded) {
  const bool failed = bounce.action == "failed";  // RFC 3464 2.3.3
  const int64_t at_ms = bounce.at_ms != 0 ? bounce.at_ms : now_ms;
  int rc =
      insert_history(bounce.message_id, bounce.position, at_ms, failed ? "bounced" : bounce.action,
                     bounce.code, bounce.status, bounce.diagnostic, bounce.inbound_id);
  if (rc != SQLITE_OK || !failed) return rc;
  Statement& update = statements_.bounced;
  update.bind_text(1, bounce.message_id);
  update.bind_int(2, bounce.position);
  update.bind_int(3, bounce.code);
  update.bind_text(4, bounce.status);
  update.bind_text(5, bounce.diagnostic);
  update.bind_int(6, now_ms);
  rc = update.run();
  if (rc == SQLITE_OK && events_ != nullptr && events_->enabled()) {
    EventFacts facts;
    facts.type = "message.bounced";
    facts.message_id = bounce.message_id;
    facts.bounce = &bounce;
    facts.recipient = recorded.rcpt;
    facts.at_ms = at_ms;
    rc = events_->message_facts(bounce.message_id, facts);
    if (rc == SQLITE_OK) rc = events_->record(facts, now_ms);
  }
  // A hard bounce (RFC 3463 class 5: permanent) stops future sends to the address.
  if (rc != SQLITE_OK || bounce.status.rfind("5.", 0) != 0) return rc;
  Suppression suppression;
  suppression.address = recorded.rcpt;
  suppression.reason = "bounce";
  suppression.created_at_ms = at_ms;
  suppression.status = bounce.status;
  suppression.diagnostic = bounce.diagnostic;
  suppression.message_id = bounce.message_id;
  suppression.rcpt = recorded.rcpt;
  bool created = false;
  rc = upsert_suppression(*db_, suppression, created);
  recorded.suppressed = rc == SQLITE_OK;
  return rc;
}

uint64_t OutboundWriter::prune(int64_t sent_before_ms, int64_t failed_before_ms, size_t limit) {
  if (db_ == nullptr) return 0;
  writer_->set_durable(false);  // a deletion lost to a crash is repeated by the next prune
  Statement& prune = statements_.prune;
  prune.bind_int(1, sent_before_ms);
  prune.bind_int(2, failed_before_ms);
  prune.bind_int(3, static_cast<int64_t>(limit));
  if (prune.run() != SQLITE_OK) return 0;
  // Counts the messages only: rows deleted by the cascade are not counted by sqlite3_changes.
  return static_cast<uint64_t>(sqlite3_changes64(db_->handle()));
}

void OutboundWriter::rollback() {
  // SQLite may already have rolled the transaction back itself (SQLITE_FULL, I/O errors).
  if (db_ != nullptr && db_->in_transaction()) statements_.rollback.run();
}

}  // namespace store::sqlite
