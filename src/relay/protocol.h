// The pure pieces of the outbound SMTP client, apart from any socket so that unit tests can
// drive them: reply parsing (RFC 5321 4.2), EHLO capabilities, MAIL parameters, dot-stuffing
// (RFC 5321 4.5.2) and the SASL client encodings (RFC 4616, RFC 2195, LOGIN, XOAUTH2).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/client.h"

namespace relay {

// RFC 5321 4.5.3.1.5 allows 512 octets per reply line; providers exceed that, so be lenient,
// but a reply beyond these bounds is garbage and ends the session.
constexpr size_t kMaxReplyLine = 4096;
constexpr size_t kMaxReplyLines = 128;

// Collects the lines of one (possibly multi-line) reply.
class ReplyParser {
 public:
  enum class Status { more, done, bad };
  // One line without its CRLF. `bad`: not a reply line, codes differ, or too many lines.
  Status add_line(std::string_view line);
  // After `done`: the reply, and each line's text after "NNN-" / "NNN " (for EHLO).
  Reply reply() const;
  const std::vector<std::string>& texts() const { return texts_; }
  void clear();

 private:
  int code_ = 0;
  std::vector<std::string> texts_;
};

// The enhanced status code at the start of `text` ("4.7.0 rest"), or "" (RFC 3463 2).
std::string enhanced_code_of(std::string_view text, int code);

// EHLO reply texts (the first is the greeting line) → capabilities (RFC 5321 4.1.1.1).
Capabilities parse_capabilities(const std::vector<std::string>& texts);

// The bytes to send after 354: lone CR / LF made CRLF (RFC 5321 2.3.8), a final CRLF added when
// missing, lines starting with '.' doubled (RFC 5321 4.5.2), then ".\r\n".
std::string dot_stuff(std::string_view data);

// What the transaction needs from the server.
struct Needs {
  bool smtputf8 = false;      // non-ASCII in the envelope or the header section (RFC 6531)
  bool eightbitmime = false;  // non-ASCII anywhere in the message (RFC 6152)
};
Needs message_needs(const Envelope& envelope, std::string_view data);

// A local refusal (nothing sent) when the message cannot go through this server, else nullopt:
// over SIZE (RFC 1870 6), SMTPUTF8 (RFC 6531 3.4) or 8BITMIME (RFC 6152 3) needed but not offered.
std::optional<Reply> local_refusal(const Capabilities& caps, const Needs& needs, size_t size);

// "MAIL FROM:<a> SIZE=n BODY=8BITMIME SMTPUTF8\r\n" with the parameters the server offers.
std::string mail_command(const Envelope& envelope, const Capabilities& caps, const Needs& needs,
                         size_t size);

// --- SASL client (sasl_client.cpp) -----------------------------------------------------------

// The mechanism to use: the configured one (upper-cased) when offered, or for `auto` the best
// offered of CRAM-MD5 > PLAIN > LOGIN (CRAM-MD5 never reveals the password, even to the
// server; XOAUTH2 needs a token, so only when configured). "" when none fits.
std::string choose_mechanism(const std::string& configured,
                             const std::vector<std::string>& offered);

// RFC 4616 2: base64("" NUL user NUL password).
std::string sasl_plain(std::string_view user, std::string_view password);
// RFC 2195 2: user SP lowercase-hex(HMAC-MD5(password, challenge)) (not base64-encoded here).
std::string sasl_cram_md5(std::string_view user, std::string_view password,
                          std::string_view challenge);
// Google XOAUTH2: base64("user=" user ^A "auth=Bearer " token ^A ^A).
std::string sasl_xoauth2(std::string_view user, std::string_view token);

// A SASL exchange driven by the server's 334 challenges.
class SaslClient {
 public:
  SaslClient(std::string mechanism, std::string user, std::string password);
  // "AUTH PLAIN <initial response>\r\n" (RFC 4954 4).
  std::string initial_command() const;
  // The line answering a 334 whose text is `challenge_base64`, without CRLF; nullopt when the
  // exchange went wrong (bad base64, too many steps): the caller sends "*" to cancel.
  std::optional<std::string> answer(std::string_view challenge_base64);

 private:
  std::string mechanism_, user_, password_;
  int step_ = 0;
};

}  // namespace relay
