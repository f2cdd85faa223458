// The SQLite Store against real database files: exact bytes and rows, group commit under
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
using store_test::sql_int;
using store_test::sql_text;

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

std::unique_ptr<store::Store> open_or_fail(const store::Options& options) {
  std::string error;
  auto opened = store::open_sqlite(options, error);
  EXPECT_NE(opened, nullptr) << error;
  return opened;
}

store::Options options_in(const store_test::TempFolder& folder) {
  store::Options options;
  options.path = folder.file("var/deep/smtp-bridge.db");  // parent folders do not exist yet
  return options;
}

// Enqueues messages of `size` bytes until the store refuses one (at most `max` tries); the last
// status.
Status fill(store::Store& db, size_t size, int max = 64) {
  Status last = Status::ok;
  for (int i = 0; i < max && last == Status::ok; ++i) {
    last =
        db.enqueue_inbound_wait(make_message(std::string(size, static_cast<char>('a' + i % 26))));
  }
  return last;
}

TEST(SqliteStore, round_trips_message_bytes_and_envelope_exactly) {
  store_test::TempFolder folder;
  auto options = options_in(folder);
  auto db = open_or_fail(options);
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

  // What other tools see in the file: the schema's names, a BLOB, JSON arrays, state queued.
  const std::string& path = options.path;
  std::string where = " FROM inbound_messages WHERE id='" + sent.id + "'";
  EXPECT_EQ(sql_text(path, "SELECT typeof(data)" + where), "blob");
  EXPECT_EQ(sql_int(path, "SELECT size" + where), static_cast<int64_t>(sent.data.size()));
  EXPECT_EQ(sql_int(path, "SELECT length(data)" + where), static_cast<int64_t>(sent.data.size()));
  EXPECT_EQ(sql_text(path, "SELECT rcpt_to" + where), R"(["a@example.com","b@example.org"])");
  EXPECT_EQ(sql_text(path, "SELECT envelope" + where), sent.envelope_json);
  EXPECT_EQ(sql_text(path, "SELECT mail_from" + where), "");
  EXPECT_EQ(sql_int(path,
                    "SELECT count(*) FROM inbound_deliveries WHERE state='queued' AND "
                    "rcpt_to='[\"a@example.com\"]' AND message_id='" +
                        sent.id + "'"),
            2);
  EXPECT_EQ(sql_text(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sql_int(path, "PRAGMA user_version"), 8);  // schema 8: endpoint names
}

TEST(SqliteStore, stores_empty_message_data_as_empty_blob) {
  store_test::TempFolder folder;
  auto options = options_in(folder);
  auto db = open_or_fail(options);
  ASSERT_NE(db, nullptr);
  auto message = make_message("", 0);
  std::string id = message.id;
  ASSERT_EQ(db->enqueue_inbound_wait(std::move(message)), Status::ok);
  auto found = db->find_inbound(id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->data, "");
  EXPECT_TRUE(found->deliveries.empty());
  EXPECT_EQ(sql_text(options.path, "SELECT typeof(data) FROM inbound_messages"), "blob");
}

TEST(SqliteStore, group_commits_concurrent_writers_in_fewer_transactions) {
  store_test::TempFolder folder;
  auto options = options_in(folder);
  options.commit_delay = std::chrono::milliseconds(2);
  CommitLog log;
  log.attach(options);
  auto db = open_or_fail(options);
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

TEST(SqliteStore, refuses_messages_past_max_size_and_stays_usable) {
  store_test::TempFolder folder;
  auto options = options_in(folder);
  options.max_size = 512 * 1024;
  auto db = open_or_fail(options);
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
  auto pages = sql_int(options.path, "PRAGMA page_count");
  auto page_size = sql_int(options.path, "PRAGMA page_size");
  ASSERT_TRUE(pages && page_size);
  EXPECT_LE(static_cast<uint64_t>(*pages * *page_size), options.max_size);
}

TEST(SqliteStore, a_full_store_is_unready_until_pruning_makes_room_without_new_mail) {
  store_test::TempFolder folder;
  auto options = options_in(folder);
  options.max_size = 512 * 1024;
  auto db = open_or_fail(options);
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

TEST(SqliteStore, one_oversized_message_does_not_fail_its_group) {
  store_test::TempFolder folder;
  auto options = options_in(folder);
  options.max_size = 256 * 1024;
  options.commit_delay = std::chrono::hours(1);  // nothing commits before close() wakes the writer
  CommitLog log;
  log.attach(options);
  auto db = open_or_fail(options);
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

TEST(SqliteStore, close_commits_queued_messages_then_refuses_writes) {
  store_test::TempFolder folder;
  auto options = options_in(folder);
  std::vector<store::InboundMessage> sent;
  std::atomic<int> ok{0};
  {
    auto db = open_or_fail(options);
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
  auto reopened = open_or_fail(options);
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

TEST(SqliteStore, requeues_in_flight_deliveries_at_open) {
  store_test::TempFolder folder;
  auto options = options_in(folder);
  auto message = make_message("body\r\n", 2);
  {
    auto db = open_or_fail(options);
    ASSERT_NE(db, nullptr);
    ASSERT_EQ(db->enqueue_inbound_wait(message), Status::ok);
  }
  // A dead dispatcher left one delivery in flight; another was delivered.
  std::string endpoint0 = message.deliveries[0].endpoint;
  ASSERT_TRUE(store_test::sql_exec(options.path,
                                   "UPDATE inbound_deliveries SET state='in_flight'"
                                   " WHERE endpoint='" +
                                       endpoint0 + "'"));
  ASSERT_TRUE(store_test::sql_exec(options.path,
                                   "UPDATE inbound_deliveries SET state='delivered'"
                                   " WHERE endpoint<>'" +
                                       endpoint0 + "'"));
  ASSERT_EQ(
      sql_int(options.path, "SELECT count(*) FROM inbound_deliveries WHERE state='in_flight'"), 1);

  auto db = open_or_fail(options);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(
      sql_int(options.path, "SELECT count(*) FROM inbound_deliveries WHERE state='in_flight'"), 0);
  auto found = db->find_inbound(message.id);
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->deliveries.size(), 2u);
  for (const auto& row : found->deliveries) {
    EXPECT_EQ(row.state, row.endpoint == endpoint0 ? "queued" : "delivered") << row.endpoint;
  }
}

TEST(SqliteStore, open_fails_with_an_error_when_the_path_is_unusable) {
  store_test::TempFolder folder;
  store::Options options;
  options.path = folder.path();  // a directory, not a database file
  std::string error;
  EXPECT_EQ(store::open_sqlite(options, error), nullptr);
  EXPECT_FALSE(error.empty());
}

TEST(SqliteStore, names_every_status) {
  EXPECT_STREQ(store::to_string(Status::ok), "ok");
  EXPECT_STREQ(store::to_string(Status::full), "full");
  EXPECT_STREQ(store::to_string(Status::io_error), "io_error");
  EXPECT_STREQ(store::to_string(Status::closed), "closed");
}

}  // namespace
