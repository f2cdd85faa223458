// libFuzzer target: the webhook answer's Retry-After (RFC 9110 10.2.3: delay-seconds or an
// HTTP-date in its three forms) and the dispatcher's decision on it (delivery/dispatcher_policy).
// The first 8 bytes pick "now" and the status, the rest is the header value. Findings: a crash
// or sanitizer report (UBSan: an overflowing conversion), a negative delay, or a deferral
// scheduled before now or past the message's max_age.
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>

#include "delivery/dispatcher_policy.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  if (size < 8) return 0;
  uint64_t seed = 0;
  std::memcpy(&seed, data, 8);
  std::string_view value(reinterpret_cast<const char*>(data + 8), size - 8);
  // Any time from 1970 to about 2106, in ms.
  int64_t now_ms = static_cast<int64_t>(seed % (uint64_t{1} << 32)) * 1000;

  std::optional<int64_t> delay = delivery::retry_after_ms(value, now_ms);
  if (delay) FUZZ_CHECK(*delay >= 0, "delay %lld ms", static_cast<long long>(*delay));

  const config::Retry retry = config::Delivery{}.retry;  // 10 s, 1 h, 72 h
  delivery::Attempt attempt;
  attempt.status = (seed >> 40) % 2 == 0 ? 429 : 503;
  attempt.retry_after = std::string(value);
  std::mt19937_64 random(seed);
  int attempts = static_cast<int>((seed >> 48) % 64) + 1;
  int64_t received_at_ms = now_ms - static_cast<int64_t>((seed >> 32) % 256) * 60'000;
  delivery::Decision decision =
      delivery::decide(attempt, attempts, received_at_ms, now_ms, retry, random);
  if (decision.outcome == store::DeliveryOutcome::deferred) {
    FUZZ_CHECK(decision.next_attempt_at_ms >= now_ms, "deferred into the past");
    FUZZ_CHECK(decision.next_attempt_at_ms <= received_at_ms + retry.max_age.count(),
               "deferred past max_age");
  }
  return 0;
}
