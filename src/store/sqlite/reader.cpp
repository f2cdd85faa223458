// Reads run on their own connection, so they see committed data only (WAL snapshot isolation)
// and never wait for the writer's fsync. A message and its deliveries are read in one snapshot.
#include "store/sqlite/reader.h"

#include <filesystem>
#include <system_error>

#include "store/row_codec.h"

namespace store::sqlite {

bool Reader::open(const std::string& path, std::string& error) {
  wal_path_ = path + "-wal";
  if (!db_.open(path, /*create=*/false, error)) return false;
  int rc = db_.exec("PRAGMA query_only=ON; PRAGMA foreign_keys=ON;");
  auto prepare = [&](Statement& statement, const char* sql) {
    if (rc == SQLITE_OK) rc = statement.prepare(db_.handle(), sql);
  };
  prepare(begin_, "BEGIN");
  prepare(end_, "COMMIT");
  prepare(find_message_,
          "SELECT id, received_at, mail_from, rcpt_to, envelope, data"
          " FROM inbound_messages WHERE id = ?1");
  prepare(find_deliveries_,
          "SELECT id, message_id, endpoint, rcpt_to, state, attempts, next_attempt_at,"
          " coalesce(last_error, ''), lease_until, lease_owner, render_attempts, origin"
          " FROM inbound_deliveries WHERE message_id = ?1 ORDER BY id");
  // Newest first by id (UUIDv7: time-ordered); ?1 = '' or the cursor, ?2 = '' or a state.
  prepare(list_,
          "SELECT m.id, m.received_at, m.mail_from, m.rcpt_to, m.size, substr(m.data, 1, ?4)"
          " FROM inbound_messages m"
          " WHERE (?1 = '' OR m.id < ?1)"
          " AND (?2 = '' OR EXISTS (SELECT 1 FROM inbound_deliveries d"
          "                         WHERE d.message_id = m.id AND d.state = ?2))"
          " ORDER BY m.id DESC LIMIT ?3");
  prepare(count_, "SELECT count(*) FROM inbound_messages");
  prepare(count_by_state_,
          "SELECT state, count(*) FROM inbound_deliveries GROUP BY state ORDER BY state");
  prepare(oldest_pending_,
          "SELECT min(m.received_at) FROM inbound_deliveries d"
          " JOIN inbound_messages m ON m.id = d.message_id"
          " WHERE d.state IN ('queued', 'deferred')");
  prepare(page_count_, "PRAGMA page_count");
  prepare(page_size_, "PRAGMA page_size");
  if (rc != SQLITE_OK) {
    error = "cannot prepare the reader's statements: " + db_.error_message();
    return false;
  }
  return true;
}

std::optional<StoredInbound> Reader::find_inbound(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (begin_.run() != SQLITE_OK) return std::nullopt;
  std::optional<StoredInbound> found;
  {
    Reset reset(find_message_);
    find_message_.bind_text(1, id);
    if (find_message_.step() == SQLITE_ROW) {
      StoredInbound message;
      message.id = find_message_.column_text(0);
      message.received_at_ms = find_message_.column_int(1);
      message.mail_from = find_message_.column_text(2);
      message.rcpt_to = decode_list(find_message_.column_text(3));
      message.envelope_json = find_message_.column_text(4);
      message.data = find_message_.column_blob(5);
      found = std::move(message);
    }
  }
  if (found && !read_deliveries(found->id, found->deliveries)) found.reset();
  end_.run();
  return found;
}

std::vector<InboundSummary> Reader::list_inbound(const InboundQuery& query) {
  std::lock_guard lock(mutex_);
  std::vector<InboundSummary> page;
  if (query.limit == 0 || begin_.run() != SQLITE_OK) return page;
  bool complete = false;
  {
    Reset reset(list_);
    list_.bind_text(1, query.before_id);
    list_.bind_text(2, query.state);
    list_.bind_int(3, static_cast<int64_t>(query.limit));
    list_.bind_int(4, static_cast<int64_t>(query.head_bytes));
    int rc;
    while ((rc = list_.step()) == SQLITE_ROW) {
      InboundSummary item;
      item.id = list_.column_text(0);
      item.received_at_ms = list_.column_int(1);
      item.mail_from = list_.column_text(2);
      item.rcpt_to = decode_list(list_.column_text(3));
      item.size = static_cast<uint64_t>(list_.column_int(4));
      item.head = list_.column_blob(5);
      page.push_back(std::move(item));
    }
    complete = rc == SQLITE_DONE;
  }
  for (InboundSummary& item : page) {
    if (complete) complete = read_deliveries(item.id, item.deliveries);
  }
  end_.run();
  if (!complete) page.clear();
  return page;
}

bool Reader::read_deliveries(const std::string& message_id, std::vector<DeliveryRow>& rows) {
  Reset reset(find_deliveries_);
  find_deliveries_.bind_text(1, message_id);
  int rc;
  while ((rc = find_deliveries_.step()) == SQLITE_ROW) {
    DeliveryRow row;
    row.id = find_deliveries_.column_text(0);
    row.message_id = find_deliveries_.column_text(1);
    row.endpoint = find_deliveries_.column_text(2);
    row.rcpt_to = decode_list(find_deliveries_.column_text(3));
    row.state = find_deliveries_.column_text(4);
    row.attempts = static_cast<int>(find_deliveries_.column_int(5));
    row.next_attempt_at_ms = find_deliveries_.column_int(6);
    row.last_error = find_deliveries_.column_text(7);
    row.lease_until_ms = find_deliveries_.column_int(8);
    row.lease_owner = find_deliveries_.column_text(9);
    row.render_attempts = static_cast<int>(find_deliveries_.column_int(10));
    row.origin = find_deliveries_.column_text(11);
    rows.push_back(std::move(row));
  }
  return rc == SQLITE_DONE;
}

uint64_t Reader::count_inbound() {
  std::lock_guard lock(mutex_);
  Reset reset(count_);
  if (count_.step() != SQLITE_ROW) return 0;
  return static_cast<uint64_t>(count_.column_int(0));
}

Store::QueueStats Reader::queue_stats() {
  std::lock_guard lock(mutex_);
  return read_queue_stats({begin_, end_, count_by_state_, oldest_pending_},
                          {"queued", "in_flight", "deferred", "delivered", "dead", "orphaned"});
}

Store::QueueStats read_queue_stats(const StatsStatements& statements,
                                   std::initializer_list<const char*> states) {
  Store::QueueStats stats;
  // Every state is listed, 0 included, so that a gauge drops to 0 instead of going stale.
  for (const char* state : states) stats.by_state.emplace_back(state, 0);
  if (statements.begin.run() != SQLITE_OK) return stats;
  {
    Reset reset(statements.count_by_state);
    while (statements.count_by_state.step() == SQLITE_ROW) {
      std::string state = statements.count_by_state.column_text(0);
      auto count = static_cast<uint64_t>(statements.count_by_state.column_int(1));
      bool known = false;
      for (auto& [name, value] : stats.by_state) {
        if (name == state) value = count, known = true;
      }
      if (!known) stats.by_state.emplace_back(state, count);
    }
  }
  {
    Reset reset(statements.oldest_pending);
    if (statements.oldest_pending.step() == SQLITE_ROW)
      stats.oldest_pending_ms = statements.oldest_pending.column_int(0);
  }
  statements.end.run();
  return stats;
}

uint64_t Reader::size_bytes() {
  std::lock_guard lock(mutex_);
  auto read_one = [](Statement& pragma) -> uint64_t {
    Reset reset(pragma);
    return pragma.step() == SQLITE_ROW ? static_cast<uint64_t>(pragma.column_int(0)) : 0;
  };
  uint64_t database = read_one(page_count_) * read_one(page_size_);
  std::error_code ec;
  uint64_t wal = std::filesystem::file_size(wal_path_, ec);
  return database + (ec ? 0 : wal);
}

}  // namespace store::sqlite
