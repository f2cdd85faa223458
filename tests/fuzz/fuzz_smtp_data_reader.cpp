// libFuzzer target: the DATA reader and content checker on arbitrary bytes, fed in arbitrary
// splits. Checks the invariants a smuggling bug would break: the consumed count never passes the
// input, the reader stops exactly after the first CR LF . CR LF, and splitting changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/data_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  smtp::ContentLimits limits;
  limits.max_size = 4096;
  limits.max_line = 100;

  smtp::DataReader whole(limits);
  size_t consumed_whole = whole.feed(input);
  if (consumed_whole > input.size()) std::abort();

  smtp::DataReader pieces(limits);
  size_t consumed = 0;
  while (consumed < input.size() && !pieces.done()) {
    size_t step = std::min(input.size() - consumed, split + 1);
    consumed += pieces.feed(input.substr(consumed, step));
  }
  if (whole.done() != pieces.done() || consumed_whole != consumed) std::abort();
  if (whole.done()) {
    // The stream start counts as after a CR LF, so the terminator is the first "\r\n.\r\n" in
    // "\r\n" + input.
    std::string framed = "\r\n" + std::string(input);
    size_t end = framed.find("\r\n.\r\n");
    if (end == std::string::npos || end + 5 - 2 != consumed_whole) std::abort();
  }
  if (whole.message() != pieces.message() || whole.verdict() != pieces.verdict()) std::abort();

  smtp::ContentChecker checker(limits);
  checker.feed(input);
  checker.finish();
  return 0;
}
