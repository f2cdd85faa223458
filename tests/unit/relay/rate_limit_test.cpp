// relay.rate_limit: the token bucket the relay's sessions share (src/relay/policy.h), driven by
// an injected clock (no sleeps), and the config keys that set it (each bad value named).
#include <gtest/gtest.h>

#include "config/config.h"
#include "relay/policy.h"

namespace relay {
namespace {
using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

// Transactions a caller that takes a token whenever one is there gets started in [0, span),
// stepping the clock by `step`.
int started_within(TokenBucket& bucket, Clock::time_point start, Clock::duration span,
                   Clock::duration step) {
  int started = 0;
  for (auto now = start; now < start + span; now += step) {
    while (bucket.take(now) == Clock::duration::zero()) ++started;
  }
  return started;
}

TEST(TokenBucket, starts_full_then_paces_to_the_rate) {
  Clock::time_point t0{};
  TokenBucket bucket(10, 3, t0);
  EXPECT_EQ(bucket.take(t0), Clock::duration::zero());
  EXPECT_EQ(bucket.take(t0), Clock::duration::zero());
  EXPECT_EQ(bucket.take(t0), Clock::duration::zero());  // the burst: three back to back
  Clock::duration wait = bucket.take(t0);
  EXPECT_GE(wait, 99ms);  // the next token in a tenth of a second
  EXPECT_LE(wait, 101ms);
  EXPECT_GT(bucket.take(t0 + 50ms), Clock::duration::zero());  // half a token: not yet
  EXPECT_EQ(bucket.take(t0 + wait), Clock::duration::zero());
}

TEST(TokenBucket, never_more_than_burst_plus_rate_times_t_in_any_window) {
  Clock::time_point t0{};
  TokenBucket bucket(20, 1, t0);
  // Over 10 s of a caller that always wants to send: 1 + 20 x 10 at most, and not far below.
  int started = started_within(bucket, t0, 10s, 1ms);
  EXPECT_LE(started, 201);
  EXPECT_GE(started, 199);
  // Any one second in steady state: at most burst + rate.
  EXPECT_LE(started_within(bucket, t0 + 10s, 1s, 1ms), 21);
}

TEST(TokenBucket, an_idle_bucket_refills_only_up_to_its_burst) {
  Clock::time_point t0{};
  TokenBucket bucket(5, 4, t0);
  int taken = 0;
  while (bucket.take(t0 + 1h) == Clock::duration::zero()) ++taken;
  EXPECT_EQ(taken, 4);  // an hour idle saves no more than the burst
}

TEST(TokenBucket, the_wait_is_never_zero_when_no_token_is_there) {
  Clock::time_point t0{};
  TokenBucket bucket(1000000, 1, t0);
  EXPECT_EQ(bucket.take(t0), Clock::duration::zero());
  EXPECT_GE(bucket.take(t0), 1ms);  // a timer of 0 would spin the io thread
  // A clock reading older than the last one changes nothing (no negative refill).
  TokenBucket slow(1, 1, t0 + 10s);
  EXPECT_EQ(slow.take(t0 + 10s), Clock::duration::zero());
  EXPECT_GT(slow.take(t0), Clock::duration::zero());
}

TEST(RelayRateLimitKeys, absent_means_unlimited_and_the_keys_are_read) {
  EXPECT_EQ(config::Config{}.relay.rate_limit.messages_per_second, 0u);
  auto result = config::load_string(
      "relay:\n  connections: 8\n  rate_limit: {messages_per_second: 14, burst: 5}\n");
  ASSERT_TRUE(result.errors.empty()) << result.errors[0].to_string();
  EXPECT_EQ(result.config->relay.connections, 8u);
  EXPECT_EQ(result.config->relay.rate_limit.messages_per_second, 14u);
  EXPECT_EQ(result.config->relay.rate_limit.burst, 5u);
  auto defaults = config::load_string("relay:\n  rate_limit: {messages_per_second: 2}\n");
  ASSERT_TRUE(defaults.errors.empty());
  EXPECT_EQ(defaults.config->relay.rate_limit.burst, 1u);
}

TEST(RelayRateLimitKeys, bad_values_are_refused_naming_the_key) {
  auto key_of = [](const char* yaml) {
    auto result = config::load_string(yaml);
    return result.errors.empty() ? std::string("(none)") : result.errors[0].key;
  };
  EXPECT_EQ(key_of("relay:\n  rate_limit: {messages_per_second: 0}\n"),
            "relay.rate_limit.messages_per_second");
  EXPECT_EQ(key_of("relay:\n  rate_limit: {burst: 3}\n"), "relay.rate_limit.messages_per_second");
  EXPECT_EQ(key_of("relay:\n  rate_limit: {messages_per_second: 5, burst: 0}\n"),
            "relay.rate_limit.burst");
  EXPECT_EQ(key_of("relay:\n  rate_limit: {messages_per_second: 5, per_minute: 3}\n"),
            "relay.rate_limit.per_minute");
}

}  // namespace
}  // namespace relay
