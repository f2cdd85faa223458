// Encoders behind mime::build (not part of the interface): header folding, RFC 2047 encoded
// words, RFC 2231 parameters, quoted-printable and base64 bodies. Everything here is pure and
// writes CRLF line ends only; no output line exceeds 78 octets unless a token cannot be split.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mime::build_detail {

constexpr size_t kMaxLine = 78;         // RFC 5322 2.1.1 SHOULD, without the CRLF
constexpr size_t kMaxHardLine = 998;    // RFC 5322 2.1.1 MUST
constexpr size_t kMaxEncodedWord = 75;  // RFC 2047 2
constexpr size_t kBodyLine = 76;        // RFC 2045 6.7 (5) and 6.8

// Writes one header field, folding (RFC 5322 2.2.3) at the separators given by the caller:
// `Name:` then pieces; a piece with a non-empty separator may start a continuation line.
class HeaderWriter {
 public:
  HeaderWriter(std::string& out, std::string_view name);
  // `separator` is white space (maybe empty = glued to the previous piece, never folded there).
  void piece(std::string_view text, std::string_view separator = " ");
  void finish();  // the CRLF ending the field
  size_t column() const { return column_; }

 private:
  std::string& out_;
  size_t column_ = 0;
  bool first_ = true;
};

// Header values can never carry a line break: CR and LF become spaces (defensive, the API
// already rejects them).
std::string without_line_breaks(std::string_view s);

// True when `s` can go into an unstructured header as it is: printable ASCII and WSP, no "=?"
// that a reader would take for an encoded word (unless `allow_lookalike`), no word longer than
// `max_word`.
bool is_plain_unstructured(std::string_view s, size_t max_word = kMaxLine - 1,
                           bool allow_lookalike = false);
// RFC 2047 encoded words (utf-8, B or Q whichever is shorter for the whole text), each at most
// 75 octets and the first at most `first_limit`, split on UTF-8 character boundaries (RFC 2047
// 5). `phrase`: Q uses the restricted set of RFC 2047 5 (3), for display names.
std::vector<std::string> encoded_words(std::string_view utf8, bool phrase,
                                       size_t first_limit = kMaxEncodedWord);
// An unstructured value as pieces for HeaderWriter. `strict` (Subject): encoded words also for
// text looking like one and for words too long to fold. Else (extra fields, which may be
// structured, e.g. List-Unsubscribe URLs) only for non-ASCII or controls, or words that would
// break the 998 limit (RFC 5322 2.1.1).
void write_unstructured(HeaderWriter& writer, std::string_view value, bool strict);

// Display name and address (RFC 5322 3.4); `last` false appends the "," of an address list.
void write_mailbox(HeaderWriter& writer, std::string_view name, std::string_view address,
                   bool last);
// RFC 5322 3.4.1: the addr-spec with its local part quoted when it is not a dot-atom.
std::string format_address(std::string_view address);
// RFC 5322 3.2.3: a phrase of atoms, or else a quoted-string (RFC 5322 3.2.4); empty when the
// name needs encoded words instead.
std::string ascii_phrase(std::string_view name);

// `;name="value"` or the RFC 2231 form (`name*=utf-8''%..`, with sections name*0*= ... when
// long) for non-ASCII or long values.
void write_parameter(HeaderWriter& writer, std::string_view name, std::string_view value);
// `;name="=?utf-8?...?="`: the RFC 2047 form that older readers of Content-Type name= expect.
void write_legacy_name(HeaderWriter& writer, std::string_view value);

// Body encoders; the output has no trailing line break of its own beyond what the content had,
// except that quoted-printable ends in a soft line break "=" CRLF when `soft_break_at_end` (a
// message body must end in CRLF; the decoded text does not get one), within the 76 characters.
void append_quoted_printable(std::string& out, std::string_view crlf_text,
                             bool soft_break_at_end = false);        // RFC 2045 6.7
void append_base64_lines(std::string& out, std::string_view bytes);  // RFC 2045 6.8
// LF or CR alone → CRLF (RFC 5322 2.3, RFC 2046 4.1.1).
std::string normalize_line_ends(std::string_view text);

}  // namespace mime::build_detail
