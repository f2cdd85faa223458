// MAIL FROM / RCPT TO parsing (RFC 5321 4.1.2 paths, ESMTP parameters, RFC 3461 xtext) with the
// nodemailer, aiosmtpd and go-smtp vectors of SMTP-CASES 3 and 7.
#include <gtest/gtest.h>

#include <string>

#include "smtp/address.h"

namespace smtp {
namespace {

using namespace std::string_literals;

MailFrom mail_ok(std::string_view args) {
  auto result = parse_mail_from(args);
  EXPECT_TRUE(result.value.has_value()) << "rejected: " << args << " with " << format(result.error);
  return result.value.value_or(MailFrom{});
}

RcptTo rcpt_ok(std::string_view args) {
  auto result = parse_rcpt_to(args);
  EXPECT_TRUE(result.value.has_value()) << "rejected: " << args << " with " << format(result.error);
  return result.value.value_or(RcptTo{});
}

std::string mail_error(std::string_view args, const Limits& limits = {}) {
  auto result = parse_mail_from(args, limits);
  EXPECT_FALSE(result.value.has_value()) << "accepted: " << args;
  return format(result.error);
}

std::string rcpt_error(std::string_view args, const Limits& limits = {}) {
  auto result = parse_rcpt_to(args, limits);
  EXPECT_FALSE(result.value.has_value()) << "accepted: " << args;
  return format(result.error);
}

const std::string kBadArguments = "501 5.5.4 Syntax error in parameters or arguments\r\n";
const std::string kBadSender = "501 5.1.7 Bad sender address syntax\r\n";
const std::string kBadRecipient = "501 5.1.3 Bad recipient address syntax\r\n";
const std::string kUnknownParameter = "555 5.5.4 Error: parameter not recognized\r\n";

TEST(MailFrom, plain_address) {
  MailFrom mail = mail_ok("FROM:<anne@example.com>");
  EXPECT_EQ(mail.address, "anne@example.com");
  EXPECT_EQ(mail.body, "7BIT");
  EXPECT_FALSE(mail.size.has_value());
  EXPECT_FALSE(mail.smtputf8);
  EXPECT_TRUE(mail.params.empty());
}

TEST(MailFrom, null_reverse_path_is_accepted) {  // GO TestServerEmptyFrom2
  EXPECT_EQ(mail_ok("FROM:<>").address, "");
}

TEST(MailFrom, missing_path_is_rejected) {  // GO TestServerEmptyFrom1
  EXPECT_EQ(mail_error("FROM:"), kBadArguments);
  EXPECT_EQ(mail_error(""), kBadArguments);
  EXPECT_EQ(mail_error("FROM:anne@example.com"), kBadArguments);
  EXPECT_EQ(mail_error("TO:<anne@example.com>"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:  <anne@example.com>"), kBadArguments);
}

TEST(MailFrom, one_space_after_colon_and_size_parameter) {  // AIO
  MailFrom mail = mail_ok("FROM: <anne@example.com> SIZE=10000");
  EXPECT_EQ(mail.address, "anne@example.com");
  ASSERT_TRUE(mail.size.has_value());
  EXPECT_EQ(*mail.size, 10000u);
  EXPECT_EQ(mail.params.at("SIZE"), "10000");
}

TEST(MailFrom, from_keyword_and_parameters_are_case_insensitive) {
  MailFrom mail = mail_ok("from:<a@example.com> body=8bitmime size=5 smtputf8");
  EXPECT_EQ(mail.body, "8BITMIME");
  EXPECT_EQ(mail.size.value_or(0), 5u);
  EXPECT_TRUE(mail.smtputf8);
  EXPECT_EQ(mail.params.at("BODY"), "8BITMIME");
  EXPECT_EQ(mail.params.count("SMTPUTF8"), 1u);
}

TEST(MailFrom, body_values) {
  EXPECT_EQ(mail_ok("FROM:<a@example.com> BODY=7BIT").body, "7BIT");
  EXPECT_EQ(mail_ok("FROM:<root@nsa.gov> BODY=BINARYMIME").body,
            "BINARYMIME");  // GO Chunking_Binarymime
  EXPECT_EQ(mail_error("FROM: <anne@example.com> BODY=FOOBAR"), kBadArguments);  // AIO
}

TEST(MailFrom, bad_size_values_are_rejected) {
  EXPECT_EQ(mail_error("FROM:<a@example.com> SIZE=x"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> SIZE=-1"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> SIZE="), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> SIZE"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> SIZE=99999999999999999999999"), kBadArguments);
}

TEST(MailFrom, smtputf8_address_and_parameter) {  // GO TestServerSMTPUTF8, DC valid UTF-8 address
  MailFrom mail = mail_ok("FROM:<alice@wonderland.book> SMTPUTF8");
  EXPECT_TRUE(mail.smtputf8);
  MailFrom utf8 = mail_ok("FROM:<f\xc3\xb6\xc3\xa4@\xc3\xb6\xc3\xa4>");
  EXPECT_EQ(utf8.address, "f\xc3\xb6\xc3\xa4@\xc3\xb6\xc3\xa4");
  EXPECT_TRUE(needs_smtputf8(utf8.address));
  EXPECT_FALSE(needs_smtputf8("alice@wonderland.book"));
  EXPECT_EQ(mail_error("FROM:<a@example.com> SMTPUTF8=yes"), kBadArguments);
}

TEST(MailFrom, auth_parameter_is_recorded_decoded) {  // RFC 4954 5
  EXPECT_EQ(mail_ok("FROM:<a@example.com> AUTH=<>").params.at("AUTH"), "<>");
  EXPECT_EQ(mail_ok("FROM:<a@example.com> AUTH=e+3Dmc2@example.com").params.at("AUTH"),
            "e=mc2@example.com");
}

TEST(MailFrom, dsn_ret_and_envid) {  // RFC 3461 4.3, 4.4
  MailFrom mail = mail_ok("FROM:<a@example.com> RET=hdrs ENVID=QQ314159");
  EXPECT_EQ(mail.params.at("RET"), "HDRS");
  EXPECT_EQ(mail.params.at("ENVID"), "QQ314159");
  EXPECT_EQ(mail_ok("FROM:<a@example.com> RET=FULL").params.at("RET"), "FULL");
  EXPECT_EQ(mail_error("FROM:<a@example.com> RET=BODY"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> ENVID=" + std::string(101, 'e')), kBadArguments);
}

TEST(MailFrom, envid_xtext_is_decoded) {  // NM
  EXPECT_EQ(mail_ok("FROM:<a@example.com> ENVID=ab+2Bcd").params.at("ENVID"), "ab+cd");
}

TEST(MailFrom, envid_with_nul_or_encoded_crlf_is_rejected) {  // NM
  EXPECT_EQ(mail_error("FROM:<test@example.com> ENVID=ab\x00"s
                       "cd"),
            kBadArguments);
  EXPECT_EQ(mail_error("FROM:<test@example.com> ENVID=ab+0D+0Acd"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<test@example.com> ENVID=ab+00cd"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<test@example.com> ENVID=ab+2"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<test@example.com> ENVID=ab+ZZcd"), kBadArguments);
}

TEST(MailFrom, unknown_parameter_is_555) {
  EXPECT_EQ(mail_error("FROM:<a@example.com> FOO=bar"), kUnknownParameter);
  EXPECT_EQ(mail_error("FROM:<a@example.com> NOTIFY=NEVER"), kUnknownParameter);
}

TEST(MailFrom, duplicate_parameter_is_501) {
  EXPECT_EQ(mail_error("FROM:<a@example.com> SIZE=1 SIZE=1"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> BODY=7BIT body=8BITMIME"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> SMTPUTF8 SMTPUTF8"), kBadArguments);
}

TEST(MailFrom, malformed_parameter_syntax_is_501) {
  EXPECT_EQ(mail_error("FROM:<a@example.com>SIZE=1"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> =1"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> -X=1"), kBadArguments);
  EXPECT_EQ(mail_error("FROM:<a@example.com> SIZE=1=2"), kBadArguments);
}

TEST(MailFrom, parameters_separated_by_several_spaces) {
  MailFrom mail = mail_ok("FROM:<a@example.com>  SIZE=1   BODY=8BITMIME");
  EXPECT_EQ(mail.size.value_or(0), 1u);
  EXPECT_EQ(mail.body, "8BITMIME");
}

TEST(MailFrom, quoted_local_part_is_kept_as_sent) {
  EXPECT_EQ(mail_ok("FROM:<\"john smith\"@example.com>").address, "\"john smith\"@example.com");
  EXPECT_EQ(mail_ok("FROM:<\"a>b\\\"c\"@example.com> SIZE=1").address, "\"a>b\\\"c\"@example.com");
  EXPECT_EQ(mail_error("FROM:<\"unterminated@example.com>"), kBadSender);
}

TEST(MailFrom, source_route_is_dropped) {  // RFC 5321 4.1.1.3
  EXPECT_EQ(mail_ok("FROM:<@relay.example,@other.example:anne@example.com>").address,
            "anne@example.com");
  EXPECT_EQ(mail_error("FROM:<@relay.example anne@example.com>"), kBadSender);
}

TEST(MailFrom, address_literals) {
  EXPECT_EQ(mail_ok("FROM:<a@[192.0.2.1]>").address, "a@[192.0.2.1]");
  EXPECT_EQ(mail_ok("FROM:<a@[IPv6:2001:db8::1]>").address, "a@[IPv6:2001:db8::1]");
  EXPECT_EQ(mail_error("FROM:<a@[192.0.2.1>"), kBadSender);
  // The grammar is common::valid_mailbox, shared with the send API: no general literals (no tag
  // but IPv6 is registered), and the address must be one.
  EXPECT_EQ(mail_error("FROM:<a@[tag:x]>"), kBadSender);
  EXPECT_EQ(mail_error("FROM:<a@[300.0.2.1]>"), kBadSender);
  EXPECT_EQ(mail_error("FROM:<a@[IPv6:2001:db8::g]>"), kBadSender);
}

TEST(MailFrom, malformed_addresses_are_bad_sender_syntax) {
  for (const char* args :
       {"FROM:<anne>", "FROM:<@example.com>", "FROM:<anne@>", "FROM:<anne@@example.com>",
        "FROM:<.anne@example.com>", "FROM:<an..ne@example.com>", "FROM:<an ne@example.com>",
        "FROM:<anne@exa mple.com>", "FROM:<anne@-example.com>", "FROM:<anne@example..com>",
        "FROM:<anne@example.com", "FROM:<anne@example.com.>", "FROM:<a(b)@example.com>"}) {
    EXPECT_EQ(mail_error(args), kBadSender) << args;
  }
}

TEST(MailFrom, control_and_invisible_characters_are_rejected) {  // NM address tests
  EXPECT_EQ(mail_error("FROM:<te\x00"s
                       "st@example.com>"),
            kBadSender);
  EXPECT_EQ(mail_error("FROM:<te\x1bst@example.com>"), kBadSender);
  EXPECT_EQ(mail_error("FROM:<te\x7fst@example.com>"), kBadSender);
  EXPECT_EQ(mail_error("FROM:<te\u0085st@example.com>"), kBadSender);
  EXPECT_EQ(mail_error("FROM:<te\rst@example.com>"), kBadSender);
  EXPECT_EQ(mail_error("FROM:<\"te\x01st\"@example.com>"), kBadSender);
}

TEST(MailFrom, invalid_utf8_address_is_rejected) {  // DC invalid
  EXPECT_EQ(mail_error("FROM:<f\xc3\xb6\xc3\xa4@\xc3\xb6\xc3>"), kBadSender);
  EXPECT_EQ(mail_error("FROM:<a\xc0\xae@example.com>"), kBadSender);
}

TEST(MailFrom, length_limits) {  // RFC 5321 4.5.3.1.1-3
  const std::string local64(64, 'l');
  EXPECT_EQ(mail_ok("FROM:<" + local64 + "@example.com>").address, local64 + "@example.com");
  EXPECT_EQ(mail_error("FROM:<" + local64 + "l@example.com>"), kBadSender);

  // 189-byte domain: "<" + 64 + "@" + 189 + ">" = 256 bytes.
  const std::string domain189 =
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(61, 'c');
  ASSERT_EQ(domain189.size(), 189u);
  EXPECT_TRUE(parse_mail_from("FROM:<" + local64 + "@" + domain189 + ">").value.has_value());
  EXPECT_EQ(mail_error("FROM:<" + local64 + "@" + domain189 + "d>"), kBadSender);

  Limits small;
  small.max_domain = 11;
  EXPECT_TRUE(parse_mail_from("FROM:<a@example.com>", small).value.has_value());
  EXPECT_EQ(mail_error("FROM:<a@example.comm>", small), kBadSender);
  EXPECT_EQ(mail_error("FROM:<a@" + std::string(64, 'x') + ".com>"), kBadSender);  // label > 63
}

TEST(RcptTo, plain_address) {
  RcptTo rcpt = rcpt_ok("TO:<bart@example.com>");
  EXPECT_EQ(rcpt.address, "bart@example.com");
  EXPECT_TRUE(rcpt.params.empty());
  EXPECT_EQ(rcpt_ok("to: <bart@example.com>").address, "bart@example.com");
}

TEST(RcptTo, null_path_is_rejected) {
  EXPECT_EQ(rcpt_error("TO:<>"), kBadRecipient);
}

TEST(RcptTo, missing_path_is_rejected) {
  EXPECT_EQ(rcpt_error("TO:"), kBadArguments);
  EXPECT_EQ(rcpt_error("FROM:<a@example.com>"), kBadArguments);
  EXPECT_EQ(rcpt_error("TO:bart@example.com"), kBadArguments);
}

TEST(RcptTo, postmaster_without_domain_is_accepted) {  // RFC 5321 4.1.1.3
  EXPECT_EQ(rcpt_ok("TO:<postmaster>").address, "postmaster");
  EXPECT_EQ(rcpt_ok("TO:<PostMaster>").address, "postmaster");
  EXPECT_EQ(rcpt_error("TO:<webmaster>"), kBadRecipient);
  EXPECT_EQ(mail_error("FROM:<postmaster>"), kBadSender);
}

TEST(RcptTo, zero_width_characters_are_rejected) {  // NM
  EXPECT_EQ(rcpt_error("TO:<test@exam\u200Bple.com>"), kBadRecipient);
  EXPECT_EQ(rcpt_error("TO:<test@exam\u2060ple.com>"), kBadRecipient);
  EXPECT_EQ(rcpt_error("TO:<test@exam\uFEFFple.com>"), kBadRecipient);
  EXPECT_EQ(rcpt_error("TO:<test@exam\u202Eple.com>"), kBadRecipient);
}

TEST(RcptTo, utf8_address_is_accepted) {
  EXPECT_EQ(rcpt_ok("TO:<\xc3\xb6@b\xc3\xbc"
                    "cher.example>")
                .address,
            "\xc3\xb6@b\xc3\xbc"
            "cher.example");
}

TEST(RcptTo, notify_values) {  // RFC 3461 4.1
  EXPECT_EQ(rcpt_ok("TO:<b@example.com> NOTIFY=NEVER").params.at("NOTIFY"), "NEVER");
  EXPECT_EQ(rcpt_ok("TO:<b@example.com> notify=success,failure,delay").params.at("NOTIFY"),
            "SUCCESS,FAILURE,DELAY");
  EXPECT_EQ(rcpt_ok("TO:<b@example.com> NOTIFY=FAILURE").params.at("NOTIFY"), "FAILURE");
  for (const char* bad : {"NOTIFY=NEVER,SUCCESS", "NOTIFY=SOMETIMES", "NOTIFY=SUCCESS,",
                          "NOTIFY=,DELAY", "NOTIFY=DELAY,DELAY", "NOTIFY"}) {
    EXPECT_EQ(rcpt_error("TO:<b@example.com> "s + bad), kBadArguments) << bad;
  }
}

TEST(RcptTo, orcpt_is_decoded_xtext) {  // RFC 3461 4.2
  EXPECT_EQ(rcpt_ok("TO:<b@example.com> ORCPT=rfc822;b+2Bdsn@example.com").params.at("ORCPT"),
            "rfc822;b+dsn@example.com");
  EXPECT_EQ(rcpt_error("TO:<b@example.com> ORCPT=b@example.com"), kBadArguments);
  EXPECT_EQ(rcpt_error("TO:<b@example.com> ORCPT=rfc822;b+0D+0A@example.com"), kBadArguments);
  EXPECT_EQ(rcpt_error("TO:<b@example.com> ORCPT=;b@example.com"), kBadArguments);
}

// RFC 6533 3: a UTF-8 address is typed utf-8 (its non-ASCII as \x{HEX} or, with SMTPUTF8, as
// UTF-8); one that arrived as xtext-encoded UTF-8 under rfc822 (Postfix 3.7 sends
// "rfc822;j+C3+BCrgen@...") is shown under the type that names it.
TEST(RcptTo, orcpt_with_utf8_is_typed_utf8) {
  EXPECT_EQ(rcpt_ok("TO:<b@example.com> ORCPT=rfc822;j+C3+BCrgen@example.com").params.at("ORCPT"),
            "utf-8;j\u00fcrgen@example.com");
  EXPECT_EQ(rcpt_ok("TO:<b@example.com> ORCPT=utf-8;j\\x{FC}rgen@example.com").params.at("ORCPT"),
            "utf-8;j\u00fcrgen@example.com");
  EXPECT_EQ(rcpt_ok("TO:<b@example.com> ORCPT=UTF-8;\\x{1F600}@example.com").params.at("ORCPT"),
            "utf-8;\U0001F600@example.com");
  EXPECT_EQ(rcpt_ok("TO:<b@example.com> ORCPT=rfc822;plain@example.com").params.at("ORCPT"),
            "rfc822;plain@example.com");
  for (const char* bad : {"utf-8;a\\x{}@example.com", "utf-8;a\\x{D800}@example.com",
                          "utf-8;a\\x{110000}@example.com", "utf-8;a\\x{0A}@example.com",
                          "utf-8;a\\x{1234567}@example.com", "utf-8;a\\x{FG}@example.com",
                          "utf-8;a\\x{41@example.com"})
    EXPECT_EQ(rcpt_error("TO:<b@example.com> ORCPT="s + bad), kBadArguments) << bad;
}

TEST(RcptTo, unknown_and_duplicate_parameters) {
  EXPECT_EQ(rcpt_error("TO:<b@example.com> SIZE=1"), kUnknownParameter);
  EXPECT_EQ(rcpt_error("TO:<b@example.com> XFOO"), kUnknownParameter);
  EXPECT_EQ(rcpt_error("TO:<b@example.com> NOTIFY=NEVER NOTIFY=NEVER"), kBadArguments);
}

TEST(Xtext, decodes_hex_escapes) {
  EXPECT_EQ(decode_xtext("ab+2Bcd").value_or("?"), "ab+cd");
  EXPECT_EQ(decode_xtext("+3D").value_or("?"), "=");
  EXPECT_EQ(decode_xtext("plain").value_or("?"), "plain");
  EXPECT_EQ(decode_xtext("").value_or("?"), "");
  EXPECT_EQ(decode_xtext("ab+0D+0Acd").value_or("?"), "ab\r\ncd");  // callers reject the controls
}

TEST(Xtext, malformed_escapes_are_nullopt) {
  EXPECT_FALSE(decode_xtext("ab+").has_value());
  EXPECT_FALSE(decode_xtext("ab+2").has_value());
  EXPECT_FALSE(decode_xtext("ab+G0").has_value());
  EXPECT_FALSE(decode_xtext("+ +").has_value());
}

}  // namespace
}  // namespace smtp
