// The RFC 5321 4.1.2 Mailbox grammar, with RFC 6531 3.3's UTF-8 in atoms, quoted strings and
// domain labels, and the length limits of 4.5.3.1. One grammar for the SMTP server's MAIL and
// RCPT paths and the send API's addresses. Pure functions of their text; UTF-8 validity and
// invisible characters are the callers' to check.
#pragma once
#include <cstddef>
#include <string_view>

namespace common {

struct MailboxLimits {
  size_t max_local_part = 64;  // RFC 5321 4.5.3.1.1
  size_t max_domain = 255;     // 4.5.3.1.2
};

// atext (RFC 5322 3.2.3), extended by RFC 6531 3.3 to any non-ASCII byte.
bool is_atext(char c);
// Dot-string = Atom *("." Atom).
bool valid_dot_string(std::string_view text);
// The length of the Quoted-string at the start of text, both quotes included; 0 when there is
// none. qtextSMTP is %d32-33 / %d35-91 / %d93-126 or non-ASCII; quoted-pairSMTP is "\" and
// %d32-126.
size_t quoted_string_length(std::string_view text);
// Domain: dot-separated sub-domains (Let-dig [Ldh-str], at most 63 octets; U-labels allowed), or
// an address-literal: "[" IPv4 "]" or "[IPv6:" an address inet_pton reads "]". The general form
// (Standardized-tag ":" dcontent) is refused: no tag but IPv6 is registered.
bool valid_domain(std::string_view domain, size_t max_domain = 255);
// Local-part "@" Domain, without angle brackets.
bool valid_mailbox(std::string_view mailbox, const MailboxLimits& limits = {});
// The same mailbox: the local parts equal, the domains equal but for ASCII case (RFC 5321 2.4).
bool same_mailbox(std::string_view a, std::string_view b);

}  // namespace common
