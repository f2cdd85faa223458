// api::send_batch on its own, over a real SQLite store: per-item answers in order with the single
// send's field names under messages[i], the all-or-nothing commit behind the 202, the refusals of
// the document (413 past 500 items, 422), the memory budget that holds the built messages, and the
// batch's Idempotency-Key.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/batch.h"
#include "common/memory_budget.h"
#include "obs/metrics.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using nlohmann::json;

json item(int i) {
  return {{"from", "shop@example.com"},
          {"to", {"r" + std::to_string(i) + "@example.org"}},
          {"subject", "item " + std::to_string(i)},
          {"text", std::string(1000, 'x')}};
}

json batch(int n) {
  json messages = json::array();
  for (int i = 0; i < n; ++i) messages.push_back(item(i));
  return {{"messages", messages}};
}

struct BatchFixture : testing::Test {
  store_test::OpenedStore opened{store_test::Backend::sqlite};
  obs::Registry registry;
  api::BatchMetrics metrics{registry};
  int queued_calls = 0;

  api::SendContext context(std::optional<std::string> key = std::nullopt) {
    api::SendContext c;
    c.key_name = "shop";
    c.idempotency_key = std::move(key);
    c.hostname = "bridge.test";
    c.max_message_bytes = 4096;
    c.now_ms = 1'700'000'000'000;
    c.queued = [this] { ++queued_calls; };
    return c;
  }
  api::Reply send(const json& body, common::MemoryBudget* memory = nullptr,
                  std::optional<std::string> key = std::nullopt) {
    return api::send_batch(*opened.db, context(std::move(key)), body.dump(), memory, &metrics);
  }
  int64_t stored() { return opened.sql_int("SELECT count(*) FROM outbound_messages").value_or(-1); }
  double counted(const char* result) {
    return registry.counter("smtp_bridge_api_batch_items_total", "")
        .add({{"result", result}})
        .value();
  }
};

TEST_F(BatchFixture, answers_each_item_in_order_and_commits_the_valid_ones) {
  json body = batch(5);
  body["messages"][1]["to"] = json::array({{{"address", "not an address"}}});
  body["messages"][3] = 42;
  body["messages"][4]["text"] = std::string(5000, 'y');  // over max_message_bytes
  api::Reply reply = send(body);
  ASSERT_EQ(reply.status, 202) << reply.body;
  json answer = json::parse(reply.body);
  ASSERT_EQ(answer["results"].size(), 5u);
  EXPECT_EQ(answer["queued"], 2);
  EXPECT_EQ(answer["invalid"], 3);
  EXPECT_EQ(answer["results"][0]["status"], "queued");
  EXPECT_EQ(answer["results"][2]["status"], "queued");
  EXPECT_EQ(answer["results"][1]["errors"][0]["field"], "messages[1].to[0].address");
  EXPECT_EQ(answer["results"][3]["errors"][0]["field"], "messages[3]");
  EXPECT_EQ(answer["results"][4]["errors"][0]["field"], "messages[4]");
  EXPECT_EQ(stored(), 2);
  auto message = opened.db->find_outbound(answer["results"][2]["id"]);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->recipients.at(0).rcpt, "r2@example.org");
  EXPECT_EQ(message->message_id, answer["results"][2]["message_id"]);
  EXPECT_EQ(queued_calls, 1);  // the relay is woken once for the batch
  EXPECT_EQ(counted("queued"), 2);
  EXPECT_EQ(counted("invalid"), 3);
}

TEST_F(BatchFixture, refuses_the_document_naming_the_field) {
  api::Reply too_many = send(batch(501));
  EXPECT_EQ(too_many.status, 413);
  EXPECT_EQ(json::parse(too_many.body)["errors"][0]["field"], "messages");
  EXPECT_EQ(send(batch(500)).status, 202);  // 500 is the limit, not past it
  EXPECT_EQ(send(json{{"messages", json::array()}}).status, 422);
  api::Reply not_json = api::send_batch(*opened.db, context(), "{", nullptr, &metrics);
  EXPECT_EQ(not_json.status, 422);
  EXPECT_EQ(json::parse(not_json.body)["errors"][0]["field"], "body");
  EXPECT_EQ(send(batch(2), nullptr, std::string("bad\nkey")).status, 422);
  EXPECT_EQ(stored(), 500);
}

TEST_F(BatchFixture, the_memory_budget_holds_the_built_messages_until_the_commit) {
  common::MemoryBudget small(20 * 1024);  // about 15 of the ~1.3 KB built messages
  api::Reply refused = send(batch(50), &small);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("memory-budget"), std::string::npos);
  EXPECT_EQ(stored(), 0);       // nothing queued
  EXPECT_EQ(small.used(), 0u);  // and everything given back
  common::MemoryBudget enough(1 << 20);
  EXPECT_EQ(send(batch(50), &enough).status, 202);
  EXPECT_EQ(enough.used(), 0u);
  EXPECT_EQ(stored(), 50);
}

TEST_F(BatchFixture, the_batch_key_replays_the_whole_answer) {
  api::Reply first = send(batch(3), nullptr, std::string("k-1"));
  ASSERT_EQ(first.status, 202);
  api::Reply again = send(batch(3), nullptr, std::string("k-1"));
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.headers,
            (std::vector<std::pair<std::string, std::string>>{{"Idempotent-Replayed", "true"}}));
  EXPECT_EQ(send(batch(4), nullptr, std::string("k-1")).status, 409);
  EXPECT_EQ(stored(), 3);
  EXPECT_EQ(counted("queued"), 3);  // a replay queues nothing and counts nothing
}

}  // namespace
