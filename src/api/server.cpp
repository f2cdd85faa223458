// The REST listener on cpp-httplib: each route is a template ("/v1/inbound/{id}") bound to a
// handler from inbound.h or messages.h, wrapped with API-key auth, metrics and problem+json for
// whatever goes wrong. Unknown paths answer 404 and known paths with another method 405, both
// problem+json; a body over the limit 413. The listener is an obs::GuardedServer: limits on the
// head, the body's size, coding and pace hold before any handler, and a request with a body is
// refused (401, 403, 404, 405, 429) before its body is read when it would be refused after. Each
// route needs a scope of the key (kAccess) and counts against the key's rate limits.
#include "api/server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "api/auth.h"
#include "api/batch.h"
#include "api/messages.h"
#include "api/parts.h"
#include "api/rate_limit.h"
#include "api/suppressions.h"
#include "common/base64.h"
#include "common/time.h"
#include "obs/guarded_server.h"
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

// Slices of a streamed body: httplib asks for the rest at each write.
constexpr size_t kStreamSlice = 256 * 1024;

void apply(const Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  if (reply.status == 204) return;  // RFC 9110 15.3.5: no content, so no Content-Type either
  if (!reply.stream) {
    res.set_content(reply.body, reply.content_type);
    return;
  }
  std::shared_ptr<const std::string> body = reply.stream;
  res.set_content_provider(body->size(), reply.content_type,
                           [body](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(body->data() + offset,
                                               std::min(length, kStreamSlice));
                           });
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

// One route: its template (the metrics label), the httplib pattern and the methods it has (the
// Allow header's list: "GET" or "GET, POST").
struct Route {
  const char* name;
  const char* pattern;
  const char* allow;
};
bool allows(const Route& route, std::string_view method) {
  std::string_view allow = route.allow;
  for (size_t start = 0; start < allow.size();) {
    size_t end = allow.find(", ", start);
    if (end == std::string_view::npos) end = allow.size();
    if (allow.substr(start, end - start) == method) return true;
    start = end + 2;
  }
  return false;
}
constexpr Route kList{"/v1/inbound", "/v1/inbound", "GET"};
constexpr Route kOne{"/v1/inbound/{id}", "/v1/inbound/([^/]+)", "GET"};
constexpr Route kRedeliver{"/v1/inbound/{id}/redeliver", "/v1/inbound/([^/]+)/redeliver", "POST"};
constexpr Route kPart{"/v1/inbound/{id}/parts/{part}", "/v1/inbound/([^/]+)/parts/([0-9.]+)",
                      "GET"};
constexpr Route kRaw{"/v1/inbound/{id}/raw", "/v1/inbound/([^/]+)/raw", "GET"};
constexpr Route kSend{"/v1/messages", "/v1/messages", "POST"};
constexpr Route kSendRaw{"/v1/messages/raw", "/v1/messages/raw", "POST"};
constexpr Route kBatch{"/v1/messages/batch", "/v1/messages/batch", "POST"};
constexpr Route kMessage{"/v1/messages/{id}", "/v1/messages/([^/]+)", "GET"};
constexpr Route kEventsRedeliver{"/v1/messages/{id}/events/redeliver",
                                 "/v1/messages/([^/]+)/events/redeliver", "POST"};
constexpr Route kSuppressions{"/v1/suppressions", "/v1/suppressions", "GET, POST"};
// The address is percent-decoded by httplib before matching: it may hold a "/" (atext).
constexpr Route kSuppression{"/v1/suppressions/{address}", "/v1/suppressions/(.+)", "DELETE"};
// In the order httplib matches them (installed in this order).
constexpr const Route* kRoutes[] = {
    &kList,  &kOne,     &kRedeliver,       &kPart,         &kRaw,        &kSend, &kSendRaw,
    &kBatch, &kMessage, &kEventsRedeliver, &kSuppressions, &kSuppression};

std::optional<std::string> idempotency_key(const httplib::Request& req) {
  if (!req.has_header("Idempotency-Key")) return std::nullopt;
  return req.get_header_value("Idempotency-Key");
}

// What each route asks of the key (README "Scoped keys and rate limits"), by route template: the
// scope, whether its body is a send whose recipients count against recipients_per_hour, and
// whether a signed link (common/part_link.h) lets a request in without any key. A route missing
// here is a bug the Server's constructor refuses to start with.
struct Access {
  std::string_view scope;
  SendBody recipients = SendBody::none;
  bool signed_link = false;
};
const std::map<std::string_view, Access, std::less<>> kAccess = {
    {"/v1/inbound", {"inbound:read"}},
    {"/v1/inbound/{id}", {"inbound:read"}},
    {"/v1/inbound/{id}/redeliver", {"inbound:write"}},
    {"/v1/inbound/{id}/parts/{part}", {"inbound:read", SendBody::none, true}},
    {"/v1/inbound/{id}/raw", {"inbound:read", SendBody::none, true}},
    {"/v1/messages", {"send", SendBody::json}},
    {"/v1/messages/raw", {"send", SendBody::raw}},
    {"/v1/messages/{id}", {"messages:read"}},
    {"/v1/messages/batch", {"send", SendBody::batch}},
    {"/v1/messages/{id}/events/redeliver", {"send"}},
    {"/v1/suppressions", {"suppressions"}},
    {"/v1/suppressions/{address}", {"suppressions"}},
};

const Access& access_of(std::string_view route) {
  auto found = kAccess.find(route);
  if (found == kAccess.end())
    throw std::logic_error("route " + std::string(route) + " has no scope in kAccess");
  return found->second;
}

// One KeyLimiter per key with a rate_limit (null for the others), by KeyIdentity::index.
std::vector<std::unique_ptr<KeyLimiter>> make_limiters(const KeyRing& keys) {
  std::vector<std::unique_ptr<KeyLimiter>> limiters;
  for (const KeyIdentity& key : keys.keys()) {
    limiters.push_back(
        key.rate_limit.limited()
            ? std::make_unique<KeyLimiter>(key.rate_limit, std::chrono::steady_clock::now())
            : nullptr);
  }
  return limiters;
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
  uint64_t body_limit;
  KeyRing keys;
  obs::Family<obs::Counter>& rate_limited;
  // By KeyIdentity::index; null for a key without limits.
  std::vector<std::unique_ptr<KeyLimiter>> limiters;
  std::vector<std::string> link_secrets;  // api.links.secrets
  obs::Family<obs::Counter>& requests;
  obs::Family<obs::Histogram>& seconds;
  BatchMetrics batch_metrics;
  obs::Counter& suppressed_recipients;
  std::vector<std::pair<const Route*, std::regex>> routes;
  obs::GuardedServer server;
  obs::HttpListener listener{server};

  Impl(const config::Api& api, store::Store& s, obs::Registry& registry, RenderInbound r,
       std::function<void()> q, SendOptions options)
      : store(s),
        render(std::move(r)),
        requeued(std::move(q)),
        send(std::move(options)),
        body_limit(api.limits.max_body ? api.limits.max_body
                                       : max_request_body(send.max_message_bytes)),
        keys(api.keys),
        rate_limited(registry.counter(
            "smtp_bridge_api_rate_limited_total",
            "REST API requests refused 429 by API key name and the limit that refused them.")),
        limiters(make_limiters(keys)),
        link_secrets(api.links.secrets),
        requests(registry.counter("smtp_bridge_api_requests_total",
                                  "REST API requests by route template and HTTP status.")),
        seconds(registry.histogram("smtp_bridge_api_request_seconds",
                                   "REST API request handling time by route template, in seconds.",
                                   obs::latency_buckets())),
        batch_metrics(registry),
        suppressed_recipients(
            registry
                .counter("smtp_bridge_api_suppressed_recipients_total",
                         "Recipients of accepted send requests not relayed because their address "
                         "is on the suppression list.")
                .add({})),
        server("api", api.limits, body_limit, registry) {
    for (const Route* route : kRoutes) routes.emplace_back(route, std::regex(route->pattern));
  }

  // A handler gets the request and the name of the API key that authenticated it.
  using Handle = std::function<Reply(const httplib::Request&, const std::string& key_name)>;
  httplib::Server::Handler wrap(const char* route, bool authenticate, Handle handle);
  Handle linked(Handle handle, int part_match);
  void install_routes();
  void install_guard();
  void install(const Route& route, Handle handle);
  std::optional<std::pair<const char*, Reply>> before_body(const httplib::Request& req) const;
  // Runs `handle` for the key `req` presents: 401 without one, 403 when it lacks the route's
  // scope, 429 over its rate or recipients budget; the key's RateLimit fields on every answer.
  Reply as_key(const char* route, const httplib::Request& req, const Handle& handle);
  Reply refuse(const KeyIdentity& key, const Verdict& verdict) {
    rate_limited.add({{"key", key.name}, {"limit", verdict.limit}}).inc();
    return api::rate_limited(key.name, verdict);
  }
  SendContext send_context(const httplib::Request& req, const std::string& key_name) const {
    return {key_name,
            idempotency_key(req),
            send.hostname,
            send.max_message_bytes,
            common::unix_ms(common::Clock::now()),
            send.queued};
  }
  // A new 202 (not a replay) names its suppressed recipients (messages.h): counted here.
  Reply count_suppressed(Reply reply) {
    if (reply.status != 202) return reply;
    for (const auto& [name, value] : reply.headers)
      if (name == "Idempotent-Replayed") return reply;
    suppressed_recipients.inc(static_cast<double>(suppressed_in(reply.body)));
    return reply;
  }
  void count(const std::string& route, int status, std::chrono::steady_clock::time_point start) {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    requests.add({{"route", route}, {"status", std::to_string(status)}}).inc();
    seconds.add({{"route", route}}).observe(elapsed.count());
  }
};

Reply Server::Impl::as_key(const char* route, const httplib::Request& req, const Handle& handle) {
  const Access& access = access_of(route);
  // A signed link is its own authority: no key, no scope, no key's limits.
  if (access.signed_link && req.has_param("signature")) return handle(req, "");
  const KeyIdentity* key = keys.identify(req.get_header_value("Authorization"));
  if (!key) return unauthorized();
  if (!key->allows(access.scope)) return insufficient_scope(*key, access.scope);
  KeyLimiter* limiter = limiters[key->index].get();
  if (!limiter) return handle(req, key->name);
  Reply reply;
  Verdict verdict = limiter->admit_request(std::chrono::steady_clock::now());
  // Recipients are counted before the store is touched and taken whole; the messages that were
  // not queued anew (refused, invalid batch items, an idempotent replay) give theirs back.
  std::vector<size_t> per_message;
  if (verdict.allowed && access.recipients != SendBody::none && limiter->limits_recipients())
    per_message = count_recipients_per_message(access.recipients, req.body);
  size_t recipients = 0;
  for (size_t count : per_message) recipients += count;
  if (verdict.allowed && recipients > 0)
    verdict = limiter->admit_recipients(recipients, std::chrono::steady_clock::now());
  if (!verdict.allowed) {
    reply = refuse(*key, verdict);
  } else {
    reply = handle(req, key->name);
    size_t refund = recipients_not_queued(access.recipients, per_message, reply);
    if (verdict.cost > 0 && refund > 0)
      limiter->refund_recipients(std::min(refund, verdict.cost), std::chrono::steady_clock::now());
  }
  for (auto& header : limiter->headers(std::chrono::steady_clock::now()))
    reply.headers.push_back(std::move(header));
  return reply;
}

httplib::Server::Handler Server::Impl::wrap(const char* route, bool authenticate, Handle handle) {
  return [this, route, authenticate, handle = std::move(handle)](const httplib::Request& req,
                                                                 httplib::Response& res) {
    auto start = std::chrono::steady_clock::now();
    Reply reply;
    try {
      reply = authenticate ? as_key(route, req, handle) : handle(req, "");
    } catch (const std::exception& error) {  // a bug, not an expected failure: 500, logged
      obs::error("api handler failed", {{"route", route}, {"error", error.what()}});
      reply = internal_error("the request could not be handled");
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
  access_of(route.name);  // every route has a scope: a route without one stops the start here
  auto bound = wrap(route.name, true, std::move(handle));
  auto refuse = wrap(route.name, false, [allow](const httplib::Request&, const std::string&) {
    return method_not_allowed(allow);
  });
  server.Get(route.pattern, allows(route, "GET") ? bound : refuse);
  server.Post(route.pattern, allows(route, "POST") ? bound : refuse);
  server.Put(route.pattern, refuse);
  server.Patch(route.pattern, refuse);
  server.Delete(route.pattern, allows(route, "DELETE") ? bound : refuse);
}

// A request with ?signature= is let in by its signed link alone (common/part_link.h: as_key
// lets it pass without a key); one without, by an API key like every route.
Server::Impl::Handle Server::Impl::linked(Handle handle, int part_match) {
  return [this, handle = std::move(handle), part_match](const httplib::Request& req,
                                                        const std::string& key_name) -> Reply {
    if (!req.has_param("signature")) return handle(req, key_name);
    std::string expires = req.get_param_value("expires");
    std::string signature = req.get_param_value("signature");
    std::string part = part_match > 0 ? req.matches[part_match].str() : std::string("raw");
    int64_t now = common::unix_ms(common::Clock::now()) / 1000;
    if (auto refused = check_link(link_secrets, req.matches[1].str(), part,
                                  {req.has_param("expires") ? &expires : nullptr, &signature}, now))
      return *refused;
    return handle(req, key_name);
  };
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
  install(kPart, linked(
                     [this](const httplib::Request& req, const std::string&) {
                       return get_inbound_part(store, send.memory, req.matches[1].str(),
                                               req.matches[2].str());
                     },
                     2));
  install(kRaw, linked(
                    [this](const httplib::Request& req, const std::string&) {
                      return get_inbound_raw(store, send.memory, req.matches[1].str());
                    },
                    0));
  install(kSend, [this](const httplib::Request& req, const std::string& key_name) {
    return count_suppressed(send_message(store, send_context(req, key_name), req.body));
  });
  install(kSendRaw, [this](const httplib::Request& req, const std::string& key_name) {
    return count_suppressed(send_raw_message(store, send_context(req, key_name), req.body));
  });
  install(kBatch, [this](const httplib::Request& req, const std::string& key_name) {
    return count_suppressed(
        send_batch(store, send_context(req, key_name), req.body, send.memory, &batch_metrics));
  });
  install(kMessage, [this](const httplib::Request& req, const std::string&) {
    return get_message(store, req.matches[1].str());
  });
  install(kEventsRedeliver, [this](const httplib::Request& req, const std::string&) {
    return redeliver_events(store, req.matches[1].str(), common::unix_ms(common::Clock::now()),
                            requeued);
  });
  install(kSuppressions, [this](const httplib::Request& req, const std::string&) {
    if (req.method == "POST")
      return add_suppression(store, req.body, common::unix_ms(common::Clock::now()));
    return list_suppressions(store, req.params);
  });
  install(kSuppression, [this](const httplib::Request& req, const std::string&) {
    return remove_suppression(store, req.matches[1].str());
  });
  install_guard();
}

void Server::Impl::install_guard() {
  // Runs behind the guard's checks (which also give a request without Content-Length or
  // Transfer-Encoding its length 0, RFC 9112 6.3), as the pre-routing handler and for
  // Expect: 100-continue.
  auto before = [this](const httplib::Request& req, httplib::Response& res) {
    auto start = std::chrono::steady_clock::now();
    auto early = before_body(req);
    if (!early) return httplib::Server::HandlerResponse::Unhandled;
    apply(early->second, res);
    count(early->first, early->second.status, start);
    return httplib::Server::HandlerResponse::Handled;
  };
  // httplib's own errors (no route: 404; unparsable request: 400; body too large: 413) come
  // here with an empty body; handler replies already carry theirs.
  auto error = [this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    auto start = std::chrono::steady_clock::now();
    Reply reply =
        res.status == 404 ? not_found("no such resource")
        : res.status == 413
            ? problem(413, "content-too-large", title_of(413),
                      "the request body is larger than " + std::to_string(body_limit) + " bytes")
            : problem(res.status, "bad-request", title_of(res.status),
                      "the request could not be handled");
    apply(reply, res);
    count(kUnmatchedRoute, reply.status, start);
    return httplib::Server::HandlerResponse::Handled;
  };
  // The guard's refusals (431, 413, 415, 408...): problem+json, counted like any answer.
  auto render = [this](const obs::Refusal& refusal, httplib::Response& res) {
    auto start = std::chrono::steady_clock::now();
    Reply reply = problem(refusal.status, refusal.slug, refusal.title, refusal.detail);
    apply(reply, res);
    count(kUnmatchedRoute, reply.status, start);
  };
  server.set_memory_budget(send.memory);
  server.install(before, error, render);
}

// A request that declares a body is answered before the body is read when it would be refused
// anyway: no such route (404), another method (405), no valid API key (401), a key without the
// route's scope (403) or with no request left in its bucket (429, nothing taken). Without this,
// httplib reads up to body_limit bytes into memory for anyone who can connect. Returns the
// route label for the metrics and the reply.
std::optional<std::pair<const char*, Reply>> Server::Impl::before_body(
    const httplib::Request& req) const {
  bool has_body =
      req.has_header("Transfer-Encoding") ||
      req.get_header_value("Content-Length").find_first_not_of('0') != std::string::npos;
  if (!has_body) return std::nullopt;
  for (const auto& [route, pattern] : routes) {
    if (!std::regex_match(req.path, pattern)) continue;
    if (!allows(*route, req.method))
      return std::pair{route->name, method_not_allowed(route->allow)};
    const KeyIdentity* key = keys.identify(req.get_header_value("Authorization"));
    if (!key) return std::pair{route->name, unauthorized()};
    std::string_view scope = access_of(route->name).scope;
    if (!key->allows(scope)) return std::pair{route->name, insufficient_scope(*key, scope)};
    KeyLimiter* limiter = limiters[key->index].get();
    if (!limiter) return std::nullopt;
    auto now = std::chrono::steady_clock::now();
    Verdict verdict = limiter->peek_request(now);
    if (verdict.allowed) return std::nullopt;
    rate_limited.add({{"key", key->name}, {"limit", verdict.limit}}).inc();
    Reply reply = api::rate_limited(key->name, verdict);
    for (auto& header : limiter->headers(now)) reply.headers.push_back(std::move(header));
    return std::pair{route->name, std::move(reply)};
  }
  return std::pair{kUnmatchedRoute, not_found("no such resource")};
}

Server::Server(const config::Api& api, store::Store& store, obs::Registry& registry,
               RenderInbound render, std::function<void()> requeued, SendOptions send)
    : impl_(std::make_unique<Impl>(api, store, registry, std::move(render), std::move(requeued),
                                   std::move(send))) {
  if (impl_->send.hostname.empty()) impl_->send.hostname = config::default_hostname();
}

Server::~Server() {
  stop();
}

bool Server::start(const std::string& host, uint16_t port, std::string& error) {
  if (impl_->listener.port() == 0) {
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
