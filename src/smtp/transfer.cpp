// Message transfer: DATA (RFC 5321 4.1.1.4, only CRLF.CRLF ends it), BDAT (RFC 3030, exact byte
// counts, never parsed as commands), and handing the message to the Store. Promise: 250 only
// after the store reports a durable commit; the io thread never waits on the store.
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <charconv>
#include <functional>

#include "common/ids.h"
#include "mailauth/authenticator.h"
#include "obs/log.h"
#include "smtp/received.h"
#include "smtp/session.h"

namespace smtp {

namespace {

// Store::enqueue_inbound calls `done` on its writer thread; the status is posted back to the
// handler's executor (the session's io thread), where the coroutine resumes.
struct EnqueueInitiation {
  store::Store* store;

  template <typename Handler>
  void operator()(Handler handler, store::InboundMessage* message) const {
    asio::any_io_executor executor = asio::get_associated_executor(handler);
    auto shared = std::make_shared<Handler>(std::move(handler));
    store->enqueue_inbound(std::move(*message), [shared, executor](store::Status status) mutable {
      asio::post(executor, [handler = std::move(shared), status]() { (*handler)(status); });
    });
  }
};

asio::awaitable<store::Status> enqueue(store::Store& store, store::InboundMessage message) {
  // Only trivially destructible temporaries inside co_await: g++ 12 destroys some others twice.
  EnqueueInitiation initiation{&store};
  store::InboundMessage* pointer = &message;
  store::Status status =
      co_await asio::async_initiate<const asio::use_awaitable_t<>, void(store::Status)>(
          initiation, asio::use_awaitable, pointer);
  co_return status;
}

// Authenticator::check calls `done` on one of its worker threads; the verdicts are posted back
// to the session's io thread, like the store's status.
struct CheckInitiation {
  mailauth::Authenticator* authenticator;

  template <typename Handler>
  void operator()(Handler handler, mailauth::CheckInput* input) const {
    asio::any_io_executor executor = asio::get_associated_executor(handler);
    auto shared = std::make_shared<Handler>(std::move(handler));
    authenticator->check(std::move(*input), [shared,
                                             executor](mailauth::Verdicts verdicts) mutable {
      asio::post(executor, [handler = std::move(shared), verdicts = std::move(verdicts)]() mutable {
        (*handler)(std::move(verdicts));
      });
    });
  }
};

asio::awaitable<mailauth::Verdicts> check(mailauth::Authenticator& authenticator,
                                          mailauth::CheckInput input) {
  CheckInitiation initiation{&authenticator};
  mailauth::CheckInput* pointer = &input;
  mailauth::Verdicts verdicts =
      co_await asio::async_initiate<const asio::use_awaitable_t<>, void(mailauth::Verdicts)>(
          initiation, asio::use_awaitable, pointer);
  co_return verdicts;
}

// Reply text may name a domain the sender chose: printable ASCII only.
std::string printable(const std::string& text) {
  std::string kept;
  for (char c : text)
    if (c >= 0x20 && c < 0x7f) kept += c;
  return kept;
}

struct Rejection {
  Outcome outcome;
  const char* reason;
};

std::optional<Rejection> rejection_for(Verdict verdict, BudgetRefusal over_budget) {
  switch (verdict) {
    case Verdict::ok:
      break;
    case Verdict::too_big:
      return Rejection{Outcome::message_too_big, "too_big"};  // RFC 1870 / 5321 4.5.3.1.7
    case Verdict::line_too_long:
      return Rejection{Outcome::data_line_too_long, "line_too_long"};  // RFC 5321 4.5.3.1.6
    case Verdict::bare_line_end:
      return Rejection{Outcome::bare_lf, "bare_lf"};  // RFC 5321 2.3.8, SMTP smuggling
  }
  if (over_budget == BudgetRefusal::client)
    return Rejection{Outcome::client_memory_share, "client_memory_share"};
  if (over_budget == BudgetRefusal::total)
    return Rejection{Outcome::insufficient_memory, "insufficient_memory"};
  return std::nullopt;
}

struct BdatArgs {
  uint64_t size = 0;
  bool last = false;
};

// "BDAT" SP chunk-size [ SP end-marker ] (RFC 3030 2).
std::optional<BdatArgs> parse_bdat(std::string_view args) {
  BdatArgs result;
  size_t space = args.find(' ');
  std::string_view size = args.substr(0, space);
  if (size.empty() || size.size() > 19) return std::nullopt;
  auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), result.size);
  if (ec != std::errc() || end != size.data() + size.size()) return std::nullopt;
  if (space != std::string_view::npos) {
    std::string_view marker = args.substr(space + 1);
    if (marker.size() != 4) return std::nullopt;
    for (size_t i = 0; i < 4; ++i)
      if ((marker[i] & ~0x20) != "LAST"[i]) return std::nullopt;
    result.last = true;
  }
  return result;
}

}  // namespace

// Keeps the budget in step with the bytes `held`; past the client's share or the total the bytes
// are dropped and the transaction ends in 452 4.3.1 after its end of data. Bytes the reader
// stops holding (a message past max_message_size is only counted) are given back at once.
void Session::account(std::string& held, BudgetRefusal& over_budget) {
  if (over_budget != BudgetRefusal::none) {
    std::string().swap(held);  // frees the memory, not only the size
  } else if (held.size() > reserved_) {
    uint64_t more = held.size() - reserved_;
    over_budget = ctx_.budget.try_reserve(*share_, more);
    if (over_budget == BudgetRefusal::none) {
      reserved_ += more;
      return;
    }
    std::string().swap(held);
  }
  if (held.size() < reserved_) {
    ctx_.budget.release(*share_, reserved_ - held.size());
    reserved_ = held.size();
  }
}

asio::awaitable<void> Session::cmd_data(const Command& command) {
  if (!command.args.empty()) {
    refuse(Outcome::bad_arguments, "syntax");
    co_return;
  }
  if (mail_.body == "BINARYMIME") {  // RFC 3030 3: BINARYMIME only with BDAT
    refuse(Outcome::bad_sequence, "bad_sequence");
    co_return;
  }
  if (!admit_transaction(0)) co_return;
  send(Outcome::start_data);
  start_data_clock();
  DataReader reader(content_limits(false));
  BudgetRefusal over_budget = BudgetRefusal::none;
  conn_.set_timeout(ctx_.config.smtp.limits.data_timeout);  // RFC 5321 4.5.3.2.5
  // Callbacks are named locals: g++ 12 mishandles some temporaries inside co_await.
  const std::function<bool(std::string_view, size_t&)> consume = [&](std::string_view bytes,
                                                                     size_t& used) {
    used = reader.feed(bytes);
    account(reader.message(), over_budget);
    return reader.done();
  };
  ReadStatus status = co_await conn_.read_until(consume);
  if (status != ReadStatus::ok) {  // nothing is stored from an unfinished DATA
    reset_transaction();
    end_on(status == ReadStatus::cancelled ? ReadStatus::closed : status);
    co_return;
  }
  conn_.stop_data_clock();
  ctx_.metrics.received_bytes.inc(static_cast<double>(reader.size()));
  co_await finish_message(reader.verdict(), over_budget, std::move(reader.message()));
}

asio::awaitable<void> Session::cmd_bdat(const Command& command) {
  std::optional<BdatArgs> args = parse_bdat(command.args);
  if (!args) {
    refuse(Outcome::bad_arguments, "syntax");
    co_return;
  }
  if (args->size == 0 && !args->last) {  // Exim 0900: an empty non-final chunk is refused
    refuse(Outcome::parameter_not_implemented, "syntax");
    co_return;
  }
  // The first chunk starts the transaction's use of the budget: 452 4.3.1 when it cannot.
  const BudgetRefusal budget =
      state_ == State::rcpt ? ctx_.budget.admit(*share_, 0) : BudgetRefusal::none;
  std::optional<Outcome> rejection;
  if (ctx_.config.smtp.require_tls && !conn_.tls_active())
    rejection = Outcome::tls_required;
  else if (state_ != State::rcpt && state_ != State::bdat)
    rejection = wrong_state(Verb::bdat);
  else if (budget != BudgetRefusal::none)
    rejection = budget == BudgetRefusal::client ? Outcome::client_memory_share
                                                : Outcome::insufficient_memory;

  conn_.set_timeout(ctx_.config.smtp.limits.data_timeout);
  if (rejection) {
    co_await discard_chunk(args->size, *rejection);
    co_return;
  }
  if (state_ == State::rcpt) {
    bdat_checker_.emplace(content_limits(mail_.body == "BINARYMIME"));
    state_ = State::bdat;
    start_data_clock();  // runs from the first chunk to LAST, the commands between included
  }
  const uint64_t max_size = ctx_.config.smtp.limits.max_message_size;
  const std::function<void(std::string_view)> keep = [&](std::string_view bytes) {
    bdat_checker_->feed(bytes);
    if (bdat_checker_->size() <= max_size) {
      bdat_data_.append(bytes);
      account(bdat_data_, bdat_over_budget_);
    }
  };
  ReadStatus status = co_await conn_.read_exact(args->size, keep);
  if (status != ReadStatus::ok) {  // closed mid-chunk: nothing stored
    reset_transaction();
    end_on(status == ReadStatus::cancelled ? ReadStatus::closed : status);
    co_return;
  }
  ctx_.metrics.received_bytes.inc(static_cast<double>(args->size));
  if (!args->last) {
    send(reply(Outcome::chunk_ok)
             .with_text("Ok: " + std::to_string(args->size) + " octets received"));
    co_return;
  }
  conn_.stop_data_clock();
  bdat_checker_->finish();  // a CR as the message's very last byte is a bare CR
  Verdict verdict = bdat_checker_->verdict();
  co_await finish_message(verdict, bdat_over_budget_, std::move(bdat_data_));
}

// A refused chunk: its bytes follow the command regardless, so they are consumed, never run,
// on the data clock too (a trickled chunk would hold the connection's slot): a clock of its
// own, unless a BDAT transaction's is running. Then the refusal is answered.
asio::awaitable<void> Session::discard_chunk(uint64_t size, Outcome rejection) {
  const std::function<void(std::string_view)> discard = [](std::string_view) {};
  const bool own_clock = state_ != State::bdat;
  if (own_clock) start_data_clock();
  ReadStatus status = co_await conn_.read_exact(size, discard);
  if (own_clock) conn_.stop_data_clock();
  if (status != ReadStatus::ok) {
    end_on(status == ReadStatus::cancelled ? ReadStatus::closed : status);
    co_return;
  }
  if (rejection == Outcome::insufficient_memory || rejection == Outcome::client_memory_share) {
    ctx_.metrics.command_rejected(
        rejection == Outcome::client_memory_share ? "client_memory_share" : "insufficient_memory");
    send(rejection);
  } else {
    refuse(rejection, rejection == Outcome::tls_required ? "tls_required" : "bad_sequence");
  }
}

asio::awaitable<void> Session::finish_message(Verdict verdict, BudgetRefusal over_budget,
                                              std::string message) {
  if (std::optional<Rejection> rejection = rejection_for(verdict, over_budget)) {
    ctx_.metrics.message_rejected(rejection->reason);
    obs::info("message rejected", {{"reason", rejection->reason},
                                   {"from", mail_.address},
                                   {"rcpt_count", rcpts_.size()},
                                   {"client_ip", client_ip()}});
    send(rejection->outcome);
    reset_transaction();
    co_return;
  }
  co_await deliver(std::move(message));
}

// SPF, DKIM, DMARC and rspamd before the 250 (issue 13): the policy may refuse the message now,
// in protocol; else the verdicts go into the envelope and the Authentication-Results header.
asio::awaitable<bool> Session::authenticate(Envelope& envelope, std::string& message) {
  std::vector<std::string> rcpt_to;
  for (const RcptTo& to : envelope.rcpts) rcpt_to.push_back(to.address);
  auto bytes = std::make_shared<std::string>(std::move(message));
  mailauth::CheckInput input{bytes,   envelope.client_ip, envelope.helo, envelope.mail.address,
                             rcpt_to, envelope.auth_user, envelope.id};
  conn_.suspend_deadline();  // the checks' time is bounded by dns.budget and spam.rspamd.timeout
  mailauth::Verdicts verdicts = co_await check(*ctx_.authenticator, std::move(input));
  message = std::move(*bytes);  // the checks are done with it
  mailauth::Decision decision = mailauth::decide(
      verdicts, mailauth::policy_for(ctx_.config, rcpt_to), ctx_.config.rspamd.fail_closed);
  if (decision.kind != mailauth::Decision::Kind::accept) {
    ctx_.authenticator->count_decision(decision);
    ctx_.metrics.message_rejected(decision.reason);
    obs::info("message rejected", {{"reason", decision.reason},
                                   {"from", envelope.mail.address},
                                   {"rcpt_count", envelope.rcpts.size()},
                                   {"client_ip", envelope.client_ip}});
    Outcome outcome = decision.kind == mailauth::Decision::Kind::reject ? Outcome::policy_rejected
                      : decision.reason == "spam_unavailable"           ? Outcome::spam_unavailable
                                                                        : Outcome::auth_temperror;
    send(reply(outcome).with_text(printable(decision.text)));
    reset_transaction();
    co_return false;
  }
  if (verdicts.authenticated) {
    // RFC 8601 5: a header claiming our authserv-id that came with the message is a forgery.
    mailauth::remove_results_headers(message, ctx_.hostname);
    envelope.trace_header = mailauth::results_header(ctx_.hostname, verdicts);
  }
  envelope.authentication_json = mailauth::authentication_json(verdicts);
  envelope.spam_json = mailauth::spam_json(verdicts);
  co_return true;
}

asio::awaitable<void> Session::deliver(std::string message) {
  Envelope envelope;
  envelope.id = common::uuid_v7();
  envelope.hostname = ctx_.hostname;
  envelope.helo = helo_;
  envelope.esmtp = esmtp_;
  envelope.client_ip = conn_.remote_ip();
  envelope.client_port = conn_.remote_port();
  envelope.tls = conn_.tls_info();
  envelope.auth_user = auth_user_;
  envelope.mail = mail_;
  envelope.rcpts = rcpts_;
  if (ctx_.authenticator != nullptr) {
    bool accepted = co_await authenticate(envelope, message);
    if (!accepted) co_return;  // refused: the reply is sent
  }
  store::InboundMessage inbound =
      make_inbound(envelope, std::move(message), ctx_.config.routes, ctx_.config.relay);
  uint64_t size = inbound.data.size();

  conn_.suspend_deadline();  // the store's time is not the client's
  store::Status status = co_await enqueue(ctx_.store, std::move(inbound));
  reset_transaction();  // gives the buffered bytes back to the budget after the commit
  if (status == store::Status::ok) {
    ctx_.metrics.messages_accepted.inc();
    ctx_.metrics.message_size.observe(static_cast<double>(size));
    obs::info("message accepted", {{"id", envelope.id},
                                   {"from", envelope.mail.address},
                                   {"rcpt_count", envelope.rcpts.size()},
                                   {"size", size},
                                   {"client_ip", envelope.client_ip}});
    send(reply(Outcome::queued).with_text("Ok: queued as " + envelope.id));
  } else {
    ctx_.metrics.message_rejected("store_failed");
    obs::warn("message rejected", {{"reason", "store_failed"},
                                   {"status", store::to_string(status)},
                                   {"from", envelope.mail.address},
                                   {"rcpt_count", envelope.rcpts.size()},
                                   {"client_ip", envelope.client_ip}});
    send(Outcome::store_failed);
  }
}

}  // namespace smtp
