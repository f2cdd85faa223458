// libFuzzer target: the HTTP guard's head scanner and body-header rules (obs/http_guard.h), what
// every request on ports 8080 and 8081 meets before any handler or API key check. The first 4
// bytes pick small limits and the read sizes; the rest is the request as it arrives. Findings: a
// crash or sanitizer report, a head that completes anywhere but after an empty CRLF line or past
// a limit, a scanner that holds more than a limit plus one read, a result that depends on how the
// bytes were split into reads, or a body accepted with both Content-Length and Transfer-Encoding.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "obs/http_guard.h"

namespace {

struct Outcome {
  obs::HeadScanner::State state;
  size_t head_size;
  int status;
};

// Feeds `bytes` in reads of `chunk` bytes (the last one shorter), as a socket would deliver them.
Outcome scan(const common::HttpLimits& limits, std::string_view bytes, size_t chunk) {
  obs::HeadScanner scanner(limits);
  obs::HeadScanner::State state = obs::HeadScanner::State::partial;
  size_t fed = 0;
  for (size_t at = 0; at < bytes.size() && state == obs::HeadScanner::State::partial;) {
    size_t n = std::min(chunk, bytes.size() - at);
    state = scanner.feed(bytes.substr(at, n));
    at += n;
    fed = at;
    FUZZ_CHECK(scanner.scanned() <= fed, "scanned %zu of %zu bytes fed", scanner.scanned(), fed);
  }
  if (state == obs::HeadScanner::State::refused) {
    int status = scanner.refusal().status;
    FUZZ_CHECK(status == 414 || status == 431 || status == 400, "refused with %d", status);
    // It refuses within the read that passed a limit: never more than a limit plus one read.
    FUZZ_CHECK(scanner.scanned() <= limits.max_head_bytes + 1, "held %zu bytes", scanner.scanned());
    return {state, 0, status};
  }
  if (state == obs::HeadScanner::State::complete) {
    size_t size = scanner.head_size();
    FUZZ_CHECK(size >= 3 && size <= bytes.size() && size <= limits.max_head_bytes,
               "head of %zu bytes", size);
    // RFC 9112 2.2: the head ends with an empty line (CRLF) after at least the request line
    // (which may be empty: "\n\r\n" completes, and httplib answers it 400).
    FUZZ_CHECK(bytes.substr(size - 2, 2) == "\r\n", "head does not end with CRLF");
    std::string_view head = bytes.substr(0, size - 2);
    FUZZ_CHECK(head.back() == '\n', "the empty line does not follow a line end");
    FUZZ_CHECK(
        static_cast<size_t>(std::count(head.begin(), head.end(), '\n')) <= limits.max_headers + 1,
        "more header lines than max_headers");
    return {state, size, 0};
  }
  return {state, 0, 0};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  if (size < 4) return 0;
  common::HttpLimits limits;
  limits.max_header_line = 16 + data[0] % 240;
  limits.max_headers = 1 + data[1] % 12;
  limits.max_head_bytes = 64 + (data[2] % 16) * 64;
  size_t chunk = 1 + data[3] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data + 4), size - 4);

  Outcome whole = scan(limits, bytes, bytes.size() + 1);
  Outcome split = scan(limits, bytes, chunk);
  FUZZ_CHECK(whole.state == split.state && whole.head_size == split.head_size &&
                 whole.status == split.status,
             "a split into %zu-byte reads changed the outcome", chunk);

  // The body rules on header values taken from the input's lines (name: value, any case).
  obs::BodyHeaders headers;
  size_t at = 0;
  while (at < bytes.size()) {
    size_t end = bytes.find('\n', at);
    std::string_view line = bytes.substr(at, end == std::string_view::npos ? end : end - at);
    at = end == std::string_view::npos ? bytes.size() : end + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value(line.substr(colon + 1));
    if (name == "content-length") headers.content_length.push_back(value);
    if (name == "transfer-encoding") headers.transfer_encoding.push_back(value);
    if (name == "content-encoding") headers.content_encoding.push_back(value);
  }
  uint64_t max_body = uint64_t{1} << (data[0] % 40);
  std::optional<obs::Refusal> refusal = obs::check_body_headers(headers, max_body);
  if (!refusal) {
    // RFC 9112 6.3: a request with both framings is a smuggling attempt, never accepted.
    FUZZ_CHECK(headers.content_length.empty() || headers.transfer_encoding.empty(),
               "accepted Content-Length with Transfer-Encoding");
  } else {
    FUZZ_CHECK(refusal->status >= 400 && refusal->status <= 501, "refused with %d",
               refusal->status);
  }
  return 0;
}
