// libFuzzer target: RFC 2047 encoded words (mime::decode_unstructured, every charset iconv knows)
// and RFC 2045/2231 parameters (mime::parse_content_type: continuations, charset and language,
// percent-encoding) on an arbitrary header value. Findings: a crash or sanitizer report, or a
// decoded string, parameter name or value that is not valid UTF-8 (message.h promises UTF-8).
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "mime/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view value(reinterpret_cast<const char*>(data), size);
  std::string text = mime::decode_unstructured(value);
  FUZZ_CHECK(mime::is_valid_utf8(text), "decoded text not UTF-8 (%zu bytes in)", size);

  mime::ContentType type = mime::parse_content_type(value);
  FUZZ_CHECK(mime::is_valid_utf8(type.type) && mime::is_valid_utf8(type.subtype), "type not UTF-8");
  for (const auto& [name, param] : type.params) {
    FUZZ_CHECK(mime::is_valid_utf8(name), "parameter name not UTF-8");
    FUZZ_CHECK(mime::is_valid_utf8(param), "parameter value not UTF-8");
  }
  return 0;
}
