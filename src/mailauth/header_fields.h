// The top-level header section of a stored message, split into fields without copying (RFC 5322
// 2.2), for the checks that must see the fields exactly as received: DKIM (which fields reach
// libopendkim) and DMARC (the RFC5322.From field). Also the DKIM tag=value list (RFC 6376 3.2).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailauth {

struct HeaderField {
  std::string_view name;   // as written, without the colon and trailing white space
  std::string_view value;  // after the colon, folded as received, without the final CRLF
  std::string_view raw;    // the whole field with its final line ending
};

// Reads the header section of `message` field by field, up to the first empty line (CRLF or bare
// LF endings), without storing them: a message may hold millions of tiny fields. A line that is
// neither a field nor a continuation is returned as a field with an empty name.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view message) : message_(message) {}
  std::optional<HeaderField> next();  // nullopt at the end of the header section
  // After next() returned nullopt: where the empty line (or the end of the message) is, and the
  // first byte after it.
  size_t header_end() const { return header_end_; }
  size_t body_offset() const { return body_offset_; }

 private:
  std::string_view message_;
  size_t pos_ = 0;
  size_t header_end_ = 0, body_offset_ = 0;
  bool done_ = false;
};

bool iequals(std::string_view a, std::string_view b);
// `text` in ASCII lower case (DNS names compare case-insensitively, RFC 4343).
std::string lower(std::string_view text);

// `value` with every CRLF / LF removed (RFC 5322 2.2.3 unfolding).
std::string unfold(std::string_view value);

// `text` with every byte outside printable ASCII replaced by '?': the sender's bytes in a verdict
// (DKIM's tags are ASCII by their grammar, RFC 6376 3.5), safe in JSON and in a header comment.
std::string ascii_text(std::string_view text);

// An address-list field's value (RFC 5322 3.4) cut at its top-level commas (not inside quoted
// strings, comments or angle brackets), a group's "name:" and ";" dropped; each piece is one
// address for libopendkim's dkim_mail_parse. Empty pieces are left out.
std::vector<std::string> split_address_list(std::string_view value);

// The domain of one address ("Name <user@domain>", comments, quoted local parts), read by
// libopendkim's RFC 5322 address parser (dkim_mail_parse); "" when it has none.
std::string address_domain(const std::string& address);

// A DKIM tag-list (RFC 6376 3.2): tag names and values with the surrounding white space removed
// (values keep inner folding white space); nullopt when it does not parse (a tag without '=',
// an empty or repeated tag name).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_tag_list(
    std::string_view text);

}  // namespace mailauth
