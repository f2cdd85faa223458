// The group commit's transaction on PostgreSQL: BEGIN, every insert of the group in one pipeline
// (one round trip), the outbound inserts and riding outcomes, COMMIT with synchronous_commit on
// (the commit returns once the WAL is flushed); then the Listener announces queued rows. Claims
// lock their rows with FOR UPDATE SKIP LOCKED, so replicas claiming at once never wait for or share
// a row.
#include "store/postgres/writer.h"

#include <algorithm>

#include "common/ids.h"
#include "common/time.h"
#include "store/postgres/schema.h"
#include "store/row_codec.h"

namespace store::postgres {
namespace {

constexpr const char* kInsertMessage =
    "INSERT INTO inbound_messages (id, received_at, mail_from, rcpt_to, envelope, size, data)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
constexpr const char* kInsertDelivery =
    "INSERT INTO inbound_deliveries (id, message_id, endpoint, rcpt_to, state, attempts,"
    " next_attempt_at, created_at, updated_at, lease_until, lease_owner, render_attempts,"
    " origin) VALUES ($1, $2, $3, $4, $6, $7::integer, $5::bigint, $5, $5, $8, $9, $7, $10)";
// Due = queued, or deferred and its time has come; oldest due first (the partial index
// inbound_deliveries_due). Rows another replica is claiming right now are skipped, not waited
// for; the outer UPDATE's state check sees the latest version of each row it locked.
constexpr const char* kClaim =
    "WITH claimed AS ("
    " UPDATE inbound_deliveries SET state = 'in_flight', attempts = attempts + 1,"
    " render_attempts = render_attempts + 1, updated_at = $2, lease_until = $3, lease_owner = $4"
    " WHERE id IN (SELECT id FROM inbound_deliveries WHERE state IN ('queued', 'deferred')"
    "   AND (state = 'queued' OR next_attempt_at <= $1::bigint)"
    "   ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)"
    " AND state IN ('queued', 'deferred')"
    " RETURNING id, message_id, endpoint, rcpt_to, attempts, next_attempt_at, render_attempts,"
    " origin)"
    " SELECT c.id, c.message_id, c.endpoint, c.rcpt_to, c.attempts, c.next_attempt_at,"
    " c.render_attempts, c.origin, m.received_at, m.envelope, m.data"
    " FROM claimed c JOIN inbound_messages m ON m.id = c.message_id"
    " ORDER BY c.next_attempt_at, c.id";
// Only the claim this store holds with that attempt (0 = any) is finished (store.h).
constexpr const char* kFinish =
    "UPDATE inbound_deliveries SET state = $2::text,"
    " next_attempt_at = CASE WHEN $2::text = 'deferred' THEN $3::bigint ELSE next_attempt_at END,"
    " last_error = $4::text, updated_at = $5::bigint, lease_until = 0, lease_owner = '',"
    " render_attempts = CASE WHEN $8::boolean THEN 0 ELSE render_attempts END,"
    " origin = CASE WHEN $9::text = '' THEN origin ELSE $9::text END"
    " WHERE id = $1 AND state = 'in_flight' AND lease_owner = $6::text"
    " AND ($7::integer = 0 OR attempts = $7::integer)";
// Any replica's expired leases (store.h requeue_expired).
constexpr const char* kRequeueExpired =
    "UPDATE inbound_deliveries SET state = 'queued', lease_until = 0, lease_owner = '',"
    " updated_at = $1 WHERE state = 'in_flight' AND lease_until < $1";
constexpr const char* kRequeueExpiredOutbound =
    "UPDATE outbound_recipients SET state = 'queued', lease_until = 0, lease_owner = '',"
    " updated_at = $1 WHERE state = 'in_flight' AND lease_until < $1";
constexpr const char* kRequeueOwner =
    "UPDATE inbound_deliveries SET state = 'queued', lease_until = 0, lease_owner = '',"
    " updated_at = $1 WHERE state = 'in_flight' AND lease_owner = $2";
constexpr const char* kRequeueOwnerOutbound =
    "UPDATE outbound_recipients SET state = 'queued', lease_until = 0, lease_owner = '',"
    " updated_at = $1 WHERE state = 'in_flight' AND lease_owner = $2";
constexpr const char* kRequeueOrphaned =
    "UPDATE inbound_deliveries SET state = 'queued', next_attempt_at = $2, updated_at = $2"
    " WHERE state = 'orphaned' AND endpoint = ANY($1::text[])";
constexpr const char* kCountRows =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM inbound_messages WHERE id = $1)"
    " THEN (SELECT count(*) FROM inbound_deliveries WHERE message_id = $1) ELSE -1 END";
constexpr const char* kRequeue =
    "UPDATE inbound_deliveries SET state = 'queued', next_attempt_at = $2, updated_at = $2,"
    " render_attempts = 0 WHERE message_id = $1 AND state <> 'in_flight'";

constexpr const char* kCountEvents =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM outbound_messages WHERE id = $1)"
    " THEN (SELECT count(*) FROM event_deliveries WHERE message_id = $1) ELSE -1 END";
constexpr const char* kRequeueEvents =
    "UPDATE event_deliveries SET state = 'queued', next_attempt_at = $2, updated_at = $2"
    " WHERE message_id = $1 AND state <> 'in_flight'";

int64_t now_unix_ms() {
  return common::unix_ms(common::Clock::now());
}

}  // namespace

bool Writer::ensure() {
  if (closed_) return false;
  return link_.ensure();
}

bool Writer::begin() {
  Result result = db().exec("BEGIN");
  return result.ok() || db().fail(result);
}

bool Writer::commit(const std::string& notify, const std::string& notify2) {
  Result result = db().exec("COMMIT");
  // COMMIT of a failed transaction answers ROLLBACK without an error.
  if (result.ok() && result.command() == "COMMIT") {
    for (const std::string* payload : {&notify, &notify2})
      if (!payload->empty() && announce_) announce_(*payload);
    return true;
  }
  if (result.ok()) return db().fail(std::string("the transaction was rolled back"));
  return db().fail(result);
}

Status Writer::rollback() {
  PGconn* conn = db().handle();
  if (conn != nullptr && PQtransactionStatus(conn) != PQTRANS_IDLE) db().exec("ROLLBACK");
  if (conn != nullptr && PQstatus(conn) == CONNECTION_BAD) db().disconnect();
  return db().failure();
}

Status Writer::room(uint64_t bytes) {
  if (max_size_ == 0) return Status::ok;
  auto now = std::chrono::steady_clock::now();
  if (now - sized_at_ > std::chrono::milliseconds(250)) {
    Result size = db().run("sb_held_bytes", kHeldBytes, Params());
    if (!size.ok()) return db().fail(size), db().failure();
    size_ = static_cast<uint64_t>(size.integer(0, 0));
    sized_at_ = now;
  }
  return size_ + bytes > max_size_ ? Status::full : Status::ok;
}

Status Writer::write(const std::vector<const InboundMessage*>& messages, uint64_t extra_bytes,
                     const Also& also, size_t claim, std::vector<Claimed>* claimed) {
  if (claimed != nullptr) claimed->clear();
  if (closed_) return Status::closed;
  if (!ensure()) return Status::io_error;
  uint64_t bytes = extra_bytes;
  for (const InboundMessage* message : messages) bytes += message->data.size();
  if (Status fits = room(bytes); fits != Status::ok) return fits;
  int64_t now_ms = now_unix_ms();
  std::vector<Command> commands;
  size_t queued = 0;
  for (size_t i = 0; i < messages.size(); ++i)
    insert_commands(*messages[i], i, now_ms, claim, claimed, commands, queued);
  bool notify_outbound = false;
  if (!also && !commands.empty()) {
    // The inserts in one pipeline: one implicit transaction, committed at its Sync (the Sync's
    // answer comes after the commit's WAL flush): one round trip for the whole group.
    if (!db().pipeline(commands)) {
      if (claimed != nullptr) claimed->clear();
      return rollback();
    }
    size_ += bytes;
    if (queued > 0 && announce_) announce_("inbound");
    return Status::ok;
  }
  bool ok = begin() && (commands.empty() || db().pipeline(commands)) &&
            (!also || also(db(), now_ms, notify_outbound)) &&
            commit(queued > 0 ? "inbound" : "", notify_outbound ? "outbound" : "");
  if (!ok) {
    if (claimed != nullptr) claimed->clear();
    return rollback();
  }
  size_ += bytes;
  return Status::ok;
}

void Writer::insert_commands(const InboundMessage& message, size_t index, int64_t now_ms,
                             size_t& claim, std::vector<Claimed>* claimed,
                             std::vector<Command>& commands, size_t& queued) {
  Params row;
  row.text(message.id)
      .integer(message.received_at_ms)
      .text(message.mail_from)
      .text(encode_list(message.rcpt_to))
      .text(message.envelope_json)
      .integer(static_cast<int64_t>(message.data.size()))
      .bytes(message.data);
  commands.push_back({"sb_insert_message", kInsertMessage, std::move(row)});
  for (size_t d = 0; d < message.deliveries.size(); ++d) {
    const Delivery& delivery = message.deliveries[d];
    bool claiming = claim > 0 && claimed != nullptr;
    std::string id = common::uuid_v7();
    Params params;
    params.text(id)
        .text(message.id)
        .text(delivery.endpoint)
        .text(encode_list(delivery.rcpt_to))
        .integer(now_ms)  // due at once
        .text(claiming ? "in_flight" : "queued")
        .integer(claiming ? 1 : 0)
        .integer(claiming ? now_ms + lease_ms_ : 0)
        .text(claiming ? owner_ : std::string())
        .text(delivery.origin);
    commands.push_back({"sb_insert_delivery", kInsertDelivery, std::move(params)});
    if (claiming) {
      --claim;
      claimed->push_back({index, d, std::move(id), now_ms});
    } else {
      ++queued;
    }
  }
}

// One statement in its own (durable) transaction: one round trip and one WAL flush per claim.
std::vector<DeliveryJob> Writer::claim(size_t limit, int64_t now_ms, Status& status) {
  std::vector<DeliveryJob> jobs;
  status = Status::ok;
  if (limit == 0) return jobs;
  if (!ensure()) return status = closed_ ? Status::closed : Status::io_error, jobs;
  int64_t lease_until = now_ms + lease_ms_;
  Params params;
  params.integer(now_ms)
      .integer(now_ms)
      .integer(lease_until)
      .text(owner_)
      .integer(static_cast<int64_t>(limit));
  Result rows = db().run("sb_claim", kClaim, params);
  if (!rows.ok()) return db().fail(rows), status = rollback(), jobs;
  for (int r = 0; r < rows.rows(); ++r) {
    DeliveryJob job;
    DeliveryRow& row = job.delivery;
    row.id = rows.text(r, 0);
    row.message_id = rows.text(r, 1);
    row.endpoint = rows.text(r, 2);
    row.rcpt_to = decode_list(rows.text(r, 3));
    row.state = "in_flight";
    row.attempts = static_cast<int>(rows.integer(r, 4));
    row.next_attempt_at_ms = rows.integer(r, 5);
    row.render_attempts = static_cast<int>(rows.integer(r, 6));
    row.origin = rows.text(r, 7);
    row.lease_until_ms = lease_until;
    row.lease_owner = owner_;
    job.received_at_ms = rows.integer(r, 8);
    job.envelope_json = rows.text(r, 9);
    job.data = rows.text(r, 10);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Command Writer::finish_command(const Finish& f, int64_t now_ms) const {
  Params params;
  params.text(f.delivery_id).text(to_string(f.outcome)).integer(f.next_attempt_at_ms);
  if (f.last_error.empty()) {
    params.null();
  } else {
    params.text(f.last_error);
  }
  params.integer(now_ms)
      .text(owner_)
      .integer(f.attempt)
      .text(f.rendered ? "true" : "false")
      .text(f.origin);
  return {"sb_finish", kFinish, std::move(params)};
}

Status Writer::finish_all(const std::vector<Finish>& finishes, int64_t now_ms) {
  if (!ensure()) return closed_ ? Status::closed : Status::io_error;
  std::vector<Command> commands;
  for (const Finish& f : finishes) commands.push_back(finish_command(f, now_ms));
  // The statements up to the pipeline's Sync are one implicit transaction: all or none.
  if (db().pipeline(commands)) return Status::ok;
  return rollback();
}

uint64_t Writer::requeue_expired(int64_t now_ms, Status& status) {
  status = Status::ok;
  if (!ensure()) return status = Status::io_error, 0;
  if (!begin()) return status = rollback(), 0;
  Params params;
  params.integer(now_ms);
  Result inbound = db().run("sb_requeue_expired", kRequeueExpired, params);
  Result outbound = inbound.ok()
                        ? db().run("sb_requeue_expired_outbound", kRequeueExpiredOutbound, params)
                        : Result();
  if (!inbound.ok() || !outbound.ok()) {
    db().fail(inbound.ok() ? outbound : inbound);
    return status = rollback(), 0;
  }
  // Other replicas' idle dispatchers and relays may take them at once.
  if (!commit(inbound.affected() > 0 ? "inbound" : "", outbound.affected() > 0 ? "outbound" : ""))
    return status = rollback(), 0;
  return inbound.affected() + outbound.affected();
}

bool Writer::requeue_dead_owners(int64_t now_ms, std::string& error) {
  Result owners = db().exec(
      "SELECT DISTINCT lease_owner FROM inbound_deliveries WHERE state = 'in_flight' UNION"
      " SELECT DISTINCT lease_owner FROM outbound_recipients WHERE state = 'in_flight'");
  if (!owners.ok()) {
    db().fail(owners);
    error = "cannot read the owners of in-flight rows: " + db().error();
    return false;
  }
  for (int r = 0; r < owners.rows(); ++r) {
    Params owner;
    owner.text(owners.text(r, 0));
    // Held by the owner's LISTEN session while it lives (Listener); free = that process is gone.
    Result free = db().run("sb_owner_lock", kOwnerLock, owner);
    if (!free.ok() || free.integer(0, 0) == 0) continue;
    Params params;
    params.integer(now_ms).text(owners.text(r, 0));
    bool ok = true;
    for (auto [name, sql] : {std::pair{"sb_requeue_owner", kRequeueOwner},
                             std::pair{"sb_requeue_owner_outbound", kRequeueOwnerOutbound}}) {
      Result updated = db().run(name, sql, params);
      if (!updated.ok()) ok = db().fail(updated);
    }
    db().run("sb_owner_unlock", kOwnerUnlock, owner);
    if (!ok) {
      error = "cannot re-queue in-flight rows: " + db().error();
      return false;
    }
  }
  return true;
}

uint64_t Writer::requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now_ms) {
  if (endpoints.empty() || !ensure()) return 0;
  if (!begin()) return rollback(), 0;
  Params params;
  params.text_array(endpoints).integer(now_ms);
  Result updated = db().run("sb_requeue_orphaned", kRequeueOrphaned, params);
  if (!updated.ok()) return db().fail(updated), rollback(), 0;
  if (!commit(updated.affected() > 0 ? "inbound" : "")) return rollback(), 0;
  return updated.affected();
}

Redelivery Writer::redeliver(const std::string& message_id, int64_t now_ms) {
  return requeue_message(message_id, now_ms, {"sb_count_rows", kCountRows},
                         {"sb_requeue", kRequeue}, "inbound");
}

// `count` answers the message's rows (-1 when the message is not there), `requeue` puts those
// not in flight back to queued; one durable transaction (the API answers 202 after it), then
// `notify` when rows were queued.
Redelivery Writer::requeue_message(const std::string& message_id, int64_t now_ms,
                                   const NamedSql& count_sql, const NamedSql& requeue_sql,
                                   const std::string& notify) {
  Redelivery result;
  if (!ensure() || !begin()) return rollback(), result;
  Params id;
  id.text(message_id);
  Result count = db().run(count_sql.name, count_sql.sql, id);
  if (!count.ok()) return db().fail(count), rollback(), result;
  int64_t rows = count.integer(0, 0);
  uint64_t requeued = 0;
  if (rows > 0) {
    Params params;
    params.text(message_id).integer(now_ms);
    Result updated = db().run(requeue_sql.name, requeue_sql.sql, params);
    if (!updated.ok()) return db().fail(updated), rollback(), result;
    requeued = updated.affected();
  }
  if (!commit(requeued > 0 ? notify : "")) return rollback(), result;
  result.found = rows >= 0;
  result.deliveries = rows > 0 ? static_cast<uint64_t>(rows) : 0;
  result.requeued = requeued;
  return result;
}

Status Writer::add_deliveries(const std::string& message_id,
                              const std::vector<Delivery>& deliveries, int64_t now_ms) {
  if (closed_) return Status::closed;
  if (!ensure() || !begin()) return rollback();
  for (const Delivery& delivery : deliveries) {
    Params params;
    params.text(common::uuid_v7())
        .text(message_id)
        .text(delivery.endpoint)
        .text(encode_list(delivery.rcpt_to))
        .integer(now_ms)
        .text("queued")
        .integer(0)
        .integer(0)
        .text(std::string())
        .text(delivery.origin);
    Result inserted = db().run("sb_insert_delivery", kInsertDelivery, params);
    if (!inserted.ok()) return db().fail(inserted), rollback();
  }
  if (!commit("inbound")) return rollback();
  return Status::ok;
}

Redelivery Writer::redeliver_events(const std::string& message_id, int64_t now_ms) {
  return requeue_message(message_id, now_ms, {"sb_count_events", kCountEvents},
                         {"sb_requeue_events", kRequeueEvents}, "");
}

Status Writer::probe(size_t bytes) {
  if (closed_) return Status::closed;
  if (!ensure()) return Status::io_error;
  Result alive = db().exec("SELECT 1");
  if (!alive.ok()) return db().fail(alive), rollback();
  sized_at_ = {};  // measure again: pruning or VACUUM may have made room
  return room(bytes);
}

}  // namespace store::postgres
