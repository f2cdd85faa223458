// The Store on both backends (store_test_support.h): exact bytes and rows, group commit under
// concurrency, the size limit, close and reopen, and the re-queue of in-flight deliveries.
#include "store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "store_test_support.h"

namespace {

using store::Status;
using store_test::make_message;

struct CommitRecord {
  size_t messages;
  Status status;
};

// Records every on_commit call; read only after close() joined the writer thread.
struct CommitLog {
  std::mutex mutex;
  std::vector<CommitRecord> records;
  void attach(store::Options& options) {
    options.on_commit = [this](double seconds, size_t messages, Status status) {
      EXPECT_GE(seconds, 0.0);
      std::lock_guard lock(mutex);
      records.push_back({messages, status});
    };
  }
};

STORE_TEST_BACKENDS(Store);

std::unique_ptr<store::Store> open_or_fail(const store_test::Database& database,
                                           const store::Options& options) {
  std::string error;
  auto opened = database.open(options, error);
  EXPECT_NE(opened, nullptr) << error;
  return opened;
}

// SQLite's file is in folders that do not exist yet.
constexpr const char* kDeepFile = "var/deep/smtp-bridge.db";

// Enqueues messages of `size` bytes until the store refuses one (at most `max` tries); the last
// status. The bytes do not compress (PostgreSQL compresses large values).
Status fill(store::Store& db, size_t size, int max = 64) {
  Status last = Status::ok;
  uint32_t state = 2463534242u;
  for (int i = 0; i < max && last == Status::ok; ++i) {
    std::string data(size, '\0');
    for (char& byte : data) {  // xorshift32
      state ^= state << 13, state ^= state >> 17, state ^= state << 5;
      byte = static_cast<char>(state);
    }
    last = db.enqueue_inbound_wait(make_message(data));
  }
  return last;
}

TEST_P(Store, round_trips_message_bytes_and_envelope_exactly) {
  store_test::Database database(GetParam(), kDeepFile);
  auto options = database.options();
  auto db = open_or_fail(database, options);
  ASSERT_NE(db, nullptr);

  auto message = make_message(store_test::awkward_bytes("round-trip"), 2);
  message.mail_from = "";  // the null reverse-path
  auto sent = message;
  ASSERT_EQ(db->enqueue_inbound_wait(std::move(message)), Status::ok);

  auto found = db->find_inbound(sent.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, sent.id);
  EXPECT_EQ(found->data, sent.data);
  EXPECT_EQ(found->data.size(), sent.data.size());
  EXPECT_EQ(found->received_at_ms, sent.received_at_ms);
  EXPECT_EQ(found->mail_from, "");
  EXPECT_EQ(found->rcpt_to, sent.rcpt_to);
  EXPECT_EQ(found->envelope_json, sent.envelope_json);
  ASSERT_EQ(found->deliveries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& row = found->deliveries[i];
    EXPECT_EQ(row.id.size(), 36u);
    EXPECT_EQ(row.message_id, sent.id);
    EXPECT_EQ(row.state, "queued");
    EXPECT_EQ(row.attempts, 0);
    EXPECT_GT(row.next_attempt_at_ms, 0);
    EXPECT_EQ(row.rcpt_to, std::vector<std::string>{"a@example.com"});
  }
  EXPECT_NE(found->deliveries[0].id, found->deliveries[1].id);
  EXPECT_NE(found->deliveries[0].endpoint, found->deliveries[1].endpoint);
  EXPECT_EQ(db->count_inbound(), 1u);
  EXPECT_FALSE(db->find_inbound("no-such-id").has_value());
  EXPECT_TRUE(db->writable());
  EXPECT_GT(db->size_bytes(), sent.data.size());

  // What other tools see in the database: the schema's names, the bytes as a BLOB (SQLite) or
  // bytea (PostgreSQL), JSON arrays, state queued.
  const bool pg = database.postgres();
  std::string where = " FROM inbound_messages WHERE id='" + sent.id + "'";
  EXPECT_EQ(
      database.sql_text((pg ? "SELECT pg_typeof(data)::text" : "SELECT typeof(data)") + where),
      pg ? "bytea" : "blob");
  EXPECT_EQ(database.sql_int("SELECT size" + where), static_cast<int64_t>(sent.data.size()));
  EXPECT_EQ(database.sql_int("SELECT length(data)" + where),
            static_cast<int64_t>(sent.data.size()));
  const std::string rcpt_to = R"(["a@example.com","b@example.org"])";
  if (pg) {  // text or jsonb: the same JSON value
    EXPECT_EQ(database.sql_int("SELECT rcpt_to::jsonb = '" + rcpt_to + "'::jsonb" + where), 1);
    EXPECT_EQ(
        database.sql_int("SELECT envelope::jsonb = '" + sent.envelope_json + "'::jsonb" + where),
        1);
  } else {
    EXPECT_EQ(database.sql_text("SELECT rcpt_to" + where), rcpt_to);
    EXPECT_EQ(database.sql_text("SELECT envelope" + where), sent.envelope_json);
  }
  EXPECT_EQ(database.sql_text("SELECT mail_from" + where), "");
  EXPECT_EQ(database.sql_int("SELECT count(*) FROM inbound_deliveries WHERE state='queued' AND "
                             "rcpt_to='[\"a@example.com\"]' AND message_id='" +
                             sent.id + "'"),
            2);
  if (!pg) {  // the SQLite file's own settings
    EXPECT_EQ(database.sql_text("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(database.sql_int("PRAGMA user_version"),
              11);  // 9: suppressions, 10: events, 11: history
  }
}

TEST_P(Store, stores_empty_message_data_as_empty_blob) {
  store_test::Database database(GetParam(), kDeepFile);
  auto options = database.options();
  auto db = open_or_fail(database, options);
  ASSERT_NE(db, nullptr);
  auto message = make_message("", 0);
  std::string id = message.id;
  ASSERT_EQ(db->enqueue_inbound_wait(std::move(message)), Status::ok);
  auto found = db->find_inbound(id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->data, "");
  EXPECT_TRUE(found->deliveries.empty());
  EXPECT_EQ(database.sql_int("SELECT length(data) FROM inbound_messages"), 0);
  if (database.postgres()) {
    EXPECT_EQ(database.sql_text("SELECT pg_typeof(data)::text FROM inbound_messages"), "bytea");
  } else {
    EXPECT_EQ(database.sql_text("SELECT typeof(data) FROM inbound_messages"), "blob");
  }
}

TEST_P(Store, group_commits_concurrent_writers_in_fewer_transactions) {
  store_test::Database database(GetParam(), kDeepFile);
  auto options = database.options();
  options.commit_delay = std::chrono::milliseconds(2);
  CommitLog log;
  log.attach(options);
  auto db = open_or_fail(database, options);
  ASSERT_NE(db, nullptr);

  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::vector<store::InboundMessage>> sent(kThreads);
  std::atomic<int> not_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto message = make_message(store_test::awkward_bytes(std::to_string(t * 1000 + i)));
        sent[t].push_back(message);
        if (db->enqueue_inbound_wait(std::move(message)) != Status::ok) ++not_ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(not_ok.load(), 0);
  EXPECT_EQ(db->count_inbound(), static_cast<uint64_t>(kThreads * kPerThread));
  for (const auto& list : sent) {
    for (const auto& message : list) {
      auto found = db->find_inbound(message.id);
      ASSERT_TRUE(found.has_value()) << message.id;
      EXPECT_EQ(found->data, message.data);
    }
  }
  db->close();

  size_t committed = 0;
  for (const auto& record : log.records) {
    EXPECT_EQ(record.status, Status::ok);
    committed += record.messages;
  }
  EXPECT_EQ(committed, static_cast<size_t>(kThreads * kPerThread));
  EXPECT_LT(log.records.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_P(Store, refuses_messages_past_max_size_and_stays_usable) {
  store_test::Database database(GetParam(), kDeepFile);
  auto options = database.options();
  options.max_size = database.room_for(512 * 1024);
  auto db = open_or_fail(database, options);
  ASSERT_NE(db, nullptr);

  auto big = make_message(std::string(1024 * 1024, '\xaa'));
  std::string big_id = big.id;
  EXPECT_EQ(db->enqueue_inbound_wait(std::move(big)), Status::full);
  // One message too large for the room left does not make the store unready: the readiness
  // check's probe (a typical 64 KiB message) still fits.
  EXPECT_TRUE(db->writable());
  EXPECT_FALSE(db->find_inbound(big_id).has_value());

  auto small = make_message(store_test::awkward_bytes("small"));
  std::string small_id = small.id;
  EXPECT_EQ(db->enqueue_inbound_wait(std::move(small)), Status::ok);
  EXPECT_TRUE(db->writable());
  EXPECT_TRUE(db->find_inbound(small_id).has_value());
  EXPECT_EQ(db->count_inbound(), 1u);

  // Fill it up with medium messages: sooner or later full, and never past the limit.
  EXPECT_EQ(fill(*db, 16 * 1024), Status::full);
  if (!database.postgres()) {  // the file itself (PostgreSQL's limit is its backend's measure)
    auto pages = database.sql_int("PRAGMA page_count");
    auto page_size = database.sql_int("PRAGMA page_size");
    ASSERT_TRUE(pages && page_size);
    EXPECT_LE(static_cast<uint64_t>(*pages * *page_size), options.max_size);
  }
}

TEST_P(Store, a_full_store_is_unready_until_pruning_makes_room_without_new_mail) {
  store_test::Database database(GetParam(), kDeepFile);
  auto options = database.options();
  options.max_size = database.room_for(512 * 1024);
  auto db = open_or_fail(database, options);
  ASSERT_NE(db, nullptr);
  ASSERT_EQ(fill(*db, 16 * 1024), Status::full);
  EXPECT_FALSE(db->writable());  // the probe ran: no room for a typical message

  // The dispatcher delivers and retention prunes; no mail comes (an unready pod gets none).
  auto jobs = db->claim_deliveries(1000, store_test::kFarFuture);
  ASSERT_FALSE(jobs.empty());
  for (const auto& job : jobs)
    db->finish_delivery(job.delivery.id, store::DeliveryOutcome::delivered, 0, "");
  EXPECT_EQ(db->prune(store_test::kFarFuture, store_test::kFarFuture), jobs.size());

  // Probes run at most once a second: ready again within a few.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!db->writable() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(db->writable());
  EXPECT_EQ(db->count_inbound(), 0u);  // the probe's row never committed
  EXPECT_EQ(db->enqueue_inbound_wait(make_message(std::string(16 * 1024, 'g'))), Status::ok);
}

TEST_P(Store, one_oversized_message_does_not_fail_its_group) {
  store_test::Database database(GetParam(), kDeepFile);
  auto options = database.options();
  options.max_size = database.room_for(256 * 1024);
  options.commit_delay = std::chrono::hours(1);  // nothing commits before close() wakes the writer
  CommitLog log;
  log.attach(options);
  auto db = open_or_fail(database, options);
  ASSERT_NE(db, nullptr);

  std::vector<store::InboundMessage> messages = {make_message("first\r\n"),
                                                 make_message(std::string(1024 * 1024, 'B')),
                                                 make_message("third\r\n")};
  std::vector<Status> statuses(3, Status::closed);
  std::vector<int> calls(3, 0);
  for (size_t i = 0; i < messages.size(); ++i) {
    db->enqueue_inbound(messages[i], [&, i](Status status) {
      statuses[i] = status;
      ++calls[i];
    });
  }
  db->close();  // commits what is queued: the three as one group

  EXPECT_EQ(calls, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(statuses, (std::vector<Status>{Status::ok, Status::full, Status::ok}));
  ASSERT_EQ(log.records.size(), 4u);  // the failed group, then each message alone
  EXPECT_EQ(log.records[0].messages, 3u);
  EXPECT_EQ(log.records[0].status, Status::full);
  EXPECT_EQ(log.records[1].status, Status::ok);
  EXPECT_EQ(log.records[2].status, Status::full);
  EXPECT_EQ(log.records[3].status, Status::ok);
  EXPECT_TRUE(db->find_inbound(messages[0].id).has_value());
  EXPECT_FALSE(db->find_inbound(messages[1].id).has_value());
  EXPECT_TRUE(db->find_inbound(messages[2].id).has_value());
}

TEST_P(Store, close_commits_queued_messages_then_refuses_writes) {
  store_test::Database database(GetParam(), kDeepFile);
  auto options = database.options();
  std::vector<store::InboundMessage> sent;
  std::atomic<int> ok{0};
  {
    auto db = open_or_fail(database, options);
    ASSERT_NE(db, nullptr);
    for (int i = 0; i < 20; ++i) {
      sent.push_back(make_message(store_test::awkward_bytes(std::to_string(i)), 1));
      db->enqueue_inbound(sent.back(), [&](Status status) { ok += status == Status::ok; });
    }
    db->close();
    EXPECT_EQ(ok.load(), 20);
    EXPECT_FALSE(db->writable());

    bool called = false;
    Status refused = Status::ok;
    db->enqueue_inbound(make_message("late"), [&](Status status) {
      refused = status;
      called = true;
    });
    EXPECT_TRUE(called);  // at once, on the caller's thread
    EXPECT_EQ(refused, Status::closed);
    EXPECT_EQ(db->enqueue_inbound_wait(make_message("later")), Status::closed);
    db->close();  // a second close is harmless
  }
  auto reopened = open_or_fail(database, options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(reopened->writable());
  EXPECT_EQ(reopened->count_inbound(), 20u);
  for (const auto& message : sent) {
    auto found = reopened->find_inbound(message.id);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->data, message.data);
    ASSERT_EQ(found->deliveries.size(), 1u);
    EXPECT_EQ(found->deliveries[0].state, "queued");
  }
}

TEST_P(Store, requeues_in_flight_deliveries_at_open) {
  store_test::Database database(GetParam(), kDeepFile);
  auto options = database.options();
  auto message = make_message("body\r\n", 2);
  {
    auto db = open_or_fail(database, options);
    ASSERT_NE(db, nullptr);
    ASSERT_EQ(db->enqueue_inbound_wait(message), Status::ok);
  }
  // A dead dispatcher of this process left one delivery in flight (claimed by this owner, its
  // lease still running); another was delivered.
  std::string endpoint0 = message.deliveries[0].endpoint;
  ASSERT_TRUE(database.sql_exec("UPDATE inbound_deliveries SET state='in_flight', lease_owner='" +
                                options.owner +
                                "', lease_until=" + std::to_string(store_test::kFarFuture) +
                                " WHERE endpoint='" + endpoint0 + "'"));
  ASSERT_TRUE(database.sql_exec(
      "UPDATE inbound_deliveries SET state='delivered' WHERE endpoint<>'" + endpoint0 + "'"));
  ASSERT_EQ(database.sql_int("SELECT count(*) FROM inbound_deliveries WHERE state='in_flight'"), 1);

  auto db = open_or_fail(database, options);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(database.sql_int("SELECT count(*) FROM inbound_deliveries WHERE state='in_flight'"), 0);
  auto found = db->find_inbound(message.id);
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->deliveries.size(), 2u);
  for (const auto& row : found->deliveries) {
    EXPECT_EQ(row.state, row.endpoint == endpoint0 ? "queued" : "delivered") << row.endpoint;
  }
}

TEST_P(Store, open_fails_with_an_error_when_the_database_is_unusable) {
  store_test::Database database(GetParam());
  std::string error;
  if (database.postgres()) {
    // A port nobody listens on; the password must not show in the error.
    store::PostgresOptions postgres;
    postgres.dsn = "host=127.0.0.1 port=1 user=postgres password=secret-pw dbname=none";
    postgres.connect_timeout = std::chrono::seconds(5);
    EXPECT_EQ(store::open_postgres(database.options(), postgres, error), nullptr);
    EXPECT_EQ(error.find("secret-pw"), std::string::npos) << error;
  } else {
    store::Options options;
    options.path = database.folder().path();  // a directory, not a database file
    EXPECT_EQ(store::open_sqlite(options, error), nullptr);
  }
  EXPECT_FALSE(error.empty());
}

TEST(StoreStatus, names_every_status) {
  EXPECT_STREQ(store::to_string(Status::ok), "ok");
  EXPECT_STREQ(store::to_string(Status::full), "full");
  EXPECT_STREQ(store::to_string(Status::io_error), "io_error");
  EXPECT_STREQ(store::to_string(Status::closed), "closed");
}

}  // namespace
