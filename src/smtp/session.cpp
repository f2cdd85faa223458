// The session loop: TLS first on implicit-TLS listeners, greeting (with the optional
// greet_delay early-talker check), then one command line at a time dispatched through the
// command table (commands.cpp) with the RFC 2920 synchronisation, require_tls, state and
// error-count checks applied in one place.
#include "smtp/session.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>

#include "obs/log.h"

namespace smtp {

namespace {
constexpr size_t kAuthLineLimit = 12288;  // RFC 4954 4: SASL lines may exceed 512 bytes
// A connection refused during shutdown on an implicit-TLS listener gets its 421 inside TLS
// (RFC 8314 3.3) if the handshake is quick.
constexpr auto kRefusalHandshakeTimeout = std::chrono::seconds(5);
}  // namespace

Session::Session(SessionContext& context, asio::ip::tcp::socket socket, bool implicit_tls,
                 std::shared_ptr<ClientShare> share, std::optional<Outcome> refusal)
    : ctx_(context),
      conn_(std::move(socket), context.tls),
      implicit_tls_(implicit_tls),
      refusal_(refusal),
      share_(std::move(share)) {}

asio::awaitable<void> Session::run(std::shared_ptr<Session> self) {
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, watch(self), asio::detached);  // watch() catches everything itself
  std::string failure;
  try {
    co_await self->serve();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!failure.empty()) {
    self->end_as("error");
    obs::error("smtp session failed", {{"client_ip", self->client_ip()}, {"error", failure}});
  }
  self->reset_transaction();  // gives back any budget still held, before the close's drain
  try {
    co_await self->conn_.close();
  } catch (...) {
  }
  if (!self->refusal_) {  // refused connections are counted in connections_rejected
    std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - self->started_;
    self->ctx_.metrics.session_ended(self->end_reason_ ? self->end_reason_ : "disconnected",
                                     seconds.count());
  }
}

asio::awaitable<void> Session::watch(std::shared_ptr<Session> self) {
  try {
    co_await self->conn_.watchdog();
  } catch (const std::exception& e) {
    obs::error("smtp watchdog failed", {{"error", e.what()}});
  }
}

void Session::shutdown() {
  stopping_ = true;
  // A transaction in progress may finish (its next command, DATA, the store's answer); the
  // session ends after its 250 (serve()). The drain deadline in Server::stop bounds the wait.
  if (waiting_for_command_ && !in_transaction()) conn_.interrupt();
}

void Session::force_close() {
  end_as("shutdown");
  stopping_ = true;
  closing_ = true;
  conn_.interrupt();
}

void Session::send(Outcome outcome) {
  conn_.queue(format(reply(outcome)));
}
void Session::send(const Reply& r) {
  conn_.queue(format(r));
}

void Session::refuse(Outcome outcome, const char* reason) {
  refuse(reply(outcome), reason);
}

void Session::refuse(const Reply& r, const char* reason) {
  ctx_.metrics.command_rejected(reason);
  if (++errors_ > ctx_.config.smtp.limits.max_errors) {
    ctx_.metrics.command_rejected("too_many_errors");
    end_as("too_many_errors");
    send(Outcome::too_many_errors);
    closing_ = true;
    return;
  }
  send(r);
}

void Session::reset_transaction() {
  conn_.stop_data_clock();
  mail_ = MailFrom{};
  rcpts_.clear();
  std::string().swap(bdat_data_);
  bdat_checker_.reset();
  bdat_over_budget_ = BudgetRefusal::none;
  if (reserved_ > 0) ctx_.budget.release(*share_, reserved_);
  reserved_ = 0;
  if (state_ != State::fresh) state_ = State::ready;
}

bool Session::admit_transaction(uint64_t size) {
  BudgetRefusal refusal = ctx_.budget.admit(*share_, size);
  if (refusal == BudgetRefusal::none) return true;
  const bool client = refusal == BudgetRefusal::client;
  ctx_.metrics.command_rejected(client ? "client_memory_share" : "insufficient_memory");
  send(client ? Outcome::client_memory_share : Outcome::insufficient_memory);
  return false;
}

void Session::start_data_clock() {
  const auto& limits = ctx_.config.smtp.limits;
  conn_.start_data_clock(limits.min_data_rate, limits.data_timeout,
                         limits.data_transaction_timeout);
}

ContentLimits Session::content_limits(bool binary) const {
  const auto& smtp = ctx_.config.smtp;
  ContentLimits limits;
  limits.max_size = smtp.limits.max_message_size;
  limits.max_line = smtp.limits.max_line_length;
  // BINARYMIME (RFC 3030 3) has no lines, so neither line length nor bare line ends apply.
  limits.reject_bare_line_ends = !binary && smtp.bare_lf == config::BareLf::reject;
  limits.check_lines = !binary;
  return limits;
}

// Ends the session after a failed read: 421 for a timeout (RFC 5321 4.5.3.2), for data too
// slow or too long (SMTP.md "Limits": nothing was acknowledged, so nothing is lost) or for a
// shutdown; nothing to say to a peer that has gone.
void Session::end_on(ReadStatus status) {
  if (status == ReadStatus::too_slow) {
    ctx_.metrics.command_rejected("data_too_slow");
    end_as("timeout");
    obs::info("data too slow", {{"client_ip", client_ip()}});
    send(Outcome::data_too_slow);
  } else if (status == ReadStatus::timeout) {
    ctx_.metrics.command_rejected("timeout");
    end_as("timeout");
    send(Outcome::timeout);
  } else if (status == ReadStatus::cancelled) {
    end_as("shutdown");
    send(Outcome::shutting_down);  // RFC 5321 3.8
  } else {
    end_as("disconnected");
  }
  closing_ = true;
}

asio::awaitable<ReadStatus> Session::read_client_line(std::string& line, size_t limit,
                                                      size_t auth_limit) {
  if (shutting_down() && !in_transaction()) co_return ReadStatus::cancelled;
  conn_.set_timeout(ctx_.config.smtp.limits.command_timeout);
  waiting_for_command_ = true;
  ReadStatus status = co_await conn_.read_line(line, limit, auth_limit);
  waiting_for_command_ = false;
  co_return status;
}

// Implicit TLS handshake, greet_delay, greeting. False: the session is over.
asio::awaitable<bool> Session::open() {
  const auto& smtp = ctx_.config.smtp;
  if (refusal_) {
    if (implicit_tls_) {
      // At shutdown (few clients, and they should retry elsewhere) a handshake is worth it to
      // say 421 4.3.2 properly.
      conn_.set_timeout(kRefusalHandshakeTimeout);
      if (!co_await conn_.handshake()) co_return false;
    }
    send(*refusal_);
    co_return false;
  }
  if (implicit_tls_) {  // RFC 8314 3.3: TLS first, then the SMTP greeting inside it
    conn_.set_timeout(smtp.limits.command_timeout);
    bool ok = co_await conn_.handshake();
    ctx_.metrics.tls_handshake(ok);
    if (!ok) {
      end_as("tls_failed");
      obs::info("tls handshake failed", {{"client_ip", client_ip()}, {"listener", "smtps"}});
      co_return false;
    }
  }
  if (smtp.greet_delay.count() > 0) {
    // Postscreen-style pregreet test: a client that talks before the greeting is not SMTP.
    conn_.set_timeout(smtp.greet_delay);
    ReadStatus status = co_await conn_.wait_readable();
    if (status == ReadStatus::ok) {
      ctx_.metrics.command_rejected("early_talker");
      end_as("protocol_violation");
      obs::info("early talker", {{"client_ip", client_ip()}});
      send(Outcome::early_talker);
      co_return false;
    }
    if (status != ReadStatus::timeout) co_return false;
  }
  send(Reply{220, "", ctx_.hostname + " ESMTP smtp-bridge"});  // RFC 5321 4.3.1
  co_return true;
}

asio::awaitable<void> Session::serve() {
  if (!co_await open()) co_return;
  const auto& limits = ctx_.config.smtp.limits;
  std::string line;
  while (!closing_) {
    // RFC 5321 3.8: during shutdown, 421 to the next command outside a transaction (a finished
    // transaction has had its 250 by now).
    if (shutting_down() && !in_transaction()) {
      end_on(ReadStatus::cancelled);
      break;
    }
    ReadStatus status = co_await read_client_line(line, limits.max_command_line, kAuthLineLimit);
    if (status == ReadStatus::too_long) {  // RFC 5321 4.5.3.1.4; the rest is skipped
      refuse(Outcome::line_too_long, "line_too_long");
      continue;
    }
    if (status != ReadStatus::ok) {
      end_on(status);
      break;
    }
    if (shutting_down() && !in_transaction()) {  // read just as the shutdown began
      end_on(ReadStatus::cancelled);
      break;
    }
    co_await handle_line(line);
  }
}

Outcome Session::wrong_state(Verb verb) const {
  if (state_ == State::fresh) return Outcome::need_helo;
  switch (verb) {
    case Verb::mail:
      return Outcome::nested_mail;
    case Verb::rcpt:
      return state_ == State::ready ? Outcome::need_mail : Outcome::bad_sequence;
    case Verb::data:
    case Verb::bdat:
      if (state_ == State::ready) return Outcome::need_mail;
      if (state_ == State::mail) return Outcome::need_rcpt;
      return Outcome::bad_sequence;
    default:
      return Outcome::bad_sequence;
  }
}

asio::awaitable<void> Session::handle_line(const std::string& line) {
  if (looks_like_http(line)) {  // cross-protocol request to the SMTP port: not a client
    ctx_.metrics.command_rejected("http_request");
    end_as("protocol_violation");
    obs::info("http request on smtp port", {{"client_ip", client_ip()}});
    send(Outcome::http_request);
    closing_ = true;
    co_return;
  }
  CommandParse parse = parse_command(line);
  if (!parse.command) {
    refuse(parse.error, "syntax");
    co_return;
  }
  const Command& command = *parse.command;
  const CommandSpec* spec = find_command(command.verb);
  // RFC 2920 3.1: EHLO, HELO and DATA end a group; without PIPELINING (HELO) every command
  // does. Input already waiting there is a synchronisation error (Exim 0300).
  bool pipelining = state_ == State::fresh || esmtp_;
  if (((spec && spec->last_in_group) || !pipelining) && conn_.input_pending()) {
    ctx_.metrics.command_rejected("sync_error");
    end_as("protocol_violation");
    obs::info("smtp synchronization error",
              {{"client_ip", client_ip()}, {"command", command.name}});
    send(Outcome::sync_error);
    closing_ = true;
    co_return;
  }
  if (!spec) {
    refuse(Outcome::unknown_command, "unknown_command");
    co_return;
  }
  // RFC 3207 4: with require_tls only the commands that lead to TLS are served in clear.
  if (ctx_.config.smtp.require_tls && !conn_.tls_active() && !spec->before_tls) {
    refuse(Outcome::tls_required, "tls_required");
    co_return;
  }
  if ((spec->states & static_cast<unsigned>(state_)) == 0) {
    refuse(wrong_state(command.verb), "bad_sequence");
    co_return;
  }
  co_await (this->*(spec->handler))(command);
  if (closing_ && command.verb == Verb::quit) end_as("quit");
  if (closing_ && command.verb == Verb::starttls) end_as("tls_failed");
}

}  // namespace smtp
