// Outbound SQL on the writer's connection. A key is looked up FOR UPDATE and the insert says ON
// CONFLICT DO NOTHING: when another replica commits the same key in between, the insert waits for
// it, writes nothing, and the lookup runs again (READ COMMITTED sees the new row), so two
// requests with one key are never both written and the second replays the first or conflicts.
#include "store/postgres/outbound.h"

#include <algorithm>

#include "store/postgres/events.h"
#include "store/postgres/suppressions.h"
#include "store/row_codec.h"

namespace store::postgres {
namespace {

constexpr const char* kFindKey =
    "SELECT id, created_at, coalesce(request_hash, ''), response_json"
    " FROM outbound_messages WHERE idempotency_key = $1 FOR UPDATE";
constexpr const char* kReleaseKey =
    "UPDATE outbound_messages SET idempotency_key = NULL WHERE id = $1";
constexpr const char* kInsertMessage =
    "INSERT INTO outbound_messages (id, created_at, mail_from, rcpt_to, message_id, size, data,"
    " idempotency_key, request_hash, response_json, metadata, api_key)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id";
constexpr const char* kInsertRecipients =
    "INSERT INTO outbound_recipients (message_id, position, rcpt, state, attempts,"
    " next_attempt_at, updated_at)"
    " SELECT $1, (r.n - 1)::integer, r.rcpt,"
    // Issue 14: a suppressed recipient is decided here, in the enqueue's transaction, so every
    // replica agrees; "C" makes lower() ASCII-only like SQLite's (store.h suppression_key).
    " CASE WHEN EXISTS (SELECT 1 FROM suppressions s"
    " WHERE s.address = lower(r.rcpt COLLATE \"C\")) THEN 'suppressed' ELSE 'queued' END,"
    " 0, $3::bigint, $3::bigint"
    " FROM unnest($2::text[]) WITH ORDINALITY AS r(rcpt, n)";

// A recipient is due when queued, or deferred and its time has come ($1 = now).
#define SB_DUE "(state = 'queued' OR (state = 'deferred' AND next_attempt_at <= $1::bigint))"
// The message row is the claim's unit: locked, or skipped when another replica holds it.
constexpr const char* kSelectDue =
    "SELECT m.id, m.created_at, m.mail_from, m.data FROM outbound_messages m JOIN ("
    " SELECT message_id, min(next_attempt_at) AS due FROM outbound_recipients WHERE " SB_DUE
    " GROUP BY message_id ORDER BY due, message_id LIMIT $2"
    ") d ON d.message_id = m.id ORDER BY d.due, m.id FOR UPDATE OF m SKIP LOCKED";
// The UPDATE sees each row's latest version: recipients another replica claimed meanwhile are
// not due any more and are left out.
constexpr const char* kClaimRecipients =
    "UPDATE outbound_recipients SET state = 'in_flight', attempts = attempts + 1,"
    " updated_at = $1, lease_until = $3, lease_owner = $4 WHERE message_id = $2 AND " SB_DUE
    " RETURNING position, rcpt, attempts";
#undef SB_DUE
// The outcome, and its status history entry when the row was in flight (events.cpp
// kFinishWithEvents adds the event rows).
constexpr const char* kFinish =
    "WITH done AS (UPDATE outbound_recipients SET state = $3::text,"
    " next_attempt_at = CASE WHEN $3::text = 'deferred' THEN $4::bigint ELSE next_attempt_at END,"
    " last_code = $5, last_enhanced = $6, last_text = $7, updated_at = $8"
    " WHERE message_id = $1 AND rcpt = $2 AND state = 'in_flight' RETURNING position)"
    " INSERT INTO outbound_history (message_id, position, created_at, state, code, enhanced, text)"
    " SELECT $1, position, $8, $3, $5, $6, $7 FROM done";

// record_bounce (store.h): the recipient a DSN answers (locked against a concurrent outcome),
// and its state change for Action failed (a row in flight keeps its state: its attempt's outcome
// is still to come).
constexpr const char* kBounceRecipient =
    "SELECT rcpt FROM outbound_recipients WHERE message_id = $1 AND position = $2 FOR UPDATE";
constexpr const char* kBounced =
    "UPDATE outbound_recipients SET state = 'bounced', last_code = $3, last_enhanced = $4,"
    " last_text = $5, updated_at = $6"
    " WHERE message_id = $1 AND position = $2 AND state <> 'in_flight'";
constexpr const char* kBounceHistory =
    "INSERT INTO outbound_history (message_id, position, created_at, state, code, enhanced, text,"
    " inbound_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

}  // namespace

int OutboundWriter::check_key(const OutboundMessage& message, OutboundEnqueued& result) {
  Connection& db = writer_.db();
  Params key;
  key.text(message.idempotency_key);
  Result found = db.run("sb_find_key", kFindKey, key);
  if (!found.ok()) return db.fail(found), -1;
  if (found.rows() == 0) return 0;
  // CONTRACTS.md 2: within the TTL the same body replays the first response, another conflicts.
  if (found.integer(0, 1) >= message.created_at_ms - ttl_ms_) {
    if (found.text(0, 2) == message.request_hash) {
      result.replay = true;
      result.response_json = found.text(0, 3);
    } else {
      result.conflict = true;
    }
    return 1;
  }
  // An older holder keeps its message but gives the key up.
  Params holder;
  holder.text(found.text(0, 0));
  Result released = db.run("sb_release_key", kReleaseKey, holder);
  return released.ok() ? 0 : (db.fail(released), -1);
}

bool OutboundWriter::insert(const OutboundMessage& message, int64_t now_ms,
                            OutboundEnqueued& result, bool& inserted) {
  Connection& db = writer_.db();
  inserted = false;
  result.replay = false;
  result.conflict = false;
  result.response_json = message.response_json;
  const bool keyed = !message.idempotency_key.empty();
  for (int round = 0; round < 2; ++round) {
    if (keyed) {
      int decided = check_key(message, result);
      if (decided != 0) return decided > 0;
    }
    Params row;
    row.text(message.id)
        .integer(message.created_at_ms)
        .text(message.mail_from)
        .text(encode_list(message.rcpt_to))
        .text(message.message_id)
        .integer(static_cast<int64_t>(message.data.size()))
        .bytes(message.data);
    if (keyed) {
      row.text(message.idempotency_key).text(message.request_hash);
    } else {
      row.null().null();  // many messages without a key: NULLs are distinct
    }
    row.text(message.response_json);
    if (message.metadata_json.empty()) {
      row.null();
    } else {
      row.text(message.metadata_json);
    }
    row.text(message.api_key);
    Result added = db.run("sb_insert_outbound", kInsertMessage, row);
    if (!added.ok()) return db.fail(added);
    if (added.rows() == 0) continue;  // another replica committed the key meanwhile: look again
    Params recipients;
    recipients.text(message.id).text_array(message.rcpt_to).integer(now_ms);  // due at once
    Result rows = db.run("sb_insert_recipients", kInsertRecipients, recipients);
    if (!rows.ok()) return db.fail(rows);
    if (events_ != nullptr && !events_->record_queued(message, now_ms)) return false;
    inserted = true;
    return true;
  }
  return db.fail(std::string("the idempotency key changed hands twice"));
}

std::vector<OutboundJob> OutboundWriter::claim(size_t limit, int64_t now_ms, Status& status) {
  std::vector<OutboundJob> jobs;
  status = Status::ok;
  if (limit == 0) return jobs;
  if (!writer_.ensure()) return status = Status::io_error, jobs;
  Connection& db = writer_.db();
  if (!writer_.begin()) return status = writer_.rollback(), jobs;
  Params params;
  params.integer(now_ms).integer(static_cast<int64_t>(limit));
  Result due = db.run("sb_outbound_due", kSelectDue, params);
  if (!due.ok()) return db.fail(due), status = writer_.rollback(), jobs;
  for (int r = 0; r < due.rows(); ++r) {
    OutboundJob job;
    job.id = due.text(r, 0);
    job.created_at_ms = due.integer(r, 1);
    job.mail_from = due.text(r, 2);
    job.data = due.text(r, 3);
    if (!claim_recipients(job, now_ms)) return status = writer_.rollback(), decltype(jobs){};
    if (!job.rcpt_to.empty()) jobs.push_back(std::move(job));
  }
  if (!writer_.commit()) return status = writer_.rollback(), decltype(jobs){};
  return jobs;
}

bool OutboundWriter::claim_recipients(OutboundJob& job, int64_t now_ms) {
  Connection& db = writer_.db();
  Params params;
  params.integer(now_ms).text(job.id).integer(now_ms + lease_ms_).text(writer_.owner());
  Result rows = db.run("sb_outbound_claim", kClaimRecipients, params);
  if (!rows.ok()) return db.fail(rows);
  std::vector<std::pair<int64_t, int>> order;  // envelope position, row
  for (int r = 0; r < rows.rows(); ++r) order.emplace_back(rows.integer(r, 0), r);
  std::sort(order.begin(), order.end());
  for (const auto& [position, r] : order) {
    job.rcpt_to.push_back(rows.text(r, 1));
    job.attempts.push_back(static_cast<int>(rows.integer(r, 2)));
    job.positions.push_back(static_cast<int>(position));
  }
  return true;
}

Status OutboundWriter::finish_all(const std::vector<Finish>& finishes, int64_t now_ms) {
  if (!writer_.ensure()) return writer_.closed() ? Status::closed : Status::io_error;
  std::vector<Command> commands;
  if (events_ != nullptr && events_->enabled()) {  // each outcome with its events
    if (!events_->finish_commands(finishes, now_ms, commands)) return writer_.rollback();
    if (writer_.db().pipeline(commands)) return Status::ok;
    return writer_.rollback();
  }
  for (const Finish& finish : finishes) {
    const RecipientResult& r = finish.result;
    Params params;
    params.text(finish.message_id)
        .text(r.rcpt)
        .text(to_string(r.outcome))
        .integer(r.next_attempt_at_ms)
        .integer(r.code)
        .text(r.enhanced)
        .text(r.text)
        .integer(now_ms);
    commands.push_back({"sb_outbound_finish", kFinish, std::move(params)});
  }
  if (writer_.db().pipeline(commands)) return Status::ok;  // one implicit transaction
  return writer_.rollback();
}

BounceRecorded OutboundWriter::record_bounce(const Bounce& bounce, int64_t now_ms) {
  BounceRecorded recorded;
  if (writer_.closed()) return recorded.status = Status::closed, recorded;
  if (!writer_.ensure()) return recorded.status = Status::io_error, recorded;
  Connection& db = writer_.db();
  if (!writer_.begin()) return recorded.status = writer_.rollback(), recorded;
  Params key;
  key.text(bounce.message_id).integer(bounce.position);
  Result found = db.run("sb_bounce_recipient", kBounceRecipient, key);
  if (!found.ok()) return db.fail(found), recorded.status = writer_.rollback(), recorded;
  if (found.rows() == 0) {  // nothing written
    writer_.rollback();
    return recorded;
  }
  recorded.matched = true;
  recorded.rcpt = found.text(0, 0);
  if (!write_bounce(bounce, now_ms, recorded) || !writer_.commit()) {
    recorded.status = writer_.rollback();
    if (recorded.status == Status::ok) recorded.status = Status::io_error;
    recorded.suppressed = false;
  }
  return recorded;
}

bool OutboundWriter::write_bounce(const Bounce& bounce, int64_t now_ms, BounceRecorded& recorded) {
  Connection& db = writer_.db();
  const bool failed = bounce.action == "failed";  // RFC 3464 2.3.3
  const int64_t at_ms = bounce.at_ms != 0 ? bounce.at_ms : now_ms;
  Params entry;
  entry.text(bounce.message_id)
      .integer(bounce.position)
      .integer(at_ms)
      .text(failed ? std::string("bounced") : bounce.action)
      .integer(bounce.code)
      .text(bounce.status)
      .text(bounce.diagnostic)
      .text(bounce.inbound_id);
  Result added = db.run("sb_bounce_history", kBounceHistory, entry);
  if (!added.ok()) return db.fail(added);
  if (!failed) return true;
  Params state;
  state.text(bounce.message_id)
      .integer(bounce.position)
      .integer(bounce.code)
      .text(bounce.status)
      .text(bounce.diagnostic)
      .integer(now_ms);
  Result updated = db.run("sb_bounced", kBounced, state);
  if (!updated.ok()) return db.fail(updated);
  if (events_ != nullptr && events_->enabled()) {
    EventFacts facts;
    facts.type = "message.bounced";
    facts.message_id = bounce.message_id;
    facts.bounce = &bounce;
    facts.recipient = recorded.rcpt;
    facts.at_ms = at_ms;
    if (!events_->record(std::move(facts), now_ms)) return false;
  }
  // A hard bounce (RFC 3463 class 5: permanent) stops future sends to the address.
  if (bounce.status.rfind("5.", 0) != 0) return true;
  Suppression suppression;
  suppression.address = recorded.rcpt;
  suppression.reason = "bounce";
  suppression.created_at_ms = at_ms;
  suppression.status = bounce.status;
  suppression.diagnostic = bounce.diagnostic;
  suppression.message_id = bounce.message_id;
  suppression.rcpt = recorded.rcpt;
  bool created = false;
  recorded.suppressed = upsert_suppression(db, suppression, created);
  return recorded.suppressed;
}

}  // namespace store::postgres
