// The REST listener (CONTRACTS.md 2): the send API, inbound browsing and replay behind API-key
// auth, errors as application/problem+json. Serves on threads of its own; cpp-httplib stays inside
// the .cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/inbound.h"
#include "config/config.h"

namespace common {
class MemoryBudget;
}
namespace obs {
class Registry;
}
namespace store {
class Store;
}

namespace api {

// The send API's settings.
struct SendOptions {
  std::string hostname;                      // Message-ID's right side; "" = the host name
  uint64_t max_message_bytes = 25ull << 20;  // decoded content or raw message; more → 413
  std::function<void()> queued;              // after each new outbound message was committed
  // The process's memory budget that request bodies draw from (503 beyond it); null = none.
  common::MemoryBudget* memory = nullptr;
};

// The largest request body accepted (more → 413 before the handler runs): base64 of the largest
// message (4/3) plus 1/8 for JSON escaping and the other fields, plus 64 KiB, and at least 1 MiB.
uint64_t max_request_body(uint64_t max_message_bytes);

class Server {
 public:
  // `render` turns a stored message into its bridge.v1 document (the app passes the delivery
  // component's renderer); `requeued` is called after a redeliver put rows back to queued (the
  // app wakes the dispatcher with it). With no keys in `api`, one is generated (and logged once
  // by start()). `send` configures POST /v1/messages(/raw).
  Server(const config::Api& api, store::Store& store, obs::Registry& registry, RenderInbound render,
         std::function<void()> requeued = {}, SendOptions send = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0 = any free port), logs {"msg":"listening","listener":"api"} and
  // serves on a thread of its own. False and `error` set when the address cannot be bound.
  bool start(const std::string& host, uint16_t port, std::string& error);
  uint16_t port() const;  // the bound port
  // Idempotent; returns once the listener's thread has ended.
  void stop();
  // The key generated because none was configured; "" when keys were configured.
  const std::string& generated_key() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
