// The relay's decisions, apart from any I/O so that unit tests can drive them: what a reply
// means for one recipient (sent / deferred with full-jitter exponential backoff / failed), and
// how the pool slows down when the upstream throttles or cannot be reached.
#pragma once
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "config/config.h"
#include "relay/client.h"
#include "store/store.h"

namespace relay {

// The upper bound of the delay before attempt `attempts` + 1: initial * 2^(attempts-1), at most
// max_interval (attempts counts the one that just failed, >= 1).
int64_t backoff_ceiling_ms(int attempts, const config::Retry& retry);
// Full jitter (uniform in [floor, ceiling]); the floor, a tenth of `initial` (at most 1 s), keeps
// a recipient answered 4xx from being retried in a tight loop.
int64_t backoff_delay_ms(int attempts, const config::Retry& retry, std::mt19937_64& random);

// 2xx sent, 5xx failed, anything else (4xx, local code 0) deferred, or failed once the message
// is older than retry.max_age at the next attempt. 452 4.5.3 (too many recipients) is deferred by
// the first backoff step, whatever `attempts`.
store::RecipientResult classify(const std::string& rcpt, const Reply& reply, int attempts,
                                int64_t created_at_ms, int64_t now_ms, const config::Retry& retry,
                                std::mt19937_64& random);

// The pool's pace: at most `limit()` sessions, and no new transaction before `paused_until()`.
// A throttling reply or a connection failure halves the limit and pauses (1 s, doubling up to
// 60 s); a transaction without throttling lets the limit grow back by one and ends the pausing.
class Governor {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Governor(unsigned max_sessions);
  unsigned limit() const { return limit_; }
  Clock::time_point paused_until() const { return paused_until_; }
  void slow_down(Clock::time_point now);
  void recovered();

 private:
  unsigned max_, limit_;
  int level_ = 0;
  Clock::time_point paused_until_{};
};

// relay.rate_limit: a token bucket of `burst` tokens filled at `per_second`; each SMTP
// transaction takes one, so at most burst + per_second x t transactions start in any t seconds.
// It starts full. One bucket for the whole pool (io thread only: no lock).
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double per_second, double burst, Clock::time_point now);
  // Takes a token when one is there at `now` and returns zero; else takes nothing and returns
  // how long until one is (at least 1 ms, so that a caller's timer never spins).
  Clock::duration take(Clock::time_point now);

 private:
  void refill(Clock::time_point now);
  double per_second_, burst_, tokens_;
  Clock::time_point last_;
};

}  // namespace relay
