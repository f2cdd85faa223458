// The delivery rows' lifecycle in the Store on both backends (ARCHITECTURE.md states): claims hand
// each due row out once (also to concurrent claimers), deferred rows wait for their time, finish
// records the outcome, prune honours retention, queue_stats counts rows per state.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::DeliveryOutcome;
using store::Status;
using store_test::make_message;

constexpr int64_t kNow = 1764202600000;  // after make_message's received_at

STORE_TEST_BACKENDS(StoreDeliveries);

struct Opened : store_test::OpenedStore {
  explicit Opened(store_test::Backend backend) : OpenedStore(backend) {}
  // Stores a message with `endpoints` deliveries and claims them all (as of kNow).
  std::vector<store::DeliveryJob> store_and_claim(const std::string& data, int endpoints) {
    EXPECT_NE(db, nullptr);
    if (db == nullptr) return {};
    EXPECT_EQ(db->enqueue_inbound_wait(make_message(data, endpoints)), Status::ok);
    auto jobs = db->claim_deliveries(static_cast<size_t>(endpoints), kNow);
    EXPECT_EQ(jobs.size(), static_cast<size_t>(endpoints));
    return jobs;
  }
  std::string state_of(const std::string& delivery_id) {
    return sql_text("SELECT state FROM inbound_deliveries WHERE id='" + delivery_id + "'")
        .value_or("<none>");
  }
};

uint64_t count_of(const store::Store::QueueStats& stats, const std::string& state) {
  for (const auto& [name, count] : stats.by_state) {
    if (name == state) return count;
  }
  return 0;
}

TEST_P(StoreDeliveries, claim_returns_due_rows_with_their_message_once) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_message(store_test::awkward_bytes("claim"), 2);
  ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);

  auto jobs = s.db->claim_deliveries(10, kNow);
  ASSERT_EQ(jobs.size(), 2u);
  std::set<std::string> endpoints;
  for (const auto& job : jobs) {
    EXPECT_EQ(job.delivery.message_id, message.id);
    EXPECT_EQ(job.delivery.state, "in_flight");
    EXPECT_EQ(job.delivery.attempts, 1);
    EXPECT_EQ(job.delivery.rcpt_to, std::vector<std::string>{"a@example.com"});
    EXPECT_EQ(job.received_at_ms, message.received_at_ms);
    EXPECT_EQ(job.envelope_json, message.envelope_json);
    EXPECT_EQ(job.data, message.data);
    EXPECT_EQ(s.state_of(job.delivery.id), "in_flight");
    endpoints.insert(job.delivery.endpoint);
  }
  EXPECT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(s.sql_int("SELECT sum(attempts) FROM inbound_deliveries"), 2);
  EXPECT_TRUE(s.db->claim_deliveries(10, kNow).empty());
}

TEST_P(StoreDeliveries, claim_respects_the_limit_and_takes_oldest_first) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto message = make_message("m" + std::to_string(i), 1);
    ids.push_back(message.id);
    ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);
  }
  auto first = s.db->claim_deliveries(2, kNow);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].delivery.message_id, ids[0]);
  EXPECT_EQ(first[1].delivery.message_id, ids[1]);
  EXPECT_EQ(s.db->claim_deliveries(10, kNow).size(), 3u);
  EXPECT_TRUE(s.db->claim_deliveries(0, kNow).empty());
}

TEST_P(StoreDeliveries, concurrent_claimers_never_get_the_same_row) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  constexpr int kMessages = 60;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("x", 2)), Status::ok);
  }
  std::mutex mutex;
  std::vector<std::string> claimed;
  std::vector<std::thread> claimers;
  for (int t = 0; t < 4; ++t) {
    claimers.emplace_back([&] {
      for (;;) {
        auto jobs = s.db->claim_deliveries(3, kNow);
        if (jobs.empty()) return;
        std::lock_guard lock(mutex);
        for (const auto& job : jobs) claimed.push_back(job.delivery.id);
      }
    });
  }
  for (auto& claimer : claimers) claimer.join();
  ASSERT_EQ(claimed.size(), size_t{kMessages * 2});
  std::set<std::string> unique(claimed.begin(), claimed.end());
  EXPECT_EQ(unique.size(), claimed.size());
  EXPECT_EQ(s.sql_int("SELECT max(attempts) FROM inbound_deliveries"), 1);
}

TEST_P(StoreDeliveries, deferred_rows_become_due_at_their_time) {
  Opened s(GetParam());
  auto jobs = s.store_and_claim("d", 1);
  ASSERT_EQ(jobs.size(), 1u);
  const std::string id = jobs[0].delivery.id;
  s.db->finish_delivery(id, DeliveryOutcome::deferred, kNow + 5000, "HTTP 500");
  EXPECT_EQ(s.state_of(id), "deferred");
  EXPECT_EQ(s.sql_text("SELECT last_error FROM inbound_deliveries"), "HTTP 500");
  EXPECT_EQ(s.sql_int("SELECT next_attempt_at FROM inbound_deliveries"), kNow + 5000);

  EXPECT_TRUE(s.db->claim_deliveries(5, kNow + 4999).empty());
  auto again = s.db->claim_deliveries(5, kNow + 5000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.id, id);
  EXPECT_EQ(again[0].delivery.attempts, 2);
}

TEST_P(StoreDeliveries, a_claim_after_finish_later_sees_the_outcome_and_close_commits_the_rest) {
  Opened s(GetParam());
  auto jobs = s.store_and_claim("later", 3);
  ASSERT_EQ(jobs.size(), 3u);
  // Deferred and due at once: the very next claim must hand the row out again, which it can
  // only do if the outcome was committed before the claim ran.
  s.db->finish_delivery_later(jobs[0].delivery.id, DeliveryOutcome::deferred, kNow, "HTTP 503");
  auto again = s.db->claim_deliveries(5, kNow);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.id, jobs[0].delivery.id);
  EXPECT_EQ(again[0].delivery.attempts, 2);
  // Outcomes still queued when the store closes are committed by the close.
  s.db->finish_delivery_later(jobs[1].delivery.id, DeliveryOutcome::delivered, 0, "");
  s.db->finish_delivery_later(jobs[2].delivery.id, DeliveryOutcome::dead, 0, "HTTP 410");
  s.db->close();
  EXPECT_EQ(s.state_of(jobs[1].delivery.id), "delivered");
  EXPECT_EQ(s.state_of(jobs[2].delivery.id), "dead");
}

TEST_P(StoreDeliveries, an_outcome_nobody_waits_for_is_committed_on_its_own_when_no_mail_comes) {
  Opened s(GetParam());
  auto jobs = s.store_and_claim("alone", 1);
  ASSERT_EQ(jobs.size(), 1u);
  // It waits a moment for a group commit to ride; with none coming, it is committed alone (the
  // store stays open: close would commit it too).
  s.db->finish_delivery_later(jobs[0].delivery.id, DeliveryOutcome::delivered, 0, "");
  auto deadline = std::chrono::steady_clock::now() + store_test::kWait;
  while (s.state_of(jobs[0].delivery.id) != "delivered" &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(s.state_of(jobs[0].delivery.id), "delivered");
}

TEST_P(StoreDeliveries, outcomes_queued_before_a_message_are_committed_no_later_than_it) {
  Opened s(GetParam());
  auto jobs = s.store_and_claim("first", 3);
  ASSERT_EQ(jobs.size(), 3u);
  for (const auto& job : jobs)
    s.db->finish_delivery_later(job.delivery.id, DeliveryOutcome::delivered, 0, "");
  // Taken with the next message's group: in its transaction, or just before it.
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("second", 1)), Status::ok);
  for (const auto& job : jobs) EXPECT_EQ(s.state_of(job.delivery.id), "delivered");
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM inbound_deliveries WHERE state='queued'"), 1);
}

TEST_P(StoreDeliveries, finish_records_delivered_and_dead_and_only_for_in_flight_rows) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_message("f", 2);
  ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);
  auto jobs = s.db->claim_deliveries(2, kNow);
  ASSERT_EQ(jobs.size(), 2u);
  s.db->finish_delivery(jobs[0].delivery.id, DeliveryOutcome::delivered, 0, "");
  s.db->finish_delivery(jobs[1].delivery.id, DeliveryOutcome::dead, 0, "HTTP 410");
  EXPECT_EQ(s.state_of(jobs[0].delivery.id), "delivered");
  EXPECT_EQ(s.state_of(jobs[1].delivery.id), "dead");
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM inbound_deliveries WHERE id='" + jobs[0].delivery.id +
                      "' AND last_error IS NULL"),
            1);
  EXPECT_EQ(s.sql_text("SELECT last_error FROM inbound_deliveries WHERE id='" +
                       jobs[1].delivery.id + "'"),
            "HTTP 410");
  // Neither is due again, and a finished row is not finished a second time.
  EXPECT_TRUE(s.db->claim_deliveries(5, kNow + 86400000).empty());
  s.db->finish_delivery(jobs[0].delivery.id, DeliveryOutcome::deferred, kNow, "late");
  EXPECT_EQ(s.state_of(jobs[0].delivery.id), "delivered");

  auto found = s.db->find_inbound(message.id);
  ASSERT_TRUE(found.has_value());
  for (const auto& row : found->deliveries) EXPECT_EQ(row.attempts, 1);
}

TEST_P(StoreDeliveries, concurrent_finishes_are_all_recorded_durably) {
  // Workers report outcomes at the same time; the writer commits them in batches. Each call
  // returns only once its outcome is committed: a reopen finds every one.
  auto s = std::make_unique<Opened>(GetParam());
  ASSERT_NE(s->db, nullptr);
  for (int i = 0; i < 16; ++i)
    ASSERT_EQ(s->db->enqueue_inbound_wait(make_message("m" + std::to_string(i), 4)), Status::ok);
  auto jobs = s->db->claim_deliveries(1000, kNow);
  ASSERT_EQ(jobs.size(), 64u);
  std::vector<std::thread> workers;
  for (size_t w = 0; w < 16; ++w) {
    workers.emplace_back([&, w] {
      for (size_t i = w; i < jobs.size(); i += 16) {
        bool dead = i % 4 == 3;
        s->db->finish_delivery(jobs[i].delivery.id,
                               dead ? DeliveryOutcome::dead : DeliveryOutcome::delivered, 0,
                               dead ? "HTTP 410" : "");
      }
    });
  }
  for (auto& worker : workers) worker.join();
  s->db->close();
  s->db.reset();
  EXPECT_EQ(s->sql_int("SELECT COUNT(*) FROM inbound_deliveries WHERE state='delivered'"), 48);
  EXPECT_EQ(s->sql_int("SELECT COUNT(*) FROM inbound_deliveries WHERE state='dead' AND "
                       "last_error='HTTP 410'"),
            16);
}

TEST_P(StoreDeliveries, in_flight_rows_are_claimable_again_after_a_reopen) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("r", 1)), Status::ok);
  ASSERT_EQ(s.db->claim_deliveries(1, kNow).size(), 1u);
  s.reopen();
  ASSERT_NE(s.db, nullptr);
  auto jobs = s.db->claim_deliveries(1, kNow);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].delivery.attempts, 2);
}

TEST_P(StoreDeliveries, prune_deletes_finished_messages_past_their_retention_only) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto delivered = make_message("delivered", 1);
  auto dead = make_message("dead", 1);
  auto mixed = make_message("mixed", 2);  // one delivered, one still deferred
  auto browsing = make_message("no endpoints", 0);
  for (const auto* m : {&delivered, &dead, &mixed, &browsing}) {
    ASSERT_EQ(s.db->enqueue_inbound_wait(*m), Status::ok);
  }
  auto jobs = s.db->claim_deliveries(10, kNow);
  ASSERT_EQ(jobs.size(), 4u);
  bool mixed_deferred = false;
  for (const auto& job : jobs) {
    const std::string& m = job.delivery.message_id;
    DeliveryOutcome outcome = DeliveryOutcome::delivered;
    if (m == dead.id) outcome = DeliveryOutcome::dead;
    if (m == mixed.id && !mixed_deferred)
      outcome = DeliveryOutcome::deferred, mixed_deferred = true;
    s.db->finish_delivery(job.delivery.id, outcome, kNow + 1000, "");
  }
  // Rows were last updated "now": a cut-off before now keeps everything.
  EXPECT_EQ(s.db->prune(0, 0), 0u);
  EXPECT_EQ(s.db->count_inbound(), 4u);

  int64_t future = kNow * 2;              // every row's updated_at is before this
  EXPECT_EQ(s.db->prune(future, 0), 1u);  // delivered only; dead kept longer
  EXPECT_FALSE(s.db->find_inbound(delivered.id).has_value());
  EXPECT_TRUE(s.db->find_inbound(dead.id).has_value());
  EXPECT_EQ(s.db->prune(future, future), 1u);
  EXPECT_FALSE(s.db->find_inbound(dead.id).has_value());
  EXPECT_TRUE(s.db->find_inbound(mixed.id).has_value());
  EXPECT_TRUE(s.db->find_inbound(browsing.id).has_value());
  EXPECT_EQ(s.db->count_inbound(), 2u);
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM inbound_deliveries"), 2);
}

TEST_P(StoreDeliveries, prune_handles_more_messages_than_one_batch) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  constexpr int kMessages = 600;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("p", 1)), Status::ok);
  }
  auto jobs = s.db->claim_deliveries(kMessages, kNow);
  ASSERT_EQ(jobs.size(), size_t{kMessages});
  for (const auto& job : jobs) {
    s.db->finish_delivery(job.delivery.id, DeliveryOutcome::delivered, 0, "");
  }
  EXPECT_EQ(s.db->prune(kNow * 2, kNow * 2), uint64_t{kMessages});
  EXPECT_EQ(s.db->count_inbound(), 0u);
}

TEST_P(StoreDeliveries, queue_stats_counts_rows_per_state_and_the_oldest_pending) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto empty = s.db->queue_stats();
  EXPECT_EQ(empty.oldest_pending_ms, 0);
  EXPECT_EQ(count_of(empty, "queued"), 0u);
  EXPECT_EQ(empty.by_state.size(), 6u);  // every state listed (orphaned too), zeros included

  auto old_message = make_message("old", 1);
  old_message.received_at_ms = 1000;
  auto new_message = make_message("new", 3);
  new_message.received_at_ms = 5000;
  ASSERT_EQ(s.db->enqueue_inbound_wait(old_message), Status::ok);
  ASSERT_EQ(s.db->enqueue_inbound_wait(new_message), Status::ok);
  auto jobs = s.db->claim_deliveries(3, kNow);  // the old one first, then two of the new
  ASSERT_EQ(jobs.size(), 3u);
  ASSERT_EQ(jobs[0].delivery.message_id, old_message.id);
  s.db->finish_delivery(jobs[0].delivery.id, DeliveryOutcome::dead, 0, "HTTP 410");
  s.db->finish_delivery(jobs[1].delivery.id, DeliveryOutcome::deferred, kNow, "HTTP 500");

  auto stats = s.db->queue_stats();
  EXPECT_EQ(count_of(stats, "queued"), 1u);
  EXPECT_EQ(count_of(stats, "in_flight"), 1u);
  EXPECT_EQ(count_of(stats, "deferred"), 1u);
  EXPECT_EQ(count_of(stats, "delivered"), 0u);
  EXPECT_EQ(count_of(stats, "dead"), 1u);
  EXPECT_EQ(stats.oldest_pending_ms, 5000);  // the dead old message is not pending
}

TEST_P(StoreDeliveries, closed_store_claims_nothing) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("c", 1)), Status::ok);
  s.db->close();
  EXPECT_TRUE(s.db->claim_deliveries(5, kNow).empty());
  EXPECT_EQ(s.db->prune(kNow * 2, kNow * 2), 0u);
  s.db->finish_delivery("nope", DeliveryOutcome::delivered, 0, "");  // no effect, no hang
}

}  // namespace
