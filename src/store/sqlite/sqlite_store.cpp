// The embedded SQLite Store: callers queue messages; ONE writer thread commits whatever is waiting
// as one group (one transaction, one fsync) and only then calls each message's `done`.
// A failed group is retried message by message, so one bad message cannot fail the others.
// Delivery state changes (claim, finish, prune) are tasks on the same thread: SQLite has one
// writer.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
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

  std::vector<DeliveryJob> claim_deliveries(size_t limit, int64_t now_ms) override {
    return run_on_writer(std::vector<DeliveryJob>{}, [limit, now_ms](sqlite::Writer& writer) {
      return writer.claim(limit, now_ms);
    });
  }

  // Outcomes wait in their own queue; the writer commits all that wait in one transaction (group
  // commit for delivery outcomes: one fsync for many workers). Returns once durably recorded.
  void finish_delivery(const std::string& delivery_id, DeliveryOutcome outcome,
                       int64_t next_attempt_at_ms, const std::string& last_error) override {
    auto committed = std::make_shared<std::promise<void>>();
    std::future<void> done = committed->get_future();
    {
      std::lock_guard lock(mutex_);
      if (closing_) return;  // stays in_flight: queued again at the next start (at least once)
      finishes_.push_back(
          {{delivery_id, outcome, next_attempt_at_ms, last_error}, std::move(committed)});
      wake_.notify_one();
    }
    done.get();
  }

  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms) override {
    // Small batches, each its own transaction, so that inbound commits are not held up long.
    constexpr size_t kBatch = 256;
    uint64_t total = 0;
    for (;;) {
      uint64_t deleted = run_on_writer(uint64_t{0}, [&](sqlite::Writer& writer) {
        return writer.prune(delivered_before_ms, dead_before_ms, kBatch);
      });
      total += deleted;
      if (deleted < kBatch) return total;
    }
  }

  Redelivery redeliver_inbound(const std::string& id, int64_t now_ms) override {
    return run_on_writer(Redelivery{},
                         [&](sqlite::Writer& writer) { return writer.redeliver(id, now_ms); });
  }

  std::vector<InboundSummary> list_inbound(const InboundQuery& query) override {
    return reader_->list_inbound(query);
  }

  QueueStats queue_stats() override { return reader_->queue_stats(); }

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
  using Task = std::function<void(sqlite::Writer&)>;
  struct PendingFinish {
    sqlite::Writer::Finish finish;
    std::shared_ptr<std::promise<void>> committed;
  };
  struct Work {
    std::vector<Task> tasks;
    std::vector<PendingFinish> finishes;
    Group group;
    bool empty() const { return tasks.empty() && finishes.empty() && group.empty(); }
  };

  // Runs `work(writer)` on the writer thread and returns its result; `when_closed` if the store
  // no longer takes writes. Tasks queued before close() still run (close drains the queue).
  template <typename Result, typename Function>
  Result run_on_writer(Result when_closed, Function work) {
    auto promise = std::make_shared<std::promise<Result>>();
    std::future<Result> result = promise->get_future();
    {
      std::lock_guard lock(mutex_);
      if (closing_) return when_closed;
      tasks_.push_back(
          [promise, &work](sqlite::Writer& writer) { promise->set_value(work(writer)); });
      wake_.notify_one();
    }
    return result.get();  // `work` outlives the task: this frame waits for it
  }

  // Blocks until messages or tasks wait (or close); empty work means closed and drained.
  Work take_work() {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] {
      return closing_ || !queue_.empty() || !tasks_.empty() || !finishes_.empty();
    });
    if (options_.commit_delay.count() > 0 && !closing_ && tasks_.empty() && !queue_.empty() &&
        queue_.size() < options_.max_batch) {
      // Give other sessions a moment to join this transaction's fsync.
      wake_.wait_for(lock, options_.commit_delay, [this] {
        return closing_ || queue_.size() >= options_.max_batch || !tasks_.empty();
      });
    }
    Work work;
    work.tasks.assign(std::make_move_iterator(tasks_.begin()),
                      std::make_move_iterator(tasks_.end()));
    tasks_.clear();
    work.finishes.assign(std::make_move_iterator(finishes_.begin()),
                         std::make_move_iterator(finishes_.end()));
    finishes_.clear();
    size_t take = std::min(queue_.size(), options_.max_batch);
    work.group.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      work.group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return work;
  }

  void run_writer() {
    for (Work work = take_work(); !work.empty(); work = take_work()) {
      for (Task& task : work.tasks) task(*writer_);
      if (!work.finishes.empty()) commit_finishes(work.finishes);
      if (!work.group.empty()) commit_group(work.group);
    }
    writable_ = false;
    writer_->close();
  }

  void commit_finishes(std::vector<PendingFinish>& pending) {
    std::vector<sqlite::Writer::Finish> finishes;
    finishes.reserve(pending.size());
    for (PendingFinish& p : pending) finishes.push_back(std::move(p.finish));
    // A failed batch leaves its rows in_flight; they are queued again at the next start and
    // delivered once more (at least once), so the callers are released either way.
    writer_->finish_all(finishes, common::unix_ms(common::Clock::now()));
    for (PendingFinish& p : pending) p.committed->set_value();
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

  std::mutex mutex_;  // guards queue_, tasks_ and closing_
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  std::deque<Task> tasks_;
  std::deque<PendingFinish> finishes_;
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
