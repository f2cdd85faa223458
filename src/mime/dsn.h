// mime::parse_dsn: a delivery status notification (RFC 3464, and RFC 6533's message/global-
// delivery-status) → its per-message and per-recipient fields, for the bounce consumer
// (delivery/bounces.h). Pure and bounded like mime::parse: untrusted bytes from port 25.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mime {

// Bounds of one parse (issue 14: untrusted bytes, linear time). A field value (unfolded) keeps at
// most kDsnMaxFieldValue bytes: 8 lines of RFC 5322's 998, room for a multi-line SMTP reply in a
// Diagnostic-Code; the rest is cut at a character boundary. At most kDsnMaxRecipients recipients
// are kept: the scan of the delivery-status body stops there.
inline constexpr size_t kDsnMaxFieldValue = 8 * 998;
inline constexpr size_t kDsnMaxRecipients = 1000;

// One per-recipient field group (RFC 3464 2.3). Values unfolded, comments kept as written,
// every string valid UTF-8 (bytes that are not are replaced, as mime::parse does).
struct DsnRecipient {
  std::string final_recipient;       // 2.3.2 the address, its "rfc822;" type dropped; "" = none
                                     // (trimmed, < > removed; "utf-8" type: \x{HHHH} decoded)
  std::string original_recipient;    // 2.3.1 likewise (xtext/utf-8 decoded as RFC 6533 says)
  std::string final_recipient_type;  // its address type, lower-case: "rfc822", "utf-8", "x400"...
                                     // ("" when the field has no "type;")
  std::string action;                // 2.3.3 lower-case: failed | delayed | delivered | relayed |
                                     // expanded ("" when missing or another word)
  std::string status;                // 2.3.4 "5.1.1" (only the x.y.z, comment dropped); "" = none
  std::string remote_mta;            // 2.3.5 as written ("dns; mx.example.net"); "" = none
  std::string diagnostic_code;       // 2.3.6 as written ("smtp; 550 5.1.1 ..."); "" = none
  int diagnostic_smtp_code = 0;      // 550 when the diagnostic is "smtp; 550 ..."; else 0
  std::string last_attempt_date;     // 2.3.7 as written; "" = none
  std::string will_retry_until;      // 2.3.9 as written; "" = none
};

struct Dsn {
  std::string reporting_mta;             // 2.2.2 as written ("dns; mail.example.com"); "" = none
  std::string arrival_date;              // 2.2.5; "" = none
  std::string envelope_id;               // 2.2.1 Original-Envelope-Id; "" = none
  std::vector<DsnRecipient> recipients;  // in order; at most 1000 (the rest ignored); only the
                                         // groups naming a Final- or Original-Recipient
  // From the returned message or its headers (text/rfc822-headers, message/rfc822, or
  // message/global-headers): its Message-ID without < >; "" = none.
  std::string original_message_id;
};

// nullopt unless the message is a multipart/report with report-type=delivery-status (or
// global-delivery-status), at the top or as the first multipart/report in the tree, whose
// delivery-status part has at least one per-recipient group with a Final-Recipient or an
// Original-Recipient. Linear in the input; never throws.
// A multipart/report inside an attached message (message/rfc822: a forwarded bounce) is not one.
// The delivery-status part is the report's first message/delivery-status or
// message/global-delivery-status child, whatever its place; its transfer encoding is removed.
// Lenient where generators differ: lines end in CRLF or LF, a line of white space only ends a
// group like an empty one, runs of empty lines make no empty groups, a first group that names a
// recipient (no per-message group, or no blank line at all) is also that recipient's group, a
// field repeated in a group keeps its first value, and lines that are not fields are skipped.
std::optional<Dsn> parse_dsn(std::string_view message);

}  // namespace mime
