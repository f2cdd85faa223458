// Claims (store.h claim_deliveries) on both backends: due rows oldest first, queued and deferred
// alike, from the due index, reading the claimed rows' bytes only however long the backlog.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::DeliveryJob;
using store::DeliveryOutcome;
using store::InboundMessage;
using store::Status;
using store_test::enqueue_all;
using store_test::expect_job_of;
using store_test::fan_out_message;
using store_test::kFarFuture;
using store_test::make_message;

STORE_TEST_BACKENDS(Claims);

int64_t next_attempt_of(store_test::OpenedStore& s, const InboundMessage& message) {
  return s
      .sql_int("SELECT next_attempt_at FROM inbound_deliveries WHERE message_id='" + message.id +
               "'")
      .value_or(-1);
}

std::vector<std::string> message_ids(const std::vector<DeliveryJob>& jobs) {
  std::vector<std::string> ids;
  for (const DeliveryJob& job : jobs) ids.push_back(job.delivery.message_id);
  return ids;
}

TEST_P(Claims, claims_queued_and_due_deferred_rows_by_time_then_id) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  // p0..p3 become deferred, p4 delivered; q0..q2 stay queued, written after them.
  std::vector<InboundMessage> p, q;
  for (int i = 0; i < 5; ++i) p.push_back(fan_out_message("p" + std::to_string(i), 1));
  for (int i = 0; i < 3; ++i) q.push_back(fan_out_message("q" + std::to_string(i), 1));
  for (const auto& message : p) ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);
  auto in_flight = s.db->claim_deliveries(5, kFarFuture);
  ASSERT_EQ(in_flight.size(), 5u);
  for (const auto& message : q) ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);
  int64_t q0 = next_attempt_of(s, q[0]);
  int64_t q2 = next_attempt_of(s, q[2]);
  ASSERT_GT(q0, 0);
  ASSERT_GE(q2, q0);
  const int64_t now = q2 + 1000;
  auto defer = [&](size_t i, int64_t at) {
    s.db->finish_delivery(in_flight[i].delivery.id, DeliveryOutcome::deferred, at, "HTTP 503");
  };
  defer(0, q0 - 10);      // due before every queued row
  defer(1, q2 + 5);       // due after every queued row
  defer(2, now + 60000);  // not due yet
  defer(3, q0);           // the same time as q0, an older id: before it
  s.db->finish_delivery(in_flight[4].delivery.id, DeliveryOutcome::delivered, 0, "");

  auto first = s.db->claim_deliveries(2, now);
  EXPECT_EQ(message_ids(first), (std::vector<std::string>{p[0].id, p[3].id}));
  auto second = s.db->claim_deliveries(3, now);
  EXPECT_EQ(message_ids(second), (std::vector<std::string>{q[0].id, q[1].id, q[2].id}));
  auto third = s.db->claim_deliveries(10, now);
  EXPECT_EQ(message_ids(third), std::vector<std::string>{p[1].id});
  EXPECT_TRUE(s.db->claim_deliveries(10, now).empty());
  auto later = s.db->claim_deliveries(10, now + 60000);
  EXPECT_EQ(message_ids(later), std::vector<std::string>{p[2].id});

  if (first.size() == 2) expect_job_of(first[1], p[3], 0, 2);
  if (second.size() == 3) expect_job_of(second[2], q[2], 0, 1);
  if (third.size() == 1) expect_job_of(third[0], p[1], 0, 2);
}

// Bytes thread `tid` of this process has read with read()/pread() so far (Linux task I/O
// accounting). Per thread: the checkpointer's reads of the WAL are not the claims'.
std::optional<uint64_t> bytes_read_by(pid_t tid) {
  std::ifstream io("/proc/self/task/" + std::to_string(tid) + "/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  return std::nullopt;
}

// Enqueues the backlog and returns the id of the thread that ran its done callbacks: the store's
// writer, on which claims run too. PostgreSQL: 0, nothing to measure here (the server reads the
// table, and libpq's recv() is not counted as read), so only the order and the bytes are checked.
pid_t enqueue_backlog(store_test::OpenedStore& s, const std::vector<InboundMessage>& backlog) {
  std::atomic<pid_t> writer{0};
  auto statuses = enqueue_all(*s.db, backlog, [&writer](size_t) { writer = gettid(); });
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), Status::ok),
            static_cast<std::ptrdiff_t>(backlog.size()));
  if (s.database.postgres()) return 0;
  // Best effort: an empty WAL keeps a checkpoint by the writer itself out of the measurement
  // (busy when the store's own checkpointer is at work, which is on another thread).
  s.sql_int("PRAGMA wal_checkpoint(TRUNCATE)");
  return writer.load();
}

std::string backlog_bytes(size_t i) {
  std::string data = "Subject: backlog " + std::to_string(i) + "\r\n\r\n";
  data.resize(64 * 1024, static_cast<char>('a' + i % 26));
  data.back() = static_cast<char>(i % 251);
  return data;
}

TEST_P(Claims, claims_a_large_backlog_in_order_without_reading_every_message) {
  constexpr size_t kMessages = 300;
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  std::vector<InboundMessage> backlog;
  for (size_t i = 0; i < kMessages; ++i) backlog.push_back(make_message(backlog_bytes(i), 1));
  pid_t writer = enqueue_backlog(s, backlog);
  const bool measured = !s.database.postgres();
  auto read_before = measured ? bytes_read_by(writer) : std::optional<uint64_t>(0);
  ASSERT_TRUE(read_before.has_value()) << "no /proc/self/task/" << writer << "/io";
  for (size_t next = 0; next < kMessages; next += 5) {
    auto jobs = s.db->claim_deliveries(5, kFarFuture);
    ASSERT_EQ(jobs.size(), 5u) << "at " << next;
    for (size_t j = 0; j < 5; ++j) {
      ASSERT_EQ(jobs[j].delivery.message_id, backlog[next + j].id) << "at " << next + j;
      ASSERT_TRUE(jobs[j].data == backlog[next + j].data) << "at " << next + j;
    }
  }
  EXPECT_TRUE(s.db->claim_deliveries(5, kFarFuture).empty());
  // Each claim reads the bytes of the rows it claims only: about the backlog once (19 MiB). A
  // claim that loaded every due row's message would read ~30 times as much.
  if (!measured) return;
  uint64_t read = bytes_read_by(writer).value_or(0) - *read_before;
  RecordProperty("bytes_read", std::to_string(read));
  EXPECT_LT(read, 4 * kMessages * 64 * 1024) << read << " bytes read";
}

TEST_P(Claims, a_claim_reads_its_rows_only_however_long_the_backlog) {
  constexpr size_t kMessages = 20000;
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  std::vector<InboundMessage> backlog;
  for (size_t i = 0; i < kMessages; ++i) {
    backlog.push_back(make_message("m" + std::to_string(i), 1));
  }
  pid_t writer = enqueue_backlog(s, backlog);
  ASSERT_EQ(s.db->claim_deliveries(5, kFarFuture).size(), 5u);
  const bool measured = !s.database.postgres();
  auto read_before = measured ? bytes_read_by(writer) : std::optional<uint64_t>(0);
  ASSERT_TRUE(read_before.has_value()) << "no /proc/self/task/" << writer << "/io";
  for (size_t next = 5; next < 105; next += 5) {
    auto jobs = s.db->claim_deliveries(5, kFarFuture);
    ASSERT_EQ(jobs.size(), 5u) << "at " << next;
    for (size_t j = 0; j < 5; ++j) {
      ASSERT_EQ(jobs[j].delivery.message_id, backlog[next + j].id) << "at " << next + j;
    }
  }
  // About 45 KB; a claim that visits every due row (the old query: an OR of both states, sorted
  // in a temporary B-tree) reads over 100 MB here, as its pages no longer fit the cache.
  if (!measured) return;
  uint64_t read = bytes_read_by(writer).value_or(0) - *read_before;
  RecordProperty("bytes_read", std::to_string(read));
  EXPECT_LT(read, 1u << 20) << read << " bytes read";
}

}  // namespace
