// mime::parse_dsn: a delivery status notification (RFC 3464, and RFC 6533's message/global-
// delivery-status) → its per-message and per-recipient fields, for the bounce consumer
// (delivery/bounces.h). Pure and bounded like mime::parse: untrusted bytes from port 25.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mime {

// One per-recipient field group (RFC 3464 2.3). Values unfolded, comments kept as written,
// every string valid UTF-8 (bytes that are not are replaced, as mime::parse does).
struct DsnRecipient {
  std::string final_recipient;     // 2.3.2 the address, its "rfc822;" type dropped; "" = none
  std::string original_recipient;  // 2.3.1 likewise (xtext/utf-8 decoded as RFC 6533 says)
  std::string action;              // 2.3.3 lower-case: failed | delayed | delivered | relayed |
                                   // expanded ("" when missing or another word)
  std::string status;              // 2.3.4 "5.1.1" (only the x.y.z, comment dropped); "" = none
  std::string remote_mta;          // 2.3.5 as written ("dns; mx.example.net"); "" = none
  std::string diagnostic_code;     // 2.3.6 as written ("smtp; 550 5.1.1 ..."); "" = none
  int diagnostic_smtp_code = 0;    // 550 when the diagnostic is "smtp; 550 ..."; else 0
  std::string last_attempt_date;   // 2.3.7 as written; "" = none
  std::string will_retry_until;    // 2.3.9 as written; "" = none
};

struct Dsn {
  std::string reporting_mta;             // 2.2.2 as written ("dns; mail.example.com"); "" = none
  std::string arrival_date;              // 2.2.5; "" = none
  std::string envelope_id;               // 2.2.1 Original-Envelope-Id; "" = none
  std::vector<DsnRecipient> recipients;  // in order; at most 1000 (the rest ignored)
  // From the returned message or its headers (text/rfc822-headers, message/rfc822, or
  // message/global-headers): its Message-ID without < >; "" = none.
  std::string original_message_id;
};

// nullopt unless the message is a multipart/report with report-type=delivery-status (or
// global-delivery-status), at the top or as the first multipart/report in the tree, whose
// delivery-status part has at least one per-recipient group with a Final-Recipient or an
// Original-Recipient. Linear in the input; never throws.
std::optional<Dsn> parse_dsn(std::string_view message);

}  // namespace mime
