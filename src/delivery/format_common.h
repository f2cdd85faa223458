// What the Postmark and Mailgun renderers (format_postmark.cpp, format_mailgun.cpp) share: the
// message read once (bodies, stripped reply, envelope sender, attachments), the one length cap
// that keeps their text within the pool of formats.h's bound, and small string helpers.
// Internal to src/delivery.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/payload.h"
#include "delivery/reply_text.h"
#include "mime/message.h"

namespace delivery::formats {

// The text pool of max_format_size (formats.h): 3 × the message + this.
constexpr size_t kTextSlack = 1 << 20;

struct Source {
  std::string_view id, raw;
  mime::Message parsed;
  std::string mail_from;   // the envelope's MAIL FROM ("" for the null sender)
  std::string text, html;  // the decoded main bodies, "" when absent
  bool has_text = false, has_html = false;
  bool has_reply = false;        // extraction ran (RenderOptions::extract_reply and a body)
  Reply reply;                   // from the text body, else from the HTML body's text
  std::string stripped_html;     // the HTML body without its quoted history (when wanted)
  std::vector<int> attachments;  // indices into parsed.parts, in document order
  std::vector<int> by_link;      // attachments sent as links to fit max_payload_bytes (sorted)

  const std::vector<mime::Header>& top() const;
  // The first top-level field of this name (case-insensitive), "" when none.
  std::string_view header(std::string_view name) const;
};

// Parses and decodes `message`; `stripped_html`: also extract the HTML body's reply.
Source read_source(const InboundView& message, const RenderOptions& options, bool stripped_html);

// endpoints[].max_payload_bytes (with api.links set): the largest attachments go by link until
// the estimated document fits. `text_bytes`: what the format's text takes (its costs, capped);
// `base64`: whether attachments are carried in base64.
void plan_links(Source& source, const RenderOptions& options, size_t text_bytes, bool base64);

// One attachment as a format carries it: its decoded bytes, or none with `omitted` (above
// max_attachment_bytes, above url_threshold with attachments: url, or in source.by_link) and a
// signed link when api.links is set.
struct Carried {
  std::string bytes;
  uint64_t size = 0;  // decoded size, also when omitted
  bool omitted = false;
  std::string url;
};
Carried carry(const Source& source, int index, const RenderOptions& options);

// A length cap for strings made from the message: each is cut (at a character boundary) to what
// takes at most `cap` bytes as written (JSON-escaped, or as is).
class Cap {
 public:
  Cap(size_t cap, bool json) : cap_(cap), json_(json) {}
  std::string_view operator()(std::string_view s) const;
  size_t cost(std::string_view s) const;
  bool cut_any() const { return cap_ != SIZE_MAX; }

 private:
  size_t cap_;
  bool json_;
};
// The cap that brings `costs` within the pool of a message of `message_size` bytes.
Cap text_cap(const std::vector<size_t>& costs, size_t message_size, bool json);
// The bytes those costs take once capped (at most the pool).
size_t capped_total(const std::vector<size_t>& costs, size_t message_size);

// JSON (RFC 8259 7) string of `s`, quotes included, appended to `out`; invalid UTF-8 becomes
// U+FFFD.
void append_json_string(std::string& out, std::string_view s);
// `s` with invalid UTF-8 sequences replaced (a copy only when needed).
std::string_view valid_text(std::string_view s, std::string& storage);

// The "+hash" of an address's local part (Postmark's MailboxHash), "" when none.
std::string_view mailbox_hash(std::string_view address);
// `"Name" <address>`, or `address` when there is no name (RFC 5322 3.4 quoted display name).
std::string display_address(std::string_view name, std::string_view address);
// The IMAP number of a part ("1" for a non-multipart message's root).
std::string_view part_number(const mime::Part& part);

}  // namespace delivery::formats
