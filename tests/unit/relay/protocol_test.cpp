// Unit tests of the outbound client's pure pieces (src/relay/protocol.h): reply parsing
// (RFC 5321 4.2), EHLO capabilities, MAIL parameters and local refusals, dot-stuffing.
#include <gtest/gtest.h>

#include "relay/protocol.h"

namespace relay {
namespace {

Reply parse(std::initializer_list<std::string_view> lines,
            ReplyParser::Status last = ReplyParser::Status::done) {
  ReplyParser parser;
  size_t i = 0;
  for (auto line : lines) {
    auto status = parser.add_line(line);
    EXPECT_EQ(status, ++i == lines.size() ? last : ReplyParser::Status::more) << line;
  }
  return parser.reply();
}

TEST(ReplyParser, single_line_with_enhanced_code) {
  Reply r = parse({"250 2.1.5 Ok"});
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.enhanced, "2.1.5");
  EXPECT_EQ(r.text, "Ok");
  EXPECT_TRUE(r.positive());
}

TEST(ReplyParser, multi_line_joins_texts_and_keeps_enhanced_once) {
  Reply r = parse({"450-4.2.1 mailbox busy", "450 4.2.1 try later"});
  EXPECT_EQ(r.code, 450);
  EXPECT_EQ(r.enhanced, "4.2.1");
  EXPECT_EQ(r.text, "mailbox busy; try later");
}

TEST(ReplyParser, code_alone_is_a_reply) {
  Reply r = parse({"250"});
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.text, "");
}

TEST(ReplyParser, rejects_garbage_and_mixed_codes) {
  for (std::string_view bad : {"hello", "25", "2500 x", "250x", "600 no", "199 no", "\x01\x02\x03",
                               "2a0 x", "250 bad\x01"}) {
    ReplyParser parser;
    EXPECT_EQ(parser.add_line(bad), ReplyParser::Status::bad) << bad;
  }
  ReplyParser parser;
  EXPECT_EQ(parser.add_line("250-a"), ReplyParser::Status::more);
  EXPECT_EQ(parser.add_line("251 b"), ReplyParser::Status::bad);
}

TEST(ReplyParser, rejects_overlong_lines_and_endless_replies) {
  ReplyParser parser;
  EXPECT_EQ(parser.add_line("250 " + std::string(kMaxReplyLine, 'x')), ReplyParser::Status::bad);
  ReplyParser many;
  ReplyParser::Status status = ReplyParser::Status::more;
  for (size_t i = 0; i <= kMaxReplyLines && status == ReplyParser::Status::more; ++i)
    status = many.add_line("250-more");
  EXPECT_EQ(status, ReplyParser::Status::bad);
}

TEST(ReplyParser, enhanced_code_must_match_the_reply_class) {
  EXPECT_EQ(parse({"550 4.1.1 odd"}).enhanced, "");
  EXPECT_EQ(parse({"550 5.1.10 ok"}).enhanced, "5.1.10");
  EXPECT_EQ(parse({"550 5.1.1x no"}).enhanced, "");
}

TEST(Reply, throttling_is_421_454_and_transient_policy) {
  EXPECT_TRUE((Reply{421, "4.3.2", "closing"}).throttling());
  EXPECT_TRUE((Reply{454, "", "tls unavailable"}).throttling());
  EXPECT_TRUE((Reply{451, "4.7.1", "rate limited"}).throttling());
  EXPECT_FALSE((Reply{450, "4.2.1", "busy"}).throttling());
  EXPECT_FALSE((Reply{550, "5.7.1", "denied"}).throttling());
  EXPECT_FALSE((Reply{0, "", "connection refused"}).throttling());
}

TEST(Capabilities, parses_ehlo_keywords) {
  Capabilities caps = parse_capabilities({"mx.example greets you", "PIPELINING", "size 1000",
                                          "STARTTLS", "AUTH PLAIN login CRAM-MD5", "8BITMIME",
                                          "SMTPUTF8", "ENHANCEDSTATUSCODES"});
  EXPECT_TRUE(caps.esmtp);
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.starttls);
  EXPECT_TRUE(caps.eightbitmime);
  EXPECT_TRUE(caps.smtputf8);
  EXPECT_TRUE(caps.size_announced);
  EXPECT_EQ(caps.size, 1000u);
  EXPECT_EQ(caps.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"}));
}

TEST(Capabilities, size_without_limit_and_greeting_line_ignored) {
  Capabilities caps = parse_capabilities({"PIPELINING STARTTLS", "SIZE"});
  EXPECT_FALSE(caps.pipelining);  // the first text is the server's name, not a keyword
  EXPECT_TRUE(caps.size_announced);
  EXPECT_EQ(caps.size, 0u);
}

TEST(DotStuff, doubles_leading_dots_and_terminates) {
  EXPECT_EQ(dot_stuff(".a\r\nb\r\n.\r\n..c\r\n"), "..a\r\nb\r\n..\r\n...c\r\n.\r\n");
}

TEST(DotStuff, adds_missing_final_crlf_and_fixes_bare_line_ends) {
  EXPECT_EQ(dot_stuff("a\nb\r.c"), "a\r\nb\r\n..c\r\n.\r\n");
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("x.\r\n"), "x.\r\n.\r\n");
}

TEST(Needs, smtputf8_for_envelope_or_header_8bit_for_body) {
  Envelope ascii{"a@example.org", {"b@example.org"}};
  Needs plain = message_needs(ascii, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_FALSE(plain.smtputf8);
  EXPECT_FALSE(plain.eightbitmime);
  Needs body = message_needs(ascii, "Subject: hi\r\n\r\nb\xc3\xa9\r\n");
  EXPECT_FALSE(body.smtputf8);
  EXPECT_TRUE(body.eightbitmime);
  EXPECT_TRUE(message_needs(ascii, "Subject: h\xc3\xa9\r\n\r\nb\r\n").smtputf8);
  Envelope utf8{"a@example.org", {"j\xc3\xb6rg@example.org"}};
  EXPECT_TRUE(message_needs(utf8, "Subject: hi\r\n\r\nb\r\n").smtputf8);
}

TEST(LocalRefusal, over_size_and_missing_extensions) {
  Capabilities caps;
  caps.esmtp = caps.size_announced = true;
  caps.size = 100;
  auto over = local_refusal(caps, {}, 101);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->code, 552);
  EXPECT_EQ(over->enhanced, "5.3.4");
  EXPECT_FALSE(local_refusal(caps, {}, 100));
  auto utf8 = local_refusal(caps, {true, true}, 10);
  ASSERT_TRUE(utf8);
  EXPECT_EQ(utf8->code, 553);
  auto eight = local_refusal(caps, {false, true}, 10);
  ASSERT_TRUE(eight);
  EXPECT_EQ(eight->code, 554);
  caps.smtputf8 = caps.eightbitmime = true;
  EXPECT_FALSE(local_refusal(caps, {true, true}, 10));
}

TEST(MailCommand, adds_only_offered_and_needed_parameters) {
  Envelope envelope{"a@example.org", {"b@example.org"}};
  Capabilities caps;
  caps.esmtp = true;
  EXPECT_EQ(mail_command(envelope, caps, {}, 42), "MAIL FROM:<a@example.org>\r\n");
  caps.size_announced = caps.eightbitmime = caps.smtputf8 = true;
  EXPECT_EQ(mail_command(envelope, caps, {}, 42), "MAIL FROM:<a@example.org> SIZE=42\r\n");
  EXPECT_EQ(mail_command(envelope, caps, {true, true}, 42),
            "MAIL FROM:<a@example.org> SIZE=42 BODY=8BITMIME SMTPUTF8\r\n");
  EXPECT_EQ(mail_command(Envelope{"", {}}, caps, {}, 1), "MAIL FROM:<> SIZE=1\r\n");
}

}  // namespace
}  // namespace relay
