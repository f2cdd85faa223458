// mime::build: a send request (already validated by the API) → RFC 5322 + MIME bytes ready for
// SMTP (CRLF line ends, no line over 998 octets, Date / Message-ID / MIME-Version, no Bcc
// header). Pure (no I/O apart from the clock and the random Message-ID passed in).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mime {

struct Mailbox {
  std::string name;     // display name, UTF-8; "" = none
  std::string address;  // addr-spec; the local part may need quoting, the domain may be UTF-8
};

struct Attachment {
  std::string filename;      // UTF-8; non-ASCII → RFC 2231 filename*=utf-8''...
  std::string content_type;  // "type/subtype"; "" = application/octet-stream
  std::string content;       // the decoded bytes
  std::string content_id;    // without < >; non-empty = an inline part of multipart/related
};

struct BuildRequest {
  Mailbox from;
  std::vector<Mailbox> to, cc, bcc, reply_to;  // bcc never appears in the header
  std::string subject;                         // UTF-8; non-ASCII → RFC 2047
  std::string text, html;                      // UTF-8; "" = that body is absent
  std::vector<Attachment> attachments;
  // Extra header fields, in order; names and values already checked (no CR/LF, not reserved).
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t date_ms = 0;     // Date: (RFC 5322 3.3), rendered in UTC ("+0000")
  std::string message_id;  // the Message-ID without < >, e.g. "<uuid>@<hostname>"
};

// The whole message. Structure (CONTRACTS.md 2): multipart/mixed ⊃ multipart/related (when an
// attachment has a content_id and there is an html body) ⊃ multipart/alternative (text and
// html), each level only when needed. Per part: 7bit when every line is short ASCII,
// quoted-printable for mostly-ASCII text, base64 otherwise (lines of 76).
std::string build(const BuildRequest& request);

// RFC 2047 encoded-word(s) for a header value when it is not plain printable ASCII, else the
// value unchanged. Words stay ≤ 75 octets, split on UTF-8 character boundaries (RFC 2047 5).
std::string encode_header_words(std::string_view utf8);
// One mailbox as it goes into To/Cc/From/Reply-To: `"Name" <a@b>` / `=?utf-8?...?= <a@b>` / `a@b`.
std::string format_mailbox(const Mailbox& mailbox);

}  // namespace mime
