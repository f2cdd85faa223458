// The PostgreSQL store's own behaviour against a real server started here (initdb into a temp
// folder, a free port, run as `nobody` when the tests run as root, torn down after): migrations
// once under concurrency, refusal of a newer schema, exact bytes, group commit, SKIP LOCKED claims
// by two owners, leases taken back, stale finishes ignored, idempotency and NOTIFY across two
// stores, advisory-locked housekeeping, and io_error (not a hang) while the server is down.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "common/ids.h"
#include "common/time.h"
#include "pg_test_server.h"
#include "store/store.h"

namespace {

using pg_test::postgres_bin;
using pg_test::Server;
using pg_test::Sql;
using store::Status;
constexpr auto kWait = std::chrono::seconds(60);  // a bound for a hang, never reached when green

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

class PostgresStore : public ::testing::Test {
 protected:
  void SetUp() override {
    if (postgres_bin().empty()) GTEST_SKIP() << "no PostgreSQL binaries installed";
    ASSERT_TRUE(server_.start());
    // A schema of its own, reached through the search_path only: nothing assumes "public".
    Sql admin(server_.admin_dsn());
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE(admin.exec("CREATE SCHEMA bridge"));
    sql_ = std::make_unique<Sql>(server_.admin_dsn("bridge"));
    postgres_.dsn = server_.dsn("bridge");
    postgres_.password_file = server_.dir() + "/password";
    Server::write_file(postgres_.password_file, "first-secret");
    postgres_.statement_timeout = std::chrono::seconds(5);
    postgres_.connect_timeout = std::chrono::seconds(2);
  }

  std::unique_ptr<store::Store> open(store::Options options = {}) {
    std::string error;
    auto db = store::open_postgres(options, postgres_, error);
    EXPECT_NE(db, nullptr) << error;
    return db;
  }

  static store::InboundMessage message(const std::string& data, int endpoints = 1) {
    store::InboundMessage m;
    m.id = common::uuid_v7();
    m.received_at_ms = now_ms();
    m.mail_from = "a@example.com";
    m.rcpt_to = {"b@example.com"};
    m.envelope_json = R"({"mail_from":"a@example.com"})";
    m.data = data;
    for (int i = 0; i < endpoints; ++i)
      m.deliveries.push_back({"hook" + std::to_string(i), {"b@example.com"}});
    return m;
  }

  static store::OutboundMessage outbound(const std::string& key, const std::string& hash) {
    store::OutboundMessage m;
    m.id = common::uuid_v7();
    m.created_at_ms = now_ms();
    m.mail_from = "a@example.com";
    m.rcpt_to = {"b@example.com"};
    m.data = "Subject: x\r\n\r\nx\r\n";
    m.idempotency_key = key;
    m.request_hash = hash;
    m.response_json = R"({"id":")" + m.id + R"("})";
    return m;
  }

  std::string state_of(const std::string& delivery_id) {
    return sql_->text("SELECT state FROM inbound_deliveries WHERE id='" + delivery_id + "'");
  }

  Server server_;
  std::unique_ptr<Sql> sql_;
  store::PostgresOptions postgres_;
};

TEST_F(PostgresStore, three_stores_opening_together_on_an_empty_database_migrate_once) {
  std::vector<std::unique_ptr<store::Store>> stores(3);
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 3; ++i)
    threads.emplace_back([&, i] { stores[i] = store::open_postgres({}, postgres_, errors[i]); });
  for (auto& thread : threads) thread.join();
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(stores[i], nullptr) << errors[i];
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM schema_versions"), 5);
  // In the search_path's schema, not in "public".
  EXPECT_EQ(sql_->text("SELECT to_regclass('bridge.inbound_messages') IS NOT NULL"), "t");
  EXPECT_EQ(sql_->text("SELECT to_regclass('public.inbound_messages') IS NOT NULL"), "f");
}

TEST_F(PostgresStore, a_schema_newer_than_this_build_is_refused_naming_both_versions) {
  open()->close();
  std::string found;
  EXPECT_TRUE(store::check_postgres(postgres_, found)) << found;
  EXPECT_NE(found.find("schema version 5 (this build knows 5)"), std::string::npos) << found;
  ASSERT_TRUE(sql_->exec("INSERT INTO schema_versions VALUES (99, 0)"));
  std::string error;
  EXPECT_EQ(store::open_postgres({}, postgres_, error), nullptr);
  EXPECT_NE(error.find("99"), std::string::npos) << error;
  EXPECT_NE(error.find("(5)"), std::string::npos) << error;
  std::string detail;
  EXPECT_FALSE(store::check_postgres(postgres_, detail));
  EXPECT_NE(detail.find("99"), std::string::npos) << detail;
}

// Schema 2 stores message bytes out of line without compression: the server's CPU, which every
// replica shares, is not spent compressing mail (mostly base64 and compressed attachments).
TEST_F(PostgresStore, message_bytes_are_stored_uncompressed_and_rows_of_schema_1_stay_readable) {
  auto db = open();
  ASSERT_NE(db, nullptr);
  const std::string storage =
      "SELECT string_agg(attstorage::text, ',' ORDER BY attrelid::regclass::text) FROM "
      "pg_attribute WHERE attname = 'data' AND attrelid IN ('inbound_messages'::regclass, "
      "'outbound_messages'::regclass)";
  EXPECT_EQ(sql_->text(storage), "e,e");
  // A highly compressible message: stored at its full size, not compressed.
  auto m = message(std::string(64 * 1024, 'x'));
  ASSERT_EQ(db->enqueue_inbound_wait(m), Status::ok);
  EXPECT_EQ(
      sql_->integer("SELECT pg_column_size(data) FROM inbound_messages WHERE id = '" + m.id + "'"),
      64 * 1024);
  db->close();
  db.reset();
  // Back to a database as schema 1 left it, with a row it compressed.
  const std::string old_id = common::uuid_v7();
  ASSERT_TRUE(
      sql_->exec("ALTER TABLE inbound_messages ALTER COLUMN data SET STORAGE EXTENDED;"
                 "ALTER TABLE outbound_messages ALTER COLUMN data SET STORAGE EXTENDED;"
                 "DROP TABLE suppressions;"      // schema 3's
                 "DROP TABLE event_deliveries;"  // schema 4's
                 "DROP TABLE outbound_history;"  // schema 5's
                 "DELETE FROM schema_versions WHERE version >= 2;"
                 "INSERT INTO inbound_messages SELECT '" +
                 old_id +
                 "', received_at, mail_from, rcpt_to,"
                 " envelope, size, decode(repeat('79', 65536), 'hex') FROM inbound_messages"));
  EXPECT_LT(sql_->integer("SELECT pg_column_size(data) FROM inbound_messages WHERE id = '" +
                          old_id + "'"),
            64 * 1024);
  db = open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(sql_->integer("SELECT max(version) FROM schema_versions"), 5);
  EXPECT_EQ(sql_->text(storage), "e,e");
  auto found_old = db->find_inbound(old_id);
  ASSERT_TRUE(found_old);
  EXPECT_EQ(found_old->data, std::string(64 * 1024, 'y'));
  auto fresh = message(std::string(64 * 1024, 'z'));
  ASSERT_EQ(db->enqueue_inbound_wait(fresh), Status::ok);
  EXPECT_EQ(sql_->integer("SELECT pg_column_size(data) FROM inbound_messages WHERE id = '" +
                          fresh.id + "'"),
            64 * 1024);
}

TEST_F(PostgresStore, stores_and_finds_the_exact_bytes) {
  auto db = open();
  ASSERT_NE(db, nullptr);
  std::string bytes;
  for (int i = 0; i < 512; ++i) bytes += static_cast<char>(i % 256);  // NUL and every 8-bit byte
  bytes += "\r\n.\r\n\r\r\n";
  auto m = message(bytes);
  ASSERT_EQ(db->enqueue_inbound_wait(m), Status::ok);
  auto found = db->find_inbound(m.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->data, bytes);
  EXPECT_EQ(found->envelope_json, m.envelope_json);
  ASSERT_EQ(found->deliveries.size(), 1u);
  EXPECT_EQ(found->deliveries[0].state, "queued");
  EXPECT_EQ(sql_->integer("SELECT size FROM inbound_messages"), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(sql_->text("SELECT md5(data) FROM inbound_messages"),
            sql_->text("SELECT md5(decode('" + [&] {
              std::string hex;
              const char* digits = "0123456789abcdef";
              for (unsigned char c : bytes) hex += {digits[c >> 4], digits[c & 15]};
              return hex;
            }() + "', 'hex'))"));
  auto jobs = db->claim_deliveries(10, now_ms());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].data, bytes);
}

TEST_F(PostgresStore, concurrent_enqueues_share_one_transaction) {
  store::Options options;
  options.commit_delay = std::chrono::milliseconds(300);
  std::mutex mutex;
  std::vector<size_t> groups;
  options.on_commit = [&](double, size_t messages, Status status) {
    std::lock_guard lock(mutex);
    if (status == Status::ok) groups.push_back(messages);
  };
  auto db = open(options);
  ASSERT_NE(db, nullptr);
  std::atomic<int> done{0};
  std::vector<std::thread> senders;
  for (int i = 0; i < 8; ++i)
    senders.emplace_back([&, i] {
      if (db->enqueue_inbound_wait(message("group " + std::to_string(i))) == Status::ok) ++done;
    });
  for (auto& sender : senders) sender.join();
  EXPECT_EQ(done.load(), 8);
  std::lock_guard lock(mutex);
  size_t total = 0, largest = 0;
  for (size_t group : groups) total += group, largest = std::max(largest, group);
  EXPECT_EQ(total, 8u);
  EXPECT_GT(largest, 1u);  // at least two senders rode one COMMIT
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM inbound_messages"), 8);
}

TEST_F(PostgresStore, claims_skip_rows_another_session_has_locked_instead_of_waiting) {
  auto db = open();
  ASSERT_NE(db, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(db->enqueue_inbound_wait(message("m")), Status::ok);
  std::string oldest = sql_->text("SELECT id FROM inbound_deliveries ORDER BY id LIMIT 1");
  // Another replica in the middle of claiming the oldest row.
  Sql other(server_.admin_dsn("bridge"));
  ASSERT_TRUE(other.exec("BEGIN"));
  ASSERT_TRUE(other.exec("SELECT id FROM inbound_deliveries WHERE id='" + oldest + "' FOR UPDATE"));
  auto started = std::chrono::steady_clock::now();
  auto jobs = db->claim_deliveries(10, now_ms());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) EXPECT_NE(job.delivery.id, oldest);
  ASSERT_TRUE(other.exec("COMMIT"));
  auto rest = db->claim_deliveries(10, now_ms());
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].delivery.id, oldest);
}

TEST_F(PostgresStore, owners_claiming_at_once_never_share_a_row) {
  // Four replicas' writers claim from one backlog at once.
  constexpr int kStores = 4, kRows = 200;
  std::vector<std::unique_ptr<store::Store>> stores;
  for (int i = 0; i < kStores; ++i) {
    store::Options options;
    options.owner = "owner-" + std::to_string(i);
    stores.push_back(open(options));
    ASSERT_NE(stores.back(), nullptr);
  }
  std::atomic<int> stored{0};
  for (int i = 0; i < kRows; ++i)
    stores[0]->enqueue_inbound(message("m"),
                               [&](Status status) { stored += status == Status::ok; });
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (stored.load() < kRows && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(stored.load(), kRows);
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> claimed;  // id, owner
  std::atomic<bool> go{false};
  std::vector<std::thread> claimers;
  for (int i = 0; i < kStores; ++i)
    claimers.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      for (;;) {
        auto jobs = stores[i]->claim_deliveries(4, now_ms());
        if (jobs.empty()) return;
        std::lock_guard lock(mutex);
        for (auto& job : jobs) claimed.emplace_back(job.delivery.id, job.delivery.lease_owner);
      }
    });
  go = true;
  for (auto& claimer : claimers) claimer.join();
  std::set<std::string> ids, owners;
  for (auto& [id, owner] : claimed) {
    EXPECT_TRUE(ids.insert(id).second) << id << " claimed twice";
    owners.insert(owner);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(sql_->integer("SELECT max(attempts) FROM inbound_deliveries"), 1);
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM inbound_deliveries WHERE state='in_flight'"),
            kRows);
  EXPECT_GT(owners.size(), 1u);  // they did claim side by side
}

TEST_F(PostgresStore,
       an_expired_lease_is_taken_back_by_the_other_store_and_a_stale_finish_is_ignored) {
  store::Options a, b;
  a.owner = "owner-a";
  b.owner = "owner-b";
  a.lease = b.lease = std::chrono::milliseconds(200);
  auto store_a = open(a), store_b = open(b);
  ASSERT_TRUE(store_a && store_b);
  ASSERT_EQ(store_a->enqueue_inbound_wait(message("lease")), Status::ok);
  auto first = store_a->claim_deliveries(1, now_ms());
  ASSERT_EQ(first.size(), 1u);
  const std::string id = first[0].delivery.id;
  EXPECT_TRUE(store_b->claim_deliveries(1, now_ms()).empty());  // held by A
  EXPECT_EQ(store_b->requeue_expired(now_ms() + 1000), 1u);     // A's lease ended
  auto second = store_b->claim_deliveries(1, now_ms() + 1000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].delivery.id, id);
  EXPECT_EQ(second[0].delivery.attempts, 2);
  // A's finish comes after its lease: B's claim holds the row, nothing changes.
  store_a->finish_delivery(id, store::DeliveryOutcome::delivered, 0, "",
                           first[0].delivery.attempts);
  EXPECT_EQ(state_of(id), "in_flight");
  // Nor does one for any attempt (0): the lease is B's, not A's.
  store_a->finish_delivery(id, store::DeliveryOutcome::dead, 0, "stale", 0);
  EXPECT_EQ(state_of(id), "in_flight");
  EXPECT_EQ(sql_->text("SELECT lease_owner FROM inbound_deliveries WHERE id='" + id + "'"),
            "owner-b");
  store_b->finish_delivery(id, store::DeliveryOutcome::delivered, 0, "", 2);
  EXPECT_EQ(state_of(id), "delivered");
}

TEST_F(PostgresStore, an_idempotency_key_is_unique_across_stores) {
  auto store_a = open(), store_b = open();
  ASSERT_TRUE(store_a && store_b);
  auto first = outbound("api:key-1", "hash-1");
  auto answer = store_a->enqueue_outbound_wait(first);
  ASSERT_EQ(answer.status, Status::ok);
  EXPECT_FALSE(answer.replay);
  auto again = store_b->enqueue_outbound_wait(outbound("api:key-1", "hash-1"));
  EXPECT_EQ(again.status, Status::ok);
  EXPECT_TRUE(again.replay);
  EXPECT_EQ(again.response_json, first.response_json);
  auto other = store_b->enqueue_outbound_wait(outbound("api:key-1", "hash-2"));
  EXPECT_TRUE(other.conflict);
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM outbound_messages"), 1);

  // Both stores at once with a new key: one writes, the other replays it.
  auto x = outbound("api:key-2", "hash-x"), y = outbound("api:key-2", "hash-x");
  store::OutboundEnqueued rx, ry;
  std::thread tx([&] { rx = store_a->enqueue_outbound_wait(x); });
  std::thread ty([&] { ry = store_b->enqueue_outbound_wait(y); });
  tx.join();
  ty.join();
  EXPECT_EQ(rx.status, Status::ok);
  EXPECT_EQ(ry.status, Status::ok);
  EXPECT_NE(rx.replay, ry.replay);
  EXPECT_EQ(rx.response_json, ry.response_json);
  EXPECT_EQ(
      sql_->integer("SELECT count(*) FROM outbound_messages WHERE idempotency_key='api:key-2'"), 1);
}

TEST_F(PostgresStore, new_rows_wake_the_other_store_through_notify_but_not_their_own) {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> heard_a, heard_b;
  auto recorder = [&](std::vector<std::string>& heard) {
    return [&](const std::string& what) {
      std::lock_guard lock(mutex);
      heard.push_back(what);
      changed.notify_all();
    };
  };
  store::Options a, b;
  a.on_remote_rows = recorder(heard_a);
  b.on_remote_rows = recorder(heard_b);
  auto store_a = open(a), store_b = open(b);
  ASSERT_TRUE(store_a && store_b);
  ASSERT_EQ(store_a->enqueue_inbound_wait(message("wake up")), Status::ok);
  ASSERT_EQ(store_a->enqueue_outbound_wait(outbound("", "")).status, Status::ok);
  std::unique_lock lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, kWait, [&] { return heard_b.size() >= 2; }));
  EXPECT_EQ(heard_b, (std::vector<std::string>{"inbound", "outbound"}));
  lock.unlock();
  // B's own commit reaches A; A's own never came back to A (it would have been heard first).
  ASSERT_EQ(store_b->enqueue_inbound_wait(message("back")), Status::ok);
  lock.lock();
  ASSERT_TRUE(changed.wait_for(lock, kWait, [&] { return !heard_a.empty(); }));
  EXPECT_EQ(heard_a, (std::vector<std::string>{"inbound"}));
}

TEST_F(PostgresStore, prune_and_metrics_run_on_one_store_at_a_time) {
  auto first = open();
  ASSERT_NE(first, nullptr);
  auto second = open();
  ASSERT_NE(second, nullptr);
  ASSERT_EQ(first->enqueue_inbound_wait(message("old")), Status::ok);
  // The first store holds the housekeeping lock: it samples, the other reports zeros.
  auto count = [](const store::Store::QueueStats& stats, const std::string& state) {
    for (auto& [name, value] : stats.by_state)
      if (name == state) return value;
    return uint64_t{999};
  };
  EXPECT_EQ(count(first->queue_stats(), "queued"), 1u);
  EXPECT_EQ(count(second->queue_stats(), "queued"), 0u);
  auto jobs = first->claim_deliveries(1, now_ms());
  ASSERT_EQ(jobs.size(), 1u);
  first->finish_delivery(jobs[0].delivery.id, store::DeliveryOutcome::delivered, 0, "", 1);
  // Another replica prunes right now: this one does nothing.
  Sql other(server_.admin_dsn("bridge"));
  ASSERT_TRUE(
      other.exec("SELECT pg_advisory_lock(1396854087, hashtext('prune:' || current_schema()))"));
  EXPECT_EQ(second->prune(now_ms() + 1000, now_ms() + 1000), 0u);
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM inbound_messages"), 1);
  ASSERT_TRUE(other.exec("SELECT pg_advisory_unlock_all()"));
  EXPECT_EQ(second->prune(now_ms() + 1000, now_ms() + 1000), 1u);
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM inbound_messages"), 0);
}

TEST_F(PostgresStore, answers_io_error_while_the_server_is_down_and_recovers_after) {
  auto db = open();
  ASSERT_NE(db, nullptr);
  auto kept = message("acknowledged before the outage");
  ASSERT_EQ(db->enqueue_inbound_wait(kept), Status::ok);
  ASSERT_TRUE(server_.down());
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(db->enqueue_inbound_wait(message("during")), Status::io_error);
  EXPECT_TRUE(db->claim_deliveries(10, now_ms()).empty());
  EXPECT_FALSE(db->find_inbound(kept.id).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_FALSE(db->writable());
  ASSERT_TRUE(server_.up());
  auto deadline = std::chrono::steady_clock::now() + kWait;
  Status status = Status::io_error;
  auto after = message("after");
  while (status != Status::ok && std::chrono::steady_clock::now() < deadline) {
    status = db->enqueue_inbound_wait(after);
    if (status != Status::ok) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(status, Status::ok);
  while (!db->writable() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(db->writable());
  EXPECT_TRUE(db->find_inbound(kept.id).has_value());
  EXPECT_EQ(db->claim_deliveries(10, now_ms()).size(), 2u);
}

}  // namespace

namespace {

TEST_F(PostgresStore, the_password_file_is_read_again_at_reconnect_and_never_shown) {
  auto db = open();
  ASSERT_NE(db, nullptr);
  ASSERT_EQ(db->enqueue_inbound_wait(message("before the rotation")), Status::ok);
  // The secret is rotated: new password in the role and in the file, old sessions cut.
  ASSERT_TRUE(sql_->exec("ALTER ROLE postgres PASSWORD 'second-secret'"));
  Server::write_file(postgres_.password_file, "second-secret");
  ASSERT_TRUE(
      sql_->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"));
  auto deadline = std::chrono::steady_clock::now() + kWait;
  Status status = Status::io_error;
  while (status != Status::ok && std::chrono::steady_clock::now() < deadline) {
    status = db->enqueue_inbound_wait(message("after the rotation"));
    if (status != Status::ok) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(status, Status::ok);

  // Errors never show the password, whether libpq fails to connect or to parse the DSN.
  std::string error;
  store::PostgresOptions wrong = postgres_;
  wrong.password_file.clear();
  wrong.dsn = server_.dsn("bridge") + " password=not-the-secret-xyz";
  EXPECT_EQ(store::open_postgres({}, wrong, error), nullptr);
  EXPECT_NE(error.find("password authentication failed"), std::string::npos) << error;
  EXPECT_EQ(error.find("not-the-secret-xyz"), std::string::npos) << error;
  wrong.dsn = "host=127.0.0.1 password:not-the-secret-xyz";  // libpq would quote it back
  EXPECT_EQ(store::open_postgres({}, wrong, error), nullptr);
  EXPECT_EQ(error.find("not-the-secret-xyz"), std::string::npos) << error;
  EXPECT_FALSE(store::check_postgres(wrong, error));
  EXPECT_EQ(error.find("not-the-secret-xyz"), std::string::npos) << error;
}

}  // namespace

namespace {

TEST_F(PostgresStore, a_store_opening_queues_again_only_the_rows_of_owners_that_are_gone) {
  store::Options a;
  a.owner = "owner-a";
  auto store_a = open(a);
  ASSERT_NE(store_a, nullptr);
  ASSERT_EQ(store_a->enqueue_inbound_wait(message("held")), Status::ok);
  auto jobs = store_a->claim_deliveries(1, now_ms());
  ASSERT_EQ(jobs.size(), 1u);
  const std::string id = jobs[0].delivery.id;
  // A replica that died mid-delivery left a row too (no session holds its owner lock).
  ASSERT_EQ(store_a->enqueue_inbound_wait(message("orphan")), Status::ok);
  ASSERT_TRUE(
      sql_->exec("UPDATE inbound_deliveries SET state='in_flight', lease_owner='gone',"
                 " lease_until=" +
                 std::to_string(now_ms() + 3600000) + " WHERE state='queued'"));
  {
    auto other = open();  // A lives: its row stays A's until its lease ends
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(state_of(id), "in_flight");
    EXPECT_EQ(sql_->integer("SELECT count(*) FROM inbound_deliveries WHERE lease_owner='gone'"), 0);
    EXPECT_EQ(sql_->integer("SELECT count(*) FROM inbound_deliveries WHERE state='queued'"), 1);
  }
  store_a.reset();  // A's process ends: its session and owner lock go with it
  auto later = open();
  ASSERT_NE(later, nullptr);
  EXPECT_EQ(state_of(id), "queued");
}

}  // namespace

namespace {

// The group's statements go as one pipeline: a failing one must roll back the others, which are
// then written one by one (a half-committed group would make their own retry a duplicate).
TEST_F(PostgresStore, a_failing_statement_rolls_back_its_whole_group_which_is_retried_piecemeal) {
  store::Options options;
  options.commit_delay = std::chrono::milliseconds(300);
  std::mutex mutex;
  std::vector<std::pair<size_t, Status>> commits;
  options.on_commit = [&](double, size_t messages, Status status) {
    std::lock_guard lock(mutex);
    commits.emplace_back(messages, status);
  };
  auto db = open(options);
  ASSERT_NE(db, nullptr);
  auto taken = message("first");
  ASSERT_EQ(db->enqueue_inbound_wait(taken), Status::ok);
  auto duplicate = message("same id again");
  duplicate.id = taken.id;
  std::vector<store::InboundMessage> group = {message("before"), duplicate, message("after")};
  std::vector<std::promise<Status>> results(group.size());
  for (size_t i = 0; i < group.size(); ++i)
    db->enqueue_inbound(group[i], [&results, i](Status status) { results[i].set_value(status); });
  std::vector<Status> statuses;
  for (auto& result : results) statuses.push_back(result.get_future().get());
  EXPECT_EQ(statuses, (std::vector<Status>{Status::ok, Status::io_error, Status::ok}));
  {
    std::lock_guard lock(mutex);
    ASSERT_GE(commits.size(), 2u);
    EXPECT_EQ(commits[1], std::make_pair(size_t{3}, Status::io_error));  // the group, failed
  }
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM inbound_messages"), 3);
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM inbound_deliveries"), 3);
  EXPECT_EQ(db->find_inbound(taken.id)->data, "first");
}

// The status history has no foreign key (schema.cpp, version 5): an outcome's history entry
// takes no lock on the message row, which another replica's claim holds FOR UPDATE (and would
// otherwise skip). The finish commits while that claim is still open.
TEST_F(PostgresStore, an_outcome_and_its_history_do_not_wait_for_a_claim_holding_the_message) {
  auto db = open();
  ASSERT_NE(db, nullptr);
  auto m = outbound("", "");
  ASSERT_EQ(db->enqueue_outbound_wait(m).status, Status::ok);
  ASSERT_EQ(db->claim_outbound(10, now_ms()).size(), 1u);
  Sql other(server_.admin_dsn("bridge"));  // another replica in the middle of a claim
  ASSERT_TRUE(other.exec("BEGIN"));
  ASSERT_TRUE(other.exec("SELECT id FROM outbound_messages WHERE id='" + m.id + "' FOR UPDATE"));
  store::RecipientResult sent;
  sent.rcpt = "b@example.com";
  sent.outcome = store::RecipientOutcome::sent;
  sent.code = 250;
  sent.text = "Ok";
  db->finish_outbound(m.id, {sent});  // a foreign key check would wait out statement_timeout
  EXPECT_EQ(sql_->text("SELECT state FROM outbound_recipients WHERE message_id='" + m.id + "'"),
            "sent");
  EXPECT_EQ(sql_->text("SELECT state FROM outbound_history WHERE message_id='" + m.id + "'"),
            "sent");
  ASSERT_TRUE(other.exec("COMMIT"));
  // Retention takes the history with the message.
  EXPECT_EQ(db->prune(now_ms() + 1000, now_ms() + 1000), 1u);
  EXPECT_EQ(sql_->integer("SELECT count(*) FROM outbound_history"), 0);
}

}  // namespace
