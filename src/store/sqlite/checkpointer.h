// WAL checkpoints on a thread and connection of their own, so that copying committed pages into
// the database file mostly runs outside the group commits that senders wait on. The writer's
// connection reports its WAL size after each commit (watch); past a threshold the checkpointer
// runs a PASSIVE checkpoint, which never blocks the writer.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite/database.h"

namespace store::sqlite {

class Checkpointer {
 public:
  // A checkpoint is asked for once the WAL holds this many bytes (SQLite's own default: 1000
  // pages of 4 KiB); thresholds are in bytes so that they do not grow with the page size.
  static constexpr int64_t kBytes = 4 << 20;
  // Beyond this the writer checkpoints after its commit itself. SQLite starts the WAL over only
  // when a write begins with every frame copied, which a checkpointer racing a steady stream of
  // commits rarely leaves it; the writer's own run then copies just the frames committed since
  // the checkpointer's last run (and fsyncs), and the WAL starts over.
  static constexpr int64_t kWriterBytes = 2 * kBytes;

  Checkpointer() = default;
  ~Checkpointer() { stop(); }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Opens its connection to `path` and starts the thread.
  bool start(const std::string& path, std::string& error);
  // Replaces SQLite's automatic checkpoint on `writer` (the writer's connection) by this one.
  void watch(Connection& writer);
  // Joins the thread and closes the connection; the last connection to close checkpoints.
  void stop();

 private:
  static int on_commit(void* self, sqlite3* db, const char* name, int pages);
  void run();

  Connection db_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  int64_t page_size_ = 4096;  // the watched database's, read by watch()
  bool wanted_ = false;
  bool stopping_ = false;
};

}  // namespace store::sqlite
