// The outbound side of the Store on both backends (the send API): enqueue and find, idempotency
// (replay, conflict, expiry), the recipients' lifecycle (claim, finish, deferral, restart),
// retention, stats.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::OutboundEnqueued;
using store::RecipientOutcome;
using store::RecipientResult;
using store::Status;

constexpr int64_t kHourMs = 3600 * 1000;

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

store::OutboundMessage make_outbound(std::vector<std::string> rcpt_to, std::string key = "",
                                     std::string hash = "") {
  store::OutboundMessage message;
  message.id = common::uuid_v7();
  message.created_at_ms = now_ms();
  message.mail_from = "shop@example.com";
  message.rcpt_to = std::move(rcpt_to);
  message.message_id = message.id + "@bridge.test";
  message.data = store_test::awkward_bytes(message.id);
  message.idempotency_key = std::move(key);
  message.request_hash = std::move(hash);
  message.response_json = R"({"id":")" + message.id + R"("})";
  return message;
}

uint64_t count_of(const store::Store::QueueStats& stats, const std::string& state) {
  for (const auto& [name, count] : stats.by_state) {
    if (name == state) return count;
  }
  return 0;
}

STORE_TEST_BACKENDS(StoreOutbound);

struct Opened : store_test::OpenedStore {
  explicit Opened(store_test::Backend backend) : OpenedStore(backend) {}
  std::optional<int64_t> count(const std::string& sql) { return sql_int(sql); }
};

RecipientResult result(const std::string& rcpt, RecipientOutcome outcome, int code,
                       const std::string& enhanced, const std::string& text,
                       int64_t next_attempt_at_ms = 0) {
  RecipientResult r;
  r.rcpt = rcpt;
  r.outcome = outcome;
  r.code = code;
  r.enhanced = enhanced;
  r.text = text;
  r.next_attempt_at_ms = next_attempt_at_ms;
  return r;
}

TEST_P(StoreOutbound, enqueue_then_find_returns_every_field) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org", "b@example.org", "c@example.net"});
  message.metadata_json = R"({"order":"42"})";
  int64_t before = now_ms();
  OutboundEnqueued enqueued = s.db->enqueue_outbound_wait(message);
  EXPECT_EQ(enqueued.status, Status::ok);
  EXPECT_FALSE(enqueued.replay);
  EXPECT_FALSE(enqueued.conflict);
  EXPECT_EQ(enqueued.response_json, message.response_json);

  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, message.id);
  EXPECT_EQ(found->created_at_ms, message.created_at_ms);
  EXPECT_EQ(found->mail_from, message.mail_from);
  EXPECT_EQ(found->message_id, message.message_id);
  EXPECT_EQ(found->size, message.data.size());
  EXPECT_EQ(found->metadata_json, message.metadata_json);
  ASSERT_EQ(found->recipients.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& row = found->recipients[i];
    EXPECT_EQ(row.rcpt, message.rcpt_to[i]);  // envelope order
    EXPECT_EQ(row.state, "queued");
    EXPECT_EQ(row.attempts, 0);
    EXPECT_GE(row.next_attempt_at_ms, before);
    EXPECT_GE(row.updated_at_ms, before);
    EXPECT_EQ(row.last_code, 0);
    EXPECT_EQ(row.last_enhanced, "");
    EXPECT_EQ(row.last_text, "");
  }
  // The bytes to send are stored exactly (NULs, bare CR/LF, 8-bit).
  auto jobs = s.db->claim_outbound(10, now_ms());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].data, message.data);
  EXPECT_FALSE(s.db->find_outbound("0190-none").has_value());
}

TEST_P(StoreOutbound, same_key_same_hash_replays_the_first_response_and_writes_nothing) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto first = make_outbound({"a@example.org"}, "shop:order-42", "hash-1");
  ASSERT_EQ(s.db->enqueue_outbound_wait(first).status, Status::ok);

  auto again = make_outbound({"a@example.org"}, "shop:order-42", "hash-1");
  OutboundEnqueued replay = s.db->enqueue_outbound_wait(again);
  EXPECT_EQ(replay.status, Status::ok);
  EXPECT_TRUE(replay.replay);
  EXPECT_FALSE(replay.conflict);
  EXPECT_EQ(replay.response_json, first.response_json);
  EXPECT_FALSE(s.db->find_outbound(again.id).has_value());
  EXPECT_EQ(s.count("SELECT count(*) FROM outbound_messages"), 1);
  EXPECT_EQ(s.count("SELECT count(*) FROM outbound_recipients"), 1);
}

TEST_P(StoreOutbound, same_key_other_hash_is_a_conflict) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto first = make_outbound({"a@example.org"}, "shop:order-42", "hash-1");
  ASSERT_EQ(s.db->enqueue_outbound_wait(first).status, Status::ok);
  auto other = make_outbound({"a@example.org"}, "shop:order-42", "hash-2");
  OutboundEnqueued conflict = s.db->enqueue_outbound_wait(other);
  EXPECT_EQ(conflict.status, Status::ok);
  EXPECT_TRUE(conflict.conflict);
  EXPECT_FALSE(conflict.replay);
  EXPECT_FALSE(s.db->find_outbound(other.id).has_value());
  EXPECT_EQ(s.count("SELECT count(*) FROM outbound_messages"), 1);
  // Another key scope (another API key's name) is another key.
  auto scoped = make_outbound({"a@example.org"}, "other:order-42", "hash-2");
  EXPECT_FALSE(s.db->enqueue_outbound_wait(scoped).conflict);
  // Messages without a key never collide (many NULLs under the UNIQUE index).
  EXPECT_EQ(s.db->enqueue_outbound_wait(make_outbound({"x@example.org"})).status, Status::ok);
  EXPECT_EQ(s.db->enqueue_outbound_wait(make_outbound({"y@example.org"})).status, Status::ok);
  EXPECT_EQ(s.count("SELECT count(*) FROM outbound_messages"), 4);
}

TEST_P(StoreOutbound, an_expired_key_makes_a_new_message_and_the_old_one_loses_the_key) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto old = make_outbound({"a@example.org"}, "shop:k", "hash-1");
  old.created_at_ms = now_ms() - 25 * kHourMs;  // idempotency_ttl is 24 h by default
  ASSERT_EQ(s.db->enqueue_outbound_wait(old).status, Status::ok);

  auto fresh = make_outbound({"a@example.org"}, "shop:k", "hash-1");
  OutboundEnqueued enqueued = s.db->enqueue_outbound_wait(fresh);
  EXPECT_EQ(enqueued.status, Status::ok);
  EXPECT_FALSE(enqueued.replay);
  EXPECT_FALSE(enqueued.conflict);
  EXPECT_EQ(enqueued.response_json, fresh.response_json);
  ASSERT_TRUE(s.db->find_outbound(fresh.id).has_value());
  ASSERT_TRUE(s.db->find_outbound(old.id).has_value());
  EXPECT_EQ(
      s.count("SELECT count(*) FROM outbound_messages WHERE id='" + old.id +
              "' AND idempotency_key IS NULL AND length(data)=" + std::to_string(old.data.size())),
      1);
  EXPECT_EQ(s.sql_text("SELECT id FROM outbound_messages WHERE idempotency_key='shop:k'"),
            fresh.id);
  // Just inside the TTL the key still holds.
  auto recent = make_outbound({"a@example.org"}, "shop:k", "hash-1");
  recent.created_at_ms = fresh.created_at_ms + 24 * kHourMs;
  EXPECT_TRUE(s.db->enqueue_outbound_wait(recent).replay);
}

TEST_P(StoreOutbound, claim_takes_due_recipients_once_and_marks_them_in_flight) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto first = make_outbound({"a@example.org", "b@example.org"});
  auto second = make_outbound({"c@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(first).status, Status::ok);
  ASSERT_EQ(s.db->enqueue_outbound_wait(second).status, Status::ok);

  auto jobs = s.db->claim_outbound(1, now_ms());  // the limit counts messages, oldest first
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, first.id);
  EXPECT_EQ(jobs[0].created_at_ms, first.created_at_ms);
  EXPECT_EQ(jobs[0].mail_from, first.mail_from);
  EXPECT_EQ(jobs[0].rcpt_to, first.rcpt_to);
  EXPECT_EQ(jobs[0].attempts, (std::vector<int>{1, 1}));
  auto found = s.db->find_outbound(first.id);
  ASSERT_TRUE(found.has_value());
  for (const auto& row : found->recipients) {
    EXPECT_EQ(row.state, "in_flight");
    EXPECT_EQ(row.attempts, 1);
  }
  auto rest = s.db->claim_outbound(10, now_ms());
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, second.id);
  EXPECT_TRUE(s.db->claim_outbound(10, now_ms()).empty());
  EXPECT_TRUE(s.db->claim_outbound(0, now_ms()).empty());
}

TEST_P(StoreOutbound, finish_records_each_outcome_and_deferred_comes_back_when_due) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound(
      {"sent@example.org", "later@example.org", "bad@example.org", "pending@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, Status::ok);
  ASSERT_EQ(s.db->claim_outbound(10, now_ms()).size(), 1u);
  int64_t retry_at = now_ms() + kHourMs;
  s.db->finish_outbound(
      message.id,
      {result("sent@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok: queued"),
       result("later@example.org", RecipientOutcome::deferred, 450, "4.2.1", "busy", retry_at),
       result("bad@example.org", RecipientOutcome::failed, 550, "5.1.1", "no such user")});

  auto found = s.db->find_outbound(message.id);  // finish returned: committed, visible
  ASSERT_TRUE(found.has_value());
  const auto& rows = found->recipients;
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].state, "sent");
  EXPECT_EQ(rows[0].last_code, 250);
  EXPECT_EQ(rows[0].last_enhanced, "2.0.0");
  EXPECT_EQ(rows[0].last_text, "Ok: queued");
  EXPECT_EQ(rows[1].state, "deferred");
  EXPECT_EQ(rows[1].next_attempt_at_ms, retry_at);
  EXPECT_EQ(rows[1].last_code, 450);
  EXPECT_EQ(rows[1].last_enhanced, "4.2.1");
  EXPECT_EQ(rows[2].state, "failed");
  EXPECT_EQ(rows[2].last_code, 550);
  EXPECT_EQ(rows[2].last_text, "no such user");
  EXPECT_EQ(rows[3].state, "in_flight");  // not listed: stays in_flight

  EXPECT_TRUE(s.db->claim_outbound(10, retry_at - 1).empty());
  auto again = s.db->claim_outbound(10, retry_at);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].rcpt_to, std::vector<std::string>{"later@example.org"});
  EXPECT_EQ(again[0].attempts, std::vector<int>{2});
  EXPECT_EQ(again[0].data, message.data);
  // A connection failure: no reply code; a finished row is not changed by a late result.
  s.db->finish_outbound(
      message.id,
      {result("later@example.org", RecipientOutcome::failed, 0, "", "connection refused"),
       result("sent@example.org", RecipientOutcome::failed, 554, "", "late")});
  found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->recipients[1].state, "failed");
  EXPECT_EQ(found->recipients[1].last_code, 0);
  EXPECT_EQ(found->recipients[1].last_text, "connection refused");
  EXPECT_EQ(found->recipients[0].state, "sent");
  EXPECT_EQ(found->recipients[0].last_code, 250);
}

TEST_P(StoreOutbound, restart_requeues_in_flight_recipients) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org", "b@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, Status::ok);
  ASSERT_EQ(s.db->claim_outbound(10, now_ms()).size(), 1u);
  s.db->finish_outbound(message.id,
                        {result("a@example.org", RecipientOutcome::sent, 250, "2.0.0", "ok")});
  s.reopen();

  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->recipients[0].state, "sent");
  EXPECT_EQ(found->recipients[1].state, "queued");
  EXPECT_EQ(found->recipients[1].attempts, 1);  // the interrupted attempt still counts
  auto jobs = s.db->claim_outbound(10, now_ms());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].rcpt_to, std::vector<std::string>{"b@example.org"});
  EXPECT_EQ(jobs[0].attempts, std::vector<int>{2});
}

TEST_P(StoreOutbound, prune_removes_finished_messages_past_retention_only) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto all_sent = make_outbound({"a@example.org", "b@example.org"});
  auto sent_and_failed = make_outbound({"a@example.org", "b@example.org"});
  auto one_deferred = make_outbound({"a@example.org", "b@example.org"});
  auto still_queued = make_outbound({"a@example.org"});
  for (const auto* message : {&all_sent, &sent_and_failed, &one_deferred, &still_queued}) {
    ASSERT_EQ(s.db->enqueue_outbound_wait(*message).status, Status::ok);
  }
  ASSERT_EQ(s.db->claim_outbound(3, now_ms()).size(), 3u);
  auto sent = [](const std::string& rcpt) {
    return result(rcpt, RecipientOutcome::sent, 250, "2.0.0", "ok");
  };
  s.db->finish_outbound(all_sent.id, {sent("a@example.org"), sent("b@example.org")});
  s.db->finish_outbound(sent_and_failed.id,
                        {sent("a@example.org"),
                         result("b@example.org", RecipientOutcome::failed, 550, "5.1.1", "no")});
  s.db->finish_outbound(one_deferred.id,
                        {sent("a@example.org"), result("b@example.org", RecipientOutcome::deferred,
                                                       451, "", "later", now_ms() + kHourMs)});
  int64_t later = now_ms() + kHourMs;
  int64_t earlier = now_ms() - kHourMs;

  EXPECT_EQ(s.db->prune(earlier, later), 0u);  // the sent rows are not old enough yet
  EXPECT_EQ(s.db->prune(later, earlier), 1u);  // the failed one is kept longer
  EXPECT_FALSE(s.db->find_outbound(all_sent.id).has_value());
  EXPECT_EQ(
      s.count("SELECT count(*) FROM outbound_recipients WHERE message_id='" + all_sent.id + "'"),
      0);  // its rows went with it
  EXPECT_TRUE(s.db->find_outbound(sent_and_failed.id).has_value());
  EXPECT_EQ(s.db->prune(later, later), 1u);
  EXPECT_FALSE(s.db->find_outbound(sent_and_failed.id).has_value());
  EXPECT_TRUE(s.db->find_outbound(one_deferred.id).has_value());
  EXPECT_TRUE(s.db->find_outbound(still_queued.id).has_value());
  EXPECT_EQ(s.count("SELECT count(*) FROM outbound_messages"), 2);
  EXPECT_EQ(s.count("SELECT count(*) FROM outbound_recipients"), 3);
}

TEST_P(StoreOutbound, stats_count_recipients_per_state_and_the_oldest_pending) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto stats = s.db->outbound_stats();
  for (const char* state : {"queued", "in_flight", "deferred", "sent", "failed"}) {
    EXPECT_EQ(std::count_if(stats.by_state.begin(), stats.by_state.end(),
                            [&](const auto& entry) { return entry.first == state; }),
              1)
        << state;  // listed with 0, so that a gauge drops to 0
  }
  EXPECT_EQ(stats.oldest_pending_ms, 0);

  auto older = make_outbound({"sent@example.org", "later@example.org", "bad@example.org"});
  older.created_at_ms = now_ms() - 5000;
  auto newer = make_outbound({"a@example.org", "b@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(older).status, Status::ok);
  ASSERT_EQ(s.db->claim_outbound(10, now_ms()).size(), 1u);
  ASSERT_EQ(s.db->enqueue_outbound_wait(newer).status, Status::ok);
  s.db->finish_outbound(
      older.id, {result("sent@example.org", RecipientOutcome::sent, 250, "", "ok"),
                 result("later@example.org", RecipientOutcome::deferred, 421, "", "x", now_ms())});
  stats = s.db->outbound_stats();
  EXPECT_EQ(count_of(stats, "queued"), 2u);
  EXPECT_EQ(count_of(stats, "in_flight"), 1u);
  EXPECT_EQ(count_of(stats, "deferred"), 1u);
  EXPECT_EQ(count_of(stats, "sent"), 1u);
  EXPECT_EQ(count_of(stats, "failed"), 0u);
  EXPECT_EQ(stats.oldest_pending_ms, older.created_at_ms);  // its deferred recipient
  // The inbound queue's stats are apart.
  EXPECT_EQ(count_of(s.db->queue_stats(), "queued"), 0u);
}

}  // namespace
