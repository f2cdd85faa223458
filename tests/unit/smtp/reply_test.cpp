// Every Outcome's reply on the wire (code, RFC 3463 enhanced code, text) and the multi-line
// format of RFC 5321 4.2.1, as clients see them.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "smtp/reply.h"

namespace smtp {
namespace {

TEST(Reply, every_outcome_has_its_code_enhanced_code_and_text) {
  const std::vector<std::pair<Outcome, std::string>> expected{
      {Outcome::ok, "250 2.0.0 Ok\r\n"},
      {Outcome::sender_ok, "250 2.1.0 Ok\r\n"},
      {Outcome::recipient_ok, "250 2.1.5 Ok\r\n"},
      {Outcome::queued, "250 2.0.0 Ok: queued\r\n"},
      {Outcome::chunk_ok, "250 2.0.0 Ok: octets received\r\n"},
      {Outcome::start_data, "354 End data with <CR><LF>.<CR><LF>\r\n"},
      {Outcome::bye, "221 2.0.0 Bye\r\n"},
      {Outcome::vrfy,
       "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"},
      {Outcome::start_tls, "220 2.0.0 Ready to start TLS\r\n"},
      {Outcome::auth_ok, "235 2.7.0 Authentication successful\r\n"},
      {Outcome::shutting_down, "421 4.3.2 Service shutting down, closing transmission channel\r\n"},
      {Outcome::timeout, "421 4.4.2 Timeout exceeded, closing connection\r\n"},
      {Outcome::data_too_slow,
       "421 4.4.2 Error: data transfer too slow or too long, closing connection\r\n"},
      {Outcome::too_many_errors, "421 4.7.0 Too many errors, closing connection\r\n"},
      {Outcome::too_many_connections, "421 4.7.0 Too many connections, try again later\r\n"},
      {Outcome::too_many_connections_from_ip,
       "421 4.7.0 Too many connections from your address\r\n"},
      {Outcome::early_talker, "421 4.7.0 Protocol error: client sent data before the greeting\r\n"},
      {Outcome::http_request, "421 4.7.0 This is an SMTP server, not an HTTP server\r\n"},
      {Outcome::store_failed, "451 4.3.0 Error: could not store the message, try again later\r\n"},
      {Outcome::insufficient_memory,
       "452 4.3.1 Insufficient system resources, try again later\r\n"},
      {Outcome::client_memory_share,
       "452 4.3.1 Too much data in progress from your address, try again later\r\n"},
      {Outcome::auth_throttled,
       "454 4.7.0 Too many authentication failures from your address, try again later\r\n"},
      {Outcome::too_many_recipients, "452 4.5.3 Error: too many recipients\r\n"},
      {Outcome::line_too_long, "500 5.5.2 Error: command line too long\r\n"},
      {Outcome::data_line_too_long, "500 5.5.2 Error: line too long (RFC 5321 4.5.3.1.6)\r\n"},
      {Outcome::unknown_command, "500 5.5.2 Error: command not recognized\r\n"},
      {Outcome::bad_syntax, "500 5.5.2 Error: bad syntax\r\n"},
      {Outcome::bad_arguments, "501 5.5.4 Syntax error in parameters or arguments\r\n"},
      {Outcome::bad_sender_syntax, "501 5.1.7 Bad sender address syntax\r\n"},
      {Outcome::bad_recipient_syntax, "501 5.1.3 Bad recipient address syntax\r\n"},
      {Outcome::not_implemented, "502 5.5.1 Error: command not implemented\r\n"},
      {Outcome::need_helo, "503 5.5.1 Error: send HELO/EHLO first\r\n"},
      {Outcome::need_mail, "503 5.5.1 Error: need MAIL command\r\n"},
      {Outcome::need_rcpt, "503 5.5.1 Error: need RCPT command\r\n"},
      {Outcome::nested_mail, "503 5.5.1 Error: nested MAIL command\r\n"},
      {Outcome::bad_sequence, "503 5.5.1 Error: bad sequence of commands\r\n"},
      {Outcome::already_authenticated, "503 5.5.1 Error: already authenticated\r\n"},
      {Outcome::tls_already_active, "503 5.5.1 Error: TLS already active\r\n"},
      {Outcome::parameter_not_implemented, "504 5.5.4 Error: parameter not implemented\r\n"},
      {Outcome::unknown_mechanism, "504 5.5.4 Unrecognized authentication type\r\n"},
      {Outcome::tls_required, "530 5.7.0 Must issue a STARTTLS command first\r\n"},
      {Outcome::auth_required, "530 5.7.0 Authentication required\r\n"},
      {Outcome::auth_failed, "535 5.7.8 Authentication credentials invalid\r\n"},
      {Outcome::auth_needs_tls,
       "538 5.7.11 Encryption required for requested authentication mechanism\r\n"},
      {Outcome::auth_aborted, "501 5.7.0 Authentication aborted\r\n"},
      {Outcome::auth_bad_base64, "501 5.5.2 Can't decode base64\r\n"},
      {Outcome::auth_bad_value, "501 5.5.2 Can't split auth value\r\n"},
      {Outcome::unknown_recipient, "550 5.1.1 Recipient address rejected: user unknown\r\n"},
      {Outcome::bare_lf,
       "550 5.6.0 Error: bare <LF> or <CR> received (SMTP smuggling protection)\r\n"},
      {Outcome::message_too_big,
       "552 5.3.4 Error: message size exceeds fixed maximum message size\r\n"},
      {Outcome::non_ascii_address, "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n"},
      {Outcome::sync_error, "554 5.5.0 Error: SMTP synchronization error (RFC 2920)\r\n"},
      {Outcome::unknown_parameter, "555 5.5.4 Error: parameter not recognized\r\n"},
  };
  for (const auto& [outcome, line] : expected) {
    EXPECT_EQ(format(reply(outcome)), line) << "outcome " << static_cast<int>(outcome);
  }
}

TEST(Reply, help_is_214_with_enhanced_code) {
  Reply help = reply(Outcome::help);
  EXPECT_EQ(help.code, 214);
  EXPECT_EQ(help.enhanced, "2.0.0");
  EXPECT_EQ(format(help).rfind("214 2.0.0 ", 0), 0u);
}

TEST(Reply, positive_covers_2xx_and_3xx_only) {
  EXPECT_TRUE(reply(Outcome::ok).positive());
  EXPECT_TRUE(reply(Outcome::start_data).positive());
  EXPECT_FALSE(reply(Outcome::timeout).positive());
  EXPECT_FALSE(reply(Outcome::bad_syntax).positive());
}

TEST(Reply, with_text_keeps_code_and_enhanced_code) {
  EXPECT_EQ(format(reply(Outcome::queued).with_text("Ok: queued as 0190abcd")),
            "250 2.0.0 Ok: queued as 0190abcd\r\n");
}

TEST(Reply, greeting_without_enhanced_code_has_code_space_text) {
  EXPECT_EQ(format(Reply{220, "", "mx.example.com ESMTP smtp-bridge"}),
            "220 mx.example.com ESMTP smtp-bridge\r\n");
}

TEST(Reply, multiline_marks_all_but_last_line_with_dash) {
  EXPECT_EQ(format_multiline(250, "", {"mx.example.com", "PIPELINING", "SIZE 26214400"}),
            "250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 26214400\r\n");
}

TEST(Reply, multiline_repeats_enhanced_code_on_every_line) {
  EXPECT_EQ(format_multiline(214, "2.0.0", {"first", "second"}),
            "214-2.0.0 first\r\n214 2.0.0 second\r\n");
}

TEST(Reply, multiline_with_one_line_is_a_plain_reply) {
  EXPECT_EQ(format_multiline(250, "2.0.0", {"Ok"}), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(format_multiline(250, "2.0.0", {}), "250 2.0.0\r\n");
}

}  // namespace
}  // namespace smtp
