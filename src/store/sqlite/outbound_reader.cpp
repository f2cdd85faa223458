// Outbound reads see committed data only (WAL snapshot isolation on the readers' connection) and
// never wait for the writer's fsync. A message and its recipients are read in one snapshot.
#include "store/sqlite/outbound_reader.h"

namespace store::sqlite {

bool OutboundReader::open(Reader& reader, std::string& error) {
  reader_ = &reader;
  return reader.with_connection([&](Connection& db) {
    int rc = SQLITE_OK;
    auto prepare = [&](Statement& statement, const char* sql) {
      if (rc == SQLITE_OK) rc = statement.prepare(db.handle(), sql);
    };
    prepare(begin_, "BEGIN");
    prepare(end_, "COMMIT");
    prepare(find_message_,
            "SELECT id, created_at, mail_from, message_id, size, coalesce(metadata, '')"
            " FROM outbound_messages"
            " WHERE id = ?1");
    prepare(find_recipients_,
            "SELECT rcpt, state, attempts, next_attempt_at, updated_at, last_code,"
            " last_enhanced, last_text, position FROM outbound_recipients WHERE message_id = ?1"
            " ORDER BY position");
    prepare(find_history_,
            "SELECT position, created_at, state, code, enhanced, text, inbound_id"
            " FROM outbound_history WHERE message_id = ?1 ORDER BY position, seq");
    prepare(count_by_state_,
            "SELECT state, count(*) FROM outbound_recipients GROUP BY state ORDER BY state");
    prepare(oldest_pending_,
            "SELECT min(m.created_at) FROM outbound_recipients r"
            " JOIN outbound_messages m ON m.id = r.message_id"
            " WHERE r.state IN ('queued', 'deferred')");
    if (rc != SQLITE_OK) {
      error = "cannot prepare the outbound reader's statements: " + db.error_message();
      return false;
    }
    return true;
  });
}

std::optional<StoredOutbound> OutboundReader::find(const std::string& id) {
  if (reader_ == nullptr) return std::nullopt;
  return reader_->with_connection([&](Connection&) { return find_locked(id); });
}

std::optional<StoredOutbound> OutboundReader::find_locked(const std::string& id) {
  if (begin_.run() != SQLITE_OK) return std::nullopt;
  std::optional<StoredOutbound> found;
  {
    Reset reset(find_message_);
    find_message_.bind_text(1, id);
    if (find_message_.step() == SQLITE_ROW) {
      StoredOutbound message;
      message.id = find_message_.column_text(0);
      message.created_at_ms = find_message_.column_int(1);
      message.mail_from = find_message_.column_text(2);
      message.message_id = find_message_.column_text(3);
      message.size = static_cast<uint64_t>(find_message_.column_int(4));
      message.metadata_json = find_message_.column_text(5);
      found = std::move(message);
    }
  }
  if (found && !read_recipients(found->id, found->recipients)) found.reset();
  end_.run();
  return found;
}

bool OutboundReader::read_recipients(const std::string& id,
                                     std::vector<OutboundRecipientRow>& rows) {
  Statement& select = find_recipients_;
  Reset reset(select);
  select.bind_text(1, id);
  int rc;
  std::vector<int64_t> positions;  // parallel to rows
  while ((rc = select.step()) == SQLITE_ROW) {
    OutboundRecipientRow row;
    row.rcpt = select.column_text(0);
    row.state = select.column_text(1);
    row.attempts = static_cast<int>(select.column_int(2));
    row.next_attempt_at_ms = select.column_int(3);
    row.updated_at_ms = select.column_int(4);
    row.last_code = static_cast<int>(select.column_int(5));
    row.last_enhanced = select.column_text(6);
    row.last_text = select.column_text(7);
    positions.push_back(select.column_int(8));
    rows.push_back(std::move(row));
  }
  return rc == SQLITE_DONE && read_history(id, positions, rows);
}

// Both are in position order: one merge pass puts each entry on its recipient.
bool OutboundReader::read_history(const std::string& id, const std::vector<int64_t>& positions,
                                  std::vector<OutboundRecipientRow>& rows) {
  Statement& select = find_history_;
  Reset reset(select);
  select.bind_text(1, id);
  size_t row = 0;
  int rc;
  while ((rc = select.step()) == SQLITE_ROW) {
    int64_t position = select.column_int(0);
    while (row < positions.size() && positions[row] < position) ++row;
    if (row == positions.size() || positions[row] != position) continue;
    RecipientHistory entry;
    entry.at_ms = select.column_int(1);
    entry.state = select.column_text(2);
    entry.code = static_cast<int>(select.column_int(3));
    entry.enhanced = select.column_text(4);
    entry.text = select.column_text(5);
    entry.inbound_id = select.column_text(6);
    rows[row].history.push_back(std::move(entry));
  }
  return rc == SQLITE_DONE;
}

Store::QueueStats OutboundReader::stats() {
  if (reader_ == nullptr) return {};
  return reader_->with_connection([&](Connection&) { return stats_locked(); });
}

Store::QueueStats OutboundReader::stats_locked() {
  return read_queue_stats(
      {begin_, end_, count_by_state_, oldest_pending_},
      {"queued", "in_flight", "deferred", "sent", "failed", "bounced", "suppressed"});
}

}  // namespace store::sqlite
