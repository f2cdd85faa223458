// The outbound relay (relay.h): a poller thread claims due jobs from the Store, one io thread
// runs up to `connections` worker coroutines, each owning one reused upstream session (RSET
// between messages, QUIT when idle), and every store call runs on a blocking thread, never on
// the io thread. Promise: each claimed recipient ends sent, failed or deferred, or stays in_flight
// (requeued at the next start) when stop() cuts a transaction short; nothing is sent twice to
// a recipient the upstream accepted (its result is recorded before the next claim sees it).
#include "relay/relay.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/host_name.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/return_path.h"
#include "common/thread_name.h"
#include "common/time.h"
#include "config/secret_file.h"
#include "obs/log.h"
#include "relay/client.h"
#include "relay/dkim_signer.h"
#include "relay/metrics.h"
#include "relay/policy.h"
#include "store/store.h"

namespace relay {

namespace {
constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kPollInterval = std::chrono::milliseconds(500);
// After a wake-up, the poller waits this long so that one claim (a store transaction on the
// store's single writer thread) takes the jobs of several sends and finishes, not one each.
constexpr auto kClaimCoalesce = std::chrono::milliseconds(5);
constexpr auto kDrainTimeout = std::chrono::seconds(10);

constexpr unsigned kMaxBlocking = 32;

size_t blocking_threads(unsigned connections) {
  return std::clamp(connections, 1u, kMaxBlocking);
}

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}
}  // namespace

struct Relay::Impl {
  Impl(const config::Relay& config, store::Store& store, obs::Registry& registry)
      : config(config),
        store(store),
        metrics(registry),
        blocking(blocking_threads(config.connections)),
        governor(config.connections),
        random(std::random_device{}()),
        dkim(config.dkim) {
    for (const config::DkimKey& key : config.dkim) metrics.dkim_key(key.domain, key.algorithm);
  }

  config::Relay config;
  store::Store& store;
  Metrics metrics;
  ClientOptions options;
  std::shared_ptr<asio::ssl::context> tls;

  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  // Store calls. One thread per session (up to kMaxBlocking): finish_outbound blocks until its
  // durable commit, and the store commits the finishes waiting together in one transaction, so
  // with one thread every session would wait for a commit (an fsync) of its own in turn.
  asio::thread_pool blocking;
  std::thread io_thread, poller_thread;
  bool started = false;

  // Shared between the poller and the io thread.
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false, notified = false;
  size_t claimed = 0;  // jobs handed to the io thread and not finished
  std::atomic<int64_t> paused_until_ms{0};

  // io thread only.
  Governor governor;
  std::optional<TokenBucket> rate;  // relay.rate_limit; none = unlimited
  std::mt19937_64 random;
  DkimSigner dkim;  // thread-safe; used on the blocking threads
  std::deque<store::OutboundJob> pending;
  std::vector<asio::steady_timer*> idle;  // workers waiting for a job
  unsigned workers = 0, open_sessions = 0;
  bool draining = false;
  std::promise<void> drained;
  bool drained_set = false;

  size_t capacity() const { return 2 * std::max(1u, config.connections); }

  void poll_loop();
  void dispatch();
  asio::awaitable<void> worker();
  asio::awaitable<void> run_job(std::unique_ptr<Client>& client, store::OutboundJob job);
  asio::awaitable<SendResult> transact(Client& client, const store::OutboundJob& job,
                                       std::string_view data);
  asio::awaitable<void> pace();
  asio::awaitable<void> record(const store::OutboundJob& job, const std::vector<Reply>& replies);
  asio::awaitable<std::string> dkim_sign(const store::OutboundJob& job);
  void job_done();
  void check_drained();
  // SMTP.md: a password_file (an XOAUTH2 token) is read again for each new session, so that a
  // rotated secret is used without a restart; when it cannot be read the last one is kept.
  void refresh_password() {
    if (config.password_file.empty()) return;
    std::string reason;
    if (auto secret = config::read_secret_file(config.password_file, reason)) {
      options.password = std::move(*secret);
    } else {
      obs::warn("relay: cannot read the password file again; using the last one",
                {{"reason", reason}});
    }
  }
};

void Relay::Impl::poll_loop() {
  std::unique_lock lock(mutex);
  while (!stopping) {
    size_t want = capacity() > claimed ? capacity() - claimed : 0;
    bool paused = now_ms() < paused_until_ms.load();
    std::vector<store::OutboundJob> jobs;
    if (want > 0 && !paused) {
      lock.unlock();
      jobs = store.claim_outbound(want, now_ms());
      lock.lock();
      claimed += jobs.size();
    }
    if (!jobs.empty()) {
      asio::post(io, [this, jobs = std::move(jobs)]() mutable {
        for (auto& job : jobs) pending.push_back(std::move(job));
        dispatch();
      });
      if (claimed < capacity()) continue;  // more may be due right now
    }
    if (wake.wait_for(lock, kPollInterval, [this] { return stopping || notified; }) && !stopping)
      wake.wait_for(lock, kClaimCoalesce, [this] { return stopping; });
    notified = false;
  }
}

// io thread: hands pending jobs to idle workers, or starts workers up to the governor's limit.
void Relay::Impl::dispatch() {
  size_t waiting = pending.size();
  while (waiting > 0 && !idle.empty()) {
    idle.back()->cancel();  // wakes that worker
    idle.pop_back();
    --waiting;
  }
  while (waiting > 0 && workers < governor.limit() && !draining) {
    ++workers;
    asio::co_spawn(io, worker(), asio::detached);
    --waiting;
  }
}

asio::awaitable<void> Relay::Impl::worker() {
  std::unique_ptr<Client> client;
  asio::steady_timer timer(io);
  for (;;) {
    if (pending.empty() && client && !draining) {  // keep the session for the next job
      timer.expires_after(kIdleTimeout);
      idle.push_back(&timer);
      auto [ec] = co_await timer.async_wait(use_nothrow);
      std::erase(idle, &timer);
      if (!ec) break;  // idle for kIdleTimeout: close
      continue;
    }
    if (pending.empty() || draining || workers > governor.limit()) break;
    auto pause = governor.paused_until();
    if (std::chrono::steady_clock::now() < pause) {  // throttled: wait, then try again
      timer.expires_at(pause);
      idle.push_back(&timer);  // so that stop() can wake it
      co_await timer.async_wait(use_nothrow);
      std::erase(idle, &timer);
      continue;
    }
    // relay.rate_limit: one token per transaction, shared by every session; waiting like the
    // governor's pause (in `idle`, so that stop() and new work wake it to look again).
    if (auto wait = rate ? rate->take(std::chrono::steady_clock::now()) : Duration::zero();
        wait > Duration::zero()) {
      auto waited_from = std::chrono::steady_clock::now();
      timer.expires_after(wait);
      idle.push_back(&timer);
      co_await timer.async_wait(use_nothrow);
      std::erase(idle, &timer);
      metrics.rate_limit_wait(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - waited_from).count());
      continue;
    }
    store::OutboundJob job = std::move(pending.front());
    pending.pop_front();
    co_await run_job(client, std::move(job));
  }
  if (client) {
    co_await client->quit();
    client.reset();
    metrics.connections(--open_sessions);
  }
  --workers;
  check_drained();
  if (!pending.empty()) dispatch();
}

asio::awaitable<void> Relay::Impl::run_job(std::unique_ptr<Client>& client,
                                           store::OutboundJob job) {
  if (!client) {
    refresh_password();
    Reply failure;
    client = co_await Client::open(io.get_executor(), options, *tls, failure);
    if (!client) {
      obs::warn("relay: upstream session failed", {{"host", options.host},
                                                   {"port", options.port},
                                                   {"code", failure.code},
                                                   {"reason", failure.text}});
      governor.slow_down(std::chrono::steady_clock::now());
      paused_until_ms = now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(
                                       governor.paused_until() - std::chrono::steady_clock::now())
                                       .count();
      // A session failure says nothing about the recipients: always try again later.
      Reply retry = failure;
      if (retry.code >= 500) retry.code = 0;
      if (retry.code == 0 && failure.code != 0)
        retry.text = std::to_string(failure.code) + " " + failure.text;
      std::vector<Reply> replies(job.rcpt_to.size(), retry);  // a named local: no temporaries
      co_await record(job, replies);                          // across co_await (GCC 12)
      co_return;
    }
    metrics.connections(++open_sessions);
  }
  // Signed now, not when stored: a retry signs again with the key current then.
  std::string signed_data = co_await dkim_sign(job);
  auto started = std::chrono::steady_clock::now();
  SendResult result = co_await transact(*client, job, signed_data.empty() ? job.data : signed_data);
  metrics.transaction_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (result.throttled) {
    governor.slow_down(std::chrono::steady_clock::now());
    paused_until_ms = now_ms() + 1000;
  } else if (result.connection_usable) {
    governor.recovered();
  }
  co_await record(job, result.recipients);
  if (client->usable() && !draining && co_await client->reset()) co_return;
  co_await client->quit();
  client.reset();
  metrics.connections(--open_sessions);
}

// One transaction for the job; with relay.return_path_domain one per recipient, each with its
// own VERP return path (README "Bounces"), on the same session with RSET between, the later
// ones paced by relay.rate_limit like any transaction. When the session ends before a
// recipient's turn, that recipient is tried again later (a local reply, code 0).
asio::awaitable<SendResult> Relay::Impl::transact(Client& client, const store::OutboundJob& job,
                                                  std::string_view data) {
  SendResult all;
  if (config.return_path_domain.empty()) {
    Envelope envelope{job.mail_from, job.rcpt_to};  // a named local: no temporaries across
    all = co_await client.send(envelope, data);     // co_await (GCC 12)
    co_return all;
  }
  all.connection_usable = true;
  for (size_t i = 0; i < job.rcpt_to.size(); ++i) {
    if (i > 0) {
      if (all.connection_usable && !draining) co_await pace();
      if (!all.connection_usable || draining || !co_await client.reset()) {
        all.connection_usable = false;
        all.recipients.resize(job.rcpt_to.size(),
                              Reply{0, "", "the session ended before this recipient's turn"});
        break;
      }
    }
    int position = i < job.positions.size() ? job.positions[i] : static_cast<int>(i);
    Envelope envelope{common::return_path(config.return_path_domain,
                                          config.return_path_secrets.front(), job.id, position),
                      {job.rcpt_to[i]}};
    SendResult one = co_await client.send(envelope, data);
    all.recipients.push_back(one.recipients.empty() ? Reply{0, "", "no reply"}
                                                    : one.recipients.front());
    all.throttled = all.throttled || one.throttled;
    all.connection_usable = one.connection_usable;
  }
  co_return all;
}

// Waits for a relay.rate_limit token (none configured: returns at once).
asio::awaitable<void> Relay::Impl::pace() {
  if (!rate) co_return;
  asio::steady_timer timer(io);
  auto waited_from = std::chrono::steady_clock::now();
  bool waited = false;
  for (;;) {
    auto wait = rate->take(std::chrono::steady_clock::now());
    if (wait <= Duration::zero() || draining) break;
    waited = true;
    timer.expires_after(wait);
    co_await timer.async_wait(use_nothrow);
  }
  if (waited)
    metrics.rate_limit_wait(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - waited_from).count());
}

// The message with its DKIM-Signature fields above it (README "DKIM signing"), or "" when it
// goes unsigned (counted). Signing is CPU work (an RSA signature): on a blocking thread, so that
// the io thread keeps serving the other sessions.
asio::awaitable<std::string> Relay::Impl::dkim_sign(const store::OutboundJob& job) {
  DkimResult signature;
  if (config.dkim.empty()) {
    signature = dkim.sign(job.data);  // no keys: answers no_key at once, no thread hop
  } else {
    co_await asio::co_spawn(
        blocking,
        [this, &job, &signature]() -> asio::awaitable<void> {
          signature = dkim.sign(job.data);
          co_return;
        },
        asio::use_awaitable);
  }
  if (!signature.error.empty())
    obs::warn("relay: DKIM signing failed", {{"id", job.id}, {"error", signature.error}});
  for (const DkimSignature& made : signature.made)
    metrics.dkim_signature(made.domain, made.algorithm);
  if (signature.status == DkimResult::Status::no_key) metrics.dkim_unsigned("no_key");
  if (signature.status == DkimResult::Status::error) metrics.dkim_unsigned("error");
  if (signature.headers.empty()) co_return std::string();
  co_return signature.headers + job.data;
}

// Recipient outcomes → the store, on the blocking thread; returns once committed.
asio::awaitable<void> Relay::Impl::record(const store::OutboundJob& job,
                                          const std::vector<Reply>& replies) {
  std::vector<store::RecipientResult> results;
  int64_t now = now_ms();
  size_t sent = 0, failed = 0;
  for (size_t i = 0; i < job.rcpt_to.size(); ++i) {
    int attempts = i < job.attempts.size() ? job.attempts[i] : 1;
    Reply reply = i < replies.size() ? replies[i] : Reply{0, "", "no reply"};
    results.push_back(
        classify(job.rcpt_to[i], reply, attempts, job.created_at_ms, now, config.retry, random));
    metrics.recipient(results.back().outcome);
    sent += results.back().outcome == store::RecipientOutcome::sent;
    failed += results.back().outcome == store::RecipientOutcome::failed;
  }
  size_t n = results.size();
  metrics.message(sent == n            ? "sent"
                  : failed == n        ? "failed"
                  : sent + failed == n ? "partial"
                                       : "deferred");
  co_await asio::co_spawn(
      blocking,
      [this, &job, &results]() -> asio::awaitable<void> {
        try {
          store.finish_outbound(job.id, results);
        } catch (const std::exception& e) {  // the rows stay in_flight: requeued at restart
          obs::error("relay: recording outcomes failed", {{"id", job.id}, {"error", e.what()}});
        }
        co_return;
      },
      asio::use_awaitable);
  job_done();
}

void Relay::Impl::job_done() {
  std::lock_guard lock(mutex);
  --claimed;
  notified = true;
  wake.notify_all();
}

void Relay::Impl::check_drained() {
  if (draining && workers == 0 && !drained_set) {
    drained_set = true;
    drained.set_value();
  }
}

Relay::Relay(const config::Relay& config, store::Store& store, obs::Registry& registry)
    : impl_(std::make_unique<Impl>(config, store, registry)) {}

Relay::~Relay() {
  stop();
}

bool Relay::start(std::string& error) {
  Impl& s = *impl_;
  s.metrics.sample_queue(s.store);
  if (s.config.host.empty()) {
    obs::info("relay: no upstream configured; outbound messages wait in the store");
    return true;
  }
  s.tls = make_client_tls(s.config.verify, s.config.ca_file, error);
  if (!s.tls) return false;
  s.options.host = s.config.host;
  s.options.port = static_cast<uint16_t>(s.config.port);
  s.options.tls = s.config.tls;
  asio::error_code ec;
  s.options.ehlo_name = !s.config.hostname.empty() ? s.config.hostname : asio::ip::host_name(ec);
  if (s.options.ehlo_name.empty()) s.options.ehlo_name = "localhost";
  s.options.mechanism = s.config.mechanism;
  s.options.username = s.config.username;
  s.options.password = s.config.password;
  const config::RelayTimeouts& t = s.config.timeouts;
  s.options.timeouts =
      Timeouts{t.connect, t.greeting, t.command, t.data_init, t.data_block, t.data_end};
  if (const config::RelayRateLimit& limit = s.config.rate_limit; limit.messages_per_second > 0)
    s.rate.emplace(limit.messages_per_second, limit.burst, std::chrono::steady_clock::now());
  s.work.emplace(s.io.get_executor());
  s.io_thread = std::thread([&s] {
    common::name_this_thread("relay-io");
    s.io.run();
  });
  s.poller_thread = std::thread([&s] {
    common::name_this_thread("relay-poll");
    s.poll_loop();
  });
  s.started = true;
  obs::info("relay: started", {{"host", s.options.host},
                               {"port", s.options.port},
                               {"connections", s.config.connections},
                               {"messages_per_second", s.config.rate_limit.messages_per_second}});
  return true;
}

void Relay::notify() {
  std::lock_guard lock(impl_->mutex);
  impl_->notified = true;
  impl_->wake.notify_all();
}

void Relay::stop() {
  Impl& s = *impl_;
  if (!s.started) return;
  s.started = false;
  {
    std::lock_guard lock(s.mutex);
    s.stopping = true;
    s.wake.notify_all();
  }
  s.poller_thread.join();
  auto drained = s.drained.get_future();
  asio::post(s.io, [&s] {
    s.draining = true;
    for (auto* timer : s.idle) timer->cancel();
    s.idle.clear();
    s.check_drained();
  });
  if (drained.wait_for(kDrainTimeout) != std::future_status::ready) {
    obs::warn("relay: transactions still running at shutdown; their recipients are retried later");
    s.io.stop();
  }
  s.work.reset();
  s.io_thread.join();
  s.blocking.join();
}

}  // namespace relay
