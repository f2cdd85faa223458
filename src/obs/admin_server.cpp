// The admin listener (CONTRACTS.md 3): /metrics, /healthz and /readyz served by a cpp-httplib
// server on a thread of its own. start() returns once the socket is bound and the accept loop
// runs; stop() is idempotent and returns once that thread has ended.
#include "obs/admin_server.h"

#include <httplib.h>

#include <atomic>
#include <thread>

#include "obs/health.h"
#include "obs/log.h"
#include "obs/metrics.h"

namespace obs {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kJsonContentType = "application/json";
// Scrapes and probes are short; a small pool is plenty, and short idle timeouts keep stop() quick
// even while a scraper holds a keep-alive connection.
constexpr size_t kWorkerThreads = 2;
constexpr time_t kKeepAliveSeconds = 1;
constexpr time_t kReadTimeoutSeconds = 5;

std::string host_port(const std::string& host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

struct AdminServer::Impl {
  Registry& registry;
  Health& health;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> loop_ended{false};
  uint16_t port = 0;

  Impl(Registry& r, Health& h) : registry(r), health(h) {}
  void install_routes();
};

void AdminServer::Impl::install_routes() {
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.render(), kMetricsContentType);
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", kJsonContentType);
  });
  server.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    std::vector<std::string> failing = health.not_ready();
    if (failing.empty()) {
      res.set_content(R"({"status":"ready"})", kJsonContentType);
      return;
    }
    res.status = 503;
    nlohmann::json body = {{"status", "not ready"}, {"failing", failing}};
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    kJsonContentType);
  });
  // Unknown paths: httplib answers 404 by itself.
}

AdminServer::AdminServer(Registry& registry, Health& health)
    : impl_(std::make_unique<Impl>(registry, health)) {}

AdminServer::~AdminServer() {
  stop();
}

bool AdminServer::start(const std::string& host, uint16_t port, std::string& error) {
  if (impl_->thread.joinable()) {
    error = "the admin listener is already started";
    return false;
  }
  httplib::Server& server = impl_->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.set_read_timeout(kReadTimeoutSeconds, 0);
  // httplib's default also sets SO_REUSEPORT, which would let a second process bind the same
  // port silently; SO_REUSEADDR alone still allows a quick restart past TIME_WAIT.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl_->install_routes();

  int bound = 0;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else {
    bound = server.bind_to_port(host, port) ? port : -1;
  }
  if (bound <= 0) {
    error = "cannot bind the admin listener to " + host_port(host, port);
    return false;
  }
  impl_->port = static_cast<uint16_t>(bound);

  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->loop_ended = true;
  });
  // httplib's stop() only acts once the accept loop has marked itself running; wait for that
  // (it is the loop's first statement) so that a stop() right after start() cannot be lost.
  while (!server.is_running() && !impl_->loop_ended) std::this_thread::yield();

  info("listening", {{"listener", "admin"}, {"address", host_port(host, impl_->port)}});
  return true;
}

uint16_t AdminServer::port() const {
  return impl_->port;
}

void AdminServer::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace obs
