// libFuzzer target: the RFC 5322 3.3 date parser (obsolete forms and zone names included) on an
// arbitrary header value. Findings: a crash or sanitizer report, or a result that is not the
// RFC 3339 shape message.h promises: YYYY-MM-DDTHH:MM:SS then Z or +HH:MM / -HH:MM.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "mime/message.h"

namespace {

bool digits(std::string_view s, size_t at, size_t count) {
  if (at + count > s.size()) return false;
  for (size_t i = at; i < at + count; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool rfc3339(std::string_view s) {
  if (s.size() != 20 && s.size() != 25) return false;
  if (!digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2) ||
      s[10] != 'T' || !digits(s, 11, 2) || s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' ||
      !digits(s, 17, 2))
    return false;
  if (s.size() == 20) return s[19] == 'Z';
  return (s[19] == '+' || s[19] == '-') && digits(s, 20, 2) && s[22] == ':' && digits(s, 23, 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view value(reinterpret_cast<const char*>(data), size);
  std::optional<std::string> date = mime::parse_date(value);
  if (date) FUZZ_CHECK(rfc3339(*date), "'%s' is not RFC 3339", date->c_str());
  return 0;
}
