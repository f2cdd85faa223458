// Outbound messages in the Store's group commit on both backends (one transaction, one fsync,
// shared with inbound messages; a failed group retried piecemeal), and (SQLite only) the in-place
// migration of a database made by schema version 1 (before the outbound tables existed).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::OutboundEnqueued;
using store::Status;
using store_test::make_message;
using store_test::sql_int;
using store_test::sql_text;

store::OutboundMessage make_outbound(const std::string& key = "", const std::string& data = "x") {
  store::OutboundMessage message;
  message.id = common::uuid_v7();
  message.created_at_ms = common::unix_ms(common::Clock::now());
  message.mail_from = "shop@example.com";
  message.rcpt_to = {"a@example.org"};
  message.data = data;
  message.idempotency_key = key;
  message.request_hash = key.empty() ? "" : "hash";
  message.response_json = R"({"id":")" + message.id + R"("})";
  return message;
}

// Records every on_commit call; read only after close() joined the writer thread.
struct CommitLog {
  std::mutex mutex;
  std::vector<std::pair<size_t, Status>> records;
  void attach(store::Options& options) {
    options.on_commit = [this](double, size_t messages, Status status) {
      std::lock_guard lock(mutex);
      records.emplace_back(messages, status);
    };
  }
};

// A store whose writer waits (commit_delay of an hour) until close() makes it commit whatever
// was queued as one group.
struct HeldStore {
  store_test::Database database;
  store::Options options;
  CommitLog log;
  std::unique_ptr<store::Store> db;
  explicit HeldStore(store_test::Backend backend, uint64_t max_size = 0)
      : database(backend), options(database.options()) {
    options.max_size = max_size == 0 ? 0 : database.room_for(max_size);
    options.commit_delay = std::chrono::hours(1);
    log.attach(options);
    std::string error;
    db = database.open(options, error);
    EXPECT_NE(db, nullptr) << error;
  }
};

STORE_TEST_BACKENDS(StoreOutboundGroup);

TEST_P(StoreOutboundGroup, commits_inbound_and_outbound_messages_in_one_transaction) {
  HeldStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto inbound = make_message("inbound\r\n");
  auto first = make_outbound("shop:k");
  auto second = make_outbound("shop:k");  // the same key and body within the same group
  std::vector<Status> inbound_status;
  std::vector<OutboundEnqueued> results(2);
  std::vector<int> calls(2, 0);
  s.db->enqueue_outbound(first, [&](OutboundEnqueued r) { results[0] = r, ++calls[0]; });
  s.db->enqueue_inbound(inbound, [&](Status status) { inbound_status.push_back(status); });
  s.db->enqueue_outbound(second, [&](OutboundEnqueued r) { results[1] = r, ++calls[1]; });
  s.db->close();

  ASSERT_EQ(s.log.records.size(), 1u);  // one transaction (one fsync) for all three
  EXPECT_EQ(s.log.records[0], std::make_pair(size_t{3}, Status::ok));
  EXPECT_EQ(inbound_status, std::vector<Status>{Status::ok});
  EXPECT_EQ(calls, (std::vector<int>{1, 1}));
  EXPECT_EQ(results[0].status, Status::ok);
  EXPECT_FALSE(results[0].replay);
  EXPECT_EQ(results[1].status, Status::ok);
  EXPECT_TRUE(results[1].replay);  // the lookup saw the first insert of its own transaction
  EXPECT_EQ(results[1].response_json, first.response_json);
  EXPECT_TRUE(s.db->find_inbound(inbound.id).has_value());
  EXPECT_TRUE(s.db->find_outbound(first.id).has_value());
  EXPECT_FALSE(s.db->find_outbound(second.id).has_value());
}

TEST_P(StoreOutboundGroup, a_failed_group_is_retried_piecemeal_across_both_kinds) {
  HeldStore s(GetParam(), 256 * 1024);
  ASSERT_NE(s.db, nullptr);
  auto inbound = make_message("first\r\n");
  auto too_big = make_outbound("", std::string(1024 * 1024, 'B'));
  auto small = make_outbound("shop:small");
  std::vector<Status> inbound_status;
  std::vector<OutboundEnqueued> results(2);
  s.db->enqueue_inbound(inbound, [&](Status status) { inbound_status.push_back(status); });
  s.db->enqueue_outbound(too_big, [&](OutboundEnqueued r) { results[0] = r; });
  s.db->enqueue_outbound(small, [&](OutboundEnqueued r) { results[1] = r; });
  s.db->close();

  ASSERT_EQ(s.log.records.size(), 4u);  // the failed group, then each message alone
  EXPECT_EQ(s.log.records[0], std::make_pair(size_t{3}, Status::full));
  EXPECT_EQ(inbound_status, std::vector<Status>{Status::ok});
  EXPECT_EQ(results[0].status, Status::full);
  EXPECT_EQ(results[1].status, Status::ok);
  EXPECT_FALSE(results[1].replay);  // its own retry inserted it: no replay of itself
  EXPECT_TRUE(s.db->find_inbound(inbound.id).has_value());
  EXPECT_FALSE(s.db->find_outbound(too_big.id).has_value());
  EXPECT_TRUE(s.db->find_outbound(small.id).has_value());
}

TEST_P(StoreOutboundGroup, refuses_outbound_messages_once_closed) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  s.db->close();
  auto message = make_outbound();
  OutboundEnqueued refused = s.db->enqueue_outbound_wait(message);
  EXPECT_EQ(refused.status, Status::closed);
  EXPECT_FALSE(s.db->find_outbound(message.id).has_value());
  EXPECT_TRUE(s.db->claim_outbound(10, common::unix_ms(common::Clock::now())).empty());
}

// Schema version 1 exactly as it shipped (src/store/sqlite/schema.cpp, first migration).
constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE inbound_messages (
  id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, mail_from TEXT NOT NULL,
  rcpt_to TEXT NOT NULL, envelope TEXT NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE inbound_deliveries (
  id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL REFERENCES inbound_messages(id) ON DELETE CASCADE,
  endpoint TEXT NOT NULL, rcpt_to TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, last_error TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX inbound_deliveries_due ON inbound_deliveries(state, next_attempt_at);
CREATE INDEX inbound_deliveries_message ON inbound_deliveries(message_id);
INSERT INTO inbound_messages VALUES ('old-1', 1, 'a@example.com', '["b@example.com"]', '{}', 3,
  x'00FF0D');
INSERT INTO inbound_deliveries VALUES ('d-1', 'old-1', 'http://127.0.0.1:9/h', '[]',
  'in_flight', 2, 5, NULL, 1, 1);
PRAGMA journal_mode=WAL;
PRAGMA user_version=1;
)sql";

TEST(SqliteStoreOutboundGroup, migrates_a_version_1_database_in_place) {
  store_test::TempFolder folder;
  store::Options options;
  options.path = folder.file("old.db");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &raw), SQLITE_OK);
  int rc = sqlite3_exec(raw, kSchemaVersion1, nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  ASSERT_EQ(rc, SQLITE_OK);

  std::string error;
  auto db = store::open_sqlite(options, error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_EQ(sql_int(options.path, "PRAGMA user_version"), 11);
  // Schema 4: the due index holds only the rows that wait (queued, deferred).
  EXPECT_EQ(sql_int(options.path,
                    "SELECT partial FROM pragma_index_list('inbound_deliveries')"
                    " WHERE name='inbound_deliveries_due'"),
            1);
  // Schema 5: the deliveries' table was rebuilt WITHOUT ROWID (the old row is read below), and
  // its indexes with it.
  EXPECT_EQ(sql_int(options.path, "SELECT wr FROM pragma_table_list('inbound_deliveries')"), 1);
  EXPECT_EQ(sql_int(options.path,
                    "SELECT count(*) FROM pragma_index_list('inbound_deliveries')"
                    " WHERE origin = 'c'"),
            4);  // due, message, (6) the leases of the rows in flight, (8) the orphaned
  EXPECT_EQ(sql_int(options.path,
                    "SELECT partial FROM pragma_index_list('inbound_deliveries')"
                    " WHERE name='inbound_deliveries_lease'"),
            1);
  auto old = db->find_inbound("old-1");  // the old data is intact and usable
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->data, std::string("\0\xff\r", 3));
  ASSERT_EQ(old->deliveries.size(), 1u);
  EXPECT_EQ(old->deliveries[0].state, "queued");  // was in_flight: re-queued at open
  EXPECT_EQ(old->deliveries[0].attempts, 2);
  // Schema 8: the row stored under its URL has the URL's default name and its origin.
  EXPECT_EQ(old->deliveries[0].endpoint.rfind("127.0.0.1:9/", 0), 0u)
      << old->deliveries[0].endpoint;
  EXPECT_EQ(old->deliveries[0].origin, "http://127.0.0.1:9");

  auto message = make_outbound("shop:k");
  ASSERT_EQ(db->enqueue_outbound_wait(message).status, Status::ok);
  EXPECT_TRUE(db->find_outbound(message.id).has_value());
  EXPECT_EQ(
      sql_text(options.path, "SELECT name FROM sqlite_master WHERE name='outbound_recipients_due'"),
      "outbound_recipients_due");
  db->close();
  db.reset();
  db = store::open_sqlite(options, error);  // opening again migrates nothing twice
  ASSERT_NE(db, nullptr) << error;
  EXPECT_EQ(sql_int(options.path, "PRAGMA user_version"), 11);
  EXPECT_TRUE(db->find_outbound(message.id).has_value());
}

}  // namespace
