// One worker's HTTP side: a keep-alive client per (endpoint origin, CA file), reused across
// deliveries, with the endpoint's timeout on connect, read and write. HTTPS always verifies the
// server's certificate: against the endpoint's ca_file, else the system trust store.
// cpp-httplib stays inside dispatcher_http.cpp.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/url.h"
#include "delivery/dispatcher_policy.h"

namespace delivery {

struct PostResult {
  int status = 0;                          // 0: no HTTP answer (see error)
  std::string error;                       // "timeout", "connection refused", "TLS ...", ...
  std::optional<std::string> retry_after;  // the answer's Retry-After header
  double seconds = 0;                      // how long the POST took
};

class Clients {
 public:
  Clients();
  ~Clients();
  Clients(const Clients&) = delete;
  Clients& operator=(const Clients&) = delete;

  // POSTs `body` (moved into the request, never copied) as `content_type` with `headers` to
  // url.path on url.origin.
  // `ca_file` (config::Endpoint::ca_file): the PEM bundle an https:// origin is verified
  // against; "" = the system trust store.
  PostResult post(const common::EndpointUrl& url,
                  const std::vector<std::pair<std::string, std::string>>& headers, std::string body,
                  std::chrono::milliseconds timeout, const std::string& ca_file = {},
                  const std::string& content_type = "application/json; charset=utf-8");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delivery
