// The REST listener on cpp-httplib: each route is a template ("/v1/inbound/{id}") bound to a
// handler from inbound.h or messages.h, wrapped with API-key auth, metrics and problem+json for
// whatever goes wrong. Unknown paths answer 404 and known paths with another method 405, both
// problem+json; a body over the limit 413.
#include "api/server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "api/auth.h"
#include "api/messages.h"
#include "common/base64.h"
#include "common/time.h"
#include "obs/http_listener.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "store/store.h"

namespace api {
namespace {

// httplib serves one connection per pool thread for as long as it is kept alive: 16 threads let
// 16 clients keep their connections (a send client's POSTs then skip the TCP handshake).
constexpr obs::HttpListenerOptions kListenerOptions{16, 2, 10};
constexpr size_t kKeepAliveRequests = 1000;  // per connection (httplib's default is 5)
constexpr uint64_t kMinRequestBody = 1 << 20;
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
      return "Content Too Large";  // RFC 9110 15.5.14
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
constexpr Route kSend{"/v1/messages", "/v1/messages", "POST"};
constexpr Route kSendRaw{"/v1/messages/raw", "/v1/messages/raw", "POST"};
constexpr Route kMessage{"/v1/messages/{id}", "/v1/messages/([^/]+)", "GET"};

std::optional<std::string> idempotency_key(const httplib::Request& req) {
  if (!req.has_header("Idempotency-Key")) return std::nullopt;
  return req.get_header_value("Idempotency-Key");
}

}  // namespace

uint64_t max_request_body(uint64_t max_message_bytes) {
  uint64_t limit = common::base64_encoded_size(max_message_bytes) + max_message_bytes / 8 + 65536;
  return std::max(limit, kMinRequestBody);
}

struct Server::Impl {
  store::Store& store;
  RenderInbound render;
  std::function<void()> requeued;
  SendOptions send;
  uint64_t body_limit = kMinRequestBody;
  KeyRing keys;
  obs::Family<obs::Counter>& requests;
  obs::Family<obs::Histogram>& seconds;
  httplib::Server server;
  obs::HttpListener listener{server};

  Impl(const config::Api& api, store::Store& s, obs::Registry& registry, RenderInbound r,
       std::function<void()> q, SendOptions options)
      : store(s),
        render(std::move(r)),
        requeued(std::move(q)),
        send(std::move(options)),
        keys(api.keys),
        requests(registry.counter("smtp_bridge_api_requests_total",
                                  "REST API requests by route template and HTTP status.")),
        seconds(registry.histogram("smtp_bridge_api_request_seconds",
                                   "REST API request handling time by route template, in seconds.",
                                   obs::latency_buckets())) {}

  // A handler gets the request and the name of the API key that authenticated it.
  using Handle = std::function<Reply(const httplib::Request&, const std::string& key_name)>;
  httplib::Server::Handler wrap(const char* route, bool authenticate, Handle handle);
  void install_routes();
  void install(const Route& route, Handle handle);
  SendContext send_context(const httplib::Request& req, const std::string& key_name) const {
    return {key_name,
            idempotency_key(req),
            send.hostname,
            send.max_message_bytes,
            common::unix_ms(common::Clock::now()),
            send.queued};
  }
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
    std::optional<std::string> key_name;
    if (authenticate) key_name = keys.authorize(req.get_header_value("Authorization"));
    if (authenticate && !key_name) {
      reply = unauthorized();
    } else {
      try {
        reply = handle(req, key_name.value_or(""));
      } catch (const std::exception& error) {  // a bug, not an expected failure: 500, logged
        obs::error("api handler failed", {{"route", route}, {"error", error.what()}});
        reply = internal_error("the request could not be handled");
      }
    }
    apply(reply, res);
    count(route, reply.status, start);
  };
}

// Binds the route's handler, then answers its other methods 405 (RFC 9110 15.5.6: a known
// resource with another method is 405 with Allow, not 404). Routes are matched in the order they
// are installed, so /v1/messages/raw comes before /v1/messages/{id}.
void Server::Impl::install(const Route& route, Handle handle) {
  std::string allow = route.allow;
  auto bound = wrap(route.name, true, std::move(handle));
  if (allow == "GET") server.Get(route.pattern, bound);
  if (allow == "POST") server.Post(route.pattern, bound);
  auto refuse = wrap(route.name, false, [allow](const httplib::Request&, const std::string&) {
    return method_not_allowed(allow);
  });
  if (allow != "GET") server.Get(route.pattern, refuse);
  if (allow != "POST") server.Post(route.pattern, refuse);
  server.Put(route.pattern, refuse);
  server.Patch(route.pattern, refuse);
  server.Delete(route.pattern, refuse);
}

void Server::Impl::install_routes() {
  install(kList, [this](const httplib::Request& req, const std::string&) {
    return list_inbound(store, req.params);
  });
  install(kOne, [this](const httplib::Request& req, const std::string&) {
    return get_inbound(store, render, req.matches[1].str());
  });
  install(kRedeliver, [this](const httplib::Request& req, const std::string&) {
    return redeliver_inbound(store, req.matches[1].str(), common::unix_ms(common::Clock::now()),
                             requeued);
  });
  install(kSend, [this](const httplib::Request& req, const std::string& key_name) {
    return send_message(store, send_context(req, key_name), req.body);
  });
  install(kSendRaw, [this](const httplib::Request& req, const std::string& key_name) {
    return send_raw_message(store, send_context(req, key_name), req.body);
  });
  install(kMessage, [this](const httplib::Request& req, const std::string&) {
    return get_message(store, req.matches[1].str());
  });
  // RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has no body. This
  // httplib (0.11) reads one until the client closes instead, so a bare `curl -X POST
  // .../redeliver` waited for the read timeout and got a 400. Such a request is given the length it
  // has. The handler's Request is httplib's own non-const object, so writing to it is defined.
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
      const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // httplib's own errors (no route: 404; unparsable request: 400; body too large: 413) come
  // here with an empty body; handler replies already carry theirs.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        auto start = std::chrono::steady_clock::now();
        Reply reply = res.status == 404   ? not_found("no such resource")
                      : res.status == 413 ? problem(413, "content-too-large", title_of(413),
                                                    "the request body is larger than " +
                                                        std::to_string(body_limit) + " bytes")
                                          : problem(res.status, "bad-request", title_of(res.status),
                                                    "the request could not be handled");
        apply(reply, res);
        count(kUnmatchedRoute, reply.status, start);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

Server::Server(const config::Api& api, store::Store& store, obs::Registry& registry,
               RenderInbound render, std::function<void()> requeued, SendOptions send)
    : impl_(std::make_unique<Impl>(api, store, registry, std::move(render), std::move(requeued),
                                   std::move(send))) {
  if (impl_->send.hostname.empty()) impl_->send.hostname = config::default_hostname();
  impl_->body_limit = max_request_body(impl_->send.max_message_bytes);
}

Server::~Server() {
  stop();
}

bool Server::start(const std::string& host, uint16_t port, std::string& error) {
  if (impl_->listener.port() == 0) {
    impl_->server.set_payload_max_length(impl_->body_limit);
    impl_->server.set_keep_alive_max_count(kKeepAliveRequests);
    impl_->install_routes();
  }
  if (!impl_->listener.start("api", host, port, kListenerOptions, error)) return false;
  // CONTRACTS.md 4: with no key configured, the generated one is shown once, here, at any log
  // level (without it the API cannot be used).
  if (!impl_->keys.generated().empty()) {
    obs::log_always(obs::Level::warn, "api key generated",
                    {{"key", impl_->keys.generated()},
                     {"reason", "api.keys is not configured; this key lasts until the restart"}});
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
