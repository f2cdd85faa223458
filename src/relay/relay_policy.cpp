// Retry and pacing policy of the relay (policy.h): per-recipient outcomes from replies with
// full-jitter exponential backoff (like delivery's), and the pool's slow-down on throttling.
// Pure: no clocks read here, the caller passes `now`.
#include <algorithm>

#include "relay/policy.h"

namespace relay {

namespace {
int64_t ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}
constexpr std::chrono::seconds kFirstPause{1};
constexpr std::chrono::seconds kMaxPause{60};
}  // namespace

int64_t backoff_ceiling_ms(int attempts, const config::Retry& retry) {
  int64_t initial = std::max<int64_t>(1, ms(retry.initial));
  int64_t cap = std::max(initial, ms(retry.max_interval));
  int64_t ceiling = initial;
  for (int i = 1; i < attempts && ceiling < cap; ++i) ceiling *= 2;
  return std::min(ceiling, cap);
}

int64_t backoff_delay_ms(int attempts, const config::Retry& retry, std::mt19937_64& random) {
  int64_t ceiling = backoff_ceiling_ms(attempts, retry);
  int64_t floor = std::min<int64_t>(ms(retry.initial) / 10, 1000);
  floor = std::clamp<int64_t>(floor, 0, ceiling);
  std::uniform_int_distribution<int64_t> jitter(floor, ceiling);
  return jitter(random);
}

store::RecipientResult classify(const std::string& rcpt, const Reply& reply, int attempts,
                                int64_t created_at_ms, int64_t now_ms, const config::Retry& retry,
                                std::mt19937_64& random) {
  store::RecipientResult result;
  result.rcpt = rcpt;
  result.code = reply.code;
  result.enhanced = reply.enhanced;
  result.text = reply.text;
  if (reply.code >= 200 && reply.code < 300) {
    result.outcome = store::RecipientOutcome::sent;
  } else if (reply.code >= 500) {  // RFC 5321 4.2.1: permanent
    result.outcome = store::RecipientOutcome::failed;
  } else {
    // RFC 5321 4.5.3.1.10: "too many recipients" (452 4.5.3) asks for the rest in a later
    // transaction, not for a slower retry: the first backoff step each time, however many came
    // before (a large send would otherwise wait hours for its last recipients).
    bool too_many = reply.code == 452 && reply.enhanced == "4.5.3";
    int64_t next = now_ms + backoff_delay_ms(too_many ? 1 : std::max(1, attempts), retry, random);
    if (next - created_at_ms >= ms(retry.max_age)) {
      result.outcome = store::RecipientOutcome::failed;
      result.text += " (given up: older than relay.retry.max_age)";
    } else {
      result.outcome = store::RecipientOutcome::deferred;
      result.next_attempt_at_ms = next;
    }
  }
  return result;
}

Governor::Governor(unsigned max_sessions)
    : max_(std::max(1u, max_sessions)), limit_(std::max(1u, max_sessions)) {}

void Governor::slow_down(Clock::time_point now) {
  limit_ = std::max(1u, limit_ / 2);
  auto pause = std::min<Duration>(kMaxPause, kFirstPause * (int64_t{1} << std::min(level_, 6)));
  paused_until_ = std::max(paused_until_, now + pause);
  ++level_;
}

void Governor::recovered() {
  level_ = 0;
  limit_ = std::min(max_, limit_ + 1);
}

TokenBucket::TokenBucket(double per_second, double burst, Clock::time_point now)
    : per_second_(std::max(per_second, 1e-9)),
      burst_(std::max(burst, 1.0)),
      tokens_(burst_),
      last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;  // a clock that went nowhere (or a caller's older reading)
  std::chrono::duration<double> elapsed = now - last_;
  tokens_ = std::min(burst_, tokens_ + elapsed.count() * per_second_);
  last_ = now;
}

TokenBucket::Clock::duration TokenBucket::take(Clock::time_point now) {
  refill(now);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return Clock::duration::zero();
  }
  std::chrono::duration<double> wait((1.0 - tokens_) / per_second_);
  return std::max<Clock::duration>(
      std::chrono::duration_cast<Clock::duration>(wait) + std::chrono::microseconds(1),
      std::chrono::milliseconds(1));
}

}  // namespace relay
