// STARTTLS (RFC 3207) and AUTH PLAIN / LOGIN (RFC 4954, RFC 4616) for the session.
// Promises: plaintext pipelined after STARTTLS is discarded (CVE-2011-0411) and all session
// state is forgotten after the handshake; passwords are compared in constant time and never
// logged; a failed AUTH is answered only after a delay; guesses per client address are limited
// across connections (AuthLimiter).
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <variant>

#include "obs/log.h"
#include "smtp/sasl.h"
#include "smtp/session.h"

namespace smtp {

namespace {
constexpr size_t kAuthLineLimit = 12288;  // RFC 4954 4
constexpr auto kAuthFailureDelay = std::chrono::milliseconds(250);

asio::awaitable<void> failure_delay() {
  asio::steady_timer delay(co_await asio::this_coro::executor, kAuthFailureDelay);
  co_await delay.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

std::string upper(std::string text) {
  for (char& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

// RFC 4954 4: "=" is an empty initial response; accepted for challenge answers as well.
void clear_empty_marker(std::string& text) {
  if (text == "=") text.clear();
}
}  // namespace

asio::awaitable<void> Session::cmd_starttls(const Command& command) {
  if (!command.args.empty()) {  // RFC 3207 4: no parameters
    refuse(Outcome::bad_arguments, "syntax");
    co_return;
  }
  if (conn_.tls_active()) {
    refuse(Outcome::tls_already_active, "bad_sequence");
    co_return;
  }
  if (!ctx_.config.smtp.tls.enabled()) {
    ctx_.metrics.command_rejected("not_implemented");
    send(Outcome::not_implemented);
    co_return;
  }
  send(Outcome::start_tls);
  if (!co_await conn_.flush()) {
    closing_ = true;
    co_return;
  }
  conn_.discard_input();  // CVE-2011-0411: nothing sent in clear may run inside TLS
  conn_.set_timeout(ctx_.config.smtp.limits.command_timeout);
  bool ok = co_await conn_.handshake();
  ctx_.metrics.tls_handshake(ok);
  if (!ok) {
    obs::info("tls handshake failed", {{"client_ip", client_ip()}, {"listener", "smtp"}});
    closing_ = true;
    co_return;
  }
  // RFC 3207 4.2: discard all knowledge obtained from the client before TLS; EHLO again.
  reset_transaction();
  state_ = State::fresh;
  esmtp_ = false;
  helo_.clear();
  auth_user_.reset();
}

asio::awaitable<void> Session::cmd_auth(const Command& command) {
  const auto& auth = ctx_.config.smtp.auth;
  if (state_ == State::fresh) {
    refuse(Outcome::need_helo, "bad_sequence");
    co_return;
  }
  if (!esmtp_ || auth.users.empty()) {  // not advertised (HELO session or no users)
    refuse(Outcome::unknown_command, "unknown_command");
    co_return;
  }
  if (auth_user_) {  // RFC 4954 4: one successful AUTH per session
    refuse(Outcome::already_authenticated, "bad_sequence");
    co_return;
  }
  if (state_ != State::ready) {  // RFC 4954 4: not during a mail transaction
    refuse(Outcome::bad_sequence, "bad_sequence");
    co_return;
  }
  if (!conn_.tls_active() && !auth.allow_plaintext) {
    ctx_.metrics.auth_attempt("none", "needs_tls");
    refuse(Outcome::auth_needs_tls, "auth_needs_tls");
    co_return;
  }
  std::string_view args = command.args;
  size_t space = args.find(' ');
  std::string mechanism = upper(std::string(args.substr(0, space)));
  std::string initial;
  bool has_initial = space != std::string_view::npos;
  if (has_initial) initial = std::string(args.substr(space + 1));
  if (mechanism.empty() ||
      (has_initial && (initial.empty() || initial.find(' ') != std::string::npos))) {
    refuse(Outcome::bad_arguments, "syntax");
    co_return;
  }
  // Named, not a conditional temporary inside co_await: g++ 12 destroys those twice.
  std::optional<std::string> initial_response;
  if (has_initial) {
    clear_empty_marker(initial);
    initial_response = std::move(initial);
  }
  if (mechanism != "PLAIN" && mechanism != "LOGIN") {
    ctx_.metrics.auth_attempt("other", "unsupported");
    refuse(Outcome::unknown_mechanism, "unknown_mechanism");
    co_return;
  }
  co_await authenticate(mechanism, std::move(initial_response));
}

// Guesses per address across connections (SMTP.md "AUTH"). While the address is throttled even
// the right password is refused unchecked: answering it would let guessing go on at full speed,
// each wrong guess answered 454 and the right one 235.
asio::awaitable<void> Session::authenticate(std::string mechanism,
                                            std::optional<std::string> initial_response) {
  const std::string client = client_key(client_ip());
  if (!ctx_.auth_limiter.begin(client, AuthLimiter::Clock::now())) {
    ctx_.metrics.auth_attempt(mechanism, "throttled");
    obs::debug("authentication throttled", {{"client_ip", client_ip()}, {"mechanism", mechanism}});
    co_await failure_delay();  // hammering 454s costs the client its time, not our CPU
    refuse(Outcome::auth_throttled, "auth_throttled");  // RFC 4954 6: 454 4.7.0
    co_return;
  }
  // Counted as a failure unless the exchange ends otherwise (also when the coroutine is
  // destroyed with the session).
  struct Forgive {
    AuthLimiter& limiter;
    const std::string& client;
    const bool& failed;
    ~Forgive() {
      if (!failed) limiter.forgive(client);
    }
  };
  auth_failed_ = false;
  Forgive forgive{ctx_.auth_limiter, client, auth_failed_};
  if (mechanism == "PLAIN")
    co_await auth_plain(std::move(initial_response));
  else
    co_await auth_login(std::move(initial_response));
}

// Sends a 334 challenge and reads the answer. nullopt: the exchange is over (reply queued).
asio::awaitable<std::optional<std::string>> Session::sasl_response(std::string_view challenge,
                                                                   const char* mechanism) {
  conn_.queue("334 " + std::string(challenge) + "\r\n");
  std::string line;
  ReadStatus status = co_await read_client_line(line, kAuthLineLimit, kAuthLineLimit);
  if (status == ReadStatus::too_long) {
    ctx_.metrics.auth_attempt(mechanism, "error");
    refuse(Outcome::line_too_long, "line_too_long");
    co_return std::nullopt;
  }
  if (status != ReadStatus::ok) {
    end_on(status);
    co_return std::nullopt;
  }
  if (is_cancel(line)) {  // RFC 4954 4: "*" cancels
    ctx_.metrics.auth_attempt(mechanism, "cancelled");
    send(Outcome::auth_aborted);
    co_return std::nullopt;
  }
  clear_empty_marker(line);
  co_return line;
}

asio::awaitable<void> Session::auth_plain(std::optional<std::string> initial) {
  if (!initial) {
    initial = co_await sasl_response("", "PLAIN");  // RFC 4954 4: empty challenge "334 "
    if (!initial) co_return;
  }
  auto decoded = decode_plain(*initial);
  if (auto* error = std::get_if<Reply>(&decoded)) {
    ctx_.metrics.auth_attempt("PLAIN", "error");
    refuse(*error, "auth_syntax");
    co_return;
  }
  const PlainCredentials& credentials = std::get<PlainCredentials>(decoded);
  co_await auth_result("PLAIN", credentials.username, credentials.authzid, credentials.password);
}

asio::awaitable<void> Session::auth_login(std::optional<std::string> initial) {
  std::string username;
  std::string password;
  for (int step = 0; step < 2; ++step) {
    std::optional<std::string> response;
    if (step == 0 && initial)
      response = std::move(initial);  // RFC 4954 4 initial response
    else
      response = co_await sasl_response(step == 0 ? kLoginUserChallenge : kLoginPasswordChallenge,
                                        "LOGIN");
    if (!response) co_return;
    auto decoded = decode_login(*response);
    if (auto* error = std::get_if<Reply>(&decoded)) {
      ctx_.metrics.auth_attempt("LOGIN", "error");
      refuse(*error, "auth_syntax");
      co_return;
    }
    (step == 0 ? username : password) = std::move(std::get<std::string>(decoded));
  }
  co_await auth_result("LOGIN", username, "", password);
}

asio::awaitable<void> Session::auth_result(const char* mechanism, std::string_view username,
                                           std::string_view authzid, std::string_view password) {
  // Every user is compared, as SHA-256 digests in constant time (sasl.h), so that timing tells
  // nothing about which part was wrong nor any length. Proxy authorization (another authzid)
  // is not supported.
  bool match = credentials_match(ctx_.credentials, username, password);
  if (!authzid.empty() && authzid != username) match = false;
  if (!match) {
    auth_failed_ = true;  // stays counted by the AuthLimiter
    ctx_.metrics.auth_attempt(mechanism, "failure");
    obs::info("authentication failed", {{"client_ip", client_ip()}, {"mechanism", mechanism}});
    co_await failure_delay();
    refuse(Outcome::auth_failed, "auth_failed");  // RFC 4954 6: 535 5.7.8
    co_return;
  }
  auth_user_ = std::string(username);
  ctx_.metrics.auth_attempt(mechanism, "success");
  obs::info(
      "authenticated",
      {{"client_ip", client_ip()}, {"mechanism", mechanism}, {"user", std::string(username)}});
  send(Outcome::auth_ok);
}

}  // namespace smtp
