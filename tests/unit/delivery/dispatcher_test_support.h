// Helpers for the dispatcher tests: a real HTTP receiver (httplib::Server on 127.0.0.1) that
// records every request and answers as the test scripts it, and waiting on conditions with
// deadlines.
#pragma once
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dispatcher_test {

struct Received {
  std::string path;  // with the query
  httplib::Headers headers;
  std::string body;
  std::chrono::steady_clock::time_point at;
  std::string header(const std::string& name) const;
};

class Receiver {
 public:
  // (request index from 0, request, response): the handler may block (a slow endpoint).
  using Respond = std::function<void(size_t, const Received&, httplib::Response&)>;
  explicit Receiver(Respond respond);
  ~Receiver();
  // Listens on `port` (0 = any free port); false when the port cannot be bound.
  bool start(int port = 0);
  void stop();
  int port() const { return port_; }
  std::vector<Received> requests();
  size_t count();

 private:
  Respond respond_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::vector<Received> requests_;
};

// A port nothing listens on right now (bound once, then released).
int closed_port();

// Polls `condition` every 5 ms until it holds or `timeout` passes; its last value.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(15));

// Standard Webhooks signature computed independently of src/delivery: "v1,<base64 HMAC>".
std::string expected_signature(const std::string& whsec, const std::string& id,
                               const std::string& timestamp, const std::string& body);

}  // namespace dispatcher_test
