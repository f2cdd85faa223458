// Token buckets per API key and the fields that describe them. A bucket's quota policy is given
// as q = its size and w = the seconds it takes to refill from empty (draft-ietf-httpapi-ratelimit-
// headers-10 3.1, 3.3); the remaining quota r is the whole tokens left and t the seconds until
// the bucket is full again (4.1, 4.2).
#include "api/rate_limit.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "api/send_request.h"

namespace api {
namespace {

constexpr double kSecondsPerHour = 3600;

int64_t ceil_seconds(double seconds) {
  if (seconds <= 0) return 0;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(seconds - 1e-9)));
}

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// One address of to/cc/bcc as the send API reads it: "a@b", "Name <a@b>" or {"address"}.
std::string address_of(const nlohmann::json& value) {
  if (value.is_string()) return split_mailbox(value.get<std::string>()).address;
  if (value.is_object()) {
    auto found = value.find("address");
    if (found != value.end() && found->is_string()) return found->get<std::string>();
  }
  return "";
}

size_t count_message(const nlohmann::json& message, SendBody kind) {
  if (!message.is_object()) return 0;
  std::set<std::string> seen;
  auto add = [&seen](const std::string& address) {
    if (!address.empty()) seen.insert(lowered(address));
  };
  if (kind == SendBody::raw) {
    auto envelope = message.find("envelope");
    if (envelope == message.end() || !envelope->is_object()) return 0;
    auto rcpt_to = envelope->find("rcpt_to");
    if (rcpt_to == envelope->end() || !rcpt_to->is_array()) return 0;
    for (const auto& item : *rcpt_to) {
      if (item.is_string()) add(item.get<std::string>());
    }
    return seen.size();
  }
  for (const char* field : {"to", "cc", "bcc"}) {
    auto list = message.find(field);
    if (list == message.end() || !list->is_array()) continue;
    for (const auto& item : *list) add(address_of(item));
  }
  return seen.size();
}

}  // namespace

TokenBucket::TokenBucket(double rate, double capacity, SteadyTime now)
    : rate_(rate), capacity_(capacity), tokens_(capacity), last_(now) {}

void TokenBucket::refill(SteadyTime now) {
  if (now <= last_) return;  // a clock read before the last one adds nothing
  std::chrono::duration<double> elapsed = now - last_;
  tokens_ = std::min(capacity_, tokens_ + elapsed.count() * rate_);
  last_ = now;
}

bool TokenBucket::take(double cost, SteadyTime now) {
  refill(now);
  if (tokens_ + 1e-9 < cost) return false;
  tokens_ = std::max(0.0, tokens_ - cost);
  return true;
}

void TokenBucket::give_back(double cost, SteadyTime now) {
  refill(now);
  tokens_ = std::min(capacity_, tokens_ + cost);
}

double TokenBucket::available(SteadyTime now) {
  refill(now);
  return tokens_;
}

int64_t TokenBucket::seconds_until(double cost, SteadyTime now) {
  refill(now);
  if (cost > capacity_ || rate_ <= 0) return 0;
  return ceil_seconds((cost - tokens_) / rate_);
}

KeyLimiter::KeyLimiter(const config::ApiRateLimit& config, SteadyTime now)
    : config_(config),
      requests_(config.requests_per_second, std::max(config.burst, config.requests_per_second),
                now),
      recipients_(config.recipients_per_hour / kSecondsPerHour, config.recipients_per_hour, now) {}

Verdict KeyLimiter::admit_request(SteadyTime now) {
  if (config_.requests_per_second == 0) return {};
  std::lock_guard lock(mutex_);
  if (requests_.take(1, now)) return {};
  return {false, "requests_per_second", requests_.seconds_until(1, now), 0};
}

Verdict KeyLimiter::peek_request(SteadyTime now) {
  if (config_.requests_per_second == 0) return {};
  std::lock_guard lock(mutex_);
  if (requests_.available(now) + 1e-9 >= 1) return {};
  return {false, "requests_per_second", requests_.seconds_until(1, now), 0};
}

Verdict KeyLimiter::admit_recipients(size_t recipients, SteadyTime now) {
  if (config_.recipients_per_hour == 0 || recipients == 0) return {};
  std::lock_guard lock(mutex_);
  double cost = static_cast<double>(recipients);
  if (recipients_.take(cost, now)) return {true, "", 0, recipients};
  return {false, "recipients_per_hour", recipients_.seconds_until(cost, now), 0};
}

void KeyLimiter::refund_recipients(size_t recipients, SteadyTime now) {
  if (config_.recipients_per_hour == 0 || recipients == 0) return;
  std::lock_guard lock(mutex_);
  recipients_.give_back(static_cast<double>(recipients), now);
}

std::vector<std::pair<std::string, std::string>> KeyLimiter::headers(SteadyTime now) {
  std::string policy;
  std::string state;
  auto add = [&policy, &state, now](const char* name, TokenBucket& bucket) {
    double tokens = bucket.available(now);
    int64_t quota = static_cast<int64_t>(bucket.capacity());
    int64_t window = ceil_seconds(bucket.capacity() / bucket.rate());
    int64_t remaining = static_cast<int64_t>(std::floor(tokens + 1e-9));
    int64_t reset = ceil_seconds((bucket.capacity() - tokens) / bucket.rate());
    if (!policy.empty()) policy += ", ";
    if (!state.empty()) state += ", ";
    // Structured Fields (RFC 9651) Lists of Strings with Integer parameters.
    policy +=
        "\"" + std::string(name) + "\";q=" + std::to_string(quota) + ";w=" + std::to_string(window);
    state += "\"" + std::string(name) + "\";r=" + std::to_string(remaining) +
             ";t=" + std::to_string(reset);
  };
  std::lock_guard lock(mutex_);
  if (config_.requests_per_second > 0) add("requests", requests_);
  if (config_.recipients_per_hour > 0) add("recipients", recipients_);
  if (policy.empty()) return {};
  return {{"RateLimit-Policy", policy}, {"RateLimit", state}};
}

Reply rate_limited(const std::string& key_name, const Verdict& verdict) {
  std::string limit = verdict.limit;
  std::string detail =
      limit == "recipients_per_hour"
          ? verdict.retry_after > 0
                ? "the key '" + key_name +
                      "' has no recipients left in its hourly budget for this request"
                : "this request has more recipients than the key '" + key_name +
                      "' may send in an hour; split it"
          : "the key '" + key_name + "' sent more requests than its rate allows";
  Reply reply = problem(429, "rate-limited", "Too Many Requests", detail);
  nlohmann::json body = nlohmann::json::parse(reply.body);
  body["limit"] = limit;
  reply.body = body.dump();
  if (verdict.retry_after > 0)
    reply.headers.emplace_back("Retry-After", std::to_string(verdict.retry_after));
  return reply;
}

size_t count_recipients(SendBody kind, std::string_view body) {
  size_t total = 0;
  for (size_t count : count_recipients_per_message(kind, body)) total += count;
  return total;
}

size_t recipients_not_queued(SendBody kind, const std::vector<size_t>& per_message,
                             const Reply& reply) {
  size_t total = 0;
  for (size_t count : per_message) total += count;
  bool replayed = std::any_of(reply.headers.begin(), reply.headers.end(),
                              [](const auto& h) { return h.first == "Idempotent-Replayed"; });
  if (reply.status != 202 || replayed) return total;
  if (kind != SendBody::batch) return 0;
  nlohmann::json body = nlohmann::json::parse(reply.body, nullptr, false);
  auto results = body.is_object() ? body.find("results") : body.end();
  if (body.is_discarded() || results == body.end() || !results->is_array() ||
      results->size() != per_message.size())
    return 0;  // not the answer expected: keep the charge
  size_t refund = 0;
  for (size_t i = 0; i < per_message.size(); ++i) {
    const nlohmann::json& result = (*results)[i];
    bool queued = result.is_object() && result.value("status", "") == "queued";
    if (!queued) refund += per_message[i];
  }
  return refund;
}

std::vector<size_t> count_recipients_per_message(SendBody kind, std::string_view body) {
  if (kind == SendBody::none) return {};
  // The members that can be large are parsed but not kept (a 25 MiB attachment is not copied
  // into the document).
  static const std::set<std::string, std::less<>> kDropped = {"text", "html",    "attachments",
                                                              "raw",  "headers", "metadata"};
  auto keep = [](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    return event != nlohmann::json::parse_event_t::key || !parsed.is_string() ||
           !kDropped.count(parsed.get_ref<const std::string&>());
  };
  nlohmann::json root = nlohmann::json::parse(body, keep, false);
  if (root.is_discarded() || !root.is_object()) return {};
  if (kind != SendBody::batch) return {count_message(root, kind)};
  auto messages = root.find("messages");
  if (messages == root.end() || !messages->is_array()) return {};
  std::vector<size_t> counts;
  for (const auto& message : *messages) counts.push_back(count_message(message, SendBody::json));
  return counts;
}

}  // namespace api
