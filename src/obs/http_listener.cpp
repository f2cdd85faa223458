// The shared httplib listener: configuration, bind, accept loop on its own thread, stop.
#include "obs/http_listener.h"

#include <httplib.h>
#include <sys/socket.h>

#include "common/thread_name.h"
#include "obs/log.h"

namespace obs {

std::string host_port(const std::string& host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool HttpListener::start(const std::string& name, const std::string& host, uint16_t port,
                         const HttpListenerOptions& options, std::string& error) {
  if (thread_.joinable()) {
    error = "the " + name + " listener is already started";
    return false;
  }
  size_t threads = options.worker_threads;
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_.set_keep_alive_timeout(options.keep_alive_seconds);
  server_.set_read_timeout(options.read_timeout_seconds, 0);
  server_.set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which would let a second process bind the same
  // port silently; SO_REUSEADDR alone still allows a quick restart past TIME_WAIT.
  server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  int bound =
      port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    error = "cannot bind the " + name + " listener to " + host_port(host, port);
    return false;
  }
  port_ = static_cast<uint16_t>(bound);
  loop_ended_ = false;
  thread_ = std::thread([this, name] {
    common::name_this_thread(name + "-listen");
    server_.listen_after_bind();
    loop_ended_ = true;
  });
  // httplib's stop() only acts once the accept loop has marked itself running; wait for that
  // (it is the loop's first statement) so that a stop() right after start() cannot be lost.
  while (!server_.is_running() && !loop_ended_) std::this_thread::yield();
  info("listening", {{"listener", name}, {"address", host_port(host, port_)}});
  return true;
}

void HttpListener::stop() {
  if (!thread_.joinable()) return;
  server_.stop();
  thread_.join();
}

}  // namespace obs
