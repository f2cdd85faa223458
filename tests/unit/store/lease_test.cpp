// Leases (ARCHITECTURE.md "Leases", store.h requeue_expired) on both backends: a claim holds its
// rows until lease_until as its owner; expired rows go back to the queue while the store runs; a
// finish from a claim that lost its lease changes nothing; an outcome that cannot be committed
// (store_test::WriteOutage: a full disk for SQLite, the server down for PostgreSQL) is retried and
// the store is unready until it is in.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/time.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::DeliveryOutcome;
using store::Status;
using store_test::make_message;

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

STORE_TEST_BACKENDS(Leases);

struct LeasedStore {
  store_test::Database database;
  store::Options options;
  std::unique_ptr<store::Store> db;
  std::vector<std::pair<std::string, Status>> failures;  // on_write_failure calls
  std::mutex mutex;

  LeasedStore(store_test::Backend backend, std::chrono::milliseconds lease)
      : database(backend), options(database.options()) {
    options.lease = lease;
    options.owner = "owner-a";
    options.on_write_failure = [this](const std::string& what, Status status, size_t) {
      std::lock_guard lock(mutex);
      failures.emplace_back(what, status);
    };
    std::string error;
    db = database.open(options, error);
    EXPECT_NE(db, nullptr) << error;
  }
  ~LeasedStore() {
    if (db) db->close();  // before `failures` goes: close() may still report
  }
  std::string state_of(const std::string& delivery_id) {
    return database.sql_text("SELECT state FROM inbound_deliveries WHERE id='" + delivery_id + "'")
        .value_or("?");
  }
};

// The row's state once it left in_flight (the retried outcome got in, or something else happened
// to the row), polled; "?" while the database cannot be read. Bounded by kWait.
std::string settled_state(const std::function<std::string()>& state_of) {
  auto deadline = std::chrono::steady_clock::now() + store_test::kWait;
  std::string state = state_of();
  while ((state == "in_flight" || state == "?") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    state = state_of();
  }
  return state;
}

TEST_P(Leases, a_claim_holds_its_rows_until_the_lease_ends_then_they_are_queued_again) {
  LeasedStore s(GetParam(), std::chrono::minutes(5));
  ASSERT_NE(s.db, nullptr);
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("lease me")), Status::ok);
  const int64_t now = now_ms();
  auto jobs = s.db->claim_deliveries(10, now);
  ASSERT_EQ(jobs.size(), 1u);
  const std::string id = jobs[0].delivery.id;
  const int64_t until = now + 5 * 60 * 1000;
  EXPECT_EQ(jobs[0].delivery.lease_until_ms, until);
  EXPECT_EQ(jobs[0].delivery.lease_owner, "owner-a");
  std::string where = " FROM inbound_deliveries WHERE id='" + id + "'";
  EXPECT_EQ(s.database.sql_int("SELECT lease_until" + where), until);
  EXPECT_EQ(s.database.sql_text("SELECT lease_owner" + where), "owner-a");

  EXPECT_EQ(s.db->requeue_expired(until - 1), 0u);  // still held
  EXPECT_EQ(s.state_of(id), "in_flight");
  EXPECT_EQ(s.db->requeue_expired(until + 1), 1u);
  EXPECT_EQ(s.state_of(id), "queued");
  EXPECT_EQ(s.database.sql_int("SELECT lease_until" + where), 0);
  EXPECT_EQ(s.database.sql_text("SELECT lease_owner" + where), "");

  auto again = s.db->claim_deliveries(10, until + 2);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.id, id);
  EXPECT_EQ(again[0].delivery.attempts, 2);  // the lost attempt counts
}

TEST_P(Leases, hot_path_claims_carry_a_lease_too) {
  LeasedStore s(GetParam(), std::chrono::seconds(30));
  ASSERT_NE(s.db, nullptr);
  struct Taker final : store::DeliveryConsumer {
    size_t reserve(size_t rows) override { return rows; }
    void take(std::vector<store::DeliveryJob> claimed, size_t, size_t) override {
      jobs = std::move(claimed);
    }
    std::vector<store::DeliveryJob> jobs;
  } taker;
  s.db->set_delivery_consumer(&taker);
  int64_t before = now_ms();
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("hot")), Status::ok);
  s.db->set_delivery_consumer(nullptr);
  ASSERT_EQ(taker.jobs.size(), 1u);
  const store::DeliveryRow& row = taker.jobs[0].delivery;
  EXPECT_EQ(row.lease_owner, "owner-a");
  EXPECT_GE(row.lease_until_ms, before + 30000);
  EXPECT_EQ(
      s.database.sql_int("SELECT lease_until FROM inbound_deliveries WHERE id='" + row.id + "'"),
      row.lease_until_ms);
  EXPECT_EQ(s.db->requeue_expired(row.lease_until_ms + 1), 1u);
}

TEST_P(Leases, a_finish_from_a_claim_that_lost_its_lease_changes_nothing) {
  LeasedStore s(GetParam(), std::chrono::seconds(1));
  ASSERT_NE(s.db, nullptr);
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("twice claimed")), Status::ok);
  int64_t now = now_ms();
  auto first = s.db->claim_deliveries(1, now);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(s.db->requeue_expired(now + 2000), 1u);
  auto second = s.db->claim_deliveries(1, now + 2000);
  ASSERT_EQ(second.size(), 1u);
  ASSERT_EQ(second[0].delivery.attempts, 2);

  // The first claim's late outcome: its attempt is no longer the row's.
  s.db->finish_delivery(first[0].delivery.id, DeliveryOutcome::dead, 0, "late", 1);
  EXPECT_EQ(s.state_of(first[0].delivery.id), "in_flight");
  s.db->finish_delivery(second[0].delivery.id, DeliveryOutcome::delivered, 0, "", 2);
  EXPECT_EQ(s.state_of(first[0].delivery.id), "delivered");
}

TEST_P(Leases, outbound_claims_carry_a_lease_and_expire_like_deliveries) {
  LeasedStore s(GetParam(), std::chrono::seconds(1));
  ASSERT_NE(s.db, nullptr);
  store::OutboundMessage message;
  message.id = "0190a0b0-0000-7000-8000-000000000001";
  message.created_at_ms = now_ms();
  message.mail_from = "a@example.com";
  message.rcpt_to = {"b@example.com"};
  message.data = "Subject: x\r\n\r\nx\r\n";
  message.response_json = "{}";
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, Status::ok);
  int64_t now = now_ms();
  ASSERT_EQ(s.db->claim_outbound(10, now).size(), 1u);
  auto until = s.database.sql_int("SELECT lease_until FROM outbound_recipients");
  ASSERT_TRUE(until.has_value());
  EXPECT_EQ(*until, now + s.options.outbound_lease.count());
  EXPECT_EQ(s.db->requeue_expired(*until - 1), 0u);
  EXPECT_EQ(s.db->requeue_expired(*until + 1), 1u);
  EXPECT_EQ(s.database.sql_text("SELECT state FROM outbound_recipients"), "queued");
}

TEST_P(Leases, an_outcome_that_cannot_be_committed_is_retried_and_the_store_is_unready_meanwhile) {
  LeasedStore s(GetParam(), std::chrono::minutes(5));
  ASSERT_NE(s.db, nullptr);
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("finish me")), Status::ok);
  auto jobs = s.db->claim_deliveries(1, now_ms());
  ASSERT_EQ(jobs.size(), 1u);
  const std::string id = jobs[0].delivery.id;
  {
    store_test::WriteOutage outage(s.database);
    s.db->finish_delivery(id, DeliveryOutcome::delivered, 0, "", 1);  // returns: not waited on
    EXPECT_FALSE(s.db->writable());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a retry fails as well
    EXPECT_FALSE(s.db->writable());
    // Not lost: still held, still to be committed (PostgreSQL cannot be asked while it is down,
    // and its retry may come as soon as it is back).
    if (!s.database.postgres()) {
      outage.end();
      EXPECT_EQ(s.state_of(id), "in_flight");
    }
  }
  EXPECT_EQ(settled_state([&] { return s.state_of(id); }), "delivered");
  EXPECT_TRUE(s.db->writable());
  std::lock_guard lock(s.mutex);
  ASSERT_EQ(s.failures.size(), 2u);  // reported once when it failed, once when it got in
  EXPECT_EQ(s.failures[0].first, "finish_delivery");
  EXPECT_NE(s.failures[0].second, Status::ok);
  EXPECT_EQ(s.failures[1].second, Status::ok);
}

TEST_P(Leases, an_outbound_result_that_cannot_be_committed_is_retried_too) {
  LeasedStore s(GetParam(), std::chrono::minutes(5));
  ASSERT_NE(s.db, nullptr);
  store::OutboundMessage message;
  message.id = "0190a0b0-0000-7000-8000-000000000002";
  message.created_at_ms = now_ms();
  message.mail_from = "a@example.com";
  message.rcpt_to = {"b@example.com"};
  message.data = "Subject: x\r\n\r\nx\r\n";
  message.response_json = "{}";
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, Status::ok);
  ASSERT_EQ(s.db->claim_outbound(10, now_ms()).size(), 1u);
  auto state = [&] {
    return s.database.sql_text("SELECT state FROM outbound_recipients").value_or("?");
  };
  {
    store_test::WriteOutage outage(s.database);
    store::RecipientResult sent;
    sent.rcpt = "b@example.com";
    sent.outcome = store::RecipientOutcome::sent;
    sent.code = 250;
    s.db->finish_outbound(message.id, {sent});  // released although not committed
    EXPECT_FALSE(s.db->writable());
    if (!s.database.postgres()) {
      outage.end();
      EXPECT_EQ(state(), "in_flight");
    }
  }
  EXPECT_EQ(settled_state(state), "sent");
  EXPECT_TRUE(s.db->writable());
  std::lock_guard lock(s.mutex);
  ASSERT_FALSE(s.failures.empty());
  EXPECT_EQ(s.failures[0].first, "finish_outbound");
}

}  // namespace
