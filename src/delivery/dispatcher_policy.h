// The dispatcher's pure decisions (CONTRACTS.md 1 "Delivery semantics"): what an attempt's answer
// means for the row: delivered, deferred with exponential backoff and full jitter (Retry-After
// honoured), or dead. Endpoint URLs are split by common/url.h.
#pragma once
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "config/config.h"
#include "store/store.h"

namespace delivery {

// What one POST produced: an HTTP status, or a transport error (status 0).
struct Attempt {
  int status = 0;
  std::string error;                       // "timeout", "connection refused", ... when status 0
  std::optional<std::string> retry_after;  // the Retry-After header, if any
};

struct Decision {
  store::DeliveryOutcome outcome = store::DeliveryOutcome::deferred;
  int64_t next_attempt_at_ms = 0;  // for deferred
  std::string last_error;          // "" when delivered
};

// Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, as a delay from now_ms in ms
// (never negative); nullopt when unparsable.
std::optional<int64_t> retry_after_ms(std::string_view value, int64_t now_ms);
// The backoff ceiling before attempt `attempts` + 1: min(max_interval, initial * 2^(attempts-1)).
int64_t backoff_ceiling_ms(int attempts, const config::Retry& retry);
// 2xx → delivered; 406/410 → dead; else deferred by random(0, ceiling), or by Retry-After on
// 429/503 when present; dead instead when that time is past received_at + max_age.
Decision decide(const Attempt& attempt, int attempts, int64_t received_at_ms, int64_t now_ms,
                const config::Retry& retry, std::mt19937_64& random);

}  // namespace delivery
