// The send API's request bodies (CONTRACTS.md 2): POST /v1/messages JSON → mime::BuildRequest plus
// its envelope, POST /v1/messages/raw JSON → envelope plus CRLF message bytes. Every problem is
// collected as a FieldError naming the JSON path ("to[1].address", "headers.X-Foo"); no throws.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/reply.h"
#include "mime/build.h"

namespace api {

constexpr size_t kMaxSendRecipients = 1000;  // to + cc + bcc after removing repeats

// A parsed POST /v1/messages body. `message` lacks date_ms and message_id (the handler sets them).
struct SendRequest {
  mime::BuildRequest message;
  std::string mail_from;                        // from.address
  std::vector<std::string> rcpt_to;             // to + cc + bcc, each once (case-insensitive)
  std::map<std::string, std::string> metadata;  // kept as given (strings only)
  size_t content_bytes = 0;                     // text + html + decoded attachments
};

// A parsed POST /v1/messages/raw body.
struct RawSendRequest {
  std::string mail_from;  // "" = the null reverse-path
  std::vector<std::string> rcpt_to;
  std::string data;        // decoded, line ends normalised to CRLF
  std::string message_id;  // the message's Message-ID without < >; "" when it has none
};

// Either the request or the reasons it is not one (each naming its field). "body" names the
// whole document (not JSON, not an object).
template <typename T>
struct Parsed {
  T value;
  std::vector<FieldError> errors;
  bool ok() const { return errors.empty(); }
};

Parsed<SendRequest> parse_send_request(std::string_view body);

// What is wrong with a batch document as a whole (not JSON, no `messages` array, too many
// items): each error names its field ("body", "messages"); too_many = more than max_items.
struct BatchProblem {
  std::vector<FieldError> errors;
  bool too_many = false;
};
// POST /v1/messages/batch: {"messages": [send request, ...]}, 1 to max_items items, each parsed
// like parse_send_request's body with its errors under "messages[i]."
// ("messages[3].to[0].address"); an item that is not an object is the error "messages[i]". Empty
// when `problem` has errors.
std::vector<Parsed<SendRequest>> parse_send_batch(std::string_view body, size_t max_items,
                                                  BatchProblem& problem);
Parsed<RawSendRequest> parse_raw_send_request(std::string_view body);

// The grammar pieces (send_syntax.cpp).
// RFC 5322 2.1.1: a line is at most 998 octets, CRLF excluded (RFC 5321 4.5.3.1.6: 1000 with it).
inline constexpr size_t kMaxLineOctets = 998;
// The longest line of CRLF-separated text, CRLF excluded.
size_t longest_line(std::string_view crlf_text);
// RFC 5322 3.6.8 field-name: 1*ftext, ftext = %d33-57 / %d59-126.
bool valid_field_name(std::string_view name);
// Fields the builder writes itself, or that have a field of their own in the request: From, To,
// Cc, Bcc, Date, Message-ID, MIME-Version, Content-* (CONTRACTS.md 2), and Subject, Reply-To
// (RFC 5322 3.6 allows each once). Case-insensitive.
bool reserved_field_name(std::string_view name);

// RFC 2045 5.1 type "/" subtype (tokens), no parameters.
bool valid_content_type(std::string_view text);
// What may stand between < and > of a Content-ID (RFC 2045 7, RFC 5322 3.6.4 msg-id): ASCII
// atext, "." and "@", 1 to 250 characters.
bool valid_content_id(std::string_view text);

// "a@b" → "a@b", "Name <a@b>" / "\"Name\" <a@b>" → {Name, a@b}; nothing is validated here.
mime::Mailbox split_mailbox(std::string_view text);
// The Message-ID of a message's header section (RFC 5322 3.6.4), without < >; "" when none.
std::string find_message_id(std::string_view data);
// Bare LF and bare CR become CRLF (RFC 5322 2.3: CR and LF only together).
std::string normalise_line_ends(std::string_view data);

}  // namespace api
