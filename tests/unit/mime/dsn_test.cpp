// mime::parse_dsn (issue 14, bounces): delivery status notifications written by hand from the
// rules of RFC 3464 (its appendix's kinds: simple, multi-recipient, gateway, delayed), RFC 6522
// and RFC 6533, the shapes Postfix writes, what is not a DSN, and hostile bodies that must stay
// bounded (dsn.h: kDsnMaxFieldValue, kDsnMaxRecipients).
#include "mime/dsn.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mime/message.h"

namespace {

using mime::parse_dsn;

// "\n" → "\r\n": the messages are written with LF here and sent with CRLF, as on the wire.
std::string crlf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// A DSN as RFC 6522 lays it out: human-readable part, the status part, the returned header.
struct Report {
  std::string report_type = "delivery-status";
  std::string status_type = "message/delivery-status";
  std::string status_headers;  // extra header lines of the status part ("Name: value\n")
  std::string status_body;
  std::string returned =
      "Content-Type: text/rfc822-headers\n\n"
      "From: app@example.com\nTo: x@example.net\nMessage-ID: <m1.abc@bridge.example.com>\n"
      "Subject: hello\n";

  std::string build() const {
    return crlf(
        "From: MAILER-DAEMON@mx.example.com\nTo: bounce+m1@bridge.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=" +
        report_type +
        "; boundary=\"b1\"\n\n"
        "--b1\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--b1\nContent-Type: " +
        status_type + "\n" + status_headers + "\n" + status_body + "\n--b1\n" + returned +
        "\n--b1--\n");
  }
};

constexpr auto kBudget = std::chrono::seconds(5);  // milliseconds in RelWithDebInfo; ASan x3

std::optional<mime::Dsn> timed_parse(const std::string& raw) {
  auto start = std::chrono::steady_clock::now();
  auto dsn = parse_dsn(raw);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kBudget);
  return dsn;
}

// RFC 3464 appendix kind 1: one recipient, a timed-out SMTP session.
TEST(Dsn, rfc3464_simple) {
  Report r;
  r.status_body =
      "Reporting-MTA: dns; relay.example.edu\n\n"
      "Original-Recipient: rfc822;louis@slip.example.edu\n"
      "Final-Recipient: rfc822;louis@slip.example.edu\n"
      "Action: failed\nStatus: 4.0.0\n"
      "Diagnostic-Code: smtp; 426 connection timed out\n"
      "Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->reporting_mta, "dns; relay.example.edu");
  ASSERT_EQ(dsn->recipients.size(), 1u);
  const auto& x = dsn->recipients[0];
  EXPECT_EQ(x.final_recipient, "louis@slip.example.edu");
  EXPECT_EQ(x.final_recipient_type, "rfc822");
  EXPECT_EQ(x.original_recipient, "louis@slip.example.edu");
  EXPECT_EQ(x.action, "failed");
  EXPECT_EQ(x.status, "4.0.0");
  EXPECT_EQ(x.diagnostic_code, "smtp; 426 connection timed out");
  EXPECT_EQ(x.diagnostic_smtp_code, 426);
  EXPECT_EQ(x.last_attempt_date, "Thu, 7 Jul 1994 17:15:49 -0400");
  EXPECT_EQ(x.remote_mta, "");
  EXPECT_EQ(dsn->original_message_id, "m1.abc@bridge.example.com");
}

// RFC 3464 appendix kind 2: one report, several recipients with different outcomes, in order.
TEST(Dsn, rfc3464_multiple_recipients_in_order) {
  Report r;
  r.status_body =
      "Reporting-MTA: dns; relay.example.edu\nArrival-Date: Thu, 7 Jul 1994 17:00:00 -0400\n"
      "Original-Envelope-Id: env-42\n\n"
      "Final-Recipient: rfc822; a@one.example\nAction: failed\nStatus: 5.0.0\n"
      "Diagnostic-Code: smtp; 550 user unknown\nRemote-MTA: dns; mx.one.example\n\n"
      "Final-Recipient: rfc822; b@two.example\nAction: failed\nStatus: 4.0.0\n"
      "Diagnostic-Code: smtp; 426 connection timed out\n\n"
      "Final-Recipient: rfc822; c@three.example\nAction: delayed\nStatus: 4.0.0\n"
      "Will-Retry-Until: Fri, 8 Jul 1994 17:00:00 -0400\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->arrival_date, "Thu, 7 Jul 1994 17:00:00 -0400");
  EXPECT_EQ(dsn->envelope_id, "env-42");
  ASSERT_EQ(dsn->recipients.size(), 3u);
  EXPECT_EQ(dsn->recipients[0].final_recipient, "a@one.example");
  EXPECT_EQ(dsn->recipients[0].status, "5.0.0");
  EXPECT_EQ(dsn->recipients[0].diagnostic_smtp_code, 550);
  EXPECT_EQ(dsn->recipients[0].remote_mta, "dns; mx.one.example");
  EXPECT_EQ(dsn->recipients[1].final_recipient, "b@two.example");
  EXPECT_EQ(dsn->recipients[1].diagnostic_smtp_code, 426);
  EXPECT_EQ(dsn->recipients[2].final_recipient, "c@three.example");
  EXPECT_EQ(dsn->recipients[2].action, "delayed");
  EXPECT_EQ(dsn->recipients[2].will_retry_until, "Fri, 8 Jul 1994 17:00:00 -0400");
  EXPECT_EQ(dsn->recipients[2].diagnostic_smtp_code, 0);
}

// RFC 3464 appendix kind 3: a gateway's report, a non-Internet address type and a status with
// its comment (dropped from status only).
TEST(Dsn, rfc3464_gateway_unknown_type_and_status_comment) {
  Report r;
  r.status_body =
      "Reporting-MTA: mailbus; SYS30\n\n"
      "Final-Recipient: unknown; nair_s\nStatus: 5.0.0 (unknown permanent failure)\n"
      "Action: failed (gateway)\nDiagnostic-Code: x-mailbus; 114 (no such user)\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->reporting_mta, "mailbus; SYS30");
  ASSERT_EQ(dsn->recipients.size(), 1u);
  EXPECT_EQ(dsn->recipients[0].final_recipient, "nair_s");
  EXPECT_EQ(dsn->recipients[0].final_recipient_type, "unknown");
  EXPECT_EQ(dsn->recipients[0].status, "5.0.0");
  EXPECT_EQ(dsn->recipients[0].action, "failed");
  EXPECT_EQ(dsn->recipients[0].diagnostic_code, "x-mailbus; 114 (no such user)");
  EXPECT_EQ(dsn->recipients[0].diagnostic_smtp_code, 0);
}

// RFC 3464 appendix kind 4 and the delayed DSN the bounce consumer sees most: 4.4.1, no answer.
TEST(Dsn, delayed_with_will_retry_until) {
  Report r;
  r.status_body =
      "Reporting-MTA: dns; relay.example.org\n\n"
      "Final-Recipient: rfc822;thomas@slow.example\nAction: delayed\n"
      "Status: 4.4.1 (no answer from host)\nRemote-MTA: dns; mx.slow.example\n"
      "Diagnostic-Code: smtp; 421 4.4.1 connect timed out\n"
      "Last-Attempt-Date: Mon, 7 Dec 2026 10:00:00 +0000\n"
      "Will-Retry-Until: Fri, 11 Dec 2026 10:00:00 +0000\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  ASSERT_EQ(dsn->recipients.size(), 1u);
  const auto& x = dsn->recipients[0];
  EXPECT_EQ(x.action, "delayed");
  EXPECT_EQ(x.status, "4.4.1");
  EXPECT_EQ(x.diagnostic_smtp_code, 421);
  EXPECT_EQ(x.will_retry_until, "Fri, 11 Dec 2026 10:00:00 +0000");
  EXPECT_EQ(x.last_attempt_date, "Mon, 7 Dec 2026 10:00:00 +0000");
}

// What Postfix's bounce daemon writes for a recipient the remote server rejected.
TEST(Dsn, postfix_rejected_recipient) {
  Report r;
  r.status_body =
      "Reporting-MTA: dns; mail.example.com\nX-Postfix-Queue-ID: 4Bx1Yz2kQpz9sWd\n"
      "X-Postfix-Sender: rfc822; bounce+m1@bridge.example.com\n"
      "Arrival-Date: Mon,  7 Dec 2026 23:40:01 +0000 (UTC)\n\n"
      "Final-Recipient: rfc822; x@y.example\nOriginal-Recipient: rfc822;x@y.example\n"
      "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.y.example\n"
      "Diagnostic-Code: smtp; 550 5.1.1 <x@y.example>: Recipient address rejected: User unknown\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->reporting_mta, "dns; mail.example.com");
  EXPECT_EQ(dsn->arrival_date, "Mon,  7 Dec 2026 23:40:01 +0000 (UTC)");  // comment kept
  ASSERT_EQ(dsn->recipients.size(), 1u);
  const auto& x = dsn->recipients[0];
  EXPECT_EQ(x.final_recipient, "x@y.example");
  EXPECT_EQ(x.original_recipient, "x@y.example");
  EXPECT_EQ(x.action, "failed");
  EXPECT_EQ(x.status, "5.1.1");
  EXPECT_EQ(x.remote_mta, "dns; mx.y.example");
  EXPECT_EQ(x.diagnostic_code,
            "smtp; 550 5.1.1 <x@y.example>: Recipient address rejected: User unknown");
  EXPECT_EQ(x.diagnostic_smtp_code, 550);
  EXPECT_EQ(dsn->original_message_id, "m1.abc@bridge.example.com");
}

TEST(Dsn, base64_status_part) {
  // "Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; b64@example.net\r\n"
  // "Action: failed\r\nStatus: 5.2.2\r\n" (base64 -w 60)
  Report r;
  r.status_headers = "Content-Transfer-Encoding: base64\n";
  r.status_body =
      "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlDQoNCkZpbmFsLVJlY2lw\n"
      "aWVudDogcmZjODIyOyBiNjRAZXhhbXBsZS5uZXQNCkFjdGlvbjogZmFpbGVk\n"
      "DQpTdGF0dXM6IDUuMi4yDQo=\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->reporting_mta, "dns; mx.example");
  ASSERT_EQ(dsn->recipients.size(), 1u);
  EXPECT_EQ(dsn->recipients[0].final_recipient, "b64@example.net");
  EXPECT_EQ(dsn->recipients[0].status, "5.2.2");
}

TEST(Dsn, quoted_printable_status_part) {
  Report r;
  r.status_headers = "Content-Transfer-Encoding: quoted-printable\n";
  r.status_body =
      "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; q=3Dp@example.net\n"
      "Action: failed\nStatus: 5.1.=\n1\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  ASSERT_EQ(dsn->recipients.size(), 1u);
  EXPECT_EQ(dsn->recipients[0].final_recipient, "q=p@example.net");
  EXPECT_EQ(dsn->recipients[0].status, "5.1.1");
}

// RFC 6533: message/global-delivery-status holds UTF-8 fields; the utf-8 address type may
// escape characters as \x{HHHH}; the returned header is message/global-headers.
TEST(Dsn, global_delivery_status_utf8_addresses) {
  Report r;
  r.report_type = "global-delivery-status";
  r.status_type = "message/global-delivery-status";
  r.status_body =
      "Reporting-MTA: dns; mx.example\n\n"
      "Final-Recipient: utf-8; j\xC3\xB6rg@b\xC3\xBC"
      "cher.example\n"
      "Original-Recipient: utf-8; j\\x{F6}rg@b\\x{FC}cher.example\n"
      "Action: failed\nStatus: 5.1.1\n";
  r.returned =
      "Content-Type: message/global-headers\n\n"
      "From: app@example.com\nSubject: gr\xC3\xBC\xC3\x9F\x65\nMessage-ID: <g1@bridge.example>\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  ASSERT_EQ(dsn->recipients.size(), 1u);
  EXPECT_EQ(dsn->recipients[0].final_recipient,
            "j\xC3\xB6rg@b\xC3\xBC"
            "cher.example");
  EXPECT_EQ(dsn->recipients[0].final_recipient_type, "utf-8");
  EXPECT_EQ(dsn->recipients[0].original_recipient, dsn->recipients[0].final_recipient);
  EXPECT_EQ(dsn->original_message_id, "g1@bridge.example");
}

// RFC 3461 4: Original-Recipient from ORCPT is xtext ("+2B" is '+'); a plain address with a '+'
// tag is not xtext and stays as written; bytes that are not UTF-8 become U+FFFD.
TEST(Dsn, original_recipient_xtext_and_invalid_bytes) {
  Report r;
  r.status_body =
      "Reporting-MTA: dns; mx.example\n\n"
      "Final-Recipient: rfc822; <a+b@example.net>\nOriginal-Recipient: rfc822; a+2Bb@example.net\n"
      "Action: failed\nStatus: 5.1.1\n\n"
      "Final-Recipient: rfc822; user+tag@example.net\n"
      "Original-Recipient: rfc822; user+tag@example.net\nAction: failed\n"
      "Status: 5.1.1\nRemote-MTA: dns; mx\xFF.example\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  ASSERT_EQ(dsn->recipients.size(), 2u);
  EXPECT_EQ(dsn->recipients[0].final_recipient, "a+b@example.net");
  EXPECT_EQ(dsn->recipients[0].original_recipient, "a+b@example.net");
  EXPECT_EQ(dsn->recipients[1].original_recipient, "user+tag@example.net");
  EXPECT_EQ(dsn->recipients[1].remote_mta, "dns; mx\xEF\xBF\xBD.example");
}

// RFC 3464 2.1 / RFC 5322 2.2.3: fields fold; names are case-insensitive; LF-only line ends.
TEST(Dsn, folded_fields_any_case_and_bare_lf) {
  Report r;
  r.status_body =
      "reporting-mta: dns;\n  mx.example\n\n"
      "FINAL-RECIPIENT: rfc822;\n\tfold@example.net\nACTION: Failed\n"
      "status: 5.7.1\n  (delivery not authorized)\n"
      "Diagnostic-Code: smtp; 550-5.7.1 first line\n 550 5.7.1 second line\n";
  std::string raw = r.build();
  std::string lf;
  for (char c : raw)
    if (c != '\r') lf += c;
  for (const std::string& message : {raw, lf}) {
    auto dsn = parse_dsn(message);
    ASSERT_TRUE(dsn);
    EXPECT_EQ(dsn->reporting_mta, "dns;  mx.example");
    ASSERT_EQ(dsn->recipients.size(), 1u);
    const auto& x = dsn->recipients[0];
    EXPECT_EQ(x.final_recipient, "fold@example.net");
    EXPECT_EQ(x.action, "failed");
    EXPECT_EQ(x.status, "5.7.1");
    EXPECT_EQ(x.diagnostic_code, "smtp; 550-5.7.1 first line 550 5.7.1 second line");
    EXPECT_EQ(x.diagnostic_smtp_code, 550);
  }
}

// Lenient grouping (dsn.h): white-space-only separators, runs of blank lines, repeats keep the
// first value, a first group naming a recipient, lines that are not fields.
TEST(Dsn, lenient_grouping) {
  Report r;
  r.status_body =
      "\n\nReporting-MTA: dns; mx.example\nFinal-Recipient: rfc822; first@example.net\n"
      "Status: 5.1.1\nStatus: 4.0.0\nthis line is no field\nAction: failed\n \t \n"
      "Final-Recipient: rfc822; second@example.net\nAction: bounced\nStatus: 3.1.1\n\n\n\n"
      "Final-Recipient: rfc822; third@example.net\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->reporting_mta, "dns; mx.example");
  ASSERT_EQ(dsn->recipients.size(), 3u);
  EXPECT_EQ(dsn->recipients[0].final_recipient, "first@example.net");
  EXPECT_EQ(dsn->recipients[1].final_recipient, "second@example.net");
  EXPECT_EQ(dsn->recipients[2].final_recipient, "third@example.net");
  EXPECT_EQ(dsn->recipients[0].status, "5.1.1");
  EXPECT_EQ(dsn->recipients[0].action, "failed");
  EXPECT_EQ(dsn->recipients[1].action, "");  // not one of RFC 3464's five words
  EXPECT_EQ(dsn->recipients[1].status, "");  // class 3 does not exist (RFC 3463 3.1)
}

TEST(Dsn, status_and_diagnostic_validation) {
  const std::pair<std::string, std::string> statuses[] = {{"5.1.1", "5.1.1"},
                                                          {" 4.4.7 (expired)", "4.4.7"},
                                                          {"5.1.1(no such user)", "5.1.1"},
                                                          {"(old code) 5.2.2", "5.2.2"},
                                                          {"2.0.0", "2.0.0"},
                                                          {"5.1", ""},
                                                          {"5.1.1.1", ""},
                                                          {"6.1.1", ""},
                                                          {"5.1000.1", ""},
                                                          {"5.a.1", ""},
                                                          {"(5.1.1)", ""}};
  for (const auto& [written, expected] : statuses) {
    Report r;
    r.status_body = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@b\nStatus: " + written +
                    "\nDiagnostic-Code: SMTP; 554\n";
    auto dsn = parse_dsn(r.build());
    ASSERT_TRUE(dsn) << written;
    EXPECT_EQ(dsn->recipients[0].status, expected) << written;
    EXPECT_EQ(dsn->recipients[0].diagnostic_smtp_code, 554);
  }
  const std::pair<std::string, int> codes[] = {{"smtp;550 no", 550},
                                               {"smtp (x); 421-busy", 421},
                                               {"X-Postfix; host said 550", 0},
                                               {"smtp; 5500", 0},
                                               {"x-unix; 550 local error", 0},
                                               {"smtp; 150 odd", 0},
                                               {"smtp; 55", 0},
                                               {"smtp 550 x", 0},
                                               {"smtp; abc", 0}};
  for (const auto& [written, expected] : codes) {
    Report r;
    r.status_body = "Final-Recipient: rfc822; a@b\nDiagnostic-Code: " + written + "\n";
    auto dsn = parse_dsn(r.build());
    ASSERT_TRUE(dsn) << written;
    EXPECT_EQ(dsn->recipients[0].diagnostic_smtp_code, expected) << written;
  }
}

// The returned message as message/rfc822 (RFC 3464 2.1's third part) gives the id too.
TEST(Dsn, original_message_id_from_message_rfc822) {
  Report r;
  r.status_body = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@b\nAction: failed\n";
  r.returned =
      "Content-Type: message/rfc822\n\nFrom: app@example.com\n"
      "Message-ID:\n <m2@bridge.example>\nSubject: s\n\nbody\n";
  auto dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->original_message_id, "m2@bridge.example");
  r.returned = "Content-Type: text/rfc822-headers\n\nFrom: app@example.com\n";
  dsn = parse_dsn(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->original_message_id, "");
}

// Some MTAs wrap the report in a multipart/mixed (a footer, a signature).
TEST(Dsn, nested_in_multipart_mixed) {
  Report r;
  r.status_body = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; in@side.example\n";
  std::string inner = r.build();
  std::string report_part = inner.substr(inner.find("Content-Type: multipart/report"));
  std::string raw = crlf(
                        "From: postmaster@example.com\nMIME-Version: 1.0\n"
                        "Content-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\n") +
                    report_part +
                    crlf("\n--outer\nContent-Type: text/plain\n\nfooter\n--outer--\n");
  auto dsn = parse_dsn(raw);
  ASSERT_TRUE(dsn);
  ASSERT_EQ(dsn->recipients.size(), 1u);
  EXPECT_EQ(dsn->recipients[0].final_recipient, "in@side.example");
  EXPECT_EQ(dsn->original_message_id, "m1.abc@bridge.example.com");
}

TEST(Dsn, not_a_dsn) {
  Report mdn;  // RFC 8098 read receipt: a report, not a delivery status
  mdn.report_type = "disposition-notification";
  mdn.status_type = "message/disposition-notification";
  mdn.status_body = "Reporting-UA: mua.example\nFinal-Recipient: rfc822; a@b\n";
  EXPECT_FALSE(parse_dsn(mdn.build()));
  Report mislabeled = mdn;  // the type says so even when the part looks like a DSN
  mislabeled.status_type = "message/delivery-status";
  EXPECT_FALSE(parse_dsn(mislabeled.build()));

  EXPECT_FALSE(
      parse_dsn(crlf("From: a@b\nTo: c@d\nSubject: hi\n\nFinal-Recipient: rfc822; a@b\n"
                     "Action: failed\nStatus: 5.1.1\n")));
  EXPECT_FALSE(parse_dsn(""));

  Report no_recipient;  // a status part naming nobody
  no_recipient.status_body = "Reporting-MTA: dns; mx\n\nAction: failed\nStatus: 5.1.1\n";
  EXPECT_FALSE(parse_dsn(no_recipient.build()));

  Report no_type;
  no_type.status_body = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@b\n";
  std::string raw = no_type.build();
  raw.replace(raw.find("report-type=delivery-status; "), 29, "");
  EXPECT_FALSE(parse_dsn(raw));

  // A bounce forwarded as an attachment is content, not a report to this sender.
  std::string forwarded = crlf(
                              "From: user@example.com\nMIME-Version: 1.0\n"
                              "Content-Type: multipart/mixed; boundary=\"fw\"\n\n--fw\n"
                              "Content-Type: text/plain\n\nlook at this bounce\n--fw\n"
                              "Content-Type: message/rfc822\n\n") +
                          no_type.build() + crlf("\n--fw--\n");
  ASSERT_TRUE(parse_dsn(no_type.build()));  // on its own, it is one
  EXPECT_FALSE(parse_dsn(forwarded));
}

// Hostile bodies: each stays linear and within the caps.
TEST(DsnHostile, hundred_thousand_empty_groups) {
  Report r;
  r.status_body = std::string(100000, '\n') + "Final-Recipient: rfc822; a@b\n" +
                  std::string(100000, '\n') + "Final-Recipient: rfc822; c@d\n";
  auto dsn = timed_parse(r.build());
  ASSERT_TRUE(dsn);
  ASSERT_EQ(dsn->recipients.size(), 2u);
  EXPECT_EQ(dsn->recipients[1].final_recipient, "c@d");
}

TEST(DsnHostile, recipients_capped) {
  Report r;
  r.status_body = "Reporting-MTA: dns; mx\n\n";
  for (int i = 0; i < 3000; ++i)
    r.status_body += "Final-Recipient: rfc822; r" + std::to_string(i) + "@x\n\nX-Junk: 1\n\n";
  auto dsn = timed_parse(r.build());
  ASSERT_TRUE(dsn);
  ASSERT_EQ(dsn->recipients.size(), mime::kDsnMaxRecipients);
  EXPECT_EQ(dsn->recipients.back().final_recipient, "r999@x");
}

TEST(DsnHostile, ten_megabyte_fields_are_cut) {
  Report r;
  std::string big(10 << 20, 'x');
  r.status_body = "Reporting-MTA: dns; " + big + "\n\nFinal-Recipient: rfc822; a@b\n" +
                  "Diagnostic-Code: smtp; 550 " + std::string(1000, 'y');
  for (int i = 0; i < 10000; ++i) r.status_body += "\n " + std::string(1000, 'z');  // folded
  r.status_body += "\nStatus: 5.1.1\n";
  auto dsn = timed_parse(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->reporting_mta.size(), mime::kDsnMaxFieldValue - 1);  // the cut leading space
  ASSERT_EQ(dsn->recipients.size(), 1u);
  EXPECT_LE(dsn->recipients[0].diagnostic_code.size(), mime::kDsnMaxFieldValue);
  EXPECT_GT(dsn->recipients[0].diagnostic_code.size(), mime::kDsnMaxFieldValue - 10);
  EXPECT_EQ(dsn->recipients[0].diagnostic_smtp_code, 550);
  EXPECT_EQ(dsn->recipients[0].status, "5.1.1");
}

TEST(DsnHostile, no_blank_lines_and_no_line_breaks) {
  Report r;
  for (int i = 0; i < 100000; ++i) r.status_body += "Final-Recipient: rfc822; a@b\nStatus: 5.1.1\n";
  auto dsn = timed_parse(r.build());
  ASSERT_TRUE(dsn);  // one group: the first values of each field
  ASSERT_EQ(dsn->recipients.size(), 1u);
  EXPECT_EQ(dsn->recipients[0].status, "5.1.1");

  r.status_body = "Final-Recipient: rfc822; a@b " + std::string(10 << 20, '(');
  dsn = timed_parse(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_LE(dsn->recipients[0].final_recipient.size(), mime::kDsnMaxFieldValue);

  r.status_body = "Final-Recipient: rfc822; a@b\nStatus: 5.1.1 " + std::string(10 << 20, '(');
  dsn = timed_parse(r.build());
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->recipients[0].status, "5.1.1");
}

}  // namespace
