// Command line parsing (RFC 5321 4.1) with Dovecot's valid/invalid command vectors
// (SMTP-CASES 7), HTTP request detection and UTF-8 validation.
#include <gtest/gtest.h>

#include <string>

#include "smtp/command.h"

namespace smtp {
namespace {

using namespace std::string_literals;

Command parsed(std::string_view line) {
  CommandParse result = parse_command(line);
  EXPECT_TRUE(result.command.has_value()) << "rejected: " << line;
  return result.command.value_or(Command{});
}

void expect_bad_syntax(std::string_view line) {
  CommandParse result = parse_command(line);
  EXPECT_FALSE(result.command.has_value()) << "accepted: " << line;
  EXPECT_EQ(format(result.error), "500 5.5.2 Error: bad syntax\r\n") << line;
}

TEST(Command, dovecot_invalid_commands_are_bad_syntax) {
  // test-smtp-command-parser.c invalid table (line endings removed by the line reader).
  expect_bad_syntax("B52");
  expect_bad_syntax("BELL\x08");
  expect_bad_syntax("EHLO  example.com");
  expect_bad_syntax("NOOP \"\x01\x02\x03\"");
  expect_bad_syntax("RSET\rQUIT");
  expect_bad_syntax("INSANELYREDICULOUSLYLONGCOMMANDNAME");
  expect_bad_syntax("MAIL FROM:<f\xc3\xb6\xc3\xa4@\xc3\xb6\xc3>");
  expect_bad_syntax("FROP \xF1\x80");
  expect_bad_syntax("FROP \xF1");
}

TEST(Command, dovecot_valid_commands_parse) {
  Command rset = parsed("RSET    ");
  EXPECT_EQ(rset.verb, Verb::rset);
  EXPECT_EQ(rset.args, "");

  Command ehlo = parsed("EHLO example.com     ");
  EXPECT_EQ(ehlo.verb, Verb::ehlo);
  EXPECT_EQ(ehlo.args, "example.com");

  Command mail = parsed("MAIL FROM:<f\xc3\xb6\xc3\xa4@\xc3\xb6\xc3\xa4>");
  EXPECT_EQ(mail.verb, Verb::mail);
  EXPECT_EQ(mail.args, "FROM:<f\xc3\xb6\xc3\xa4@\xc3\xb6\xc3\xa4>");

  Command vrfy = parsed("VRFY \"Sherlock Holmes\"");
  EXPECT_EQ(vrfy.verb, Verb::vrfy);
  EXPECT_EQ(vrfy.args, "\"Sherlock Holmes\"");
}

TEST(Command, empty_line_is_bad_syntax) {
  expect_bad_syntax("");
}

TEST(Command, control_characters_anywhere_are_bad_syntax) {
  expect_bad_syntax(
      "NOOP a\x00"s
      "b");
  expect_bad_syntax("NOOP a\tb");
  expect_bad_syntax("NOOP a\nb");
  expect_bad_syntax("NOOP \x7f");
  expect_bad_syntax("NO\x1bOP");
  expect_bad_syntax(" NOOP");
  expect_bad_syntax("NOOP:");
}

TEST(Command, verbs_are_case_insensitive_and_upper_cased) {
  Command command = parsed("mail FROM:<a@b.c>");
  EXPECT_EQ(command.verb, Verb::mail);
  EXPECT_EQ(command.name, "MAIL");
  EXPECT_EQ(parsed("StartTLS").verb, Verb::starttls);
}

TEST(Command, every_known_verb_is_recognised) {
  const std::pair<const char*, Verb> verbs[] = {
      {"EHLO", Verb::ehlo},         {"HELO", Verb::helo}, {"MAIL", Verb::mail},
      {"RCPT", Verb::rcpt},         {"DATA", Verb::data}, {"BDAT", Verb::bdat},
      {"RSET", Verb::rset},         {"NOOP", Verb::noop}, {"QUIT", Verb::quit},
      {"VRFY", Verb::vrfy},         {"EXPN", Verb::expn}, {"HELP", Verb::help},
      {"STARTTLS", Verb::starttls}, {"AUTH", Verb::auth}};
  for (const auto& [name, verb] : verbs) EXPECT_EQ(parsed(name).verb, verb) << name;
}

TEST(Command, obsolete_verbs_are_their_own_kind) {
  for (const char* name : {"SEND", "SOML", "SAML", "TURN", "ETRN"}) {
    EXPECT_EQ(parsed(name).verb, Verb::obsolete) << name;
  }
}

TEST(Command, unknown_letter_verbs_are_commands_the_session_answers_500) {
  Command junk = parsed("XXXX");
  EXPECT_EQ(junk.verb, Verb::unknown);
  EXPECT_EQ(junk.name, "XXXX");
  EXPECT_EQ(parsed("FOOBAR").verb, Verb::unknown);
  EXPECT_EQ(parsed("ZOOP x").args, "x");
}

TEST(Command, verb_of_sixteen_letters_is_allowed_seventeen_is_not) {
  EXPECT_EQ(parsed(std::string(16, 'X')).verb, Verb::unknown);
  expect_bad_syntax(std::string(17, 'X'));
}

TEST(Command, arguments_keep_inner_spaces_and_lose_trailing_ones) {
  Command data = parsed("DATA FOOBAR");
  EXPECT_EQ(data.verb, Verb::data);
  EXPECT_EQ(data.args, "FOOBAR");
  EXPECT_EQ(parsed("MAIL FROM:<a@b.c> SIZE=10  BODY=8BITMIME  ").args,
            "FROM:<a@b.c> SIZE=10  BODY=8BITMIME");
  EXPECT_EQ(parsed("AUTH PLAIN").args, "PLAIN");
}

TEST(Command, http_request_lines_are_detected) {
  EXPECT_TRUE(looks_like_http("GET /path/file.html HTTP/1.0"));
  EXPECT_TRUE(looks_like_http("GET / HTTP/1.1"));
  EXPECT_TRUE(looks_like_http("POST /api HTTP/1.1"));
  EXPECT_TRUE(looks_like_http("HEAD http://example.com/ HTTP/1.1"));
  EXPECT_TRUE(looks_like_http("PUT /x HTTP/1.1"));
  EXPECT_TRUE(looks_like_http("CONNECT example.com:443 HTTP/1.1"));
  EXPECT_TRUE(looks_like_http("OPTIONS * HTTP/1.1"));
}

TEST(Command, smtp_lines_are_not_http) {
  EXPECT_FALSE(looks_like_http("EHLO GET"));
  EXPECT_FALSE(looks_like_http("GET"));
  EXPECT_FALSE(looks_like_http("GET "));
  EXPECT_FALSE(looks_like_http("HELP GET /"));
  EXPECT_FALSE(looks_like_http("MAIL FROM:<a@b.c>"));
  EXPECT_FALSE(looks_like_http("GETX / HTTP/1.1"));
  EXPECT_FALSE(looks_like_http(""));
}

TEST(Utf8, accepts_ascii_and_well_formed_sequences) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("f\xc3\xb6\xc3\xa4"));  // U+00F6 U+00E4
  EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));       // U+20AC
  EXPECT_TRUE(valid_utf8("\xed\x9f\xbf"));       // U+D7FF, just below the surrogates
  EXPECT_TRUE(valid_utf8("\xee\x80\x80"));       // U+E000, just above them
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));   // U+1F600
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
}

TEST(Utf8, rejects_overlongs) {
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));
  EXPECT_FALSE(valid_utf8("\xc1\xbf"));
  EXPECT_FALSE(valid_utf8("\xe0\x80\xaf"));
  EXPECT_FALSE(valid_utf8("\xe0\x9f\xbf"));
  EXPECT_FALSE(valid_utf8("\xf0\x80\x80\xaf"));
  EXPECT_FALSE(valid_utf8("\xf0\x8f\xbf\xbf"));
}

TEST(Utf8, rejects_surrogates_and_code_points_above_10ffff) {
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // U+D800
  EXPECT_FALSE(valid_utf8("\xed\xbf\xbf"));      // U+DFFF
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xff"));
}

TEST(Utf8, rejects_truncated_and_stray_continuation_bytes) {
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("a\xbf"));
  EXPECT_FALSE(valid_utf8("\xc3"));
  EXPECT_FALSE(valid_utf8("\xe2\x82"));
  EXPECT_FALSE(valid_utf8("\xf0\x9f\x98"));
  EXPECT_FALSE(valid_utf8("\xc3\x28"));
  EXPECT_FALSE(valid_utf8("\xe2\x28\xa1"));
}

}  // namespace
}  // namespace smtp
