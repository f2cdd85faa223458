// SMTP replies: one table from every outcome the server can report to its code, enhanced status
// code (RFC 3463) and text, in the manner of Postfix's cleanup_strerror. Sessions name an
// outcome; they never spell a code.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace smtp {

struct Reply {
  int code = 0;
  std::string enhanced;  // "2.0.0"; empty for replies that carry none (greeting, EHLO)
  std::string text;
  bool positive() const { return code >= 200 && code < 400; }
  // Same code and enhanced code, other text (e.g. "Ok: queued as <id>").
  Reply with_text(std::string new_text) const { return Reply{code, enhanced, std::move(new_text)}; }
};

enum class Outcome {
  // positive
  ok,            // 250 2.0.0 Ok
  sender_ok,     // 250 2.1.0 Ok
  recipient_ok,  // 250 2.1.5 Ok
  queued,        // 250 2.0.0 Ok: queued as <id> (text completed by the caller)
  chunk_ok,      // 250 2.0.0 Ok: <n> octets received
  start_data,    // 354 End data with <CR><LF>.<CR><LF>
  bye,           // 221 2.0.0 Bye
  help,          // 214 2.0.0 ...
  vrfy,          // 252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery
  start_tls,     // 220 2.0.0 Ready to start TLS
  auth_ok,       // 235 2.7.0 Authentication successful
  // transient
  shutting_down,                 // 421 4.3.2 Service shutting down, closing transmission channel
  timeout,                       // 421 4.4.2 Timeout exceeded, closing connection
  data_too_slow,                 // 421 4.4.2 Error: data transfer too slow or too long, ...
  too_many_errors,               // 421 4.7.0 Too many errors, closing connection
  too_many_connections,          // 421 4.7.0 Too many connections, try again later
  too_many_connections_from_ip,  // 421 4.7.0 Too many connections from your address
  early_talker,                  // 421 4.7.0 Protocol error: client sent data before the greeting
  http_request,                  // 421 4.7.0 This is an SMTP server, not an HTTP server
  store_failed,                  // 451 4.3.0 Error: could not store the message, try again later
  auth_temperror,       // 451 4.7.0 Temporary authentication failure, try again later (issue 13)
  spam_unavailable,     // 451 4.7.1 Spam scanner unavailable, try again later (issue 13)
  insufficient_memory,  // 452 4.3.1 Insufficient system resources, try again later
  client_memory_share,  // 452 4.3.1 Too much data in progress from your address, ...
  auth_throttled,       // 454 4.7.0 Too many authentication failures from your ...
  too_many_recipients,  // 452 4.5.3 Error: too many recipients
  // permanent
  line_too_long,              // 500 5.5.2 Error: command line too long
  data_line_too_long,         // 500 5.5.2 Error: line too long (RFC 5321 4.5.3.1.6)
  unknown_command,            // 500 5.5.2 Error: command not recognized
  bad_syntax,                 // 500 5.5.2 Error: bad syntax
  bad_arguments,              // 501 5.5.4 Syntax error in parameters or arguments
  bad_sender_syntax,          // 501 5.1.7 Bad sender address syntax
  bad_recipient_syntax,       // 501 5.1.3 Bad recipient address syntax
  not_implemented,            // 502 5.5.1 Error: command not implemented
  need_helo,                  // 503 5.5.1 Error: send HELO/EHLO first
  need_mail,                  // 503 5.5.1 Error: need MAIL command
  need_rcpt,                  // 503 5.5.1 Error: need RCPT command
  nested_mail,                // 503 5.5.1 Error: nested MAIL command
  bad_sequence,               // 503 5.5.1 Error: bad sequence of commands
  already_authenticated,      // 503 5.5.1 Error: already authenticated
  tls_already_active,         // 503 5.5.1 Error: TLS already active
  parameter_not_implemented,  // 504 5.5.4 Error: parameter not implemented
  unknown_mechanism,          // 504 5.5.4 Unrecognized authentication type
  tls_required,               // 530 5.7.0 Must issue a STARTTLS command first
  auth_required,              // 530 5.7.0 Authentication required
  auth_failed,                // 535 5.7.8 Authentication credentials invalid
  auth_needs_tls,     // 538 5.7.11 Encryption required for requested authentication mechanism
  auth_aborted,       // 501 5.7.0 Authentication aborted
  auth_bad_base64,    // 501 5.5.2 Can't decode base64
  auth_bad_value,     // 501 5.5.2 Can't split auth value
  unknown_recipient,  // 550 5.1.1 Recipient address rejected: user unknown
  policy_rejected,    // 550 5.7.1 Message rejected by policy (SPF, DMARC, DKIM, spam; issue 13)
  bare_lf,            // 550 5.6.0 Error: bare <LF> or <CR> received (SMTP smuggling protection)
  message_too_big,    // 552 5.3.4 Error: message size exceeds fixed maximum message size
  non_ascii_address,  // 553 5.6.7 Non-ASCII address requires SMTPUTF8
  sync_error,         // 554 5.5.0 Error: SMTP synchronization error (RFC 2920)
  unknown_parameter,  // 555 5.5.4 Error: parameter not recognized
};

Reply reply(Outcome outcome);

// "250 2.0.0 Ok\r\n" ("220 text\r\n" when enhanced is empty).
std::string format(const Reply& reply);
// Multi-line reply (RFC 5321 4.2.1): "250-first\r\n250-second\r\n250 last\r\n"; the enhanced code,
// when given, is repeated on every line (RFC 2034 4).
std::string format_multiline(int code, std::string_view enhanced,
                             const std::vector<std::string>& lines);

}  // namespace smtp
