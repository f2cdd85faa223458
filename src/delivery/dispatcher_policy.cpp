// Endpoint URL parsing and the retry policy of webhook deliveries. Pure functions of their
// inputs (the random generator included), so the unit tests pin every branch.
#include "delivery/dispatcher_policy.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace delivery {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool parse_port(std::string_view text, unsigned& port) {
  if (text.empty() || text.size() > 5) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port > 0 && port <= 65535;
}

// RFC 9110 5.6.7: IMF-fixdate, the only HTTP-date form senders may generate.
std::optional<int64_t> parse_http_date_ms(std::string_view value) {
  std::string text(value);
  struct tm parts = {};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&parts)) * 1000;
}

}  // namespace

std::optional<EndpointUrl> parse_endpoint_url(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  path = path.substr(0, path.find('#'));  // RFC 3986 3.5: the fragment is not sent
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;

  std::string_view host = authority;
  std::string_view port_text;
  if (authority.front() == '[') {  // RFC 3986 3.2.2 IP-literal
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    if (!after.empty()) port_text = after.substr(1);
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return std::nullopt;
  unsigned port = scheme == "https" ? 443 : 80;
  if (!port_text.empty() && !parse_port(port_text, port)) return std::nullopt;

  EndpointUrl parsed;
  parsed.origin = scheme + "://" + lower(host) + ":" + std::to_string(port);
  parsed.path = path.empty() ? "/" : std::string(path);
  if (parsed.path.front() == '?') parsed.path.insert(0, "/");
  return parsed;
}

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
