// The checkpointer thread (checkpointer.h): woken by the writer's WAL hook, runs a PASSIVE
// checkpoint. A failed one is left to the next: a checkpoint only moves committed pages, it never
// decides what is durable.
#include "store/sqlite/checkpointer.h"

#include "common/thread_name.h"

namespace store::sqlite {

bool Checkpointer::start(const std::string& path, std::string& error) {
  if (!db_.open(path, /*create=*/false, error)) return false;
  // A connection knows the database is in WAL mode only once it has read it; until then a
  // checkpoint on it does nothing.
  auto mode = db_.query_text("PRAGMA journal_mode");
  if (!mode || *mode != "wal") {
    error = "the checkpointer's connection does not see WAL mode: " + db_.error_message();
    db_ = Connection();
    return false;
  }
  stopping_ = false;
  thread_ = std::thread([this] {
    common::name_this_thread("store-ckpt");
    run();
  });
  return true;
}

void Checkpointer::watch(Connection& writer) {
  // Replaces the hook that PRAGMA wal_autocheckpoint installs (SQLite: sqlite3_wal_hook).
  if (auto page_size = writer.query_int("PRAGMA page_size"); page_size && *page_size > 0)
    page_size_ = *page_size;
  sqlite3_wal_hook(writer.handle(), &Checkpointer::on_commit, this);
}

int Checkpointer::on_commit(void* self, sqlite3* db, const char* name, int pages) {
  auto* checkpointer = static_cast<Checkpointer*>(self);
  int64_t bytes = static_cast<int64_t>(pages) * checkpointer->page_size_;
  if (bytes >= kWriterBytes) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (bytes >= kBytes) {
    std::lock_guard lock(checkpointer->mutex_);
    checkpointer->wanted_ = true;
    checkpointer->wake_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || wanted_; });
    if (stopping_) return;
    wanted_ = false;
    lock.unlock();
    // Frames committed meanwhile are left to the next run: every commit past the threshold
    // asks again, and the writer starts the WAL over once a run has copied all of it.
    sqlite3_wal_checkpoint_v2(db_.handle(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
}

void Checkpointer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  db_ = Connection();
}

}  // namespace store::sqlite
