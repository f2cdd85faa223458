// The retry policy of webhook deliveries. Pure functions of their inputs (the random generator
// included), so the unit tests pin every branch.
#include "delivery/dispatcher_policy.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace delivery {
namespace {

constexpr int64_t kMinRetryAfterMs = 1000;

// RFC 9110 5.6.7 HTTP-date: IMF-fixdate, which senders generate, and the obsolete RFC 850 and
// asctime forms, which recipients must accept too.
std::optional<int64_t> parse_http_date_ms(std::string_view value) {
  std::string text(value);
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    struct tm parts = {};
    const char* end = strptime(text.c_str(), format, &parts);
    if (end != nullptr && *end == '\0') return static_cast<int64_t>(timegm(&parts)) * 1000;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> retry_after_ms(std::string_view value, int64_t now_ms) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    constexpr int64_t kMaxSeconds = int64_t(1) << 32;  // no overflow below
    return std::min(seconds, kMaxSeconds) * 1000;
  }
  auto at = parse_http_date_ms(value);
  if (!at) return std::nullopt;
  return std::max<int64_t>(0, *at - now_ms);
}

int64_t backoff_ceiling_ms(int attempts, const config::Retry& retry) {
  const int64_t initial = std::max<int64_t>(1, retry.initial.count());
  const int64_t max_interval = std::max<int64_t>(initial, retry.max_interval.count());
  int64_t ceiling = initial;
  for (int i = 1; i < attempts && ceiling < max_interval; ++i) ceiling *= 2;
  return std::min(ceiling, max_interval);
}

Decision decide(const Attempt& attempt, int attempts, int64_t received_at_ms, int64_t now_ms,
                const config::Retry& retry, std::mt19937_64& random) {
  Decision decision;
  if (attempt.status >= 200 && attempt.status < 300) {
    decision.outcome = store::DeliveryOutcome::delivered;
    return decision;
  }
  decision.last_error =
      attempt.status != 0 ? "HTTP " + std::to_string(attempt.status) : attempt.error;
  if (attempt.status == 406 || attempt.status == 410) {  // rejected for good (CONTRACTS.md 1)
    decision.outcome = store::DeliveryOutcome::dead;
    return decision;
  }
  std::optional<int64_t> delay;
  if ((attempt.status == 429 || attempt.status == 503) && attempt.retry_after) {
    delay = retry_after_ms(*attempt.retry_after, now_ms);  // RFC 9110 10.2.3
    // "Retry-After: 0" (or a past date) on every answer would otherwise retry in a tight loop
    // for all of max_age.
    if (delay) delay = std::max(*delay, kMinRetryAfterMs);
  }
  if (!delay) {  // exponential backoff with full jitter
    std::uniform_int_distribution<int64_t> jitter(0, backoff_ceiling_ms(attempts, retry));
    delay = jitter(random);
  }
  decision.next_attempt_at_ms = now_ms + *delay;
  if (decision.next_attempt_at_ms > received_at_ms + retry.max_age.count()) {
    decision.outcome = store::DeliveryOutcome::dead;
    decision.last_error += " (retries exhausted)";
    return decision;
  }
  decision.outcome = store::DeliveryOutcome::deferred;
  return decision;
}

}  // namespace delivery
