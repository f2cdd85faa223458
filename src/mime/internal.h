// Internal helpers shared by the mime parser's translation units (not part of the interface).
// Everything here is pure: byte utilities, UTF-8 repair, the header-block splitter.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
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
// `max_size` (issue 11, bounded amplification): the result stops before growing past it, cut at a
// character boundary, and `*cut` is set.
bool is_valid_utf8(std::string_view s);
std::string sanitize_utf8(std::string_view s, size_t max_size = SIZE_MAX, bool* cut = nullptr);
// Undeclared bytes (RFC 6532 headers, 8-bit bodies without charset): UTF-8 when valid, else
// windows-1252.
std::string undeclared_to_utf8(std::string_view s, size_t max_size = SIZE_MAX, bool* cut = nullptr);
// The same appended to `out`, which never grows past `max_size`; false when it had to stop.
bool append_undeclared(std::string& out, std::string_view s, size_t max_size);
// WHATWG windows-1252 and x-user-defined decoders (never invalid), appended within `max_size`.
bool append_windows_1252(std::string& out, std::string_view s, size_t max_size);
bool append_x_user_defined(std::string& out, std::string_view s, size_t max_size);
// The number of invalid UTF-8 sequences in `s` (one per byte that starts none).
size_t count_invalid_utf8(std::string_view s);
bool append_sanitized(std::string& out, std::string_view s, size_t max_size);
// Appends `s`, already valid UTF-8, within `max_size` (cut at a character boundary).
bool append_valid_utf8(std::string& out, std::string_view s, size_t max_size);
// Reserves room for `more` bytes, growing by doubling but never past `max_size` in all.
void reserve_capped(std::string& out, size_t more, size_t max_size);
// Shortens `s` to at most `max_size` bytes without splitting a UTF-8 character.
void cut_utf8(std::string& s, size_t max_size);
// to_utf8 that stops converting before the output would pass `max_size` (glibc's TSCII converter
// makes up to 12 bytes of one); `*cut` set when it stopped.
std::string to_utf8_bounded(std::string_view bytes, std::string_view charset,
                            std::vector<std::string>* defects, size_t max_size, bool* cut);
// The same appended to `out` (converted in place, no second copy); false when it had to stop.
// For header text (RFC 2047 words, RFC 2231 values): the declared charset's WHATWG encoding,
// no detection (a few words are too little to guess from).
bool append_utf8(std::string& out, std::string_view bytes, std::string_view charset,
                 std::vector<std::string>* defects, size_t max_size);

// WHATWG Encoding Standard "get an encoding" (https://encoding.spec.whatwg.org/#names-and-labels):
// the lower-case name of the encoding `label` names ("windows-1252" for "iso-8859-1", "latin1",
// "us-ascii"), "" when the standard has no such label (encoding_labels.cpp holds the table).
std::string_view whatwg_encoding(std::string_view label);
// glibc iconv's decoder of a WHATWG encoding; nullptr for those decoded here (utf-8,
// windows-1252, x-user-defined) and for "replacement" and unknown names.
const char* whatwg_decoder(std::string_view encoding);

// Bytes of an HTML part read for its <meta charset> (WHATWG HTML prescan: the first 1024).
constexpr size_t kMetaPrescanBytes = 1024;
// The WHATWG encoding an HTML document's own <meta charset=...> or <meta http-equiv=
// "Content-Type" content="...; charset=..."> names within its first kMetaPrescanBytes; "" when
// none (UTF-16 labels give "utf-8", as the HTML standard says).
std::string_view html_meta_encoding(std::string_view html);
// Bytes charset detection reads: a bounded prefix, so that parsing stays linear.
constexpr size_t kDetectPrefixBytes = 64 << 10;
// uchardet's guess (lower-case, as uchardet names it: "windows-1252", "big5", "uhc") over the
// first kDetectPrefixBytes of `bytes`; "" when it has none.
std::string detect_charset(std::string_view bytes);

// The content of a text body part (decode_text, to_utf8) as UTF-8 appended to `out`, within
// `max_size`: the charset rules of charset.cpp (BOM, declared label, <meta> of an HTML part,
// valid UTF-8, detection, windows-1252). `*used` receives the WHATWG name applied.
bool append_body_text(std::string& out, std::string_view bytes, std::string_view charset, bool html,
                      std::vector<std::string>* defects, size_t max_size, std::string* used);

// What the strings decoded from one header field may take (issue 11): `room` bytes in all,
// Limits::header_expansion × the field's raw size and never more than what is left of the
// message's text budget (`*message_left`, Limits::text_allowance + the message size), at most
// `max_words` RFC 2047 encoded words per value and `max_tokens` address tokens or parameter
// sections. A string that would not fit is cut (defect "header_text_truncated").
struct FieldBudget {
  size_t room = SIZE_MAX;
  size_t* message_left = nullptr;
  size_t max_words = SIZE_MAX;
  size_t max_tokens = SIZE_MAX;
  size_t max_items = SIZE_MAX;  // addresses or message ids in one list
  size_t max_parameters = SIZE_MAX;
  std::vector<std::string>* defects = nullptr;
  void spend(size_t n) {
    room -= std::min(room, n);
    if (message_left != nullptr) *message_left -= std::min(*message_left, n);
  }
};
// A field budget with the default limits for a value of `raw_size` bytes (the public grammars).
FieldBudget default_field_budget(size_t raw_size);

// RFC 2047 decoding of an unstructured value within `budget` (spent by the result's size).
std::string decode_words(std::string_view raw, FieldBudget& budget);
std::vector<Address> address_list(std::string_view value, FieldBudget& budget);
std::vector<std::string> message_ids(std::string_view value, FieldBudget& budget);

// Removes CR and LF (header unfolding, RFC 5322 2.2.3: the folding WSP stays).
std::string unfold(std::string_view s);
// `s` unfolded: `s` itself when it has no line break, else a copy kept in `storage` (a long
// single-line value is not copied).
std::string_view unfolded(std::string_view s, std::string& storage);
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
// `budget`: values and names are charged to it; at most Limits::max_parameters names and
// `budget->max_tokens` sections are kept (defects "too_many_parameters", "too_many_tokens").
std::map<std::string, std::string> parse_params(std::string_view value, std::string* head,
                                                FieldBudget* budget = nullptr);

// Base64 and quoted-printable decoders that never fail (RFC 2045 6.7, 6.8). `word_gaps`: the
// number of white-space runs between two other characters of a line (see base64_is_text).
std::string decode_base64(std::string_view in, std::vector<std::string>* defects,
                          size_t* word_gaps = nullptr);
// Whether a body declared base64 with `word_gaps` such runs is plainly text, not base64: then its
// bytes are kept as they are (defect "base64_not_encoded").
bool base64_is_text(size_t word_gaps, size_t body_size);
std::string decode_quoted_printable(std::string_view in, std::vector<std::string>* defects);

// The limits of one parse and what is left of its text budget (Limits::text_allowance).
struct ParseContext {
  ParseContext(const Limits& l, size_t raw_size, std::vector<std::string>* d)
      : limits(l),
        text_left(raw_size + l.text_allowance),
        fields_left(l.max_message_header_fields),
        defects(d) {}
  const Limits& limits;
  size_t text_left;
  size_t fields_left;
  std::vector<std::string>* defects;
  // The budget of a field of `raw_size` bytes (Limits::header_expansion × it + 256).
  FieldBudget field(size_t raw_size);
};

// Fills a part's MIME fields (RFC 2045/2183) and decoded header list from its header block.
// `digest_child`: the default type is message/rfc822 (RFC 2046 5.1.5).
void apply_header(Part& part, const HeaderBlock& block, bool digest_child, ParseContext& context);
// Fills the message summaries (subject, addresses, date, ids) from the top-level header block,
// whose decoded fields are `part.headers`.
void apply_summary(Message& message, const HeaderBlock& block, ParseContext& context);

// Main body and attachment selection over a parsed part table (CONTRACTS.md 1).
void select_bodies(Message& message);

}  // namespace mime::detail
