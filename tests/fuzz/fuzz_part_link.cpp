// libFuzzer target: the signed part link's query (common/part_link.h), what a GET to
// /v1/inbound/{id}/parts/{part} brings without an API key. The input is split at NUL bytes into
// id, part, expires and signature. Findings: a crash or sanitizer report, a link accepted that
// was not signed with a configured secret, or a link the bridge made that does not verify.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/part_link.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> fields;
  for (size_t start = 0; fields.size() < 3;) {
    size_t nul = input.find('\0', start);
    if (nul == std::string_view::npos) break;
    fields.push_back(input.substr(start, nul - start));
    start = nul + 1;
    if (fields.size() == 3) fields.push_back(input.substr(start));
  }
  if (fields.size() != 4) return 0;
  const std::vector<std::string> secrets = {"fuzz-secret-0123456789", "fuzz-old-0123456789"};
  std::string_view id = fields[0], part = fields[1], expires = fields[2], signature = fields[3];

  common::LinkCheck got = common::check_part_link(secrets, id, part, expires, signature, 1000);
  if (got != common::LinkCheck::bad_signature) {
    // Accepted (valid or expired): the signature must be one of ours for exactly this text.
    bool ours = false;
    for (const std::string& secret : secrets) {
      int64_t when = std::stoll(std::string(expires));
      ours = ours || common::part_link_signature(secret, id, part, when) == signature;
    }
    FUZZ_CHECK(ours, "a link no configured secret signed was accepted");
  }
  // What the bridge makes verifies, whatever the id and part.
  int64_t when = static_cast<int64_t>(size) * 977;
  std::string made = common::part_link_signature(secrets[1], id, part, when);
  FUZZ_CHECK(common::check_part_link(secrets, id, part, std::to_string(when), made, when) ==
                 common::LinkCheck::valid,
             "a link the bridge signed does not verify");
  return 0;
}
