// An httplib::Server that enforces common::HttpLimits before any handler runs (issue 11 point
// 4). cpp-httplib 0.11 reads request lines and header lines of any length and any number of
// headers, bounds only Content-Length bodies and inflates gzip/br bodies without limit; it is a
// shared library, so its compile-time limits cannot be changed. This class runs its own
// keep-alive loop over its own Stream instead of httplib's (process_and_close_socket is virtual,
// process_request protected): each head is read and checked first, then handed to httplib,
// whose body reads are counted on the raw bytes (chunked framing included) and paced.
// Includes httplib.h: only the listeners' .cpp files include this header.
#pragma once
#include <httplib.h>

#include <cstdint>
#include <functional>
#include <string>

#include "common/http_limits.h"
#include "common/memory_budget.h"
#include "obs/http_guard.h"
#include "obs/metrics.h"

namespace obs {

class GuardedServer : public httplib::Server {
 public:
  // Writes a refusal into a response (the API's problem+json, counted in its metrics).
  using Render = std::function<void(const Refusal&, httplib::Response&)>;

  // `max_body`: the largest body as sent; `listener` labels smtp_bridge_http_limited_total.
  GuardedServer(std::string listener, const common::HttpLimits& limits, uint64_t max_body,
                Registry& registry);

  // Installs the handlers, each behind the guard: `before_body` runs as the pre-routing handler
  // and as the Expect: 100-continue check, after the guard's own body header checks; `error`
  // sees 413/408 when the guard cut a body. Defaults render RFC 9457 problem+json.
  void install(HandlerWithResponse before_body, HandlerWithResponse error, Render render = {});

  // From a handler on this connection's thread: the response closes the connection, because the
  // request's body is left unread (RFC 9112 9.6).
  static void close_after_response(const httplib::Request& req);

  // Request bodies draw from `budget` (ARCHITECTURE.md, Memory): a body that will be read reserves
  // its Content-Length (a chunked one the largest body) once the handler's checks let it through,
  // until its response is written; when that does not fit, 503 with Retry-After. Call before
  // install().
  void set_memory_budget(common::MemoryBudget* budget) { budget_ = budget; }

 private:
  class Connection;
  static thread_local Connection* current_;  // the connection this thread serves
  bool process_and_close_socket(socket_t sock) override;
  void refuse(const Refusal& refusal, httplib::Response& res);
  bool check_before_body(const httplib::Request& req, httplib::Response& res);

  std::string listener_;
  common::HttpLimits limits_;
  uint64_t max_body_;
  common::MemoryBudget* budget_ = nullptr;
  Family<Counter>& limited_;
  HandlerWithResponse before_body_;
  HandlerWithResponse error_;
  Render render_;
};

}  // namespace obs
