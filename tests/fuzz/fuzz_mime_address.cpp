// libFuzzer target: the RFC 5322 address-list (3.4, groups, obsolete forms) and message-id list
// (3.6.4) grammars of src/mime on an arbitrary header value. Findings: a crash or sanitizer report
// (issue 11: `From:"` made make_mailbox call front() on an empty string), a string that is not
// valid UTF-8 (message.h promises UTF-8), or more entries than the value has bytes.
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "mime/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view value(reinterpret_cast<const char*>(data), size);
  std::vector<mime::Address> addresses = mime::parse_address_list(value);
  FUZZ_CHECK(addresses.size() <= size / 2 + 1, "%zu addresses from %zu bytes", addresses.size(),
             size);
  for (const mime::Address& address : addresses) {
    FUZZ_CHECK(mime::is_valid_utf8(address.name), "name not UTF-8");
    FUZZ_CHECK(mime::is_valid_utf8(address.address), "address not UTF-8");
    FUZZ_CHECK(mime::is_valid_utf8(address.group), "group not UTF-8");
  }
  std::vector<std::string> ids = mime::parse_message_ids(value);
  FUZZ_CHECK(ids.size() <= size / 2 + 1, "%zu message ids from %zu bytes", ids.size(), size);
  for (const std::string& id : ids) FUZZ_CHECK(mime::is_valid_utf8(id), "message id not UTF-8");
  return 0;
}
