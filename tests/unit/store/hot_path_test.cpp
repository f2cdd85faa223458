// The hot path (store.h DeliveryConsumer) on both backends: a group commit hands the
// rows its consumer reserved over already claimed, with their bytes, after the senders' answers,
// and queues the rest for claim_deliveries (claim_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::DeliveryJob;
using store::InboundMessage;
using store::Status;
using store_test::enqueue_all;
using store_test::expect_job_of;
using store_test::fan_out_message;
using store_test::kFarFuture;
using store_test::kWait;
using store_test::make_message;

constexpr size_t kAll = std::numeric_limits<size_t>::max();

// A consumer that grants up to `grant` rows per reserve() and records every call in order, on one
// list with the events a test adds (a message's done callback).
class RecordingConsumer final : public store::DeliveryConsumer {
 public:
  struct Take {
    std::vector<DeliveryJob> jobs;
    size_t reserved = 0;
    size_t queued = 0;
  };

  explicit RecordingConsumer(size_t grant) : grant_(grant) {}

  size_t reserve(size_t rows) override {
    std::lock_guard lock(mutex_);
    events_.push_back("reserve " + std::to_string(rows));
    threads_.push_back(std::this_thread::get_id());
    return std::min(rows, grant_);
  }
  void take(std::vector<DeliveryJob> jobs, size_t reserved, size_t queued) override {
    std::lock_guard lock(mutex_);
    events_.push_back("take");
    threads_.push_back(std::this_thread::get_id());
    takes_.push_back({std::move(jobs), reserved, queued});
    changed_.notify_all();
  }
  void note(const std::string& event) {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
    threads_.push_back(std::this_thread::get_id());
  }
  // Waits until `count` takes were recorded; false after kWait.
  bool wait_for_takes(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return takes_.size() >= count; });
  }
  std::vector<Take> takes() {
    std::lock_guard lock(mutex_);
    return takes_;
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  size_t grant_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Take> takes_;
  std::vector<std::string> events_;
  std::vector<std::thread::id> threads_;
};

// The shared store fixture, reopened when a test needs other options: held group commits (the
// writer waits until `group` messages are queued) and a log of each commit's size and status.
STORE_TEST_BACKENDS(HotPath);

struct HotStore : store_test::OpenedStore {
  std::mutex commits_mutex;
  std::vector<std::pair<size_t, Status>> commits;

  explicit HotStore(store_test::Backend backend) : OpenedStore(backend) {}
  ~HotStore() {
    if (db) db->close();  // before `commits` goes: close() may still report a commit
  }
  void hold_groups_of(size_t group, uint64_t max_size = 0) {
    options.commit_delay = std::chrono::hours(1);
    options.max_batch = group;
    options.max_size = max_size == 0 ? 0 : database.room_for(max_size);
    options.on_commit = [this](double, size_t messages, Status status) {
      std::lock_guard lock(commits_mutex);
      commits.emplace_back(messages, status);
    };
    reopen();
  }
  std::string state_of(const std::string& delivery_id) {
    return sql_text("SELECT state FROM inbound_deliveries WHERE id='" + delivery_id + "'")
        .value_or("<none>");
  }
  int64_t rows_in(const std::string& state) {
    return sql_int("SELECT count(*) FROM inbound_deliveries WHERE state='" + state + "'")
        .value_or(-1);
  }
};

// The three messages (or rows) went in one group commit, and the consumer saw exactly one
// reserve(3)/take pair: its takes.
std::vector<RecordingConsumer::Take> one_group_of_three(HotStore& s, RecordingConsumer& consumer) {
  EXPECT_TRUE(consumer.wait_for_takes(1));
  {
    std::lock_guard lock(s.commits_mutex);
    EXPECT_EQ(s.commits, (std::vector<std::pair<size_t, Status>>{{3, Status::ok}}));
  }
  EXPECT_EQ(consumer.events(), (std::vector<std::string>{"reserve 3", "take"}));
  return consumer.takes();
}

TEST_P(HotPath, hands_a_fan_out_over_claimed_with_its_exact_bytes) {
  RecordingConsumer consumer(kAll);
  HotStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  InboundMessage message = fan_out_message("fan-out", 2);
  ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);

  ASSERT_TRUE(consumer.wait_for_takes(1));
  auto takes = consumer.takes();
  ASSERT_EQ(takes.size(), 1u);
  EXPECT_EQ(consumer.events(), (std::vector<std::string>{"reserve 2", "take"}));
  EXPECT_EQ(takes[0].reserved, 2u);
  EXPECT_EQ(takes[0].queued, 0u);
  ASSERT_EQ(takes[0].jobs.size(), 2u);
  // Both jobs carry the bytes: the first a copy, the last the writer's moved buffer.
  for (size_t i = 0; i < 2; ++i) expect_job_of(takes[0].jobs[i], message, i, 1);
  EXPECT_NE(takes[0].jobs[0].delivery.id, takes[0].jobs[1].delivery.id);

  for (const DeliveryJob& job : takes[0].jobs) {
    EXPECT_EQ(s.state_of(job.delivery.id), "in_flight");
    EXPECT_EQ(
        s.sql_int("SELECT attempts FROM inbound_deliveries WHERE id='" + job.delivery.id + "'"), 1);
  }
  auto stored = s.db->find_inbound(message.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->data == message.data);
  ASSERT_EQ(stored->deliveries.size(), 2u);
  for (const auto& row : stored->deliveries) {
    EXPECT_EQ(row.state, "in_flight");
    EXPECT_EQ(row.attempts, 1);
  }
  EXPECT_TRUE(s.db->claim_deliveries(10, kFarFuture).empty());  // handed out once only
}

TEST_P(HotPath, queues_the_rows_of_a_fan_out_the_consumer_did_not_reserve) {
  RecordingConsumer consumer(1);
  HotStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  InboundMessage message = fan_out_message("one of three", 3);
  ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);

  ASSERT_TRUE(consumer.wait_for_takes(1));
  auto takes = consumer.takes();
  EXPECT_EQ(consumer.events(), (std::vector<std::string>{"reserve 3", "take"}));
  EXPECT_EQ(takes[0].reserved, 1u);
  EXPECT_EQ(takes[0].queued, 2u);
  ASSERT_EQ(takes[0].jobs.size(), 1u);
  expect_job_of(takes[0].jobs[0], message, 0, 1);  // the first in arrival order
  EXPECT_EQ(s.rows_in("in_flight"), 1);
  EXPECT_EQ(s.rows_in("queued"), 2);

  auto claimed = s.db->claim_deliveries(10, kFarFuture);
  ASSERT_EQ(claimed.size(), 2u);
  expect_job_of(claimed[0], message, 1, 1);
  expect_job_of(claimed[1], message, 2, 1);
}

TEST_P(HotPath, claims_the_first_rows_of_a_group_and_queues_the_others_oldest_first) {
  RecordingConsumer consumer(1);
  HotStore s(GetParam());
  s.hold_groups_of(3);
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  std::vector<InboundMessage> messages = {fan_out_message("g0", 1), fan_out_message("g1", 1),
                                          fan_out_message("g2", 1)};
  EXPECT_EQ(enqueue_all(*s.db, messages),
            (std::vector<Status>{Status::ok, Status::ok, Status::ok}));

  auto takes = one_group_of_three(s, consumer);
  ASSERT_EQ(takes.size(), 1u);
  EXPECT_EQ(takes[0].reserved, 1u);
  EXPECT_EQ(takes[0].queued, 2u);
  ASSERT_EQ(takes[0].jobs.size(), 1u);
  expect_job_of(takes[0].jobs[0], messages[0], 0, 1);

  auto claimed = s.db->claim_deliveries(10, kFarFuture);
  ASSERT_EQ(claimed.size(), 2u);
  expect_job_of(claimed[0], messages[1], 0, 1);
  expect_job_of(claimed[1], messages[2], 0, 1);
}

TEST_P(HotPath, a_consumer_that_reserves_nothing_leaves_every_row_queued) {
  RecordingConsumer consumer(0);
  HotStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  InboundMessage first = fan_out_message("none a", 2);
  InboundMessage second = fan_out_message("none b", 1);
  ASSERT_EQ(s.db->enqueue_inbound_wait(first), Status::ok);
  ASSERT_EQ(s.db->enqueue_inbound_wait(second), Status::ok);

  ASSERT_TRUE(consumer.wait_for_takes(2));
  auto takes = consumer.takes();
  ASSERT_EQ(takes.size(), 2u);
  EXPECT_TRUE(takes[0].jobs.empty());
  EXPECT_EQ(takes[0].reserved, 0u);
  EXPECT_EQ(takes[0].queued, 2u);
  EXPECT_TRUE(takes[1].jobs.empty());
  EXPECT_EQ(takes[1].reserved, 0u);
  EXPECT_EQ(takes[1].queued, 1u);
  EXPECT_EQ(s.rows_in("queued"), 3);
  EXPECT_EQ(s.rows_in("in_flight"), 0);

  auto claimed = s.db->claim_deliveries(10, kFarFuture);
  ASSERT_EQ(claimed.size(), 3u);
  expect_job_of(claimed[0], first, 0, 1);
  expect_job_of(claimed[1], first, 1, 1);
  expect_job_of(claimed[2], second, 0, 1);
}

TEST_P(HotPath, take_pairs_each_reserve_on_the_writer_after_the_done_callbacks) {
  RecordingConsumer consumer(kAll);
  HotStore s(GetParam());
  s.hold_groups_of(3);
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  std::vector<InboundMessage> group = {fan_out_message("p0", 1), make_message("no endpoint", 0),
                                       fan_out_message("p2", 2)};
  auto note_done = [&consumer](size_t i) { consumer.note("done " + std::to_string(i)); };
  EXPECT_EQ(enqueue_all(*s.db, group, note_done),
            (std::vector<Status>{Status::ok, Status::ok, Status::ok}));
  ASSERT_TRUE(consumer.wait_for_takes(1));

  // A group without delivery rows asks nothing of the consumer (close() commits it alone).
  Status alone = Status::closed;
  s.db->enqueue_inbound(make_message("alone", 0), [&](Status status) {
    consumer.note("done 3");
    alone = status;
  });
  s.db->close();  // joins the writer: every callback has run
  EXPECT_EQ(alone, Status::ok);

  EXPECT_EQ(consumer.events(), (std::vector<std::string>{"reserve 3", "done 0", "done 1", "done 2",
                                                         "take", "done 3"}));
  auto threads = consumer.threads();
  ASSERT_FALSE(threads.empty());
  for (std::thread::id id : threads) {
    EXPECT_EQ(id, threads[0]);  // all on the writer thread
    EXPECT_NE(id, std::this_thread::get_id());
  }
  auto takes = consumer.takes();
  ASSERT_EQ(takes.size(), 1u);
  EXPECT_EQ(takes[0].reserved, 3u);
  ASSERT_EQ(takes[0].jobs.size(), 3u);
  expect_job_of(takes[0].jobs[0], group[0], 0, 1);
  expect_job_of(takes[0].jobs[1], group[2], 0, 1);
  expect_job_of(takes[0].jobs[2], group[2], 1, 1);
}

TEST_P(HotPath, a_removed_consumer_is_not_called_and_rows_are_queued) {
  RecordingConsumer removed(kAll);
  RecordingConsumer next(kAll);
  HotStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&removed);
  ASSERT_EQ(s.db->enqueue_inbound_wait(fan_out_message("before", 1)), Status::ok);
  ASSERT_TRUE(removed.wait_for_takes(1));
  s.db->set_delivery_consumer(nullptr);

  InboundMessage after = fan_out_message("after", 2);
  ASSERT_EQ(s.db->enqueue_inbound_wait(after), Status::ok);
  // The claim runs on the writer after that commit: a take would have been recorded by now.
  auto claimed = s.db->claim_deliveries(10, kFarFuture);
  EXPECT_EQ(removed.events(), (std::vector<std::string>{"reserve 1", "take"}));
  ASSERT_EQ(claimed.size(), 2u);
  expect_job_of(claimed[0], after, 0, 1);
  expect_job_of(claimed[1], after, 1, 1);

  s.db->set_delivery_consumer(&next);  // another consumer takes over the later commits
  InboundMessage last = fan_out_message("last", 1);
  ASSERT_EQ(s.db->enqueue_inbound_wait(last), Status::ok);
  ASSERT_TRUE(next.wait_for_takes(1));
  ASSERT_EQ(next.takes()[0].jobs.size(), 1u);
  expect_job_of(next.takes()[0].jobs[0], last, 0, 1);
  EXPECT_EQ(removed.events().size(), 2u);
}

TEST_P(HotPath, a_failed_group_hands_over_nothing_and_returns_the_reservation) {
  RecordingConsumer consumer(2);
  HotStore s(GetParam());
  s.hold_groups_of(3, 256 * 1024);
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  InboundMessage too_big = make_message(std::string(1024 * 1024, 'B'), 1);
  std::vector<InboundMessage> group = {fan_out_message("kept a", 2), too_big,
                                       fan_out_message("kept b", 1)};
  EXPECT_EQ(enqueue_all(*s.db, group), (std::vector<Status>{Status::ok, Status::full, Status::ok}));

  ASSERT_TRUE(consumer.wait_for_takes(1));
  {
    std::lock_guard lock(s.commits_mutex);
    ASSERT_FALSE(s.commits.empty());
    EXPECT_EQ(s.commits[0], std::make_pair(size_t{3}, Status::full));  // the group failed
  }
  auto takes = consumer.takes();
  EXPECT_EQ(consumer.events(), (std::vector<std::string>{"reserve 4", "take"}));
  EXPECT_TRUE(takes[0].jobs.empty());
  EXPECT_EQ(takes[0].reserved, 2u);  // what reserve() granted, back to the consumer
  EXPECT_EQ(takes[0].queued, 3u);    // the rows of the two messages written alone
  EXPECT_EQ(s.rows_in("queued"), 3);
  EXPECT_EQ(s.rows_in("in_flight"), 0);
  EXPECT_FALSE(s.db->find_inbound(too_big.id).has_value());

  auto claimed = s.db->claim_deliveries(10, kFarFuture);
  ASSERT_EQ(claimed.size(), 3u);
  expect_job_of(claimed[0], group[0], 0, 1);
  expect_job_of(claimed[1], group[0], 1, 1);
  expect_job_of(claimed[2], group[2], 0, 1);
}

TEST_P(HotPath, a_refused_message_alone_hands_over_nothing_and_returns_the_reservation) {
  RecordingConsumer consumer(1);
  HotStore s(GetParam());
  s.options.max_size = s.database.room_for(256 * 1024);
  s.reopen();
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  InboundMessage too_big = make_message(std::string(1024 * 1024, 'B'), 2);
  EXPECT_EQ(s.db->enqueue_inbound_wait(too_big), Status::full);

  ASSERT_TRUE(consumer.wait_for_takes(1));
  auto takes = consumer.takes();
  EXPECT_EQ(consumer.events(), (std::vector<std::string>{"reserve 2", "take"}));
  EXPECT_TRUE(takes[0].jobs.empty());
  EXPECT_EQ(takes[0].reserved, 1u);
  EXPECT_EQ(takes[0].queued, 0u);
  EXPECT_EQ(s.rows_in("queued") + s.rows_in("in_flight"), 0);
  EXPECT_TRUE(s.db->claim_deliveries(10, kFarFuture).empty());
}

TEST_P(HotPath, rows_handed_over_are_queued_again_after_a_reopen) {
  RecordingConsumer consumer(kAll);
  HotStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  std::vector<InboundMessage> messages = {fan_out_message("crash a", 2),
                                          fan_out_message("crash b", 1)};
  for (const InboundMessage& message : messages) {
    ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);
  }
  ASSERT_TRUE(consumer.wait_for_takes(2));
  std::vector<std::string> handed;
  for (const auto& take : consumer.takes()) {
    for (const DeliveryJob& job : take.jobs) handed.push_back(job.delivery.id);
  }
  ASSERT_EQ(handed.size(), 3u);
  EXPECT_EQ(s.rows_in("in_flight"), 3);

  s.reopen();  // the consumer never finished them: as after a crash
  ASSERT_NE(s.db, nullptr);
  EXPECT_EQ(s.rows_in("in_flight"), 0);
  EXPECT_EQ(s.rows_in("queued"), 3);
  auto claimed = s.db->claim_deliveries(10, kFarFuture);
  ASSERT_EQ(claimed.size(), 3u);
  expect_job_of(claimed[0], messages[0], 0, 2);  // at least once: a second attempt
  expect_job_of(claimed[1], messages[0], 1, 2);
  expect_job_of(claimed[2], messages[1], 0, 2);
  for (size_t i = 0; i < claimed.size(); ++i) EXPECT_EQ(claimed[i].delivery.id, handed[i]);
}

TEST_P(HotPath, hands_over_the_rows_of_a_group_mixed_with_outbound_messages) {
  RecordingConsumer consumer(2);
  HotStore s(GetParam());
  s.hold_groups_of(3);
  ASSERT_NE(s.db, nullptr);
  s.db->set_delivery_consumer(&consumer);
  store::OutboundMessage outbound;  // first in the group: the inbound ones follow it
  outbound.id = common::uuid_v7();
  outbound.created_at_ms = 1764202523123;
  outbound.mail_from = "shop@example.com";
  outbound.rcpt_to = {"x@example.net"};
  outbound.data = "Subject: out\r\n\r\nbody\r\n";
  outbound.response_json = R"({"id":")" + outbound.id + R"("})";
  auto sent = std::make_shared<std::promise<store::OutboundEnqueued>>();
  auto sent_result = sent->get_future();
  s.db->enqueue_outbound(outbound, [sent](store::OutboundEnqueued r) { sent->set_value(r); });
  std::vector<InboundMessage> inbound = {fan_out_message("mixed a", 1),
                                         fan_out_message("mixed b", 2)};
  EXPECT_EQ(enqueue_all(*s.db, inbound), (std::vector<Status>{Status::ok, Status::ok}));
  ASSERT_EQ(sent_result.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(sent_result.get().status, Status::ok);

  auto takes = one_group_of_three(s, consumer);
  ASSERT_EQ(takes.size(), 1u);
  EXPECT_EQ(takes[0].reserved, 2u);
  EXPECT_EQ(takes[0].queued, 1u);
  ASSERT_EQ(takes[0].jobs.size(), 2u);
  expect_job_of(takes[0].jobs[0], inbound[0], 0, 1);
  expect_job_of(takes[0].jobs[1], inbound[1], 0, 1);
  auto claimed = s.db->claim_deliveries(10, kFarFuture);
  ASSERT_EQ(claimed.size(), 1u);
  expect_job_of(claimed[0], inbound[1], 1, 1);
  EXPECT_TRUE(s.db->find_outbound(outbound.id).has_value());
}

}  // namespace
