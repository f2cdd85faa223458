// mime::parse: RFC 5322 + MIME bytes → a Message (a flat table of parts with offsets into the
// one raw buffer, Stalwart-style). Pure (no I/O), lenient: malformed input never throws, what
// was repaired is recorded in `defects`. Every string it returns is valid UTF-8.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mime {

// Caps on what one message can make the parser build (issue 11: memory proportional to the input
// with a small constant). Each one exceeded is a defect (the word after →); no body byte is
// dropped: what is beyond a cap stays in the raw bytes (and the last part's body).
struct Limits {
  size_t max_depth = 50;            // multipart / message/rfc822 nesting; deeper → one leaf
                                    // (max_depth_exceeded)
  size_t max_parts = 1000;          // parts in the table; more → the rest stays in the last body
                                    // (too_many_parts)
  size_t max_header_fields = 2000;  // per part (too_many_header_fields)
  size_t max_message_header_fields = 10000;  // all parts together (too_many_header_fields)
  size_t max_addresses = 1000;  // per summary list: From, To, Cc, Bcc, Reply-To, repeats joined
                                // (too_many_addresses); In-Reply-To, References
                                // (too_many_message_ids)
  size_t max_header_tokens = 10000;  // address tokens, parameter sections per field
                                     // (too_many_tokens)
  size_t max_parameters = 32;        // Content-Type / -Disposition parameters (too_many_parameters)
  size_t max_encoded_words = 1000;   // RFC 2047 words decoded per value; the rest stays as
                                     // written (too_many_encoded_words)
  // Decoded text of one field (value, name, parameters, summaries made from it): at most
  // header_expansion × its raw size + 256 bytes (2: Latin-1 and Cyrillic bytes are 2 UTF-8 bytes;
  // glibc's TSCII makes 12 of one); of the whole message: at most its size + text_allowance.
  // Beyond, a string is cut at a character boundary (header_text_truncated). Control characters
  // are kept (bridge.v1 counts their JSON escapes).
  size_t header_expansion = 2;
  size_t text_allowance = 4 << 20;
};

// One header field: the name as written, the value unfolded (CRLF WSP → WSP), RFC 2047 decoded
// and converted to UTF-8.
struct Header {
  std::string name;
  std::string value;
};

struct Address {
  std::string name;     // display name, decoded, UTF-8; "" when none
  std::string address;  // addr-spec as written (quoted local parts unquoted); "" when none
  std::string group;    // the RFC 5322 group it was listed in, "" when none
};

struct Part {
  std::string number;         // IMAP part number (RFC 3501 6.4.5): "" for the root, "1", "2.1", ...
  int parent = -1;            // index into Message::parts; -1 for the root
  std::vector<int> children;  // multipart: its body parts; message/rfc822: the one embedded message
  int depth = 0;

  std::string content_type = "text/plain";  // "type/subtype", lower-case; default per RFC 2045 5.2
                                            // ("message/rfc822" inside multipart/digest)
  std::map<std::string, std::string> params;  // Content-Type parameters, lower-case names,
                                              // RFC 2231 continuations joined and decoded
  std::string charset;                        // declared charset, lower-case; "" when none
  std::string transfer_encoding = "7bit";     // lower-case
  std::string disposition;  // "inline", "attachment", other as written lower-case, or ""
  std::string filename;     // Content-Disposition filename or Content-Type name, decoded
  std::string content_id;   // without < >
  std::string description;
  std::vector<Header> headers;  // this part's own header fields, in order, repeats kept

  // Byte offsets into the raw message.
  size_t begin = 0;       // first byte of the part's header
  size_t body_begin = 0;  // first byte after the blank line ending the header
  size_t end = 0;         // one past the body's last byte (before the CRLF of the next boundary)
  // multipart only
  std::string boundary;
  size_t preamble_begin = 0, preamble_end = 0;
  size_t epilogue_begin = 0, epilogue_end = 0;

  bool is_multipart() const { return content_type.rfind("multipart/", 0) == 0; }
  bool is_message() const {
    return content_type == "message/rfc822" || content_type == "message/global";
  }
  size_t body_size() const { return end - body_begin; }
};

struct Message {
  std::vector<Part> parts;  // parts[0] is the message itself (its header is the top header)

  // Summaries of the top-level header (parts[0].headers), decoded.
  std::string subject;
  std::vector<Address> from, to, cc, bcc, reply_to;
  std::optional<Address> sender;
  std::optional<std::string> date;  // RFC 3339 ("2025-11-27T00:00:00Z" / "+01:00" offsets kept)
  std::string message_id;           // without < >
  std::vector<std::string> in_reply_to, references;

  // The main bodies (CONTRACTS.md 1): the text/plain and text/html alternatives of the first
  // body part, not attachments; -1 when absent.
  int text_part = -1;
  int html_part = -1;
  // Every leaf part that is not a main body (inline ones with a content id included). An
  // attached message/rfc822 part counts as one attachment (the whole embedded message); its
  // own parts are not listed again.
  std::vector<int> attachments;

  std::vector<std::string> defects;  // short stable words: "missing_closing_boundary", ...
};

Message parse(std::string_view raw, const Limits& limits = {});

// The body bytes of a leaf part with its Content-Transfer-Encoding removed (base64 and
// quoted-printable survive bad input; defects appended). Unknown encodings: bytes as they are,
// and so is a body declared base64 that is plainly text (white space between words at least once
// per 16 bytes, which no encoder writes: defect "base64_not_encoded").
std::string decode_body(std::string_view raw, const Part& part,
                        std::vector<std::string>* defects = nullptr);
// Text bytes → UTF-8. `charset` is a label as the WHATWG Encoding Standard reads it
// ("iso-8859-1", "latin1" and "us-ascii" are windows-1252: 0x80 is €); a byte order mark wins;
// bytes that show the label wrong (valid UTF-8 with 8-bit bytes; over a quarter of the 8-bit
// bytes invalid in it) are read as UTF-8 or as the detected charset (defect
// "charset_mismatch"). Without a usable label (none, or unknown: defect "unknown_charset"):
// UTF-8 when valid, else uchardet's guess over the first 64 KiB (when it holds 8 bytes >= 0x80
// or more) if the bytes are valid in it (defect "charset_detected"), else windows-1252. Bytes
// invalid in the charset applied become U+FFFD ("invalid_charset_bytes", "invalid_utf8").
// `*charset_used` receives the WHATWG name of the encoding applied, lower-case ("windows-1252",
// "big5", "utf-8"; a label glibc knows but WHATWG does not, such as "utf-7", as written).
std::string to_utf8(std::string_view bytes, std::string_view charset,
                    std::vector<std::string>* defects = nullptr,
                    std::string* charset_used = nullptr);
// A text part's content: decode_body then to_utf8 with the part's charset; a text/html part
// without a usable charset first takes its own <meta charset> (first 1024 bytes, WHATWG prescan).
// The conversion stops before the text would pass `max_size` bytes (`*cut` set, the text cut at
// a character boundary): a charset can turn one byte into up to 12 (glibc's TSCII).
std::string decode_text(std::string_view raw, const Part& part,
                        std::vector<std::string>* defects = nullptr, size_t max_size = SIZE_MAX,
                        bool* cut = nullptr, std::string* charset_used = nullptr);
// For strings from elsewhere: whether `bytes` is valid UTF-8 (RFC 3629), and `bytes` with every
// invalid sequence replaced by U+FFFD.
bool is_valid_utf8(std::string_view bytes);
std::string valid_utf8(std::string_view bytes);

// Header grammars, each usable alone (tested against the corpora's single-header cases).
std::string decode_unstructured(std::string_view value);  // RFC 2047 encoded words, unfolding
std::vector<Address> parse_address_list(std::string_view value);  // RFC 5322 3.4, groups, obsolete
std::optional<std::string> parse_date(std::string_view value);    // RFC 5322 3.3 → RFC 3339
std::vector<std::string> parse_message_ids(std::string_view value);  // RFC 5322 3.6.4, no < >
struct ContentType {
  std::string type, subtype;                  // lower-case UTF-8; empty when unparseable
  std::map<std::string, std::string> params;  // RFC 2045 + RFC 2231 (continuations, charset)
};
ContentType parse_content_type(std::string_view value);

}  // namespace mime
