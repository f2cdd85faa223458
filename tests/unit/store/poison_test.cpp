// Poison messages (store.h DeliveryRow::render_attempts) on both backends: every claim
// counts a render before it starts, in its own committed transaction, so a process that dies
// while rendering leaves the count behind; an outcome after a successful render sets it back.
#include <gtest/gtest.h>

#include <string>

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

STORE_TEST_BACKENDS(PoisonCount);

int64_t render_attempts(const store_test::OpenedStore& s, const std::string& id) {
  return s.sql_int("SELECT render_attempts FROM inbound_deliveries WHERE id='" + id + "'")
      .value_or(-1);
}

TEST_P(PoisonCount, each_claim_counts_a_render_durably_and_a_crash_keeps_it) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("poison?")), Status::ok);
  std::string id;
  for (int crash = 1; crash <= 3; ++crash) {
    auto jobs = s.db->claim_deliveries(1, now_ms());
    ASSERT_EQ(jobs.size(), 1u);
    id = jobs[0].delivery.id;
    EXPECT_EQ(jobs[0].delivery.render_attempts, crash);
    EXPECT_EQ(render_attempts(s, id), crash);  // on disk before any render could start
    // The process dies mid-render: nothing finishes the row; the next open queues it again.
    s.reopen();
    ASSERT_NE(s.db, nullptr);
  }
  auto found = s.db->find_inbound(s.db->list_inbound({}).at(0).id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->deliveries.at(0).state, "queued");
  EXPECT_EQ(found->deliveries.at(0).render_attempts, 3);
  EXPECT_EQ(found->deliveries.at(0).attempts, 3);
}

TEST_P(PoisonCount, an_outcome_after_a_render_sets_it_back_and_a_failed_render_keeps_it) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("render twice")), Status::ok);
  auto first = s.db->claim_deliveries(1, now_ms());
  ASSERT_EQ(first.size(), 1u);
  const std::string id = first[0].delivery.id;
  s.db->finish_delivery(id, DeliveryOutcome::deferred, 0, "cannot render the payload: x", 1,
                        /*rendered=*/false);
  EXPECT_EQ(render_attempts(s, id), 1);
  auto second = s.db->claim_deliveries(1, now_ms());
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].delivery.render_attempts, 2);
  s.db->finish_delivery(id, DeliveryOutcome::deferred, 0, "HTTP 500", 2);  // rendered, POSTed
  EXPECT_EQ(render_attempts(s, id), 0);

  // A redelivery asked for by an operator gives a quarantined row its full count again.
  auto third = s.db->claim_deliveries(1, now_ms());
  ASSERT_EQ(third.size(), 1u);
  s.db->finish_delivery(id, DeliveryOutcome::dead, 0, "render failed", 3, false);
  EXPECT_EQ(render_attempts(s, id), 1);
  std::string message_id = third[0].delivery.message_id;
  EXPECT_EQ(s.db->redeliver_inbound(message_id, now_ms()).requeued, 1u);
  EXPECT_EQ(render_attempts(s, id), 0);
}

TEST_P(PoisonCount, hot_path_rows_start_with_one_render_counted) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  struct Taker final : store::DeliveryConsumer {
    size_t reserve(size_t rows) override { return rows; }
    void take(std::vector<store::DeliveryJob> claimed, size_t, size_t) override {
      jobs = std::move(claimed);
    }
    std::vector<store::DeliveryJob> jobs;
  } taker;
  s.db->set_delivery_consumer(&taker);
  ASSERT_EQ(s.db->enqueue_inbound_wait(make_message("hot")), Status::ok);
  s.db->set_delivery_consumer(nullptr);
  ASSERT_EQ(taker.jobs.size(), 1u);
  EXPECT_EQ(taker.jobs[0].delivery.render_attempts, 1);
  EXPECT_EQ(render_attempts(s, taker.jobs[0].delivery.id), 1);
}

}  // namespace
