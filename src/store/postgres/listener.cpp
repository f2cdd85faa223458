// LISTEN loop: waits on the connection's socket (poll, a quarter second at most so that stop() is
// prompt), reads notifications, and reconnects with the Link's backoff after the server went
// away. A lost session also loses the housekeeping lock, which another replica then takes.
#include "store/postgres/listener.h"

#include <poll.h>

#include "common/thread_name.h"
#include "store/postgres/schema.h"

namespace store::postgres {
namespace {
constexpr int kPollMs = 250;
constexpr auto kLockRetry = std::chrono::seconds(2);
}  // namespace

void Listener::start() {
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
        !link_.db().run("sb_owner_lock", kOwnerLock, owner).ok()) {
      link_.db().disconnect();
      return false;
    }
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
    bool own = notify->be_pid == own_pid_();
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
    PGconn* conn = link_.db().handle();
    pollfd fd{PQsocket(conn), POLLIN, 0};
    int ready = poll(&fd, 1, kPollMs);
    if (ready < 0) continue;
    if (ready > 0 && PQconsumeInput(conn) != 1) {
      link_.db().disconnect();  // the server went away: reconnect (and LISTEN) again
      housekeeper_ = false;
      continue;
    }
    drain();
  }
}

}  // namespace store::postgres
