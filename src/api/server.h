// The REST listener (CONTRACTS.md 2): inbound browsing and replay behind API-key auth, errors as
// application/problem+json. Serves on threads of its own; cpp-httplib stays inside the .cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/inbound.h"
#include "config/config.h"

namespace obs {
class Registry;
}
namespace store {
class Store;
}

namespace api {

class Server {
 public:
  // `render` turns a stored message into its bridge.v1 document (the app passes the delivery
  // component's renderer); `requeued` is called after a redeliver put rows back to queued (the
  // app wakes the dispatcher with it). With no keys in `api`, one is generated (and logged once
  // by start()).
  Server(const config::Api& api, store::Store& store, obs::Registry& registry, RenderInbound render,
         std::function<void()> requeued = {});
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
