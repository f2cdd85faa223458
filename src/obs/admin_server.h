// The admin listener (CONTRACTS.md 3): GET /metrics, /healthz, /readyz on its own thread.
// cpp-httplib stays inside the .cpp so that this header is cheap to include.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "common/http_limits.h"

namespace obs {

class Registry;
class Health;

class AdminServer {
 public:
  // `admin.limits` bounds each request before any handler (GET only: a tiny body limit).
  AdminServer(Registry& registry, Health& health,
              const common::HttpLimits& limits = common::kAdminHttpLimits);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds host:port (port 0 = any free port) and starts serving on a thread of its own.
  // False and `error` set when the address cannot be bound.
  bool start(const std::string& host, uint16_t port, std::string& error);
  uint16_t port() const;  // the bound port
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace obs
