// The command table (verb → handler, allowed states, RFC 2920 flags) and the envelope
// commands: EHLO/HELO, MAIL, RCPT, RSET, NOOP, QUIT, VRFY, EXPN, HELP, obsolete verbs.
// Promise: RCPT accepts only addresses a route matches (never an open relay).
#include <algorithm>

#include "common/mailbox.h"
#include "smtp/received.h"
#include "smtp/session.h"

namespace smtp {

namespace {
constexpr unsigned kAnyState = 0x1f;
constexpr unsigned states(std::initializer_list<State> list) {
  unsigned mask = 0;
  for (State s : list) mask |= static_cast<unsigned>(s);
  return mask;
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

const CommandSpec* Session::find_command(Verb verb) {
  // The table is inside a member so that it may name the private handlers.
  static const CommandSpec kCommands[] = {
      // verb, handler, allowed states, last in group (RFC 2920 3.1), allowed before TLS
      {Verb::ehlo, &Session::cmd_ehlo, kAnyState, true, true},
      {Verb::helo, &Session::cmd_helo, kAnyState, true, false},
      {Verb::mail, &Session::cmd_mail, states({State::ready}), false, false},
      {Verb::rcpt, &Session::cmd_rcpt, states({State::mail, State::rcpt}), false, false},
      {Verb::data, &Session::cmd_data, states({State::rcpt}), true, false},
      {Verb::bdat, &Session::cmd_bdat, kAnyState, false, true},  // checks itself: bytes follow
      {Verb::rset, &Session::cmd_rset, kAnyState, false, true},
      {Verb::noop, &Session::cmd_noop, kAnyState, false, true},
      {Verb::quit, &Session::cmd_quit, kAnyState, false, true},
      {Verb::vrfy, &Session::cmd_vrfy, kAnyState, false, false},
      {Verb::expn, &Session::cmd_not_implemented, kAnyState, false, false},
      {Verb::help, &Session::cmd_help, kAnyState, false, false},
      {Verb::starttls, &Session::cmd_starttls, kAnyState, false, true},
      {Verb::auth, &Session::cmd_auth, kAnyState, false, true},  // 538 itself without TLS
      {Verb::obsolete, &Session::cmd_not_implemented, kAnyState, false, true},
  };

  for (const CommandSpec& spec : kCommands)
    if (spec.verb == verb) return &spec;
  return nullptr;  // Verb::unknown → 500
}

asio::awaitable<void> Session::cmd_ehlo(const Command& command) {
  // RFC 5321 4.1.1.1: EHLO needs the client's domain or address literal.
  if (command.args.empty() || command.args.find(' ') != std::string::npos) {
    refuse(Outcome::bad_arguments, "syntax");
    co_return;
  }
  reset_transaction();  // RFC 5321 4.1.4: EHLO resets like RSET
  helo_ = command.args;
  esmtp_ = true;
  state_ = State::ready;
  const auto& smtp = ctx_.config.smtp;
  std::vector<std::string> lines = {
      ctx_.hostname,
      "SIZE " + std::to_string(smtp.limits.max_message_size),  // RFC 1870
      "8BITMIME",                                              // RFC 6152
      "PIPELINING",                                            // RFC 2920
      "ENHANCEDSTATUSCODES",                                   // RFC 2034
      "SMTPUTF8",                                              // RFC 6531
      "CHUNKING",                                              // RFC 3030
      "BINARYMIME",                                            // RFC 3030
      "DSN",  // RFC 3461 (parameters stored, not acted on)
  };
  if (smtp.tls.enabled() && !conn_.tls_active()) lines.push_back("STARTTLS");  // RFC 3207
  if (!smtp.auth.users.empty() && (conn_.tls_active() || smtp.auth.allow_plaintext))
    lines.push_back("AUTH PLAIN LOGIN");  // RFC 4954
  conn_.queue(format_multiline(250, "", lines));
  co_return;
}

asio::awaitable<void> Session::cmd_helo(const Command& command) {
  if (command.args.empty() || command.args.find(' ') != std::string::npos) {
    refuse(Outcome::bad_arguments, "syntax");
    co_return;
  }
  reset_transaction();
  helo_ = command.args;
  esmtp_ = false;  // no extensions, no PIPELINING
  state_ = State::ready;
  send(Reply{250, "", ctx_.hostname});
  co_return;
}

asio::awaitable<void> Session::cmd_mail(const Command& command) {
  const auto& smtp = ctx_.config.smtp;
  if (smtp.auth.required && !auth_user_) {  // RFC 4954 6
    refuse(Outcome::auth_required, "auth_required");
    co_return;
  }
  PathParse<MailFrom> parse = parse_mail_from(command.args);
  if (!parse.value) {
    refuse(parse.error, "syntax");
    co_return;
  }
  MailFrom& mail = *parse.value;
  if (!mail.smtputf8 && !is_ascii(mail.address)) {  // RFC 6531 3.4
    refuse(Outcome::non_ascii_address, "non_ascii_address");
    co_return;
  }
  if (mail.size && *mail.size > smtp.limits.max_message_size) {  // RFC 1870 6.1
    ctx_.metrics.command_rejected("too_big");
    send(Outcome::message_too_big);
    co_return;
  }
  if (!admit_transaction(mail.size.value_or(0))) co_return;  // 452 4.3.1, RFC 1870 6.1
  mail_ = std::move(mail);
  state_ = State::mail;
  send(Outcome::sender_ok);
  co_return;
}

asio::awaitable<void> Session::cmd_rcpt(const Command& command) {
  const auto& smtp = ctx_.config.smtp;
  PathParse<RcptTo> parse = parse_rcpt_to(command.args);
  if (!parse.value) {
    ctx_.metrics.recipient_rejected("syntax");
    refuse(parse.error, "syntax");
    co_return;
  }
  RcptTo& rcpt = *parse.value;
  if (!mail_.smtputf8 && !is_ascii(rcpt.address)) {
    ctx_.metrics.recipient_rejected("non_ascii");
    refuse(Outcome::non_ascii_address, "non_ascii_address");
    co_return;
  }
  if (rcpts_.size() >= smtp.limits.max_recipients) {  // RFC 5321 4.5.3.1.10; earlier ones kept
    ctx_.metrics.recipient_rejected("too_many");
    send(Outcome::too_many_recipients);
    co_return;
  }
  if (!config::match_route(ctx_.config.routes, rcpt.address) &&
      !is_return_path(ctx_.config.relay, rcpt.address)) {  // never an open relay
    ctx_.metrics.recipient_rejected("unknown");
    send(Outcome::unknown_recipient);
    co_return;
  }
  bool duplicate = std::any_of(rcpts_.begin(), rcpts_.end(), [&](const RcptTo& r) {
    return common::same_mailbox(r.address, rcpt.address);
  });
  if (!duplicate) rcpts_.push_back(std::move(rcpt));
  state_ = State::rcpt;
  send(Outcome::recipient_ok);
  co_return;
}

asio::awaitable<void> Session::cmd_rset(const Command& command) {
  if (!command.args.empty()) {  // RFC 5321 4.1.1.5: no parameters
    refuse(Outcome::bad_arguments, "syntax");
    co_return;
  }
  reset_transaction();
  send(Outcome::ok);
  co_return;
}

asio::awaitable<void> Session::cmd_noop(const Command&) {
  send(Outcome::ok);  // RFC 5321 4.1.1.9: a parameter is allowed and ignored
  co_return;
}

asio::awaitable<void> Session::cmd_quit(const Command&) {
  send(Outcome::bye);
  closing_ = true;
  co_return;
}

asio::awaitable<void> Session::cmd_vrfy(const Command& command) {
  if (command.args.empty()) {
    refuse(Outcome::bad_arguments, "syntax");
    co_return;
  }
  send(Outcome::vrfy);  // RFC 5321 3.5.3: 252, never reveals whether a user exists
  co_return;
}

asio::awaitable<void> Session::cmd_help(const Command&) {
  send(Outcome::help);
  co_return;
}

asio::awaitable<void> Session::cmd_not_implemented(const Command&) {
  ctx_.metrics.command_rejected("not_implemented");
  send(Outcome::not_implemented);  // EXPN (RFC 5321 3.5.2), SEND/SOML/SAML/TURN/ETRN
  co_return;
}

}  // namespace smtp
