// Unit tests of the relay's policy (src/relay/policy.h): reply → recipient outcome, full-jitter
// exponential backoff bounded by max_interval, max_age, and the pool's slow-down.
#include <gtest/gtest.h>

#include "relay/policy.h"

namespace relay {
namespace {
using namespace std::chrono_literals;

const config::Retry kRetry{10s, 80s, 1h};

TEST(Backoff, ceiling_doubles_up_to_max_interval) {
  EXPECT_EQ(backoff_ceiling_ms(1, kRetry), 10000);
  EXPECT_EQ(backoff_ceiling_ms(2, kRetry), 20000);
  EXPECT_EQ(backoff_ceiling_ms(4, kRetry), 80000);
  EXPECT_EQ(backoff_ceiling_ms(60, kRetry), 80000);
}

TEST(Backoff, full_jitter_stays_within_floor_and_ceiling_and_varies) {
  std::mt19937_64 random(7);
  int64_t low = INT64_MAX, high = 0;
  for (int i = 0; i < 2000; ++i) {
    int64_t delay = backoff_delay_ms(3, kRetry, random);
    low = std::min(low, delay);
    high = std::max(high, delay);
  }
  EXPECT_GE(low, 1000);  // the floor: initial / 10
  EXPECT_LT(low, 5000);  // full jitter reaches far below the ceiling
  EXPECT_LE(high, 40000);
  EXPECT_GT(high, 35000);
}

TEST(Classify, maps_reply_classes_to_outcomes) {
  std::mt19937_64 random(1);
  int64_t now = 1'000'000;
  auto sent = classify("a@x", Reply{250, "2.0.0", "ok"}, 1, now, now, kRetry, random);
  EXPECT_EQ(sent.outcome, store::RecipientOutcome::sent);
  EXPECT_EQ(sent.code, 250);
  auto failed = classify("a@x", Reply{550, "5.1.1", "no such user"}, 1, now, now, kRetry, random);
  EXPECT_EQ(failed.outcome, store::RecipientOutcome::failed);
  EXPECT_EQ(failed.enhanced, "5.1.1");
  EXPECT_EQ(failed.text, "no such user");
  auto deferred = classify("a@x", Reply{450, "4.2.1", "busy"}, 2, now, now, kRetry, random);
  EXPECT_EQ(deferred.outcome, store::RecipientOutcome::deferred);
  EXPECT_GE(deferred.next_attempt_at_ms, now + 1000);
  EXPECT_LE(deferred.next_attempt_at_ms, now + 20000);
  auto local = classify("a@x", Reply{0, "", "connection refused"}, 1, now, now, kRetry, random);
  EXPECT_EQ(local.outcome, store::RecipientOutcome::deferred);
  EXPECT_EQ(local.code, 0);
}

TEST(Classify, too_many_recipients_waits_the_first_backoff_step_only) {
  std::mt19937_64 random(1);
  int64_t now = 1'000'000;
  for (int i = 0; i < 200; ++i) {
    auto r =
        classify("a@x", Reply{452, "4.5.3", "too many recipients"}, 9, now, now, kRetry, random);
    EXPECT_EQ(r.outcome, store::RecipientOutcome::deferred);
    EXPECT_LE(r.next_attempt_at_ms, now + backoff_ceiling_ms(1, kRetry));
  }
  // Another 452 (4.3.1: insufficient storage) backs off as usual.
  int64_t latest = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = classify("a@x", Reply{452, "4.3.1", "no space"}, 9, now, now, kRetry, random);
    latest = std::max(latest, r.next_attempt_at_ms);
  }
  EXPECT_GT(latest, now + backoff_ceiling_ms(1, kRetry));
}

TEST(Classify, gives_up_once_older_than_max_age) {
  std::mt19937_64 random(1);
  int64_t created = 0, now = 3600 * 1000;
  auto r = classify("a@x", Reply{450, "4.2.1", "busy"}, 9, created, now, kRetry, random);
  EXPECT_EQ(r.outcome, store::RecipientOutcome::failed);
  EXPECT_EQ(r.code, 450);
}

TEST(Governor, halves_sessions_and_pauses_longer_each_time_then_recovers) {
  Governor governor(8);
  auto t0 = Governor::Clock::time_point{} + 1h;
  EXPECT_EQ(governor.limit(), 8u);
  EXPECT_LE(governor.paused_until(), t0);
  governor.slow_down(t0);
  EXPECT_EQ(governor.limit(), 4u);
  EXPECT_EQ(governor.paused_until(), t0 + 1s);
  governor.slow_down(t0);
  EXPECT_EQ(governor.limit(), 2u);
  EXPECT_EQ(governor.paused_until(), t0 + 2s);
  for (int i = 0; i < 20; ++i) governor.slow_down(t0);
  EXPECT_EQ(governor.limit(), 1u);
  EXPECT_EQ(governor.paused_until(), t0 + 60s);
  governor.recovered();
  EXPECT_EQ(governor.limit(), 2u);
  for (int i = 0; i < 20; ++i) governor.recovered();
  EXPECT_EQ(governor.limit(), 8u);
}

}  // namespace
}  // namespace relay
