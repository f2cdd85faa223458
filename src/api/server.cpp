// The REST listener on cpp-httplib: each route is a template ("/v1/inbound/{id}") bound to a
// handler from inbound.h, wrapped with API-key auth, metrics and problem+json for whatever goes
// wrong. Unknown paths answer 404 and known paths with another method 405, both problem+json.
#include "api/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "api/auth.h"
#include "common/time.h"
#include "obs/http_listener.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "store/store.h"

namespace api {
namespace {

constexpr obs::HttpListenerOptions kListenerOptions{4, 2, 10};
constexpr size_t kMaxRequestBody = 1 << 20;
constexpr const char* kUnmatchedRoute = "unmatched";

void apply(const Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  res.set_content(reply.body, reply.content_type);
}

// Titles for the statuses httplib answers by itself (RFC 9110 15.5).
const char* title_of(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Request Not Handled";
  }
}

// One route: its template (the metrics label), the httplib pattern and the methods it has.
struct Route {
  const char* name;
  const char* pattern;
  const char* allow;
};
constexpr Route kList{"/v1/inbound", "/v1/inbound", "GET"};
constexpr Route kOne{"/v1/inbound/{id}", "/v1/inbound/([^/]+)", "GET"};
constexpr Route kRedeliver{"/v1/inbound/{id}/redeliver", "/v1/inbound/([^/]+)/redeliver", "POST"};

}  // namespace

struct Server::Impl {
  store::Store& store;
  RenderInbound render;
  std::function<void()> requeued;
  KeyRing keys;
  obs::Family<obs::Counter>& requests;
  obs::Family<obs::Histogram>& seconds;
  httplib::Server server;
  obs::HttpListener listener{server};

  Impl(const config::Api& api, store::Store& s, obs::Registry& registry, RenderInbound r,
       std::function<void()> q)
      : store(s),
        render(std::move(r)),
        requeued(std::move(q)),
        keys(api.keys),
        requests(registry.counter("smtp_bridge_api_requests_total",
                                  "REST API requests by route template and HTTP status.")),
        seconds(registry.histogram("smtp_bridge_api_request_seconds",
                                   "REST API request handling time by route template, in seconds.",
                                   obs::latency_buckets())) {}

  using Handle = std::function<Reply(const httplib::Request&)>;
  httplib::Server::Handler wrap(const char* route, bool authenticate, Handle handle);
  void install_routes();
  void count(const std::string& route, int status, std::chrono::steady_clock::time_point start) {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    requests.add({{"route", route}, {"status", std::to_string(status)}}).inc();
    seconds.add({{"route", route}}).observe(elapsed.count());
  }
};

httplib::Server::Handler Server::Impl::wrap(const char* route, bool authenticate, Handle handle) {
  return [this, route, authenticate, handle = std::move(handle)](const httplib::Request& req,
                                                                 httplib::Response& res) {
    auto start = std::chrono::steady_clock::now();
    Reply reply;
    if (authenticate && !keys.authorized(req.get_header_value("Authorization"))) {
      reply = unauthorized();
    } else {
      try {
        reply = handle(req);
      } catch (const std::exception& error) {  // a bug, not an expected failure: 500, logged
        obs::error("api handler failed", {{"route", route}, {"error", error.what()}});
        reply = internal_error("the request could not be handled");
      }
    }
    apply(reply, res);
    count(route, reply.status, start);
  };
}

void Server::Impl::install_routes() {
  server.Get(kList.pattern, wrap(kList.name, true, [this](const httplib::Request& req) {
               return list_inbound(store, req.params);
             }));
  server.Get(kOne.pattern, wrap(kOne.name, true, [this](const httplib::Request& req) {
               return get_inbound(store, render, req.matches[1].str());
             }));
  server.Post(kRedeliver.pattern, wrap(kRedeliver.name, true, [this](const httplib::Request& req) {
                return redeliver_inbound(store, req.matches[1].str(),
                                         common::unix_ms(common::Clock::now()), requeued);
              }));
  // RFC 9110 15.5.6: a known resource with another method is 405 with Allow, not 404.
  for (const Route& route : {kList, kOne, kRedeliver}) {
    std::string allow = route.allow;
    auto refuse = wrap(route.name, false,
                       [allow](const httplib::Request&) { return method_not_allowed(allow); });
    if (allow != "GET") server.Get(route.pattern, refuse);
    if (allow != "POST") server.Post(route.pattern, refuse);
    server.Put(route.pattern, refuse);
    server.Patch(route.pattern, refuse);
    server.Delete(route.pattern, refuse);
  }
  // httplib's own errors (no route: 404; unparsable request: 400; body too large: 413) come
  // here with an empty body; handler replies already carry theirs.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        auto start = std::chrono::steady_clock::now();
        Reply reply = res.status == 404 ? not_found("no such resource")
                                        : problem(res.status, "bad-request", title_of(res.status),
                                                  "the request could not be handled");
        apply(reply, res);
        count(kUnmatchedRoute, reply.status, start);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

Server::Server(const config::Api& api, store::Store& store, obs::Registry& registry,
               RenderInbound render, std::function<void()> requeued)
    : impl_(std::make_unique<Impl>(api, store, registry, std::move(render), std::move(requeued))) {}

Server::~Server() {
  stop();
}

bool Server::start(const std::string& host, uint16_t port, std::string& error) {
  if (impl_->listener.port() == 0) {
    impl_->server.set_payload_max_length(kMaxRequestBody);
    impl_->install_routes();
  }
  if (!impl_->listener.start("api", host, port, kListenerOptions, error)) return false;
  // CONTRACTS.md 4: with no key configured, the generated one is shown once, here.
  if (!impl_->keys.generated().empty()) {
    obs::info("api key generated", {{"key", impl_->keys.generated()}});
  }
  return true;
}

uint16_t Server::port() const {
  return impl_->listener.port();
}

void Server::stop() {
  if (impl_) impl_->listener.stop();
}

const std::string& Server::generated_key() const {
  return impl_->keys.generated();
}

}  // namespace api
