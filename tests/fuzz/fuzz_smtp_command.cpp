// libFuzzer target: command line, MAIL/RCPT argument and SASL parsing on arbitrary bytes. Any
// crash, sanitizer report or a success on bytes that are not valid UTF-8 is a finding.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smtp/address.h"
#include "smtp/command.h"
#include "smtp/sasl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto parsed = smtp::parse_command(line);
  if (parsed.command && !smtp::valid_utf8(line)) std::abort();
  auto mail = smtp::parse_mail_from(line);
  if (mail.value && !smtp::valid_utf8(mail.value->address)) std::abort();
  auto rcpt = smtp::parse_rcpt_to(line);
  if (rcpt.value && rcpt.value->address.empty()) std::abort();
  (void)smtp::decode_plain(line);
  (void)smtp::decode_login(line);
  (void)smtp::looks_like_http(line);
  return 0;
}
