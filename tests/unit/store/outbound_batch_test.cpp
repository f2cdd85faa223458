// Store::enqueue_outbound_batch on both backends (POST /v1/messages/batch): every message of a
// batch in ONE transaction of one group commit, all or none; the first message's idempotency key
// stands for the whole batch (a replay or a conflict writes none of them).
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::OutboundEnqueued;
using store::Status;

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

store::OutboundMessage make_outbound(const std::string& rcpt, const std::string& data = "x") {
  store::OutboundMessage message;
  message.id = common::uuid_v7();
  message.created_at_ms = now_ms();
  message.mail_from = "shop@example.com";
  message.rcpt_to = {rcpt};
  message.data = data;
  message.response_json = R"({"id":")" + message.id + R"("})";
  return message;
}

// `n` messages, one recipient each (r0@example.org, r1@...), the first keyed when `key` is set.
std::vector<store::OutboundMessage> make_batch(size_t n, const std::string& key = "",
                                               const std::string& hash = "hash") {
  std::vector<store::OutboundMessage> batch;
  for (size_t i = 0; i < n; ++i)
    batch.push_back(make_outbound("r" + std::to_string(i) + "@example.org",
                                  store_test::awkward_bytes(std::to_string(i))));
  if (!key.empty()) {
    batch[0].idempotency_key = key;
    batch[0].request_hash = hash;
    batch[0].response_json = R"({"results":")" + hash + R"("})";
  }
  return batch;
}

size_t found(store::Store& db, const std::vector<store::OutboundMessage>& batch) {
  size_t n = 0;
  for (const auto& message : batch) n += db.find_outbound(message.id).has_value();
  return n;
}

// A store whose writer holds what is queued (commit_delay of an hour) until close() commits it
// as one group; on_commit calls are recorded.
struct HeldStore {
  store_test::Database database;
  store::Options options;
  std::mutex mutex;
  std::vector<std::pair<size_t, Status>> commits;
  std::unique_ptr<store::Store> db;
  explicit HeldStore(store_test::Backend backend, uint64_t room = 0)
      : database(backend), options(database.options()) {
    options.max_size = room == 0 ? 0 : database.room_for(room);
    options.commit_delay = std::chrono::hours(1);
    options.on_commit = [this](double, size_t messages, Status status) {
      std::lock_guard lock(mutex);
      commits.emplace_back(messages, status);
    };
    std::string error;
    db = database.open(options, error);
    EXPECT_NE(db, nullptr) << error;
  }
};

STORE_TEST_BACKENDS(StoreOutboundBatch);

TEST_P(StoreOutboundBatch, commits_every_message_of_a_batch_in_one_transaction) {
  HeldStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto batch = make_batch(500);
  auto single = make_outbound("single@example.org");
  std::vector<OutboundEnqueued> results;
  s.db->enqueue_outbound_batch(batch, [&](OutboundEnqueued r) { results.push_back(r); });
  s.db->enqueue_outbound(single, [&](OutboundEnqueued r) { results.push_back(r); });
  s.db->close();

  ASSERT_EQ(s.commits.size(), 1u);  // one transaction (one fsync) for the batch and the single
  EXPECT_EQ(s.commits[0], std::make_pair(size_t{501}, Status::ok));  // messages, not requests
  ASSERT_EQ(results.size(), 2u);  // one answer for the whole batch
  EXPECT_EQ(results[0].status, Status::ok);
  EXPECT_FALSE(results[0].replay);
  EXPECT_EQ(results[0].response_json, batch[0].response_json);
  EXPECT_EQ(found(*s.db, batch), 500u);
  EXPECT_EQ(s.database.sql_int("SELECT count(*) FROM outbound_recipients"), 501);
  auto stored = s.db->find_outbound(batch[499].id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->recipients.at(0).rcpt, "r499@example.org");
  EXPECT_EQ(stored->size, batch[499].data.size());
}

TEST_P(StoreOutboundBatch, the_batch_is_claimable_at_once_with_its_exact_bytes) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto batch = make_batch(20);
  ASSERT_EQ(s.db->enqueue_outbound_batch_wait(batch).status, Status::ok);
  auto jobs = s.db->claim_outbound(100, now_ms());
  ASSERT_EQ(jobs.size(), 20u);
  for (const auto& job : jobs) {
    auto it = std::find_if(batch.begin(), batch.end(), [&](auto& m) { return m.id == job.id; });
    ASSERT_NE(it, batch.end());
    EXPECT_EQ(job.data, it->data);
    EXPECT_EQ(job.rcpt_to, it->rcpt_to);
  }
}

TEST_P(StoreOutboundBatch, a_batch_that_cannot_be_committed_writes_none_of_its_messages) {
  HeldStore s(GetParam(), 256 * 1024);
  ASSERT_NE(s.db, nullptr);
  auto batch = make_batch(3);
  batch[1].data = std::string(1024 * 1024, 'B');  // the batch does not fit as a whole
  auto single = make_outbound("single@example.org");
  std::vector<OutboundEnqueued> results(2);
  s.db->enqueue_outbound_batch(batch, [&](OutboundEnqueued r) { results[0] = r; });
  s.db->enqueue_outbound(single, [&](OutboundEnqueued r) { results[1] = r; });
  s.db->close();

  EXPECT_EQ(results[0].status, Status::full);
  EXPECT_EQ(results[1].status, Status::ok);  // the group's retry commits the single alone
  EXPECT_EQ(found(*s.db, batch), 0u);        // not the two small ones either
  EXPECT_TRUE(s.db->find_outbound(single.id).has_value());
  EXPECT_EQ(s.database.sql_int("SELECT count(*) FROM outbound_recipients"), 1);
}

TEST_P(StoreOutboundBatch, the_first_key_replays_the_whole_batch_and_writes_nothing_more) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto first = make_batch(5, "shop:batch-1", "hash-a");
  OutboundEnqueued committed = s.db->enqueue_outbound_batch_wait(first);
  ASSERT_EQ(committed.status, Status::ok);
  EXPECT_FALSE(committed.replay);

  auto again = make_batch(5, "shop:batch-1", "hash-a");  // new ids, the same key and body
  OutboundEnqueued replay = s.db->enqueue_outbound_batch_wait(again);
  EXPECT_EQ(replay.status, Status::ok);
  EXPECT_TRUE(replay.replay);
  EXPECT_EQ(replay.response_json, first[0].response_json);
  EXPECT_EQ(found(*s.db, again), 0u);

  auto other = make_batch(5, "shop:batch-1", "hash-b");  // the same key, another body
  OutboundEnqueued conflict = s.db->enqueue_outbound_batch_wait(other);
  EXPECT_EQ(conflict.status, Status::ok);
  EXPECT_TRUE(conflict.conflict);
  EXPECT_EQ(found(*s.db, other), 0u);
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM outbound_messages"), 5);
  // Only the first message holds the key: the others were stored without one.
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM outbound_messages WHERE idempotency_key IS NOT NULL"),
            1);
}

TEST_P(StoreOutboundBatch, keys_on_the_other_messages_are_ignored) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto keyed = make_outbound("a@example.org");
  keyed.idempotency_key = "shop:taken";
  keyed.request_hash = "h";
  ASSERT_EQ(s.db->enqueue_outbound_wait(keyed).status, Status::ok);
  auto batch = make_batch(3);
  batch[2].idempotency_key = "shop:taken";  // would replay `keyed` if it counted
  batch[2].request_hash = "h";
  OutboundEnqueued result = s.db->enqueue_outbound_batch_wait(batch);
  EXPECT_EQ(result.status, Status::ok);
  EXPECT_FALSE(result.replay);
  EXPECT_EQ(found(*s.db, batch), 3u);
}

TEST_P(StoreOutboundBatch, refuses_a_batch_once_closed) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  s.db->close();
  auto batch = make_batch(2);
  EXPECT_EQ(s.db->enqueue_outbound_batch_wait(batch).status, Status::closed);
  EXPECT_EQ(found(*s.db, batch), 0u);
}

}  // namespace
