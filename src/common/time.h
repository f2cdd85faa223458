// Timestamps as the bridge writes them: RFC 3339 for JSON and logs, RFC 5322 for headers.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace common {
using Clock = std::chrono::system_clock;
// "2026-11-27T00:15:23.123Z" (UTC, milliseconds).
std::string rfc3339_utc(Clock::time_point t);
// "Fri, 27 Nov 2026 00:15:23 +0000" (RFC 5322 3.3, UTC).
std::string rfc5322_date(Clock::time_point t);
// Milliseconds since the Unix epoch.
int64_t unix_ms(Clock::time_point t);
}  // namespace common
