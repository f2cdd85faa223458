// MAIL FROM / RCPT TO arguments (RFC 5321 4.1.2, 4.1.1.2, 4.1.1.3) with their ESMTP parameters:
// SIZE (RFC 1870), BODY (RFC 6152, 3030), SMTPUTF8 (RFC 6531), AUTH (RFC 4954 5), DSN's RET,
// ENVID, NOTIFY, ORCPT (RFC 3461) whose xtext is decoded and checked.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/reply.h"

namespace smtp {

struct MailFrom {
  std::string address;           // "" for the null reverse-path <>
  std::optional<uint64_t> size;  // SIZE=
  std::string body;              // "7BIT" (default), "8BITMIME" or "BINARYMIME"
  bool smtputf8 = false;
  std::map<std::string, std::string> params;  // every parameter, upper-case key, decoded value
};

struct RcptTo {
  std::string address;
  std::map<std::string, std::string> params;  // NOTIFY, ORCPT (decoded)
};

struct Limits {
  size_t max_local_part = 64;  // RFC 5321 4.5.3.1.1
  size_t max_domain = 255;     // 4.5.3.1.2
  size_t max_path = 256;       // 4.5.3.1.3, including < >
};

template <typename T>
struct PathParse {
  std::optional<T> value;
  Reply error;  // set when value is empty
};

// `args` is the text after "MAIL" ("FROM:<a@b> SIZE=10"). "FROM:" is case-insensitive; one
// optional space after the colon is tolerated. A source route (<@x,@y:a@b>) is dropped.
// Errors: no "FROM:" / no angle brackets → 501 5.5.4; bad address → 501 5.1.7; control or
// zero-width characters (U+0085, U+200B, U+2060, U+FEFF) and invalid UTF-8 → 501 5.1.7;
// unknown parameter → 555 5.5.4; bad parameter value (BODY=FOOBAR, SIZE=x, xtext with a control
// character after decoding) → 501 5.5.4.
PathParse<MailFrom> parse_mail_from(std::string_view args, const Limits& limits = {});
// `args` is the text after "RCPT" ("TO:<a@b> NOTIFY=NEVER"). The null path is not allowed
// (→ 501 5.1.3); "<postmaster>" without a domain is accepted as "postmaster".
PathParse<RcptTo> parse_rcpt_to(std::string_view args, const Limits& limits = {});

// Decodes xtext (RFC 3461 4): "+HH" → byte. nullopt on a malformed escape.
std::optional<std::string> decode_xtext(std::string_view text);

// True if the address holds non-ASCII characters, which RFC 6531 3.4 allows only in a
// transaction whose MAIL carried SMTPUTF8 (otherwise the session answers 553 5.6.7).
bool needs_smtputf8(std::string_view address);

}  // namespace smtp
