// The admin listener (CONTRACTS.md 3): /metrics, /healthz and /readyz served by a cpp-httplib
// server on a thread of its own. start() returns once the socket is bound and the accept loop
// runs; stop() is idempotent and returns once that thread has ended.
#include "obs/admin_server.h"

#include <atomic>
#include <thread>

#include "obs/guarded_server.h"
#include "obs/health.h"
#include "obs/http_listener.h"
#include "obs/log.h"
#include "obs/metrics.h"

namespace obs {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kJsonContentType = "application/json";
// Scrapes and probes are short; a small pool is plenty, and short idle timeouts keep stop() quick
// even while a scraper holds a keep-alive connection.
constexpr HttpListenerOptions kListenerOptions{2, 1, 5};

}  // namespace

struct AdminServer::Impl {
  Registry& registry;
  Health& health;
  GuardedServer server;
  HttpListener listener{server};

  Impl(Registry& r, Health& h, const common::HttpLimits& limits)
      : registry(r), health(h), server("admin", limits, limits.max_body, r) {}
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
  // Unknown paths: httplib answers 404 by itself. The guard's own refusals (431, 413, 408...)
  // are problem+json.
  server.install({}, {});
}

AdminServer::AdminServer(Registry& registry, Health& health, const common::HttpLimits& limits)
    : impl_(std::make_unique<Impl>(registry, health, limits)) {}

AdminServer::~AdminServer() {
  stop();
}

bool AdminServer::start(const std::string& host, uint16_t port, std::string& error) {
  if (impl_->listener.port() == 0) impl_->install_routes();
  return impl_->listener.start("admin", host, port, kListenerOptions, error);
}

uint16_t AdminServer::port() const {
  return impl_->listener.port();
}

void AdminServer::stop() {
  if (impl_) impl_->listener.stop();
}

}  // namespace obs
