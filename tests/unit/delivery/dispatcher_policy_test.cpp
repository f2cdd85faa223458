// The dispatcher's pure decisions: Retry-After parsing and the retry
// policy (2xx / 406 / 410 / others, backoff ceiling with full jitter, max_age → dead).
#include "delivery/dispatcher_policy.h"

#include <gtest/gtest.h>

namespace {

using delivery::Attempt;
using delivery::decide;
using store::DeliveryOutcome;
using namespace std::chrono_literals;

const config::Retry kRetry{10s, 1h, 72h};
constexpr int64_t kNow = 1764202523000;

TEST(DispatcherPolicy, parses_retry_after_seconds_and_http_dates) {
  EXPECT_EQ(delivery::retry_after_ms("120", kNow), 120000);
  EXPECT_EQ(delivery::retry_after_ms(" 0 ", kNow), 0);
  // kNow is Thu, 27 Nov 2025 00:15:23 GMT.
  EXPECT_EQ(delivery::retry_after_ms("Thu, 27 Nov 2025 00:16:23 GMT", kNow), 60000);
  EXPECT_EQ(delivery::retry_after_ms("Thu, 27 Nov 2025 00:00:00 GMT", kNow), 0);  // past
  // The obsolete forms recipients must accept (RFC 9110 5.6.7): RFC 850 and asctime.
  EXPECT_EQ(delivery::retry_after_ms("Thursday, 27-Nov-25 00:16:23 GMT", kNow), 60000);
  EXPECT_EQ(delivery::retry_after_ms("Thu Nov 27 00:16:23 2025", kNow), 60000);
  EXPECT_EQ(delivery::retry_after_ms("Thu Nov  7 00:16:23 2025", kNow), 0);  // past, day padded
  EXPECT_FALSE(delivery::retry_after_ms("Thu, 27 Nov 2025 00:16:23 GMT trailing", kNow));
  EXPECT_FALSE(delivery::retry_after_ms("soon", kNow).has_value());
  EXPECT_FALSE(delivery::retry_after_ms("-5", kNow).has_value());
  EXPECT_FALSE(delivery::retry_after_ms("12s", kNow).has_value());
  EXPECT_FALSE(delivery::retry_after_ms("", kNow).has_value());
}

TEST(DispatcherPolicy, backoff_ceiling_doubles_up_to_max_interval) {
  EXPECT_EQ(delivery::backoff_ceiling_ms(1, kRetry), 10000);
  EXPECT_EQ(delivery::backoff_ceiling_ms(2, kRetry), 20000);
  EXPECT_EQ(delivery::backoff_ceiling_ms(4, kRetry), 80000);
  EXPECT_EQ(delivery::backoff_ceiling_ms(9, kRetry), 2560000);
  EXPECT_EQ(delivery::backoff_ceiling_ms(10, kRetry), 3600000);
  EXPECT_EQ(delivery::backoff_ceiling_ms(1000, kRetry), 3600000);
}

TEST(DispatcherPolicy, classifies_answers) {
  std::mt19937_64 random(7);
  for (int status : {200, 201, 204, 299}) {
    auto decision = decide({status, "", {}}, 1, kNow, kNow, kRetry, random);
    EXPECT_EQ(decision.outcome, DeliveryOutcome::delivered) << status;
    EXPECT_EQ(decision.last_error, "");
  }
  for (int status : {406, 410}) {
    auto decision = decide({status, "", {}}, 1, kNow, kNow, kRetry, random);
    EXPECT_EQ(decision.outcome, DeliveryOutcome::dead) << status;
    EXPECT_EQ(decision.last_error, "HTTP " + std::to_string(status));
  }
  for (int status : {301, 304, 400, 401, 404, 409, 429, 500, 502, 503}) {
    auto decision = decide({status, "", {}}, 3, kNow, kNow, kRetry, random);
    EXPECT_EQ(decision.outcome, DeliveryOutcome::deferred) << status;
    EXPECT_GE(decision.next_attempt_at_ms, kNow);
    EXPECT_LE(decision.next_attempt_at_ms, kNow + 40000);
  }
  auto refused = decide({0, "connection failed", {}}, 1, kNow, kNow, kRetry, random);
  EXPECT_EQ(refused.outcome, DeliveryOutcome::deferred);
  EXPECT_EQ(refused.last_error, "connection failed");
}

TEST(DispatcherPolicy, jitter_spreads_over_the_whole_ceiling) {
  std::mt19937_64 random(42);
  int64_t low = INT64_MAX, high = 0;
  for (int i = 0; i < 2000; ++i) {
    auto decision = decide({500, "", {}}, 2, kNow, kNow, kRetry, random);
    low = std::min(low, decision.next_attempt_at_ms - kNow);
    high = std::max(high, decision.next_attempt_at_ms - kNow);
  }
  EXPECT_GE(low, 0);
  EXPECT_LT(low, 1000);
  EXPECT_LE(high, 20000);
  EXPECT_GT(high, 19000);
}

TEST(DispatcherPolicy, honours_retry_after_on_429_and_503_only) {
  std::mt19937_64 random(1);
  auto busy = decide({429, "", "300"}, 1, kNow, kNow, kRetry, random);
  EXPECT_EQ(busy.outcome, DeliveryOutcome::deferred);
  EXPECT_EQ(busy.next_attempt_at_ms, kNow + 300000);  // above the 10 s backoff ceiling
  auto unavailable =
      decide({503, "", "Thu, 27 Nov 2025 00:16:23 GMT"}, 1, kNow, kNow, kRetry, random);
  EXPECT_EQ(unavailable.next_attempt_at_ms, kNow + 60000);
  auto other = decide({500, "", "300"}, 1, kNow, kNow, kRetry, random);
  EXPECT_LE(other.next_attempt_at_ms, kNow + 10000);
  // At least a second: "0" or a past date on every answer must not make a tight loop.
  EXPECT_EQ(decide({503, "", "0"}, 1, kNow, kNow, kRetry, random).next_attempt_at_ms, kNow + 1000);
  EXPECT_EQ(decide({429, "", "Thu, 27 Nov 2025 00:00:00 GMT"}, 1, kNow, kNow, kRetry, random)
                .next_attempt_at_ms,
            kNow + 1000);
  auto garbage = decide({429, "", "later"}, 1, kNow, kNow, kRetry, random);
  EXPECT_LE(garbage.next_attempt_at_ms, kNow + 10000);
}

TEST(DispatcherPolicy, gives_up_when_the_next_attempt_is_past_max_age) {
  std::mt19937_64 random(3);
  const int64_t received = kNow - (72 * 3600 * 1000 - 5000);  // 5 s of max_age left
  auto retried = decide({500, "", {}}, 1, received, kNow, {1s, 1s, 72h}, random);
  EXPECT_EQ(retried.outcome, DeliveryOutcome::deferred);
  auto exhausted = decide({503, "", "60"}, 20, received, kNow, kRetry, random);
  EXPECT_EQ(exhausted.outcome, DeliveryOutcome::dead);
  EXPECT_EQ(exhausted.last_error, "HTTP 503 (retries exhausted)");
}

}  // namespace
