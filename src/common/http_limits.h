// What an HTTP listener accepts before any handler (and the API key check) runs (README "HTTP
// limits"). The config (api.limits, admin.limits) fills it; obs::GuardedServer enforces it. Beyond
// them: 414/431 (head), 413 (body), 408 and closed (too slow).
#pragma once
#include <chrono>
#include <cstdint>

namespace common {

struct HttpLimits {
  unsigned max_header_line = 8192;     // bytes of the request line or one header line, with CRLF
  unsigned max_headers = 100;          // header lines per request
  uint64_t max_head_bytes = 64 << 10;  // request line + headers
  std::chrono::milliseconds head_timeout{10000};  // the whole head, from its first byte (slowloris)
  uint64_t min_body_rate = 16 << 10;  // bytes/s a body must average after head_timeout; 0 = off
  uint64_t max_body = 0;              // bytes as sent; api: 0 = from smtp.limits.max_message_size
};

// The admin listener's defaults: GET only, so a body is never needed.
inline constexpr HttpLimits kAdminHttpLimits{.max_body = 1024};

}  // namespace common
