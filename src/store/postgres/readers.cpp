// Reads see committed rows only, never wait for the writer's commit (MVCC), and never take row
// locks. Retention pruning deletes messages whose rows are all finished; the foreign keys' ON
// DELETE CASCADE takes their rows with them, as in SQLite.
#include "store/postgres/readers.h"

#include <map>

#include "store/postgres/schema.h"
#include "store/postgres/suppressions.h"
#include "store/row_codec.h"

namespace store::postgres {
namespace {

constexpr const char* kFindMessage =
    "SELECT id, received_at, mail_from, rcpt_to, envelope, data FROM inbound_messages"
    " WHERE id = $1";
constexpr const char* kFindDeliveries =
    "SELECT id, message_id, endpoint, rcpt_to, state, attempts, next_attempt_at,"
    " coalesce(last_error, ''), lease_until, lease_owner, render_attempts, origin"
    " FROM inbound_deliveries WHERE message_id = ANY($1::text[]) ORDER BY message_id, id";
// Newest first by id (UUIDv7: time-ordered); $1 = '' or the cursor, $2 = '' or a state.
constexpr const char* kList =
    "SELECT m.id, m.received_at, m.mail_from, m.rcpt_to, m.size, substr(m.data, 1, $4::integer)"
    " FROM inbound_messages m"
    " WHERE ($1::text = '' OR m.id < $1::text)"
    " AND ($2::text = '' OR EXISTS (SELECT 1 FROM inbound_deliveries d"
    "                               WHERE d.message_id = m.id AND d.state = $2::text))"
    " ORDER BY m.id DESC LIMIT $3";
constexpr const char* kFindOutbound =
    "SELECT id, created_at, mail_from, message_id, size, coalesce(metadata, '')"
    " FROM outbound_messages WHERE id = $1";
constexpr const char* kFindRecipients =
    "SELECT rcpt, state, attempts, next_attempt_at, updated_at, last_code, last_enhanced,"
    " last_text, position FROM outbound_recipients WHERE message_id = $1 ORDER BY position";
constexpr const char* kFindHistory =
    "SELECT position, created_at, state, code, enhanced, text, inbound_id FROM outbound_history"
    " WHERE message_id = $1 ORDER BY position, seq";
constexpr const char* kPruneInbound =
    "DELETE FROM inbound_messages WHERE id IN ("
    " SELECT message_id FROM inbound_deliveries GROUP BY message_id HAVING"
    " sum(CASE WHEN state = 'delivered' AND updated_at < $1::bigint THEN 0"
    "          WHEN state IN ('dead', 'orphaned') AND updated_at < $2::bigint THEN 0"
    "          ELSE 1 END) = 0"
    " LIMIT $3)";
// The recipients go by the cascade, their history (no foreign key: schema.cpp) by the CTE; the
// statement's count is the messages'.
constexpr const char* kPruneOutbound =
    "WITH doomed AS MATERIALIZED ("
    " SELECT message_id FROM outbound_recipients GROUP BY message_id HAVING"
    " sum(CASE WHEN state = 'sent' AND updated_at < $1::bigint THEN 0"
    "          WHEN state IN ('failed', 'bounced', 'suppressed') AND updated_at < $2::bigint"
    "          THEN 0 ELSE 1 END) = 0"
    " LIMIT $3),"
    " history AS (DELETE FROM outbound_history WHERE message_id IN (SELECT message_id FROM doomed))"
    " DELETE FROM outbound_messages WHERE id IN (SELECT message_id FROM doomed)";

DeliveryRow delivery_row(const Result& rows, int r) {
  DeliveryRow row;
  row.id = rows.text(r, 0);
  row.message_id = rows.text(r, 1);
  row.endpoint = rows.text(r, 2);
  row.rcpt_to = decode_list(rows.text(r, 3));
  row.state = rows.text(r, 4);
  row.attempts = static_cast<int>(rows.integer(r, 5));
  row.next_attempt_at_ms = rows.integer(r, 6);
  row.last_error = rows.text(r, 7);
  row.lease_until_ms = rows.integer(r, 8);
  row.lease_owner = rows.text(r, 9);
  row.render_attempts = static_cast<int>(rows.integer(r, 10));
  row.origin = rows.text(r, 11);
  return row;
}

}  // namespace

template <typename Use>
bool Readers::snapshot(Use&& use) {
  auto lease = pool_.acquire();
  Link& link = lease.link();
  if (!link.ensure()) return false;
  Connection& db = link.db();
  if (!db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").ok()) {
    db.fail(std::string("BEGIN failed"));
    return false;
  }
  bool ok = use(db);
  if (db.connected()) db.exec(ok ? "COMMIT" : "ROLLBACK");
  return ok;
}

bool Readers::read_deliveries(Connection& db, const std::vector<std::string>& message_ids,
                              std::vector<std::vector<DeliveryRow>*> into) {
  if (message_ids.empty()) return true;
  Params ids;
  ids.text_array(message_ids);
  Result rows = db.run("sb_find_deliveries", kFindDeliveries, ids);
  if (!rows.ok()) return db.fail(rows);
  std::map<std::string, std::vector<DeliveryRow>*> by_id;
  for (size_t i = 0; i < message_ids.size(); ++i) by_id[message_ids[i]] = into[i];
  for (int r = 0; r < rows.rows(); ++r) {
    DeliveryRow row = delivery_row(rows, r);
    auto found = by_id.find(row.message_id);
    if (found != by_id.end()) found->second->push_back(std::move(row));
  }
  return true;
}

std::optional<StoredInbound> Readers::find_inbound(const std::string& id) {
  std::optional<StoredInbound> found;
  bool ok = snapshot([&](Connection& db) {
    Params params;
    params.text(id);
    Result row = db.run("sb_find_message", kFindMessage, params);
    if (!row.ok()) return db.fail(row);
    if (row.rows() == 0) return true;
    StoredInbound message;
    message.id = row.text(0, 0);
    message.received_at_ms = row.integer(0, 1);
    message.mail_from = row.text(0, 2);
    message.rcpt_to = decode_list(row.text(0, 3));
    message.envelope_json = row.text(0, 4);
    message.data = row.text(0, 5);
    found = std::move(message);
    return read_deliveries(db, {found->id}, {&found->deliveries});
  });
  if (!ok) found.reset();
  return found;
}

bool Readers::probe() {
  return snapshot([](Connection& db) {
    Result one = db.run("sb_probe", "SELECT 1", Params());
    return one.ok() || db.fail(one);
  });
}

uint64_t Readers::count_inbound() {
  uint64_t count = 0;
  snapshot([&](Connection& db) {
    Result rows = db.run("sb_count_inbound", "SELECT count(*) FROM inbound_messages", Params());
    if (!rows.ok()) return db.fail(rows);
    count = static_cast<uint64_t>(rows.integer(0, 0));
    return true;
  });
  return count;
}

std::vector<InboundSummary> Readers::list_inbound(const InboundQuery& query) {
  std::vector<InboundSummary> page;
  if (query.limit == 0) return page;
  bool ok = snapshot([&](Connection& db) {
    Params params;
    params.text(query.before_id)
        .text(query.state)
        .integer(static_cast<int64_t>(query.limit))
        .integer(static_cast<int64_t>(query.head_bytes));
    Result rows = db.run("sb_list", kList, params);
    if (!rows.ok()) return db.fail(rows);
    std::vector<std::string> ids;
    for (int r = 0; r < rows.rows(); ++r) {
      InboundSummary item;
      item.id = rows.text(r, 0);
      item.received_at_ms = rows.integer(r, 1);
      item.mail_from = rows.text(r, 2);
      item.rcpt_to = decode_list(rows.text(r, 3));
      item.size = static_cast<uint64_t>(rows.integer(r, 4));
      item.head = rows.text(r, 5);
      ids.push_back(item.id);
      page.push_back(std::move(item));
    }
    std::vector<std::vector<DeliveryRow>*> into;
    for (InboundSummary& item : page) into.push_back(&item.deliveries);
    return read_deliveries(db, ids, into);
  });
  if (!ok) page.clear();
  return page;
}

std::optional<StoredOutbound> Readers::find_outbound(const std::string& id) {
  std::optional<StoredOutbound> found;
  bool ok = snapshot([&](Connection& db) {
    Params params;
    params.text(id);
    Result row = db.run("sb_find_outbound", kFindOutbound, params);
    if (!row.ok()) return db.fail(row);
    if (row.rows() == 0) return true;
    StoredOutbound message;
    message.id = row.text(0, 0);
    message.created_at_ms = row.integer(0, 1);
    message.mail_from = row.text(0, 2);
    message.message_id = row.text(0, 3);
    message.size = static_cast<uint64_t>(row.integer(0, 4));
    message.metadata_json = row.text(0, 5);
    Result rows = db.run("sb_find_recipients", kFindRecipients, params);
    if (!rows.ok()) return db.fail(rows);
    std::map<int64_t, size_t> by_position;  // position → index in recipients
    for (int r = 0; r < rows.rows(); ++r) {
      OutboundRecipientRow recipient;
      recipient.rcpt = rows.text(r, 0);
      recipient.state = rows.text(r, 1);
      recipient.attempts = static_cast<int>(rows.integer(r, 2));
      recipient.next_attempt_at_ms = rows.integer(r, 3);
      recipient.updated_at_ms = rows.integer(r, 4);
      recipient.last_code = static_cast<int>(rows.integer(r, 5));
      recipient.last_enhanced = rows.text(r, 6);
      recipient.last_text = rows.text(r, 7);
      by_position[rows.integer(r, 8)] = message.recipients.size();
      message.recipients.push_back(std::move(recipient));
    }
    Result history = db.run("sb_find_history", kFindHistory, params);
    if (!history.ok()) return db.fail(history);
    for (int r = 0; r < history.rows(); ++r) {
      auto at = by_position.find(history.integer(r, 0));
      if (at == by_position.end()) continue;
      RecipientHistory entry;
      entry.at_ms = history.integer(r, 1);
      entry.state = history.text(r, 2);
      entry.code = static_cast<int>(history.integer(r, 3));
      entry.enhanced = history.text(r, 4);
      entry.text = history.text(r, 5);
      entry.inbound_id = history.text(r, 6);
      message.recipients[at->second].history.push_back(std::move(entry));
    }
    found = std::move(message);
    return true;
  });
  if (!ok) found.reset();
  return found;
}

Store::QueueStats Readers::stats(const char* count_sql, const char* count_name,
                                 const char* oldest_sql, const char* oldest_name,
                                 std::initializer_list<const char*> states) {
  Store::QueueStats stats;
  // Every state is listed, 0 included, so that a gauge drops to 0 instead of going stale.
  for (const char* state : states) stats.by_state.emplace_back(state, 0);
  snapshot([&](Connection& db) {
    Result counts = db.run(count_name, count_sql, Params());
    if (!counts.ok()) return db.fail(counts);
    for (int r = 0; r < counts.rows(); ++r) {
      std::string state = counts.text(r, 0);
      auto count = static_cast<uint64_t>(counts.integer(r, 1));
      bool known = false;
      for (auto& [name, value] : stats.by_state)
        if (name == state) value = count, known = true;
      if (!known) stats.by_state.emplace_back(state, count);
    }
    Result oldest = db.run(oldest_name, oldest_sql, Params());
    if (!oldest.ok()) return db.fail(oldest);
    stats.oldest_pending_ms = oldest.integer(0, 0);
    return true;
  });
  return stats;
}

Store::QueueStats Readers::queue_stats() {
  return stats("SELECT state, count(*) FROM inbound_deliveries GROUP BY state ORDER BY state",
               "sb_count_by_state",
               "SELECT min(m.received_at) FROM inbound_deliveries d"
               " JOIN inbound_messages m ON m.id = d.message_id"
               " WHERE d.state IN ('queued', 'deferred')",
               "sb_oldest_pending",
               {"queued", "in_flight", "deferred", "delivered", "dead", "orphaned"});
}

Store::QueueStats Readers::outbound_stats() {
  return stats("SELECT state, count(*) FROM outbound_recipients GROUP BY state ORDER BY state",
               "sb_outbound_count_by_state",
               "SELECT min(m.created_at) FROM outbound_recipients r"
               " JOIN outbound_messages m ON m.id = r.message_id"
               " WHERE r.state IN ('queued', 'deferred')",
               "sb_outbound_oldest_pending",
               {"queued", "in_flight", "deferred", "sent", "failed", "bounced", "suppressed"});
}

uint64_t Readers::size_bytes() {
  uint64_t size = 0;
  snapshot([&](Connection& db) {
    Result rows = db.run("sb_held_bytes", kHeldBytes, Params());
    if (!rows.ok()) return db.fail(rows);
    size = static_cast<uint64_t>(rows.integer(0, 0));
    return true;
  });
  return size;
}

uint64_t Readers::prune_one(const char* name, const char* sql, int64_t first_before_ms,
                            int64_t second_before_ms, size_t batch, bool& locked) {
  auto lease = pool_.acquire();
  Link& link = lease.link();
  locked = false;
  if (!link.ensure()) return 0;
  Connection& db = link.db();
  // A deletion lost to a server crash is repeated by the next prune: no flush wait.
  const std::string lock = std::string("BEGIN; SET LOCAL synchronous_commit = off;") +
                           " SELECT pg_try_advisory_xact_lock(" + std::to_string(kLockClass) +
                           ", " + kPruneKey + ")";
  Result got = db.exec(lock);
  if (!got.ok() || got.text(0, 0) != "t") {
    if (db.connected()) db.exec("ROLLBACK");
    return 0;
  }
  locked = true;
  Params params;
  params.integer(first_before_ms).integer(second_before_ms).integer(static_cast<int64_t>(batch));
  Result deleted = db.run(name, sql, params);
  if (!deleted.ok() || !db.exec("COMMIT").ok()) {
    db.fail(deleted);
    if (db.connected()) db.exec("ROLLBACK");
    return 0;
  }
  return deleted.affected();  // the messages only: the cascade's rows are not counted
}

uint64_t Readers::prune(int64_t delivered_before_ms, int64_t dead_before_ms, size_t batch) {
  uint64_t total = 0;
  for (auto [name, sql] : {std::pair{"sb_prune_inbound", kPruneInbound},
                           std::pair{"sb_prune_outbound", kPruneOutbound}}) {
    for (;;) {
      bool locked = false;
      uint64_t deleted = prune_one(name, sql, delivered_before_ms, dead_before_ms, batch, locked);
      if (!locked) return total;  // another replica prunes now (or the server is away)
      total += deleted;
      if (deleted < batch) break;
    }
  }
  return total;
}

std::vector<Suppression> Readers::list_suppressions(const std::string& after, size_t limit) {
  std::vector<Suppression> out;
  if (!snapshot([&](Connection& db) { return postgres::list_suppressions(db, after, limit, out); }))
    out.clear();
  return out;
}

// One statement, no snapshot: this runs for every send request, and one round trip is enough.
std::vector<std::string> Readers::suppressed(const std::vector<std::string>& addresses) {
  std::vector<std::string> out;
  if (addresses.empty()) return out;
  auto lease = pool_.acquire();
  Link& link = lease.link();
  if (!link.ensure() || !find_suppressed(link.db(), addresses, out)) out.clear();
  return out;
}

}  // namespace store::postgres
