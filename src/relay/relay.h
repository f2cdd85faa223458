// The outbound relay (ARCHITECTURE.md "Outbound path"): takes due outbound messages from the
// Store, sends them through a pool of upstream SMTP connections (src/relay/client.h), and records
// each recipient's reply. Runs on an io_context and threads of its own; no Asio in this header.
#pragma once
#include <memory>
#include <string>

#include "config/config.h"

namespace obs {
class Registry;
}
namespace store {
class Store;
}

namespace relay {

class Relay {
 public:
  Relay(const config::Relay& config, store::Store& store, obs::Registry& registry);
  ~Relay();  // stop()
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Starts the pool (config.connections sessions at most) and the poller. With no upstream host
  // configured the relay stays idle: messages wait in the store. False + error on bad TLS files.
  bool start(std::string& error);
  // A new outbound message was committed: look for due work now instead of at the next poll.
  void notify();
  // Stops taking work, lets transactions in progress finish (bounded), QUITs and joins. Rows
  // still in_flight are queued again at the next start (at least once).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relay
