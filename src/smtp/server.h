// The inbound SMTP server (SMTP.md): listeners for plain/STARTTLS and implicit TLS, one
// coroutine per connection on an io_context run by N threads. Asio stays inside the .cpp files.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace config {
struct Config;
}
namespace store {
class Store;
}
namespace common {
class MemoryBudget;
}
namespace obs {
class Registry;
}

namespace smtp {

class Server {
 public:
  // The server keeps references to all three (and to `memory`); they must outlive it. Message
  // buffers draw from `memory`, the process's budget, when it is given.
  Server(const config::Config& config, store::Store& store, obs::Registry& registry,
         common::MemoryBudget* memory = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the certificate (if configured; reloaded when its files change), binds every
  // listener and starts the io threads.
  // Logs {"msg":"listening","listener":"smtp"|"smtps","address":"host:port"} per listener.
  // False and `error` set when a listener cannot bind or the certificate cannot be loaded.
  bool start(std::string& error);
  // Bound ports: those of smtp.listen in order, then those of smtp.tls_listen.
  std::vector<uint16_t> ports() const;
  // The drain (RFC 5321 3.8): new connections and sessions outside a transaction get
  // 421 4.3.2 and are closed, transactions in progress may finish (up to 20 s, then they are
  // closed too); then the listeners close and the threads are joined. Blocks until then.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smtp
