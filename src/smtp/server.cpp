// smtp::Server: binds the listeners, runs one io_context per io thread (N threads), accepts
// connections (backing off on errors such as EMFILE), enforces the connection limits, reloads a
// changed certificate and drains on stop(): listeners stay open answering 421 while sessions
// finish. Promise: stop() returns only after every session has ended and every io thread is joined.
#include "smtp/server.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/thread_name.h"
#include "config/config.h"
#include "mailauth/authenticator.h"
#include "obs/log.h"
#include "smtp/metrics.h"
#include "smtp/reply.h"
#include "smtp/session.h"
#include "smtp/tls_context.h"

namespace smtp {

namespace {
constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);
// After smtp.drain_timeout, sessions still in a transaction are closed; this long for them to go.
constexpr auto kForceCloseTimeout = std::chrono::seconds(5);  // after closing their sockets
constexpr auto kAcceptBackoffMin = std::chrono::milliseconds(10);
constexpr auto kAcceptBackoffMax = std::chrono::seconds(1);
constexpr auto kCertificateCheckInterval = std::chrono::seconds(2);

std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

// A connection past a connection limit (SMTP.md "Limits"): its 421 4.7.0 goes out in one
// non-blocking write (a new socket's send buffer always has room for one line) and the socket
// is closed at once: no session, no timer, no drain, so a flood of refused connections costs
// an accept and a close each and holds nothing. Implicit-TLS listeners cannot say anything
// before a handshake, which would cost far more than the refusal saves: closed unanswered.
void refuse_at_once(asio::ip::tcp::socket& socket, bool tls, Outcome outcome) {
  asio::error_code ignored;
  if (!tls) {
    socket.non_blocking(true, ignored);
    const std::string text = format(reply(outcome));
    socket.write_some(asio::buffer(text), ignored);
    socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    // Closing with unread input resets the connection, which may destroy the 421 in flight:
    // read what an early talker has already sent (a bounded amount, never waiting).
    char scratch[4096];
    for (int i = 0; i < 4 && socket.available(ignored) > 0 && !ignored; ++i)
      socket.read_some(asio::buffer(scratch), ignored);
  }
  socket.close(ignored);
}

}  // namespace

struct Server::Impl {
  struct Listener {
    Listener(asio::io_context& io, bool tls)
        : executor(io.get_executor()), acceptor(executor), tls(tls) {}
    asio::any_io_executor executor;
    asio::ip::tcp::acceptor acceptor;
    bool tls;
    uint16_t port = 0;
  };

  Impl(const config::Config& config, store::Store& store, obs::Registry& registry,
       common::MemoryBudget* memory)
      : config(config),
        store(store),
        metrics(registry),
        budget(config.smtp.limits.max_buffered_bytes, memory),
        buffers(budget, config.smtp.limits.max_buffered_bytes_per_ip),
        auth_limiter(config.smtp.auth.max_failures, config.smtp.auth.failure_window),
        registry(registry) {
    mailauth::Authenticator::declare_metrics(registry);
    for (const config::SmtpUser& user : config.smtp.auth.users)
      credentials.push_back(store_credential(user.username, user.password));
  }

  bool bind(const std::string& address, bool tls, std::string& error);
  asio::awaitable<void> accept_loop(Listener& listener);
  void admit(asio::ip::tcp::socket socket, bool tls);
  asio::awaitable<void> run_session(std::shared_ptr<Session> session, uint64_t id, std::string ip);
  void for_each_session(void (Session::*action)());
  bool wait_idle(std::chrono::milliseconds timeout);
  void close_listeners();
  void watch_certificate();
  void stop_watching_certificate();

  const config::Config& config;
  store::Store& store;
  Metrics metrics;
  MemoryBudget budget;
  BufferBudget buffers;  // budget and the per-address shares
  std::vector<StoredCredential> credentials;
  AuthLimiter auth_limiter;
  std::unique_ptr<TlsContext> tls;
  std::atomic<bool> stopping{false};

  std::thread certificate_watcher;
  std::mutex watcher_mutex;
  std::condition_variable watcher_wake;
  bool watcher_stop = false;  // guarded by watcher_mutex
  std::optional<SessionContext> context;

  std::mutex mutex;  // guards the session registry and the connection counts
  std::condition_variable idle;
  std::map<uint64_t, std::weak_ptr<Session>> sessions;
  struct Client {
    unsigned connections = 0;
    std::shared_ptr<ClientShare> share = std::make_shared<ClientShare>();
  };
  std::map<std::string, Client> per_ip;  // one entry per address with connections
  unsigned total = 0;
  uint64_t next_id = 1;

  // One io_context per io thread, each run by that thread alone (concurrency hint 1): a session
  // stays on the context it was accepted to, so its handlers need no strand, and the threads do
  // not hand work to each other through one shared scheduler (its mutex and wake-ups were ~10%
  // of the io threads' time). New connections go to the contexts in turn.
  // Declared after everything sessions use, so they are destroyed first.
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  size_t next_io = 0;  // the context of the next accepted connection; accept loops share it
  std::mutex next_io_mutex;
  asio::io_context& next_context() {
    std::lock_guard lock(next_io_mutex);
    return *ios[next_io++ % ios.size()];
  }
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<std::thread> threads;
  bool started = false;
  bool stopped = false;
  obs::Registry& registry;
  // The inbound checks (issue 13); nullptr when neither authentication nor rspamd is on.
  // Destroyed before the io contexts: its last checks post their results to them.
  std::unique_ptr<mailauth::Authenticator> authenticator;
};

bool Server::Impl::bind(const std::string& text, bool use_tls, std::string& error) {
  std::optional<config::HostPort> host_port = config::parse_host_port(text);
  if (!host_port) {
    error = "invalid listen address '" + text + "'";
    return false;
  }
  asio::error_code ec;
  asio::ip::tcp::endpoint endpoint;
  asio::ip::address address = asio::ip::make_address(host_port->host, ec);
  if (!ec) {
    endpoint = asio::ip::tcp::endpoint(address, host_port->port);
  } else {  // a host name: resolve it once at start-up
    asio::ip::tcp::resolver resolver(*ios.front());
    auto results = resolver.resolve(host_port->host, std::to_string(host_port->port), ec);
    if (ec || results.empty()) {
      error = "cannot resolve listen address '" + text + "': " + ec.message();
      return false;
    }
    endpoint = *results.begin();
  }
  auto listener = std::make_unique<Listener>(*ios[listeners.size() % ios.size()], use_tls);
  auto& acceptor = listener->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on '" + text + "': " + ec.message();
    return false;
  }
  auto bound = acceptor.local_endpoint(ec);
  listener->port = bound.port();
  obs::info("listening",
            {{"listener", use_tls ? "smtps" : "smtp"}, {"address", endpoint_text(bound)}});
  listeners.push_back(std::move(listener));
  return true;
}

asio::awaitable<void> Server::Impl::accept_loop(Listener& listener) {
  auto backoff = kAcceptBackoffMin;
  asio::steady_timer timer(listener.executor);
  // Runs until stop() closes the acceptor, after the drain: while draining, new connections
  // are still accepted, to be told 421 4.3.2 (admit) instead of meeting a closed port.
  while (listener.acceptor.is_open()) {
    asio::any_io_executor session_executor = next_context().get_executor();
    auto [ec, socket] = co_await listener.acceptor.async_accept(session_executor, use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !listener.acceptor.is_open()) break;
      // EMFILE, ENFILE, ENOBUFS...: wait instead of spinning; the backlog keeps the clients.
      obs::warn("accept failed", {{"error", ec.message()}, {"retry_ms", backoff.count()}});
      timer.expires_after(backoff);
      co_await timer.async_wait(use_nothrow);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kAcceptBackoffMax);
      continue;
    }
    backoff = kAcceptBackoffMin;
    admit(std::move(socket), listener.tls);
  }
}

void Server::Impl::admit(asio::ip::tcp::socket socket, bool use_tls) {
  asio::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  auto address = remote.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  std::string ip = address.to_string();
  const auto& limits = config.smtp.limits;
  std::optional<Outcome> refusal;
  std::shared_ptr<ClientShare> share;
  uint64_t id = 0;
  {
    std::lock_guard lock(mutex);
    if (stopping.load())
      refusal = Outcome::shutting_down;
    else if (total >= limits.max_connections)
      refusal = Outcome::too_many_connections;
    else if (per_ip[ip].connections >= limits.max_connections_per_ip)
      refusal = Outcome::too_many_connections_from_ip;
    if (!refusal) {
      ++total;
      Client& client = per_ip[ip];
      ++client.connections;
      share = client.share;
      id = next_id++;
    } else if (per_ip[ip].connections == 0) {
      per_ip.erase(ip);
    }
  }
  auto executor = socket.get_executor();
  if (refusal) {
    const char* reason = *refusal == Outcome::shutting_down          ? "shutting_down"
                         : *refusal == Outcome::too_many_connections ? "max_connections"
                                                                     : "max_connections_per_ip";
    metrics.connections_rejected.add({{"reason", reason}}).inc();
    if (*refusal != Outcome::shutting_down) {
      refuse_at_once(socket, use_tls, *refusal);
      return;
    }
    // Shutting down (few clients, RFC 5321 3.8): a session says 421 4.3.2, inside TLS on
    // implicit-TLS listeners (RFC 8314 3.3), and drains so that the reply is read.
    auto session = std::make_shared<Session>(*context, std::move(socket), use_tls,
                                             std::make_shared<ClientShare>(), refusal);
    asio::co_spawn(executor, Session::run(session), asio::detached);  // run() never throws
    return;
  }
  metrics.connections.add({{"listener", use_tls ? "smtps" : "smtp"}}).inc();
  metrics.connections_active.inc();
  auto session = std::make_shared<Session>(*context, std::move(socket), use_tls, std::move(share));
  {
    std::lock_guard lock(mutex);
    sessions[id] = session;
  }
  asio::co_spawn(executor, run_session(session, id, ip), [ip](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      obs::error("smtp session ended with an exception", {{"client_ip", ip}, {"error", e.what()}});
    }
  });
}

asio::awaitable<void> Server::Impl::run_session(std::shared_ptr<Session> session, uint64_t id,
                                                std::string ip) {
  // Whatever happens inside, the connection's slot is given back.
  struct Release {
    Impl& impl;
    uint64_t id;
    std::string ip;
    ~Release() {
      impl.metrics.connections_active.dec();
      std::lock_guard lock(impl.mutex);
      impl.sessions.erase(id);
      if (--impl.per_ip[ip].connections == 0) impl.per_ip.erase(ip);
      --impl.total;
      impl.idle.notify_all();
    }
  } release{*this, id, ip};
  co_await Session::run(std::move(session));
}

void Server::Impl::for_each_session(void (Session::*action)()) {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mutex);
    for (auto& [id, weak] : sessions)
      if (auto session = weak.lock()) live.push_back(std::move(session));
  }
  for (auto& session : live) {
    auto executor = session->executor();
    asio::post(executor, [session, action]() { ((*session).*action)(); });
  }
}

bool Server::Impl::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex);
  return idle.wait_for(lock, timeout, [this] { return total == 0; });
}

void Server::Impl::close_listeners() {
  for (auto& listener : listeners) {
    Listener* l = listener.get();
    asio::post(l->executor, [l] {
      asio::error_code ignored;
      l->acceptor.close(ignored);
    });
  }
}

// Runs on a thread of its own (file I/O stays off the io threads): every few seconds, a
// changed certificate or key file is loaded and, when it is a good pair, used by the next
// handshakes. Sessions already in TLS keep theirs.
void Server::Impl::watch_certificate() {
  std::unique_lock lock(watcher_mutex);
  while (!watcher_wake.wait_for(lock, kCertificateCheckInterval, [this] { return watcher_stop; })) {
    lock.unlock();
    std::string error;
    TlsContext::Reload result = tls->reload_if_changed(error);
    if (result == TlsContext::Reload::reloaded) {
      metrics.tls_reload(true);
      metrics.tls_certificate_expiry.add({}).set(tls->not_after());
      obs::info("tls certificate reloaded", {{"cert_file", config.smtp.tls.cert_file}});
    } else if (result == TlsContext::Reload::failed) {
      metrics.tls_reload(false);
      obs::warn("tls certificate reload failed; keeping the certificate in service",
                {{"cert_file", config.smtp.tls.cert_file}, {"error", error}});
    }
    lock.lock();
  }
}

void Server::Impl::stop_watching_certificate() {
  {
    std::lock_guard lock(watcher_mutex);
    watcher_stop = true;
  }
  watcher_wake.notify_all();
  if (certificate_watcher.joinable()) certificate_watcher.join();
}

Server::Server(const config::Config& config, store::Store& store, obs::Registry& registry,
               common::MemoryBudget* memory)
    : impl_(std::make_unique<Impl>(config, store, registry, memory)) {}

Server::~Server() {
  stop();
}

bool Server::start(std::string& error) {
  Impl& impl = *impl_;
  if (impl.started) {
    error = "already started";
    return false;
  }
  const config::Smtp& smtp = impl.config.smtp;
  impl.tls = TlsContext::create(smtp.tls, error);
  if (!impl.tls) return false;
  if (!smtp.tls_listen.empty() && !smtp.tls.enabled()) {
    error = "smtp.tls_listen needs a certificate in smtp.tls";
    return false;
  }
  std::string hostname = smtp.hostname.empty() ? config::default_hostname() : smtp.hostname;
  unsigned threads =
      smtp.io_threads ? smtp.io_threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) {
    impl.ios.push_back(std::make_unique<asio::io_context>(1));
    impl.work.emplace_back(impl.ios.back()->get_executor());
  }
  if (impl.config.authentication.enabled || !impl.config.rspamd.url.empty()) {
    impl.authenticator = mailauth::Authenticator::make(impl.config, hostname, impl.registry, error);
    if (!impl.authenticator) return false;
  }
  impl.context.emplace(SessionContext{impl.config, impl.store, impl.metrics, impl.tls->context(),
                                      hostname, impl.buffers, impl.stopping, impl.credentials,
                                      impl.auth_limiter, impl.authenticator.get()});
  for (const std::string& address : smtp.listen)
    if (!impl.bind(address, false, error)) return false;
  for (const std::string& address : smtp.tls_listen)
    if (!impl.bind(address, true, error)) return false;

  impl.started = true;
  for (auto& listener : impl.listeners)
    asio::co_spawn(listener->executor, impl.accept_loop(*listener), [](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        obs::error("smtp accept loop failed", {{"error", e.what()}});
      }
    });
  for (unsigned i = 0; i < threads; ++i)
    impl.threads.emplace_back([&impl, i] {
      common::name_this_thread("smtp-io-" + std::to_string(i));
      for (;;) {
        try {
          impl.ios[i]->run();
          return;
        } catch (const std::exception& e) {  // a handler threw: log it and keep serving
          obs::error("smtp io thread caught an exception", {{"error", e.what()}});
        }
      }
    });
  if (impl.tls->enabled()) {
    impl.metrics.tls_certificate_expiry.add({}).set(impl.tls->not_after());
    impl.certificate_watcher = std::thread([&impl] {
      common::name_this_thread("tls-watch");
      impl.watch_certificate();
    });
  }
  return true;
}

std::vector<uint16_t> Server::ports() const {
  std::vector<uint16_t> result;
  for (const auto& listener : impl_->listeners) result.push_back(listener->port);
  return result;
}

void Server::stop() {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  impl.stopped = true;
  // From here on new connections are answered 421 4.3.2 and closed (admit), the listeners
  // staying open so that clients hear why (RFC 5321 3.8) rather than a refused connect.
  impl.stopping.store(true);
  impl.stop_watching_certificate();
  // Sessions outside a transaction answer 421 4.3.2 now; transactions in progress finish.
  impl.for_each_session(&Session::shutdown);
  if (!impl.wait_idle(impl.config.smtp.drain_timeout)) {
    obs::warn("smtp sessions still open after the drain timeout; closing them");
    impl.for_each_session(&Session::force_close);
    impl.wait_idle(kForceCloseTimeout);
  }
  impl.close_listeners();
  impl.work.clear();
  {
    std::lock_guard lock(impl.mutex);
    if (impl.total > 0)  // last resort: a session that never ends
      for (auto& io : impl.ios) io->stop();
  }
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
}

}  // namespace smtp
