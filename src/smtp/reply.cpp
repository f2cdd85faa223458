// The one table from Outcome to SMTP reply (code, RFC 3463 enhanced code, text) and the wire
// formatting of replies (RFC 5321 4.2, 4.2.1). Every reply line ends in CR LF.
#include "smtp/reply.h"

namespace smtp {
namespace {

Reply make(int code, const char* enhanced, const char* text) {
  return Reply{code, enhanced, text};
}

Reply positive_reply(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok:
      return make(250, "2.0.0", "Ok");
    case Outcome::sender_ok:
      return make(250, "2.1.0", "Ok");
    case Outcome::recipient_ok:
      return make(250, "2.1.5", "Ok");
    case Outcome::queued:
      return make(250, "2.0.0", "Ok: queued");
    case Outcome::chunk_ok:
      return make(250, "2.0.0", "Ok: octets received");
    case Outcome::start_data:
      return make(354, "", "End data with <CR><LF>.<CR><LF>");
    case Outcome::bye:
      return make(221, "2.0.0", "Bye");
    case Outcome::help:
      return make(214, "2.0.0",
                  "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
    case Outcome::vrfy:
      return make(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
    case Outcome::start_tls:
      return make(220, "2.0.0", "Ready to start TLS");
    case Outcome::auth_ok:
      return make(235, "2.7.0", "Authentication successful");
    default:
      return Reply{};
  }
}

Reply transient_reply(Outcome outcome) {
  switch (outcome) {
    case Outcome::shutting_down:
      return make(421, "4.3.2", "Service shutting down, closing transmission channel");
    case Outcome::timeout:
      return make(421, "4.4.2", "Timeout exceeded, closing connection");
    case Outcome::data_too_slow:
      return make(421, "4.4.2", "Error: data transfer too slow or too long, closing connection");
    case Outcome::too_many_errors:
      return make(421, "4.7.0", "Too many errors, closing connection");
    case Outcome::too_many_connections:
      return make(421, "4.7.0", "Too many connections, try again later");
    case Outcome::too_many_connections_from_ip:
      return make(421, "4.7.0", "Too many connections from your address");
    case Outcome::early_talker:
      return make(421, "4.7.0", "Protocol error: client sent data before the greeting");
    case Outcome::http_request:
      return make(421, "4.7.0", "This is an SMTP server, not an HTTP server");
    case Outcome::store_failed:
      return make(451, "4.3.0", "Error: could not store the message, try again later");
    case Outcome::auth_temperror:
      return make(451, "4.7.0", "Temporary authentication failure, try again later");
    case Outcome::spam_unavailable:
      return make(451, "4.7.1", "Spam scanner unavailable, try again later");
    case Outcome::insufficient_memory:
      return make(452, "4.3.1", "Insufficient system resources, try again later");
    case Outcome::client_memory_share:
      return make(452, "4.3.1", "Too much data in progress from your address, try again later");
    case Outcome::auth_throttled:
      return make(454, "4.7.0",
                  "Too many authentication failures from your address, try again later");
    case Outcome::too_many_recipients:
      return make(452, "4.5.3", "Error: too many recipients");
    default:
      return Reply{};
  }
}

Reply syntax_reply(Outcome outcome) {
  switch (outcome) {
    case Outcome::line_too_long:
      return make(500, "5.5.2", "Error: command line too long");
    case Outcome::data_line_too_long:
      return make(500, "5.5.2", "Error: line too long (RFC 5321 4.5.3.1.6)");
    case Outcome::unknown_command:
      return make(500, "5.5.2", "Error: command not recognized");
    case Outcome::bad_syntax:
      return make(500, "5.5.2", "Error: bad syntax");
    case Outcome::bad_arguments:
      return make(501, "5.5.4", "Syntax error in parameters or arguments");
    case Outcome::bad_sender_syntax:
      return make(501, "5.1.7", "Bad sender address syntax");
    case Outcome::bad_recipient_syntax:
      return make(501, "5.1.3", "Bad recipient address syntax");
    case Outcome::not_implemented:
      return make(502, "5.5.1", "Error: command not implemented");
    case Outcome::need_helo:
      return make(503, "5.5.1", "Error: send HELO/EHLO first");
    case Outcome::need_mail:
      return make(503, "5.5.1", "Error: need MAIL command");
    case Outcome::need_rcpt:
      return make(503, "5.5.1", "Error: need RCPT command");
    case Outcome::nested_mail:
      return make(503, "5.5.1", "Error: nested MAIL command");
    case Outcome::bad_sequence:
      return make(503, "5.5.1", "Error: bad sequence of commands");
    case Outcome::already_authenticated:
      return make(503, "5.5.1", "Error: already authenticated");
    case Outcome::tls_already_active:
      return make(503, "5.5.1", "Error: TLS already active");
    case Outcome::parameter_not_implemented:
      return make(504, "5.5.4", "Error: parameter not implemented");
    case Outcome::unknown_mechanism:
      return make(504, "5.5.4", "Unrecognized authentication type");
    default:
      return Reply{};
  }
}

Reply policy_reply(Outcome outcome) {
  switch (outcome) {
    case Outcome::tls_required:
      return make(530, "5.7.0", "Must issue a STARTTLS command first");
    case Outcome::auth_required:
      return make(530, "5.7.0", "Authentication required");
    case Outcome::auth_failed:
      return make(535, "5.7.8", "Authentication credentials invalid");
    case Outcome::auth_needs_tls:
      return make(538, "5.7.11", "Encryption required for requested authentication mechanism");
    case Outcome::auth_aborted:
      return make(501, "5.7.0", "Authentication aborted");
    case Outcome::auth_bad_base64:
      return make(501, "5.5.2", "Can't decode base64");
    case Outcome::auth_bad_value:
      return make(501, "5.5.2", "Can't split auth value");
    case Outcome::policy_rejected:
      return make(550, "5.7.1", "Message rejected by policy");
    case Outcome::unknown_recipient:
      return make(550, "5.1.1", "Recipient address rejected: user unknown");
    case Outcome::bare_lf:
      return make(550, "5.6.0", "Error: bare <LF> or <CR> received (SMTP smuggling protection)");
    case Outcome::message_too_big:
      return make(552, "5.3.4", "Error: message size exceeds fixed maximum message size");
    case Outcome::non_ascii_address:
      return make(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    case Outcome::sync_error:
      return make(554, "5.5.0", "Error: SMTP synchronization error (RFC 2920)");
    case Outcome::unknown_parameter:
      return make(555, "5.5.4", "Error: parameter not recognized");
    default:
      return Reply{};
  }
}

}  // namespace

Reply reply(Outcome outcome) {
  // Split in four groups only to keep each function short; every Outcome is in exactly one.
  for (auto group : {positive_reply, transient_reply, syntax_reply, policy_reply}) {
    Reply r = group(outcome);
    if (r.code != 0) return r;
  }
  return make(451, "4.3.0", "Error: internal error");  // unreachable for valid enum values
}

namespace {
// One reply line: code, separator (' ' or '-'), then the enhanced code and text, each only if
// non-empty, separated by single spaces (RFC 5321 4.2: Reply-line; RFC 2034 4).
void append_line(std::string& out, int code, char separator, std::string_view enhanced,
                 std::string_view text) {
  out += std::to_string(code);
  out.push_back(separator);
  out += enhanced;
  if (!enhanced.empty() && !text.empty()) out.push_back(' ');
  out += text;
  out += "\r\n";
}
}  // namespace

std::string format(const Reply& reply) {
  std::string out;
  append_line(out, reply.code, ' ', reply.enhanced, reply.text);
  return out;
}

// RFC 5321 4.2.1: every line but the last has "-" after the code; RFC 2034 4: the enhanced code
// starts the text of every line.
std::string format_multiline(int code, std::string_view enhanced,
                             const std::vector<std::string>& lines) {
  std::string out;
  if (lines.empty()) {
    append_line(out, code, ' ', enhanced, "");
    return out;
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    append_line(out, code, i + 1 == lines.size() ? ' ' : '-', enhanced, lines[i]);
  }
  return out;
}

}  // namespace smtp
