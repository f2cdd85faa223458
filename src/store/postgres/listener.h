// The PostgreSQL store's LISTEN connection and thread: NOTIFYs from other processes' sessions
// (new or requeued rows) call Options::on_remote_rows at once, so idle dispatchers and relays
// claim without waiting for their next poll. This store's own announcements are sent from here
// too, after the writer's commit and coalesced, with synchronous_commit off: a NOTIFY inside the
// group's transaction would hold PostgreSQL's one notification-queue lock through that commit's
// WAL flush, serializing the commits of every replica that announces rows. The same long-lived
// session holds the housekeeping advisory lock when it can get it: the replica holding it samples
// the queue metrics.
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
  // The session also holds `owner`'s lock (schema.h kOwnerLock) while it lives.
  Listener(const PostgresOptions& options, std::string owner, OnRows on_rows)
      : link_(options), owner_(std::move(owner)), on_rows_(std::move(on_rows)) {}
  ~Listener() { stop(); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Connects, LISTENs and tries the housekeeping lock once on the caller's thread (so that a
  // store alone is the housekeeper as soon as it is open), then starts the thread.
  void start();
  void stop();
  // True while this store's session holds the housekeeping lock.
  bool housekeeper() const { return housekeeper_.load(); }
  // Rows of this kind ("inbound" or "outbound") were committed: the other replicas are told
  // (NOTIFY) from this thread soon after; announcements that wait are sent as one. Any thread.
  void announce(const std::string& what);

 private:
  bool connect();
  void try_lock();
  void run();
  void drain();
  void send_announcements();

  Link link_;
  std::string owner_;
  OnRows on_rows_;
  int own_pid_ = 0;                   // this session's backend: its own NOTIFYs come back to it
  std::atomic<unsigned> pending_{0};  // kInbound | kOutbound, announced and not yet sent
  int wake_fd_ = -1;                  // an eventfd: announce() wakes the poll
  std::atomic<bool> stopping_{false};
  std::atomic<bool> housekeeper_{false};
  std::chrono::steady_clock::time_point next_lock_try_{};
  std::thread thread_;
};

}  // namespace store::postgres
