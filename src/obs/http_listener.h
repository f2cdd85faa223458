// Runs a configured httplib::Server on a thread of its own: the bind → accept-loop → stop
// sequence that the admin and REST listeners share. Logs {"msg":"listening","listener":name,
// "address":"host:port"} once bound. httplib is only forward-declared here.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace obs {

struct HttpListenerOptions {
  size_t worker_threads = 2;
  time_t keep_alive_seconds = 1;  // short: stop() waits for idle keep-alive connections
  time_t read_timeout_seconds = 5;
};

class HttpListener {
 public:
  explicit HttpListener(httplib::Server& server) : server_(server) {}
  ~HttpListener() { stop(); }
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Applies the options (thread pool, timeouts, SO_REUSEADDR without SO_REUSEPORT), binds
  // host:port (0 = any free port) and starts the accept loop. False and `error` set when the
  // address cannot be bound or the listener already runs.
  bool start(const std::string& name, const std::string& host, uint16_t port,
             const HttpListenerOptions& options, std::string& error);
  uint16_t port() const { return port_; }
  // Idempotent; joins the thread.
  void stop();

 private:
  httplib::Server& server_;
  std::thread thread_;
  std::atomic<bool> loop_ended_{false};
  uint16_t port_ = 0;
};

// "host:port", with brackets around an IPv6 host.
std::string host_port(const std::string& host, uint16_t port);

}  // namespace obs
