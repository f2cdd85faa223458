// Rate limits per API key (api.keys[].rate_limit, README "Scoped keys and rate limits"): token
// buckets for requests per second and for envelope recipients per hour, the 429 they answer and
// the RateLimit-Policy / RateLimit fields of draft-ietf-httpapi-ratelimit-headers-10. In memory,
// per process: every replica has buckets of its own. Time is passed in, so tests need no sleeps.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/reply.h"
#include "config/config.h"

namespace api {

using SteadyTime = std::chrono::steady_clock::time_point;

// A bucket of `capacity` tokens refilled at `rate` tokens per second; it starts full. Not
// thread-safe (KeyLimiter locks).
class TokenBucket {
 public:
  TokenBucket(double rate, double capacity, SteadyTime now);
  // Takes `cost` tokens when there are that many: true. Otherwise takes nothing: false.
  bool take(double cost, SteadyTime now);
  // Puts `cost` tokens back (at most up to the capacity): a charge for work that was not done.
  void give_back(double cost, SteadyTime now);
  double available(SteadyTime now);
  // Whole seconds (rounded up, at least 1) until `cost` tokens are there; 0 when they are now.
  // A cost above the capacity is never there: 0 as well (callers check cost <= capacity()).
  int64_t seconds_until(double cost, SteadyTime now);
  double rate() const { return rate_; }
  double capacity() const { return capacity_; }

 private:
  void refill(SteadyTime now);
  double rate_;
  double capacity_;
  double tokens_;
  SteadyTime last_;
};

// What a limit decided. `limit` names the refusing limit ("requests_per_second",
// "recipients_per_hour"); retry_after is 0 when the request can never pass (more recipients than
// the whole hourly budget).
struct Verdict {
  bool allowed = true;
  const char* limit = "";
  int64_t retry_after = 0;
  size_t cost = 0;  // recipients taken (give them back with refund when the send is not done)
};

// One key's buckets; thread-safe. A limit of 0 in `config` is no bucket at all.
class KeyLimiter {
 public:
  KeyLimiter(const config::ApiRateLimit& config, SteadyTime now);
  // One request: takes a token of the requests bucket.
  Verdict admit_request(SteadyTime now);
  // Whether admit_request would refuse now, taking nothing (the refusal before a body is read).
  Verdict peek_request(SteadyTime now);
  // `recipients` envelope recipients of one send: all of them or none (a request that would
  // overdraw the budget is refused whole).
  Verdict admit_recipients(size_t recipients, SteadyTime now);
  void refund_recipients(size_t recipients, SteadyTime now);
  // RateLimit-Policy and RateLimit (draft -10 sections 3 and 4) for the key's policies, named
  // "requests" and "recipients".
  std::vector<std::pair<std::string, std::string>> headers(SteadyTime now);
  bool limits_recipients() const { return config_.recipients_per_hour > 0; }

 private:
  config::ApiRateLimit config_;
  std::mutex mutex_;
  TokenBucket requests_;
  TokenBucket recipients_;
};

// 429 rate-limited problem+json with "limit" (the config key that refused), Retry-After when a
// retry can pass (RFC 9110 10.2.3, whole seconds rounded up).
Reply rate_limited(const std::string& key_name, const Verdict& verdict);

// The send routes' bodies as the recipients budget counts them (to + cc + bcc, each address once
// per message, as the send API relays them): POST /v1/messages, POST /v1/messages/raw
// (envelope.rcpt_to) and POST /v1/messages/batch ({"messages": [send requests]}, summed). 0 when
// the body is not such a document (the handler answers 422; nothing is charged). Large members
// (text, html, attachments, raw) are dropped while parsing.
enum class SendBody { none, json, raw, batch };
size_t count_recipients(SendBody kind, std::string_view body);
// The same per message: one count for a single send, one per item of a batch (empty when the
// body is not such a document).
std::vector<size_t> count_recipients_per_message(SendBody kind, std::string_view body);
// Of `per_message` (what was taken), the recipients of messages that `reply` did not queue anew:
// all of them unless it is a 202 without Idempotent-Replayed; for a batch's 202, those of the
// items whose result is not "queued" (POST /v1/messages/batch answers one result per item).
size_t recipients_not_queued(SendBody kind, const std::vector<size_t>& per_message,
                             const Reply& reply);

}  // namespace api
