// The pure rules of the HTTP guard: head scanning against the limits, body framing and coding
// checks, and the body's pace.
#include "obs/http_guard.h"

#include <algorithm>
#include <cctype>

namespace obs {
namespace {

std::string trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The comma-separated list elements of every occurrence (RFC 9110 5.6.1), trimmed, lower case,
// empty elements dropped.
std::vector<std::string> list_elements(const std::vector<std::string>& values) {
  std::vector<std::string> elements;
  for (const auto& value : values) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      std::string element = lower(trim(std::string_view(value).substr(start, comma - start)));
      if (!element.empty()) elements.push_back(std::move(element));
      start = comma + 1;
    }
  }
  return elements;
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() <= 19 &&
         std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return c >= '0' && c <= '9'; });
}

Refusal bad_request(std::string detail) {
  return {400, "bad-request", "Bad Request", std::move(detail), "framing", {}};
}

}  // namespace

void HeadScanner::reset() {
  state_ = State::partial;
  total_ = line_bytes_ = head_size_ = 0;
  line_starts_cr_ = false;
  lines_ = 0;
  refusal_ = {};
}

HeadScanner::State HeadScanner::refuse(Refusal refusal) {
  refusal_ = std::move(refusal);
  return state_ = State::refused;
}

HeadScanner::State HeadScanner::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (state_ != State::partial) return state_;
    ++total_;
    if (line_bytes_++ == 0) line_starts_cr_ = c == '\r';
    if (line_bytes_ > limits_.max_header_line) {
      std::string limit = std::to_string(limits_.max_header_line);
      // RFC 9112 3: a request-target longer than the server parses is 414; RFC 6585 5: 431.
      if (lines_ == 0)
        return refuse({414,
                       "uri-too-long",
                       "URI Too Long",
                       "the request line is longer than " + limit + " bytes",
                       "request_line",
                       {}});
      return refuse({431,
                     "request-header-fields-too-large",
                     "Request Header Fields Too Large",
                     "a header line is longer than " + limit + " bytes",
                     "header_line",
                     {}});
    }
    if (total_ > limits_.max_head_bytes)
      return refuse(
          {431,
           "request-header-fields-too-large",
           "Request Header Fields Too Large",
           "the request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes",
           "head_size",
           {}});
    if (c != '\n') continue;
    bool empty_line = line_bytes_ == 2 && line_starts_cr_;
    line_bytes_ = 0;
    if (lines_++ > 0 && empty_line) {
      head_size_ = total_;
      return state_ = State::complete;
    }
    if (lines_ > limits_.max_headers + 1)
      return refuse(
          {431,
           "request-header-fields-too-large",
           "Request Header Fields Too Large",
           "the request has more than " + std::to_string(limits_.max_headers) + " header lines",
           "headers",
           {}});
  }
  return state_;
}

bool BodyHeaders::declares_body() const {
  if (!transfer_encoding.empty()) return true;
  return std::any_of(content_length.begin(), content_length.end(), [](const std::string& value) {
    std::string text = trim(value);
    return text.find_first_not_of('0') != std::string::npos;
  });
}

std::optional<Refusal> check_body_headers(const BodyHeaders& headers, uint64_t max_body) {
  if (!headers.transfer_encoding.empty()) {
    if (!headers.content_length.empty())
      return bad_request("Content-Length and Transfer-Encoding must not both be sent");
    std::vector<std::string> codings = list_elements(headers.transfer_encoding);
    // cpp-httplib decodes only a single, exact `chunked` (anything else it reads to the end of
    // the connection as the body).
    if (headers.transfer_encoding.size() != 1 || codings != std::vector<std::string>{"chunked"})
      return Refusal{501,
                     "not-implemented",
                     "Not Implemented",
                     "the only transfer coding accepted is chunked",
                     "framing",
                     {}};
  }
  if (!headers.content_length.empty()) {
    std::string first = trim(headers.content_length.front());
    for (const auto& value : headers.content_length) {
      if (!all_digits(trim(value))) return bad_request("Content-Length must be a number");
      if (trim(value) != first) return bad_request("Content-Length is given twice, differently");
    }
    if (std::stoull(first) > max_body) return body_too_large_refusal(max_body);
  }
  for (const auto& coding : list_elements(headers.content_encoding)) {
    if (coding == "identity") continue;
    return Refusal{415,
                   "unsupported-content-encoding",
                   "Unsupported Media Type",
                   "the content coding '" + coding + "' is not accepted; send the body as is",
                   "content_encoding",
                   {{"Accept-Encoding", "identity"}}};
  }
  return std::nullopt;
}

std::chrono::steady_clock::time_point body_deadline(std::chrono::steady_clock::time_point start,
                                                    std::chrono::milliseconds grace,
                                                    uint64_t min_rate, uint64_t received) {
  if (min_rate == 0) return std::chrono::steady_clock::time_point::max();
  auto allowed =
      std::chrono::milliseconds(received / min_rate * 1000 + received % min_rate * 1000 / min_rate);
  return start + grace + allowed;
}

Refusal head_timeout_refusal(std::chrono::milliseconds timeout) {
  return {408,
          "request-timeout",
          "Request Timeout",
          "the request head did not arrive within " + std::to_string(timeout.count()) + " ms",
          "head_timeout",
          {}};
}

Refusal body_too_large_refusal(uint64_t max_body) {
  return {413,
          "content-too-large",
          "Content Too Large",
          "the request body is larger than " + std::to_string(max_body) + " bytes",
          "body_size",
          {}};
}

Refusal body_too_slow_refusal(uint64_t min_rate) {
  return {408,
          "request-timeout",
          "Request Timeout",
          "the request body arrived slower than " + std::to_string(min_rate) + " bytes a second",
          "body_timeout",
          {}};
}

Refusal memory_budget_refusal() {
  return {503,
          "memory-budget",
          "Service Unavailable",
          "the bridge's memory budget cannot hold this request body now; try again later",
          "memory_budget",
          {{"Retry-After", "5"}}};
}

}  // namespace obs
