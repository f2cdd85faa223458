// libFuzzer target: removing forged Authentication-Results fields (RFC 8601 5) from any message
// bytes before the bridge's own header is prepended (auth/report.cpp). Findings: a crash, a
// sanitizer report, bytes added, a body changed, a field of ours left in the header section, or
// a removal count that does not match the bytes removed.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "mailauth/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  const std::string original(reinterpret_cast<const char*>(data), size);
  std::string message = original;
  size_t removed = mailauth::remove_results_headers(message, "mx.fuzz.test");
  FUZZ_CHECK(message.size() <= original.size(), "bytes added");
  FUZZ_CHECK((removed == 0) == (message == original), "count and bytes disagree");
  // The empty line and the body after it stay byte for byte (the CRLF before the empty line
  // ends the last field, which may be removed).
  size_t body = original.find("\r\n\r\n");
  if (body != std::string::npos) {
    std::string_view tail = std::string_view(original).substr(body + 2);
    FUZZ_CHECK(message.size() >= tail.size() &&
                   std::string_view(message).substr(message.size() - tail.size()) == tail,
               "body changed");
  }
  // Removing again finds nothing: every field of ours went the first time.
  std::string again = message;
  FUZZ_CHECK(mailauth::remove_results_headers(again, "mx.fuzz.test") == 0, "a field of ours left");
  return 0;
}
