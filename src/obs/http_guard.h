// The pure rules of the HTTP guard (guarded_server.h): where a request head ends and whether it
// stays within common::HttpLimits, whether the framing and coding headers of a body can be read
// safely, and how long a body may take. No sockets, no HTTP library: unit-tested alone.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_limits.h"

namespace obs {

// A request the guard answers itself: the status, the problem slug and title (RFC 9457), a
// detail for the client, the metric reason and extra response headers.
struct Refusal {
  int status = 400;
  std::string slug;
  std::string title;
  std::string detail;
  std::string reason;  // smtp_bridge_http_limited_total{reason}
  std::vector<std::pair<std::string, std::string>> headers;
};

// Scans a request head as it arrives, byte by byte, the way cpp-httplib 0.11 will read it: the
// first line is the request line, a line ends at LF, and the head ends at the first line that is
// exactly CRLF (httplib skips other lines without CR). Refuses as soon as a limit is passed, so
// no more than the limit plus one read is ever held (RFC 9112 2.3 / RFC 6585 5).
class HeadScanner {
 public:
  enum class State { partial, complete, refused };

  explicit HeadScanner(const common::HttpLimits& limits) : limits_(limits) {}
  // Continues the head with `bytes`. On `complete`, head_size() bytes (counted from the first
  // byte fed since reset()) are the head; the bytes after it are not part of it.
  State feed(std::string_view bytes);
  void reset();
  size_t scanned() const { return total_; }
  size_t head_size() const { return head_size_; }
  const Refusal& refusal() const { return refusal_; }

 private:
  State refuse(Refusal refusal);
  const common::HttpLimits& limits_;
  State state_ = State::partial;
  size_t total_ = 0;       // bytes scanned
  size_t line_bytes_ = 0;  // bytes of the current line so far
  bool line_starts_cr_ = false;
  unsigned lines_ = 0;  // complete lines, the request line included
  size_t head_size_ = 0;
  Refusal refusal_;
};

// The framing and coding header values of a request (each occurrence, as received).
struct BodyHeaders {
  std::vector<std::string> content_length;
  std::vector<std::string> transfer_encoding;
  std::vector<std::string> content_encoding;
  bool declares_body() const;  // Content-Length other than 0, or any Transfer-Encoding
};

// Checks a request's body headers before its body is read: Content-Length with
// Transfer-Encoding (RFC 9112 6.3: a smuggling attempt) or differing lengths → 400; a transfer
// coding other than exactly `chunked` → 501 (RFC 9112 6.1); a length over `max_body` → 413;
// a content coding other than identity → 415 with Accept-Encoding: identity (RFC 9110 15.5.16):
// cpp-httplib 0.11 would inflate gzip/br/deflate with no limit before any handler runs.
std::optional<Refusal> check_body_headers(const BodyHeaders& headers, uint64_t max_body);

// The latest moment by which the first `received` bytes of a body must have arrived, a body
// starting at `start`: `grace` plus `received / min_rate` seconds (min_rate 0: no limit). A
// trickling client is cut when it falls behind, whatever the size of each read.
std::chrono::steady_clock::time_point body_deadline(std::chrono::steady_clock::time_point start,
                                                    std::chrono::milliseconds grace,
                                                    uint64_t min_rate, uint64_t received);

// The refusals the guard makes when the head is too slow (408) or the body too large (413).
Refusal head_timeout_refusal(std::chrono::milliseconds timeout);
Refusal body_too_large_refusal(uint64_t max_body);
Refusal body_too_slow_refusal(uint64_t min_rate);
// 503 with Retry-After when a body does not fit in the process's memory budget.
Refusal memory_budget_refusal();

}  // namespace obs
