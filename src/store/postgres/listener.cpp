// LISTEN loop: waits on the connection's socket (poll, a quarter second at most so that stop() is
// prompt), reads notifications, and reconnects with the Link's backoff after the server went
// away. A lost session also loses the housekeeping lock, which another replica then takes.
#include "store/postgres/listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/thread_name.h"
#include "store/postgres/schema.h"

namespace store::postgres {
namespace {
constexpr int kPollMs = 250;
constexpr auto kLockRetry = std::chrono::seconds(2);
constexpr unsigned kInbound = 1, kOutbound = 2;
}  // namespace

void Listener::start() {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  connect();
  thread_ = std::thread([this] {
    common::name_this_thread("store-listen");
    run();
  });
}

void Listener::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  link_.db().disconnect();
  housekeeper_ = false;
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void Listener::announce(const std::string& what) {
  pending_ |= what == "outbound" ? kOutbound : kInbound;
  uint64_t one = 1;
  if (wake_fd_ >= 0 && write(wake_fd_, &one, sizeof one) < 0) {
    // The counter is full (never in practice) or the fd is gone (stopping): the flag stays set.
  }
}

// One statement for whatever waits, in its own transaction with synchronous_commit off (set at
// connect): the rows it announces are already durable, and a lost announcement only delays the
// other replicas to their next poll. Failed: kept for the next connection.
void Listener::send_announcements() {
  unsigned bits = pending_.exchange(0);
  if (bits == 0) return;
  std::string sql = "SELECT ";
  if (bits & kInbound) sql += std::string("pg_notify('") + kChannel + "', 'inbound')";
  if (bits & kOutbound)
    sql += std::string(bits & kInbound ? ", " : "") + "pg_notify('" + kChannel + "', 'outbound')";
  if (!link_.db().exec(sql).ok()) pending_ |= bits;
}

bool Listener::connect() {
  bool was = link_.db().connected();
  if (!link_.ensure()) return false;
  if (!was) {
    housekeeper_ = false;
    next_lock_try_ = {};
    Params owner;
    owner.text(owner_);
    if (!link_.db().exec(std::string("LISTEN ") + kChannel).ok() ||
        !link_.db().exec("SET synchronous_commit = off").ok() ||
        !link_.db().run("sb_owner_lock", kOwnerLock, owner).ok()) {
      link_.db().disconnect();
      return false;
    }
    own_pid_ = link_.db().backend_pid();
  }
  try_lock();
  return true;
}

void Listener::try_lock() {
  if (housekeeper_ || std::chrono::steady_clock::now() < next_lock_try_) return;
  next_lock_try_ = std::chrono::steady_clock::now() + kLockRetry;
  Result got = link_.db().exec("SELECT pg_try_advisory_lock(" + std::to_string(kLockClass) + ", " +
                               kHousekeepingKey + ")");
  housekeeper_ = got.ok() && got.text(0, 0) == "t";
  drain();  // notifications may have arrived with the answer
}

void Listener::drain() {
  PGconn* conn = link_.db().handle();
  if (conn == nullptr) return;
  while (PGnotify* notify = PQnotifies(conn)) {
    std::string what = notify->extra != nullptr ? notify->extra : "";
    bool own = notify->be_pid == own_pid_;
    PQfreemem(notify);
    if (!own && on_rows_) on_rows_(what);
  }
}

void Listener::run() {
  while (!stopping_) {
    if (!connect()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
      continue;
    }
    send_announcements();
    PGconn* conn = link_.db().handle();
    if (conn == nullptr) continue;
    pollfd fds[2] = {{PQsocket(conn), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int ready = poll(fds, wake_fd_ >= 0 ? 2 : 1, kPollMs);
    if (ready < 0) continue;
    if (fds[1].revents & POLLIN) {
      uint64_t count = 0;
      if (read(wake_fd_, &count, sizeof count) < 0) count = 0;  // drained: EAGAIN is fine
    }
    if ((fds[0].revents & POLLIN) && PQconsumeInput(conn) != 1) {
      link_.db().disconnect();  // the server went away: reconnect (and LISTEN) again
      housekeeper_ = false;
      continue;
    }
    drain();
  }
}

}  // namespace store::postgres
