// Internal helpers shared by the mime parser's translation units (not part of the interface).
// Everything here is pure: byte utilities, UTF-8 repair, the header-block splitter.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mime/message.h"

namespace mime::detail {

inline bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
inline char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
int hex_value(char c);  // -1 when not a hex digit (either case)

// Adds `defect` unless it is already listed (defects are a set of short words).
void add_defect(std::vector<std::string>* defects, std::string_view defect);

// UTF-8 validity and repair: invalid sequences become U+FFFD (one per maximal bad subpart).
bool is_valid_utf8(std::string_view s);
std::string sanitize_utf8(std::string_view s);
// Undeclared bytes (RFC 6532 headers, 8-bit bodies without charset): UTF-8 when valid, else
// windows-1252.
std::string undeclared_to_utf8(std::string_view s);

// Removes CR and LF (header unfolding, RFC 5322 2.2.3: the folding WSP stays).
std::string unfold(std::string_view s);
// RFC 5322 3.2.4 quoted-string starting at s[i] == '"': its content with backslash escapes
// removed; `i` ends after the closing quote. An unterminated one runs to the end.
std::string read_quoted(std::string_view s, size_t& i);

// One raw header field of a header block: name as written, value with folding still in it.
struct RawField {
  std::string_view name;
  std::string_view value;
};
struct HeaderBlock {
  std::vector<RawField> fields;
  size_t body_begin = 0;  // offset (into the scanned text) of the first body byte
};
// Splits the header block at the start of `text` (RFC 5322 2.2); stops at the empty line, or at
// the first line that is neither a field nor a continuation (defect "missing_header_separator").
HeaderBlock split_header(std::string_view text, size_t max_fields,
                         std::vector<std::string>* defects);

// Content-Type / Content-Disposition parameters (RFC 2045 5.1, RFC 2231), keys lower-case.
// `head` receives the text before the first ';' (the type or disposition), trimmed of CFWS.
std::map<std::string, std::string> parse_params(std::string_view value, std::string* head);

// Base64 and quoted-printable decoders that never fail (RFC 2045 6.7, 6.8).
std::string decode_base64(std::string_view in, std::vector<std::string>* defects);
std::string decode_quoted_printable(std::string_view in, std::vector<std::string>* defects);

// Fills a part's MIME fields (RFC 2045/2183) and decoded header list from its header block.
// `digest_child`: the default type is message/rfc822 (RFC 2046 5.1.5).
void apply_header(Part& part, const HeaderBlock& block, bool digest_child,
                  std::vector<std::string>* defects);
// Fills the message summaries (subject, addresses, date, ids) from the top-level header block.
void apply_summary(Message& message, const HeaderBlock& block);

// Main body and attachment selection over a parsed part table (CONTRACTS.md 1).
void select_bodies(Message& message);

}  // namespace mime::detail
