// One inbound SMTP session (RFC 5321 + ESMTP, SMTP.md): the state machine, the command table
// with its RFC 2920 pipelining flags, DATA/BDAT, STARTTLS and AUTH. One coroutine per
// connection, on one io thread's io_context; the io threads never block (the store answers via
// a post).
#pragma once
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "smtp/address.h"
#include "smtp/auth_limiter.h"
#include "smtp/budget.h"
#include "smtp/command.h"
#include "smtp/connection.h"
#include "smtp/data_reader.h"
#include "smtp/metrics.h"
#include "smtp/reply.h"
#include "smtp/sasl.h"
#include "store/store.h"

namespace mailauth {
class Authenticator;
}

namespace smtp {

// What every session shares; owned by the Server, outlives all sessions.
struct SessionContext {
  const config::Config& config;
  store::Store& store;
  Metrics& metrics;
  asio::ssl::context& tls;
  std::string hostname;
  BufferBudget& budget;  // the total and the per-client shares of message bytes
  const std::atomic<bool>& stopping;
  const std::vector<StoredCredential>& credentials;  // smtp.auth.users as digests
  AuthLimiter& auth_limiter;                         // failed AUTH per client address
  mailauth::Authenticator* authenticator;  // SPF, DKIM, DMARC, rspamd; nullptr when all are off
};

// RFC 5321 states; a bit mask in the command table.
enum class State : unsigned {
  fresh = 1,  // greeted, no EHLO/HELO yet (also right after STARTTLS)
  ready = 2,  // EHLO/HELO done, no transaction
  mail = 4,   // MAIL accepted, no recipient yet
  rcpt = 8,   // at least one recipient accepted
  bdat = 16,  // BDAT chunks received, LAST not yet
};

class Session;
struct Envelope;
struct CommandSpec {
  Verb verb;
  asio::awaitable<void> (Session::*handler)(const Command&);
  unsigned states;     // mask of State values in which the verb may run
  bool last_in_group;  // RFC 2920 3.1: nothing may follow it before its reply (else 554)
  bool before_tls;     // allowed while require_tls and TLS is not active (SMTP-CASES 5)
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `refusal` set: answer it and close (shutting down; connection limits are refused by the
  // Server without a session).
  // `share`: what the client's address holds of the budget, shared with its other sessions.
  Session(SessionContext& context, asio::ip::tcp::socket socket, bool implicit_tls,
          std::shared_ptr<ClientShare> share, std::optional<Outcome> refusal = std::nullopt);
  // The whole session, watchdog included; returns when the connection is closed. Never throws.
  static asio::awaitable<void> run(std::shared_ptr<Session> self);
  const std::string& client_ip() const { return conn_.remote_ip(); }
  asio::any_io_executor executor() { return conn_.executor(); }
  // Server shutdown (call on the session's executor): a session outside a transaction gets
  // 421 4.3.2 at once (RFC 5321 3.8); one in a transaction (MAIL given) may finish it, gets
  // its 250, then 421.
  void shutdown();
  // Ends any pending I/O now (after the drain timeout).
  void force_close();

 private:
  static asio::awaitable<void> watch(std::shared_ptr<Session> self);
  static const CommandSpec* find_command(Verb verb);
  asio::awaitable<void> serve();
  asio::awaitable<bool> open();
  asio::awaitable<void> handle_line(const std::string& line);
  asio::awaitable<ReadStatus> read_client_line(std::string& line, size_t limit, size_t auth_limit);
  void end_on(ReadStatus status);
  // The session's outcome for smtp_bridge_smtp_sessions_total; the first one named wins.
  void end_as(const char* outcome) {
    if (end_reason_ == nullptr) end_reason_ = outcome;
  }
  bool in_transaction() const {
    return state_ == State::mail || state_ == State::rcpt || state_ == State::bdat;
  }
  bool shutting_down() const { return stopping_ || ctx_.stopping.load(); }
  Outcome wrong_state(Verb verb) const;

  void send(Outcome outcome);
  void send(const Reply& reply);
  // A client error: counted (limits.max_errors, then 421 4.7.0 and close) and in the metrics.
  void refuse(Outcome outcome, const char* reason);
  void refuse(const Reply& reply, const char* reason);
  void reset_transaction();
  ContentLimits content_limits(bool binary) const;
  // The DATA/BDAT clock (limits.min_data_rate, data_timeout, data_transaction_timeout).
  void start_data_clock();

  // commands.cpp
  asio::awaitable<void> cmd_ehlo(const Command& command);
  asio::awaitable<void> cmd_helo(const Command& command);
  asio::awaitable<void> cmd_mail(const Command& command);
  asio::awaitable<void> cmd_rcpt(const Command& command);
  asio::awaitable<void> cmd_rset(const Command& command);
  asio::awaitable<void> cmd_noop(const Command& command);
  asio::awaitable<void> cmd_quit(const Command& command);
  asio::awaitable<void> cmd_vrfy(const Command& command);
  asio::awaitable<void> cmd_help(const Command& command);
  asio::awaitable<void> cmd_not_implemented(const Command& command);
  // transfer.cpp
  asio::awaitable<void> cmd_data(const Command& command);
  asio::awaitable<void> cmd_bdat(const Command& command);
  asio::awaitable<void> discard_chunk(uint64_t size, Outcome rejection);
  asio::awaitable<void> finish_message(Verdict verdict, BudgetRefusal over_budget,
                                       std::string message);
  asio::awaitable<void> deliver(std::string message);
  // The inbound checks; false when the policy refused the message (the reply is sent).
  asio::awaitable<bool> authenticate(Envelope& envelope, std::string& message);
  void account(std::string& held, BudgetRefusal& over_budget);
  // MAIL, DATA and the first BDAT: 452 4.3.1 (queued, counted) when no transaction of `size`
  // bytes may start now; true when it may.
  bool admit_transaction(uint64_t size);
  // auth.cpp
  asio::awaitable<void> cmd_starttls(const Command& command);
  asio::awaitable<void> cmd_auth(const Command& command);
  asio::awaitable<void> authenticate(std::string mechanism, std::optional<std::string> initial);
  asio::awaitable<void> auth_plain(std::optional<std::string> initial);
  asio::awaitable<void> auth_login(std::optional<std::string> initial);
  asio::awaitable<std::optional<std::string>> sasl_response(std::string_view challenge,
                                                            const char* mechanism);
  asio::awaitable<void> auth_result(const char* mechanism, std::string_view username,
                                    std::string_view authzid, std::string_view password);

  SessionContext& ctx_;
  Connection conn_;
  const bool implicit_tls_;
  const std::optional<Outcome> refusal_;

  State state_ = State::fresh;
  bool esmtp_ = false;  // EHLO (PIPELINING negotiated) rather than HELO
  std::string helo_;
  std::optional<std::string> auth_user_;
  bool auth_failed_ = false;  // the AUTH exchange in progress failed on its credentials
  unsigned errors_ = 0;
  bool closing_ = false;   // a handler ended the session
  bool stopping_ = false;  // server shutdown requested
  bool waiting_for_command_ = false;
  const char* end_reason_ = nullptr;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  // The transaction (RFC 5321 3.3), cleared by reset_transaction().
  MailFrom mail_;
  std::vector<RcptTo> rcpts_;
  std::string bdat_data_;
  std::optional<ContentChecker> bdat_checker_;
  BudgetRefusal bdat_over_budget_ = BudgetRefusal::none;
  const std::shared_ptr<ClientShare> share_;
  uint64_t reserved_ = 0;  // bytes taken from the budget (and from share_)
};

}  // namespace smtp
