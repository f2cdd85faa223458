// Delivery events in the Store on both backends (issue 14): the rows written in the transaction
// of the send's enqueue and of each recipient's outcome (one per subscribed endpoint, with the
// event's JSON), claimed one message at a time per endpoint in order, finished, re-queued when a
// lease ends and pruned.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "store/events.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::DeliveryOutcome;
using store::EventRow;
using store::RecipientOutcome;
using store::RecipientResult;

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

store::OutboundMessage make_outbound(std::vector<std::string> rcpt_to) {
  store::OutboundMessage message;
  message.id = common::uuid_v7();
  message.created_at_ms = now_ms();
  message.mail_from = "shop@example.com";
  message.rcpt_to = std::move(rcpt_to);
  message.message_id = message.id + "@bridge.test";
  message.data = "Subject: events\r\n\r\nHello\r\n";
  message.metadata_json = R"({"order":"A-17"})";
  message.api_key = "shop";
  message.response_json = R"({"id":")" + message.id + R"("})";
  return message;
}

RecipientResult result(const std::string& rcpt, RecipientOutcome outcome, int code,
                       const std::string& enhanced, const std::string& text, int64_t next = 0) {
  RecipientResult r;
  r.rcpt = rcpt;
  r.outcome = outcome;
  r.code = code;
  r.enhanced = enhanced;
  r.text = text;
  r.next_attempt_at_ms = next;
  return r;
}

// A store whose "all" endpoint takes every type and "failures" only message.failed.
struct Opened : store_test::OpenedStore {
  explicit Opened(store_test::Backend backend) : OpenedStore(backend) {
    options.event_endpoints = {{"all",
                                {"message.queued", "message.sent", "message.deferred",
                                 "message.failed", "message.bounced"}},
                               {"failures", {"message.failed"}}};
    reopen();
  }
  // Claims the message and records `results` for it.
  void relay(const store::OutboundMessage& message, const std::vector<RecipientResult>& results) {
    auto jobs = db->claim_outbound(10, store_test::kFarFuture);
    ASSERT_EQ(jobs.size(), 1u);
    ASSERT_EQ(jobs[0].id, message.id);
    db->finish_outbound(message.id, results);
  }
};

std::vector<std::string> types_of(const std::vector<EventRow>& rows, const std::string& endpoint) {
  std::vector<std::string> types;
  for (const EventRow& row : rows)
    if (row.endpoint == endpoint) types.push_back(row.type + " " + row.rcpt);
  return types;
}

STORE_TEST_BACKENDS(StoreEvents);

TEST_P(StoreEvents, the_enqueue_writes_message_queued_for_the_endpoints_taking_it) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org", "b@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, store::Status::ok);
  std::vector<EventRow> rows = s.db->find_events(message.id);
  ASSERT_EQ(rows.size(), 1u);  // "failures" does not take message.queued
  EXPECT_EQ(rows[0].endpoint, "all");
  EXPECT_EQ(rows[0].state, "queued");
  EXPECT_EQ(rows[0].attempts, 0);
  nlohmann::json event = nlohmann::json::parse(rows[0].payload);
  EXPECT_EQ(event["id"], rows[0].id);
  EXPECT_EQ(event["type"], "message.queued");
  EXPECT_EQ(event["data"]["message_id"], message.id);
  EXPECT_EQ(event["data"]["api_key"], "shop");
  EXPECT_EQ(event["data"]["metadata"], nlohmann::json({{"order", "A-17"}}));
  EXPECT_EQ(event["data"]["recipients"], nlohmann::json({"a@example.org", "b@example.org"}));
}

TEST_P(StoreEvents, a_batch_writes_one_message_queued_per_message) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto first = make_outbound({"a@example.org"});
  auto second = make_outbound({"b@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_batch_wait({first, second}).status, store::Status::ok);
  EXPECT_EQ(types_of(s.db->find_events(first.id), "all"),
            std::vector<std::string>{"message.queued "});
  EXPECT_EQ(types_of(s.db->find_events(second.id), "all"),
            std::vector<std::string>{"message.queued "});
}

TEST_P(StoreEvents, each_outcome_writes_its_recipients_event_once) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"ok@example.org", "later@example.org", "gone@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, store::Status::ok);
  int64_t retry_at = now_ms() + 60000;
  s.relay(message,
          {result("ok@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok: queued as 4BCD12"),
           result("later@example.org", RecipientOutcome::deferred, 450, "4.2.1", "busy", retry_at),
           result("gone@example.org", RecipientOutcome::failed, 550, "5.1.1", "no such user")});
  // A finish for rows no longer in flight changes nothing and reports nothing.
  s.db->finish_outbound(message.id, {result("ok@example.org", RecipientOutcome::sent, 250, "",
                                            "Ok: queued as AGAIN")});
  std::vector<EventRow> rows = s.db->find_events(message.id);
  EXPECT_EQ(types_of(rows, "all"),
            (std::vector<std::string>{"message.queued ", "message.sent ok@example.org",
                                      "message.deferred later@example.org",
                                      "message.failed gone@example.org"}));
  EXPECT_EQ(types_of(rows, "failures"),
            std::vector<std::string>{"message.failed gone@example.org"});
  ASSERT_EQ(rows.size(), 5u);
  nlohmann::json sent = nlohmann::json::parse(rows[1].payload)["data"];
  EXPECT_EQ(sent["recipient"], "ok@example.org");
  EXPECT_EQ(sent["reply"]["code"], 250);
  EXPECT_EQ(sent["reply"]["enhanced_code"], "2.0.0");
  EXPECT_EQ(sent["queue_id"], "4BCD12");
  EXPECT_EQ(sent["api_key"], "shop");
  EXPECT_EQ(sent["metadata"]["order"], "A-17");
  nlohmann::json deferred = nlohmann::json::parse(rows[2].payload)["data"];
  EXPECT_EQ(deferred["next_attempt_at"],
            common::rfc3339_utc(common::Clock::time_point(std::chrono::milliseconds(retry_at))));
  nlohmann::json failed = nlohmann::json::parse(rows[3].payload)["data"];
  EXPECT_EQ(failed["reply"]["code"], 550);
  EXPECT_FALSE(failed.contains("queue_id"));
}

TEST_P(StoreEvents, one_messages_events_are_claimed_in_order_per_endpoint) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, store::Status::ok);
  s.relay(message, {result("a@example.org", RecipientOutcome::failed, 550, "5.1.1", "no")});
  int64_t now = now_ms();
  // "all": queued first, its failed held behind it; "failures": its only row.
  std::vector<EventRow> claimed = s.db->claim_events(10, now);
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].type + "/" + claimed[0].endpoint, "message.queued/all");
  EXPECT_EQ(claimed[1].type + "/" + claimed[1].endpoint, "message.failed/failures");
  EXPECT_EQ(claimed[0].attempts, 1);
  EXPECT_TRUE(s.db->claim_events(10, now).empty());  // in flight; the next waits
  s.db->finish_event(claimed[0].id, DeliveryOutcome::deferred, now + 60000, "HTTP 503",
                     claimed[0].attempts);
  s.db->finish_event(claimed[1].id, DeliveryOutcome::delivered, 0, "", claimed[1].attempts);
  EXPECT_TRUE(s.db->claim_events(10, now).empty());  // queued deferred: not due, failed behind
  std::vector<EventRow> again = s.db->claim_events(10, now + 60000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, claimed[0].id);
  EXPECT_EQ(again[0].attempts, 2);
  s.db->finish_event(again[0].id, DeliveryOutcome::dead, 0, "HTTP 410", again[0].attempts);
  std::vector<EventRow> next = s.db->claim_events(10, now);  // a dead one lets the next go
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].type + "/" + next[0].endpoint, "message.failed/all");
}

TEST_P(StoreEvents, a_stale_finish_changes_nothing_and_expired_leases_come_back) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, store::Status::ok);
  int64_t now = now_ms();
  std::vector<EventRow> claimed = s.db->claim_events(10, now);
  ASSERT_EQ(claimed.size(), 1u);
  int64_t after_lease = now + s.options.lease.count() + 1;
  EXPECT_GE(s.db->requeue_expired(after_lease), 1u);
  std::vector<EventRow> reclaimed = s.db->claim_events(10, after_lease);
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(reclaimed[0].attempts, 2);
  // The first claim's finish comes late: the second claim's row is left as it is.
  s.db->finish_event(claimed[0].id, DeliveryOutcome::delivered, 0, "", claimed[0].attempts);
  EXPECT_EQ(s.db->find_events(message.id)[0].state, "in_flight");
  s.db->finish_event(reclaimed[0].id, DeliveryOutcome::delivered, 0, "", reclaimed[0].attempts);
  EXPECT_EQ(s.db->find_events(message.id)[0].state, "delivered");
  s.db->prune(now_ms() + 1000, now_ms() + 1000);
  EXPECT_TRUE(s.db->find_events(message.id).empty());
}

TEST_P(StoreEvents, no_endpoints_no_rows) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, store::Status::ok);
  EXPECT_TRUE(s.db->find_events(message.id).empty());
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM event_deliveries"), 0);
}

TEST(EventPayload, finds_the_queue_id_in_common_250_replies) {
  EXPECT_EQ(store::queue_id_of("2.0.0 Ok: queued as 4BCD12"), "4BCD12");
  EXPECT_EQ(store::queue_id_of("Ok: 0100018c-abc-000000"), "0100018c-abc-000000");
  EXPECT_EQ(store::queue_id_of("OK id=1r2x <queued as <abc@host>>"), "abc@host");
  EXPECT_EQ(store::queue_id_of("2.0.0 Message accepted for delivery"), std::nullopt);
}

}  // namespace
