// The Store's reads and requeue for the REST API (CONTRACTS.md 2), on both backends: list_inbound
// pages newest first with a state filter and a cursor, heads are the first bytes exactly;
// redeliver_inbound puts dead and delivered rows back to queued with their attempts kept.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "store_test_support.h"

namespace {

using namespace std::string_literals;
using store::DeliveryOutcome;
using store::Status;
using store_test::make_message;

constexpr int64_t kNow = 1764202600000;

STORE_TEST_BACKENDS(StoreInboundApi);

struct Opened : store_test::OpenedStore {
  explicit Opened(store_test::Backend backend) : OpenedStore(backend) {}
  // Enqueues `count` messages (oldest first) and returns their ids in that order.
  std::vector<std::string> add(int count, int endpoints = 1) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      auto message = make_message("Subject: m" + std::to_string(i) + "\r\n\r\nbody\r\n", endpoints);
      EXPECT_EQ(db->enqueue_inbound_wait(message), Status::ok);
      ids.push_back(message.id);
    }
    return ids;
  }
  // Claims every due row and finishes it with `outcome`.
  void finish_all(DeliveryOutcome outcome, const std::string& error) {
    for (const auto& job : db->claim_deliveries(100, kNow)) {
      db->finish_delivery(job.delivery.id, outcome, kNow + 60000, error);
    }
  }
};

std::vector<std::string> ids_of(const std::vector<store::InboundSummary>& page) {
  std::vector<std::string> ids;
  for (const auto& item : page) ids.push_back(item.id);
  return ids;
}

TEST_P(StoreInboundApi, lists_newest_first_with_envelope_size_head_and_deliveries) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  std::string data = "Subject: hello\r\nFrom: a@example.com\r\n\r\nbody\0bytes\r\n"s;
  data.push_back('\xff');
  auto message = make_message(data, 2);
  ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);
  auto newer = s.add(1, 0);

  store::InboundQuery query;
  query.head_bytes = 9;
  auto page = s.db->list_inbound(query);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, newer[0]);
  EXPECT_TRUE(page[0].deliveries.empty());
  const auto& item = page[1];
  EXPECT_EQ(item.id, message.id);
  EXPECT_EQ(item.received_at_ms, message.received_at_ms);
  EXPECT_EQ(item.mail_from, "sender@example.com");
  EXPECT_EQ(item.rcpt_to, message.rcpt_to);
  EXPECT_EQ(item.size, data.size());
  EXPECT_EQ(item.head, "Subject: ");
  ASSERT_EQ(item.deliveries.size(), 2u);
  EXPECT_EQ(item.deliveries[0].state, "queued");
  EXPECT_EQ(item.deliveries[0].attempts, 0);
  EXPECT_EQ(item.deliveries[0].last_error, "");
  EXPECT_EQ(item.deliveries[0].message_id, message.id);
}

TEST_P(StoreInboundApi, pages_with_the_last_id_as_cursor_until_empty) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto ids = s.add(5);
  store::InboundQuery query;
  query.limit = 2;
  auto first = s.db->list_inbound(query);
  EXPECT_EQ(ids_of(first), (std::vector<std::string>{ids[4], ids[3]}));
  query.before_id = first.back().id;
  auto second = s.db->list_inbound(query);
  EXPECT_EQ(ids_of(second), (std::vector<std::string>{ids[2], ids[1]}));
  query.before_id = second.back().id;
  auto third = s.db->list_inbound(query);
  EXPECT_EQ(ids_of(third), (std::vector<std::string>{ids[0]}));
  query.before_id = third.back().id;
  EXPECT_TRUE(s.db->list_inbound(query).empty());
}

TEST_P(StoreInboundApi, filters_messages_with_a_delivery_in_the_state) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto dead = s.add(1);
  s.finish_all(DeliveryOutcome::dead, "HTTP 410");
  auto queued = s.add(1);
  auto no_endpoints = s.add(1, 0);

  store::InboundQuery query;
  query.state = "dead";
  auto page = s.db->list_inbound(query);
  ASSERT_EQ(ids_of(page), dead);
  EXPECT_EQ(page[0].deliveries[0].state, "dead");
  EXPECT_EQ(page[0].deliveries[0].attempts, 1);
  EXPECT_EQ(page[0].deliveries[0].last_error, "HTTP 410");
  query.state = "queued";
  EXPECT_EQ(ids_of(s.db->list_inbound(query)), queued);
  query.state = "delivered";
  EXPECT_TRUE(s.db->list_inbound(query).empty());
  query.state = "";
  EXPECT_EQ(ids_of(s.db->list_inbound(query)),
            (std::vector<std::string>{no_endpoints[0], queued[0], dead[0]}));
}

TEST_P(StoreInboundApi, redeliver_requeues_dead_and_delivered_rows_keeping_attempts) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto ids = s.add(1, 2);
  auto jobs = s.db->claim_deliveries(10, kNow);
  ASSERT_EQ(jobs.size(), 2u);
  s.db->finish_delivery(jobs[0].delivery.id, DeliveryOutcome::dead, 0, "HTTP 410");
  s.db->finish_delivery(jobs[1].delivery.id, DeliveryOutcome::delivered, 0, "");

  auto result = s.db->redeliver_inbound(ids[0], kNow + 5000);
  EXPECT_TRUE(result.found);
  EXPECT_EQ(result.deliveries, 2u);
  EXPECT_EQ(result.requeued, 2u);
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM inbound_deliveries WHERE state='queued'"
                      " AND attempts=1 AND next_attempt_at=" +
                      std::to_string(kNow + 5000)),
            2);
  EXPECT_EQ(s.sql_text("SELECT last_error FROM inbound_deliveries WHERE id='" +
                       jobs[0].delivery.id + "'"),
            "HTTP 410");
  // The dispatcher claims them again, with the same delivery ids (webhook-id).
  auto again = s.db->claim_deliveries(10, kNow + 5000);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].delivery.attempts, 2);
}

TEST_P(StoreInboundApi, redeliver_leaves_rows_in_flight_alone) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto ids = s.add(1);
  ASSERT_EQ(s.db->claim_deliveries(10, kNow).size(), 1u);
  auto result = s.db->redeliver_inbound(ids[0], kNow);
  EXPECT_TRUE(result.found);
  EXPECT_EQ(result.deliveries, 1u);
  EXPECT_EQ(result.requeued, 0u);
  EXPECT_EQ(s.sql_text("SELECT state FROM inbound_deliveries"), "in_flight");
}

TEST_P(StoreInboundApi, redeliver_tells_unknown_messages_and_messages_without_endpoints) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto ids = s.add(1, 0);
  auto none = s.db->redeliver_inbound(ids[0], kNow);
  EXPECT_TRUE(none.found);
  EXPECT_EQ(none.deliveries, 0u);
  EXPECT_EQ(none.requeued, 0u);
  EXPECT_FALSE(s.db->redeliver_inbound("0190aaaa-0000-7000-8000-000000000000", kNow).found);
}

TEST_P(StoreInboundApi, find_inbound_reports_last_error) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto ids = s.add(1);
  s.finish_all(DeliveryOutcome::deferred, "HTTP 503");
  auto found = s.db->find_inbound(ids[0]);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->deliveries.size(), 1u);
  EXPECT_EQ(found->deliveries[0].state, "deferred");
  EXPECT_EQ(found->deliveries[0].last_error, "HTTP 503");
  EXPECT_EQ(found->deliveries[0].next_attempt_at_ms, kNow + 60000);
}

}  // namespace
