// The PostgreSQL store's LISTEN connection and thread: NOTIFYs from other processes' sessions
// (new or requeued rows) call Options::on_remote_rows at once, so idle dispatchers and relays
// claim without waiting for their next poll. The same long-lived session holds the housekeeping
// advisory lock when it can get it: the replica holding it samples the queue metrics.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "store/postgres/connection.h"

namespace store::postgres {

class Listener {
 public:
  using OnRows = std::function<void(const std::string& what)>;
  // `own_pid` gives the writer's backend pid: notifications from it are this store's own.
  // The session also holds `owner`'s lock (schema.h kOwnerLock) while it lives.
  Listener(const PostgresOptions& options, std::string owner, OnRows on_rows,
           std::function<int()> own_pid)
      : link_(options),
        owner_(std::move(owner)),
        on_rows_(std::move(on_rows)),
        own_pid_(std::move(own_pid)) {}
  ~Listener() { stop(); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Connects, LISTENs and tries the housekeeping lock once on the caller's thread (so that a
  // store alone is the housekeeper as soon as it is open), then starts the thread.
  void start();
  void stop();
  // True while this store's session holds the housekeeping lock.
  bool housekeeper() const { return housekeeper_.load(); }

 private:
  bool connect();
  void try_lock();
  void run();
  void drain();

  Link link_;
  std::string owner_;
  OnRows on_rows_;
  std::function<int()> own_pid_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> housekeeper_{false};
  std::chrono::steady_clock::time_point next_lock_try_{};
  std::thread thread_;
};

}  // namespace store::postgres
