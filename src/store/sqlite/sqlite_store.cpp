// The embedded SQLite Store: callers queue messages; ONE writer thread commits whatever is waiting
// as one group (one transaction, one fsync) and only then calls each message's `done`.
// A failed group is retried message by message, so one bad message cannot fail the others.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>

#include "common/time.h"
#include "store/sqlite/reader.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/writer.h"
#include "store/store.h"

namespace store {
namespace {

using sqlite::Connection;

class SqliteStore final : public Store {
 public:
  SqliteStore(const Options& options, std::unique_ptr<sqlite::Writer> writer,
              std::unique_ptr<sqlite::Reader> reader)
      : options_(options), writer_(std::move(writer)), reader_(std::move(reader)) {
    if (options_.max_batch == 0) options_.max_batch = 1;
    thread_ = std::thread([this] { run_writer(); });
  }
  ~SqliteStore() override { close(); }

  void enqueue_inbound(InboundMessage message, Done done) override {
    {
      std::lock_guard lock(mutex_);
      if (!closing_) {
        queue_.push_back(Pending{std::move(message), std::move(done)});
        wake_.notify_one();
        return;
      }
    }
    done(Status::closed);
  }

  std::optional<StoredInbound> find_inbound(const std::string& id) override {
    return reader_->find_inbound(id);
  }
  uint64_t count_inbound() override { return reader_->count_inbound(); }
  bool writable() override { return writable_.load(); }
  uint64_t size_bytes() override { return reader_->size_bytes(); }

  void close() override {
    std::lock_guard close_lock(close_mutex_);
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Pending {
    InboundMessage message;
    Done done;
  };
  using Group = std::vector<Pending>;

  // Blocks until messages wait (or close); an empty group means closed and drained.
  Group take_group() {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (options_.commit_delay.count() > 0 && !closing_ && queue_.size() < options_.max_batch) {
      // Give other sessions a moment to join this transaction's fsync.
      wake_.wait_for(lock, options_.commit_delay,
                     [this] { return closing_ || queue_.size() >= options_.max_batch; });
    }
    Group group;
    size_t take = std::min(queue_.size(), options_.max_batch);
    group.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return group;
  }

  void run_writer() {
    for (Group group = take_group(); !group.empty(); group = take_group()) commit_group(group);
    writable_ = false;
    writer_->close();
  }

  void commit_group(Group& group) {
    std::vector<const InboundMessage*> messages;
    messages.reserve(group.size());
    for (const Pending& pending : group) messages.push_back(&pending.message);
    Status status = timed_write(messages);
    if (status == Status::ok || group.size() == 1) {
      for (Pending& pending : group) pending.done(status);
      report(status, messages.size());
      return;
    }
    report(status, messages.size());
    // The group was rolled back: commit each message alone so that each gets its own status.
    for (Pending& pending : group) {
      Status own = timed_write({&pending.message});
      pending.done(own);
      report(own, 1);
    }
  }

  Status timed_write(const std::vector<const InboundMessage*>& messages) {
    started_ = std::chrono::steady_clock::now();
    Status status = writer_->write(messages);
    writable_ = status == Status::ok;
    return status;
  }

  void report(Status status, size_t messages) {
    if (!options_.on_commit) return;
    std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started_;
    options_.on_commit(seconds.count(), messages, status);
  }

  Options options_;
  std::unique_ptr<sqlite::Writer> writer_;  // used by the writer thread only
  std::unique_ptr<sqlite::Reader> reader_;
  std::atomic<bool> writable_{true};
  std::chrono::steady_clock::time_point started_;  // writer thread only

  std::mutex mutex_;  // guards queue_ and closing_
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool closing_ = false;

  std::mutex close_mutex_;  // close() may be called from several threads
  std::thread thread_;
};

bool create_parent_folders(const std::string& path, std::string& error) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return true;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    error = "cannot create " + parent.string() + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Store> open_sqlite(const Options& options, std::string& error) {
  if (!create_parent_folders(options.path, error)) return nullptr;
  Connection db;
  if (!db.open(options.path, /*create=*/true, error)) {
    error = "cannot open " + options.path + ": " + error;
    return nullptr;
  }
  int64_t now_ms = common::unix_ms(common::Clock::now());
  if (!sqlite::configure(db, error) || !sqlite::migrate(db, error) ||
      !sqlite::requeue_in_flight(db, now_ms, error) ||
      !sqlite::limit_size(db, options.max_size, error)) {
    error = options.path + ": " + error;
    return nullptr;
  }
  auto writer = std::make_unique<sqlite::Writer>();
  auto reader = std::make_unique<sqlite::Reader>();
  if (!writer->open(std::move(db), error) || !reader->open(options.path, error)) {
    error = options.path + ": " + error;
    return nullptr;
  }
  return std::make_unique<SqliteStore>(options, std::move(writer), std::move(reader));
}

}  // namespace store
