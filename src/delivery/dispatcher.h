// delivery::Dispatcher: takes due delivery rows from the Store, renders each message's bridge.v1
// document for its endpoint, signs it, POSTs it with keep-alive clients on worker threads of its
// own, and records the outcome (CONTRACTS.md 1 "Delivery semantics"). At least once: a row is
// finished only after the endpoint answered. cpp-httplib stays inside the .cpp files.
#pragma once
#include <memory>

namespace common {
class MemoryBudget;
}
namespace config {
struct Config;
}
namespace store {
class Store;
}
namespace obs {
class Registry;
}

namespace delivery {

class Dispatcher {
 public:
  // Keeps references to all three (and to `memory`); they must outlive it. Each render waits for
  // render_memory(size) of `memory`, the process's budget, when it is given.
  Dispatcher(const config::Config& config, store::Store& store, obs::Registry& registry,
             common::MemoryBudget* memory = nullptr);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the threads and becomes the store's delivery consumer (store.h): rows of new messages
  // come straight from the group commit while workers are free and no older row is due.
  void start();
  // Rows may be due (a redelivery was queued): wakes the poller instead of waiting for its tick.
  void notify();
  // Another replica committed rows that may be due (store.h on_remote_rows): claims them into
  // the free workers at once, without holding this replica's hot path back for them.
  void notify_remote();
  // Stops taking rows, lets in-flight POSTs finish (bounded by their timeouts), joins the threads.
  // Rows still in flight stay in_flight and are queued again at the next start (at least once).
  void stop();

 private:
  void start_threads();  // with Impl::mutex held
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delivery
