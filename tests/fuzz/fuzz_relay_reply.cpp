// libFuzzer target: what the relay client reads from an upstream SMTP server (relay/protocol.h):
// reply lines (RFC 5321 4.2) fed to ReplyParser line by line as client_session does, the EHLO
// capabilities of a finished reply, the enhanced status code (RFC 3463) and the SASL client's
// answers to 334 challenges (CRAM-MD5, LOGIN, PLAIN, XOAUTH2). Findings: a crash or sanitizer
// report, a finished reply with a code outside 200-599 or more lines than kMaxReplyLines, or an
// enhanced code whose class differs from the reply's.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "relay/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  relay::ReplyParser parser;
  std::vector<std::string_view> challenges;
  size_t at = 0;
  while (at < input.size()) {
    size_t end = input.find('\n', at);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = end + 1;
    if (line.size() > 4 && line.substr(0, 4) == "334 ") challenges.push_back(line.substr(4));
    relay::ReplyParser::Status status = parser.add_line(line);
    if (status == relay::ReplyParser::Status::more) continue;
    if (status == relay::ReplyParser::Status::done) {
      relay::Reply reply = parser.reply();
      FUZZ_CHECK(reply.code >= 200 && reply.code <= 599, "code %d", reply.code);
      FUZZ_CHECK(parser.texts().size() <= relay::kMaxReplyLines, "%zu lines",
                 parser.texts().size());
      if (!reply.enhanced.empty())
        FUZZ_CHECK(reply.enhanced[0] - '0' == reply.code / 100, "enhanced %s for %d",
                   reply.enhanced.c_str(), reply.code);
      relay::Capabilities caps = relay::parse_capabilities(parser.texts());
      (void)caps;
    }
    parser.clear();  // bad or done: the session ends or reads the next reply
  }

  for (const char* mechanism : {"CRAM-MD5", "LOGIN", "PLAIN", "XOAUTH2"}) {
    relay::SaslClient client(mechanism, "user@example.com", "secret");
    (void)client.initial_command();
    for (std::string_view challenge : challenges)
      if (!client.answer(challenge)) break;
  }
  return 0;
}
