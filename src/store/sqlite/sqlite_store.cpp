// The embedded SQLite Store: callers queue messages; ONE writer thread commits whatever is waiting
// as one group (one transaction, one fsync) and only then calls each message's `done`.
// A failed group is retried message by message, so one bad message cannot fail the others.
// Delivery and outbound recipient state changes (claim, finish, prune) are tasks on the same
// thread: SQLite has one writer. Outbound messages ride the same group commits as inbound ones.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <variant>

#include "common/ids.h"
#include "common/thread_name.h"
#include "common/time.h"
#include "store/row_codec.h"
#include "store/sqlite/checkpointer.h"
#include "store/sqlite/outbound_reader.h"
#include "store/sqlite/outbound_writer.h"
#include "store/sqlite/reader.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/writer.h"
#include "store/store.h"

namespace store {
namespace {

using sqlite::Connection;

// Small batches, each its own transaction, so that inbound commits are not held up long.
constexpr size_t kPruneBatch = 256;

// Outcomes nobody waits for (finish_delivery_later) wait this long, or until this many wait, for
// a group commit to ride instead of committing on their own. While mail arrives they always
// ride: no commit (fsync, table page rewrite) of their own. A crash loses at most these, and
// the rows are delivered once more (at least once).
constexpr auto kOutcomeLinger = std::chrono::milliseconds(50);
constexpr size_t kMaxLingering = 1024;

// After a failed write, readiness checks try a rolled-back insert of a message this size, at most
// once per interval: ready again once a typical message fits.
constexpr size_t kProbeBytes = 64 * 1024;
constexpr auto kProbeInterval = std::chrono::seconds(1);
// Outcomes whose commit failed are tried again this often.
constexpr auto kRetryInterval = std::chrono::seconds(1);

// What open_sqlite opened; the outbound parts work on the writer's and the reader's connections.
struct Parts {
  std::unique_ptr<sqlite::Writer> writer = std::make_unique<sqlite::Writer>();
  std::unique_ptr<sqlite::Reader> reader = std::make_unique<sqlite::Reader>();
  std::unique_ptr<sqlite::OutboundWriter> outbound_writer =
      std::make_unique<sqlite::OutboundWriter>();
  std::unique_ptr<sqlite::OutboundReader> outbound_reader =
      std::make_unique<sqlite::OutboundReader>();
  std::unique_ptr<sqlite::Checkpointer> checkpointer = std::make_unique<sqlite::Checkpointer>();
};

class SqliteStore final : public Store {
 public:
  SqliteStore(const Options& options, Parts parts)
      : options_(options),
        writer_(std::move(parts.writer)),
        reader_(std::move(parts.reader)),
        outbound_writer_(std::move(parts.outbound_writer)),
        outbound_reader_(std::move(parts.outbound_reader)),
        checkpointer_(std::move(parts.checkpointer)) {
    if (options_.max_batch == 0) options_.max_batch = 1;
    thread_ = std::thread([this] {
      common::name_this_thread("store-writer");
      run_writer();
    });
  }
  ~SqliteStore() override { close(); }

  void enqueue_inbound(InboundMessage message, Done done) override {
    // Endpoints by name (Options::resolve_endpoint): on the caller's thread, not the writer's.
    for (Delivery& delivery : message.deliveries) {
      EndpointRef ref = resolve_endpoint(options_.resolve_endpoint, delivery.endpoint,
                                         /*derive_name=*/false);
      delivery.endpoint = std::move(ref.name);
      delivery.origin = std::move(ref.origin);
    }
    {
      std::lock_guard lock(mutex_);
      if (!closing_) {
        queue_.push_back(Inbound{std::move(message), std::move(done)});
        wake_.notify_one();
        return;
      }
    }
    done(Status::closed);
  }

  void set_delivery_consumer(DeliveryConsumer* consumer) override {
    std::lock_guard lock(consumer_mutex_);  // waits for a reserve/take pair in progress
    consumer_ = consumer;
  }

  std::vector<DeliveryJob> claim_deliveries(size_t limit, int64_t now_ms) override {
    return run_on_writer(std::vector<DeliveryJob>{}, [limit, now_ms](sqlite::Writer& writer) {
      return writer.claim(limit, now_ms);
    });
  }

  // Outcomes wait in their own queue; the writer commits all that wait in one transaction (group
  // commit for delivery outcomes: one fsync for many workers). Returns once durably recorded.
  void finish_delivery(const std::string& delivery_id, DeliveryOutcome outcome,
                       int64_t next_attempt_at_ms, const std::string& last_error, int attempt,
                       bool rendered, const std::string& origin) override {
    auto committed = std::make_shared<std::promise<void>>();
    std::future<void> done = committed->get_future();
    if (queue_finish(
            {delivery_id, outcome, next_attempt_at_ms, last_error, attempt, rendered, origin},
            std::move(committed)))
      done.get();
  }

  void finish_delivery_later(const std::string& delivery_id, DeliveryOutcome outcome,
                             int64_t next_attempt_at_ms, const std::string& last_error, int attempt,
                             bool rendered, const std::string& origin) override {
    queue_finish({delivery_id, outcome, next_attempt_at_ms, last_error, attempt, rendered, origin},
                 nullptr);
  }

  uint64_t requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now_ms) override {
    return run_on_writer(uint64_t{0}, [&](sqlite::Writer& writer) {
      return writer.requeue_orphaned(endpoints, now_ms);
    });
  }

  uint64_t requeue_expired(int64_t now_ms) override {
    return run_on_writer(uint64_t{0}, [this, now_ms](sqlite::Writer& writer) {
      int rc = SQLITE_OK;
      uint64_t requeued = writer.requeue_expired(now_ms, rc);
      if (rc != SQLITE_OK) writable_ = false;
      return requeued;
    });
  }

  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms) override {
    uint64_t inbound = prune_batches([&](sqlite::Writer& writer) {
      return writer.prune(delivered_before_ms, dead_before_ms, kPruneBatch);
    });
    // Outbound likewise: a sent recipient is kept like a delivered row, a failed one like dead.
    return inbound + prune_batches([&](sqlite::Writer&) {
             return outbound_writer_->prune(delivered_before_ms, dead_before_ms, kPruneBatch);
           });
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
  void enqueue_outbound(OutboundMessage message,
                        std::function<void(OutboundEnqueued)> done) override {
    {
      std::lock_guard lock(mutex_);
      if (!closing_) {
        queue_.push_back(Outbound{std::move(message), std::move(done), {}});
        wake_.notify_one();
        return;
      }
    }
    done(refused(Status::closed, message));
  }

  std::optional<StoredOutbound> find_outbound(const std::string& id) override {
    return outbound_reader_->find(id);
  }

  std::vector<OutboundJob> claim_outbound(size_t limit, int64_t now_ms) override {
    return run_on_writer(std::vector<OutboundJob>{}, [this, limit, now_ms](sqlite::Writer&) {
      return outbound_writer_->claim(limit, now_ms);
    });
  }

  // Like finish_delivery: the results of several callers are committed in one transaction,
  // durably (a lost "sent" would send the message twice). Returns once committed.
  void finish_outbound(const std::string& id,
                       const std::vector<RecipientResult>& results) override {
    if (results.empty()) return;
    PendingOutboundFinish pending{{}, std::make_shared<std::promise<void>>()};
    for (const RecipientResult& result : results) pending.finishes.push_back({id, result});
    std::future<void> done = pending.committed->get_future();
    {
      std::lock_guard lock(mutex_);
      if (closing_) return;  // stays in_flight: queued again at the next start (at least once)
      outbound_finishes_.push_back(std::move(pending));
      wake_.notify_one();
    }
    done.get();
  }

  QueueStats outbound_stats() override { return outbound_reader_->stats(); }

  bool writable() override {
    // Outcomes that could not be committed wait for their retry (retry_finishes): not ready until
    // they are in, whatever a probe says.
    if (finishes_failing_.load()) return false;
    if (writable_.load()) return true;
    // Only a later success makes the store ready again, and Kubernetes sends no mail to an
    // unready pod: so the check tries one, a rolled-back write of a typical message.
    {
      std::lock_guard lock(probe_mutex_);
      auto now = std::chrono::steady_clock::now();
      if (now - last_probe_ < kProbeInterval) return false;
      last_probe_ = now;
    }
    bool room = run_on_writer(
        false, [](sqlite::Writer& writer) { return writer.probe(kProbeBytes) == Status::ok; });
    if (room) writable_ = true;
    return room;
  }
  uint64_t size_bytes() override { return reader_->size_bytes(); }

  void close() override {
    std::lock_guard close_lock(close_mutex_);
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    checkpointer_->stop();  // after the writer's connection is closed: its WAL hook calls it
  }

 private:
  struct Inbound {
    InboundMessage message;
    Done done;
  };
  struct Outbound {
    OutboundMessage message;
    std::function<void(OutboundEnqueued)> done;
    OutboundEnqueued result;  // filled inside the group's transaction
  };
  // Both kinds wait in one queue, in arrival order, and share the group commits.
  using Pending = std::variant<Inbound, Outbound>;
  using Group = std::vector<Pending>;
  using Task = std::function<void(sqlite::Writer&)>;
  struct PendingFinish {
    sqlite::Writer::Finish finish;
    std::shared_ptr<std::promise<void>> committed;
  };
  struct PendingOutboundFinish {
    std::vector<sqlite::OutboundWriter::Finish> finishes;
    std::shared_ptr<std::promise<void>> committed;
  };
  struct Work {
    std::vector<Task> tasks;
    std::vector<PendingFinish> finishes;
    std::vector<PendingOutboundFinish> outbound_finishes;
    Group group;
    bool empty() const {
      return tasks.empty() && finishes.empty() && outbound_finishes.empty() && group.empty();
    }
  };

  static OutboundEnqueued refused(Status status, const OutboundMessage& message) {
    OutboundEnqueued result;
    result.status = status;
    result.response_json = message.response_json;
    return result;
  }

  template <typename Function>
  uint64_t prune_batches(Function prune_one) {
    uint64_t total = 0;
    for (;;) {
      uint64_t deleted = run_on_writer(uint64_t{0}, prune_one);
      total += deleted;
      if (deleted < kPruneBatch) return total;
    }
  }

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

  // Blocks until messages, tasks or awaited outcomes wait, or outcomes have lingered for
  // kOutcomeLinger (or close); empty work means closed and drained.
  Work take_work() {
    std::unique_lock lock(mutex_);
    auto ready = [this] {
      return closing_ || !queue_.empty() || !tasks_.empty() || !outbound_finishes_.empty() ||
             finish_awaited_ || finishes_.size() >= kMaxLingering || retry_due();
    };
    while (!ready()) {
      if (retrying() && finishes_.empty()) {
        wake_.wait_until(lock, retry_at_);
      } else if (finishes_.empty()) {
        writer_asleep_ = true;
        wake_.wait(lock);
        writer_asleep_ = false;
      } else if (wake_.wait_until(lock, lingering_since_ + kOutcomeLinger) ==
                 std::cv_status::timeout) {
        break;
      }
    }
    finish_awaited_ = false;
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
    work.outbound_finishes.assign(std::make_move_iterator(outbound_finishes_.begin()),
                                  std::make_move_iterator(outbound_finishes_.end()));
    outbound_finishes_.clear();
    size_t take = std::min(queue_.size(), options_.max_batch);
    work.group.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      work.group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return work;
  }

  void run_writer() {
    for (Work work = take_work(); !work.empty() || retry_due(); work = take_work()) {
      if (retry_due()) retry_finishes();
      // Outcomes before tasks: a claim queued after finish_delivery_later() must see its row.
      // Without tasks they ride the group's transaction instead (one commit, not two: each
      // rewrites the deliveries' table and index pages). Not while older ones wait for a retry:
      // those go first.
      bool ride = work.tasks.empty() && !work.group.empty() && !retrying();
      if (!work.finishes.empty() && !ride) commit_finishes(work.finishes);
      for (Task& task : work.tasks) task(*writer_);
      if (!work.outbound_finishes.empty()) commit_outbound_finishes(work.outbound_finishes);
      if (!work.group.empty()) commit_group(work.group, ride ? &work.finishes : nullptr);
    }
    writable_ = false;
    outbound_writer_->close();
    writer_->close();
  }

  // False once closing: the row stays in_flight and is queued again at the next start (at
  // least once). `committed` (may be null) is set once the outcome is committed.
  bool queue_finish(sqlite::Writer::Finish finish, std::shared_ptr<std::promise<void>> committed) {
    std::lock_guard lock(mutex_);
    if (closing_) return false;
    if (finishes_.empty()) lingering_since_ = std::chrono::steady_clock::now();
    bool awaited = committed != nullptr;
    finishes_.push_back({std::move(finish), std::move(committed)});
    finish_awaited_ = finish_awaited_ || awaited;
    // A busy writer finds the outcome when it next takes work; only a sleeping one is woken.
    if (awaited || writer_asleep_ || finishes_.size() >= kMaxLingering) wake_.notify_one();
    return true;
  }

  // Outcomes whose commit failed (disk full, store.max_size) are kept and committed again about
  // once a second, oldest first, until one succeeds: their rows stay in_flight meanwhile, so a
  // lost outcome would repeat a delivery only once their lease ended. The callers are released
  // either way (the dispatcher and the relay go on); the store is not writable() until then.
  void commit_finishes(std::vector<PendingFinish>& pending) {
    std::vector<sqlite::Writer::Finish> finishes;
    finishes.reserve(pending.size());
    for (PendingFinish& p : pending) finishes.push_back(std::move(p.finish));
    int rc = writer_->finish_all(finishes, common::unix_ms(common::Clock::now()));
    if (rc != SQLITE_OK) keep_for_retry(std::move(finishes), {}, rc);  // before the callers go on
    for (PendingFinish& p : pending)
      if (p.committed) p.committed->set_value();
  }

  void commit_outbound_finishes(std::vector<PendingOutboundFinish>& pending) {
    std::vector<sqlite::OutboundWriter::Finish> finishes;
    for (PendingOutboundFinish& p : pending) {
      for (auto& finish : p.finishes) finishes.push_back(std::move(finish));
    }
    int rc = outbound_writer_->finish_all(finishes, common::unix_ms(common::Clock::now()));
    if (rc != SQLITE_OK) keep_for_retry({}, std::move(finishes), rc);
    for (PendingOutboundFinish& p : pending) p.committed->set_value();
  }

  bool retrying() const { return !failed_.empty() || !failed_outbound_.empty(); }
  bool retry_due() const { return retrying() && std::chrono::steady_clock::now() >= retry_at_; }

  void keep_for_retry(std::vector<sqlite::Writer::Finish> inbound,
                      std::vector<sqlite::OutboundWriter::Finish> outbound, int rc) {
    bool first = !retrying();
    for (auto& f : inbound) failed_.push_back(std::move(f));
    for (auto& f : outbound) failed_outbound_.push_back(std::move(f));
    retry_at_ = std::chrono::steady_clock::now() + kRetryInterval;
    writable_ = false;
    finishes_failing_ = true;
    // Reported when a streak starts (not at every retry: the log would fill the disk too).
    if (first && options_.on_write_failure)
      options_.on_write_failure(inbound.empty() ? "finish_outbound" : "finish_delivery",
                                sqlite::status_from(rc), failed_.size() + failed_outbound_.size());
  }

  void retry_finishes() {
    int64_t now_ms = common::unix_ms(common::Clock::now());
    int rc = failed_.empty() ? SQLITE_OK : writer_->finish_all(failed_, now_ms);
    if (rc == SQLITE_OK) failed_.clear();
    if (rc == SQLITE_OK && !failed_outbound_.empty()) {
      rc = outbound_writer_->finish_all(failed_outbound_, now_ms);
      if (rc == SQLITE_OK) failed_outbound_.clear();
    }
    if (rc != SQLITE_OK) {
      retry_at_ = std::chrono::steady_clock::now() + kRetryInterval;
      return;
    }
    finishes_failing_ = false;
    writable_ = true;
    if (options_.on_write_failure) options_.on_write_failure("finish", Status::ok, 0);
  }

  // The group's transaction. With a delivery consumer (the hot path), as many of its new rows
  // as the consumer reserves are claimed in it and handed over once the commit is durable,
  // after every sender has had its answer.
  // `finishes` (may be null or empty) are committed in the group's transaction, or on their own
  // if it fails.
  void commit_group(Group& group, std::vector<PendingFinish>* finishes) {
    std::lock_guard consumer_lock(consumer_mutex_);
    size_t rows = delivery_rows(group);
    size_t reserved =
        consumer_ != nullptr && rows > 0 ? std::min(rows, consumer_->reserve(rows)) : 0;
    std::vector<sqlite::Writer::Claimed> claimed;
    Status status = timed_write(group, reserved, &claimed, finishes);
    if (finishes != nullptr && !finishes->empty()) {
      if (status == Status::ok) {
        for (PendingFinish& p : *finishes)
          if (p.committed) p.committed->set_value();
      } else {
        commit_finishes(*finishes);
      }
    }
    if (status == Status::ok || group.size() == 1) {
      for (Pending& pending : group) complete(pending, status);
      report(status, group.size());
      if (consumer_ != nullptr && rows > 0) {
        size_t queued = status == Status::ok ? rows - claimed.size() : 0;
        consumer_->take(claimed_jobs(group, claimed), reserved, queued);
      }
      return;
    }
    report(status, group.size());
    // The group was rolled back: commit each message alone so that each gets its own status;
    // their rows are queued.
    size_t queued = 0;
    for (Pending& pending : group) {
      Status own = timed_write({&pending, 1}, 0, nullptr);
      complete(pending, own);
      report(own, 1);
      if (own == Status::ok) queued += delivery_rows({&pending, 1});
    }
    if (consumer_ != nullptr && rows > 0) consumer_->take({}, reserved, queued);
  }

  static size_t delivery_rows(std::span<Pending> pendings) {
    size_t rows = 0;
    for (Pending& pending : pendings) {
      if (auto* item = std::get_if<Inbound>(&pending)) rows += item->message.deliveries.size();
    }
    return rows;
  }

  // The claimed rows as jobs. The messages' senders have been answered, so their bytes are
  // moved into the last job of each message (copied into the others of a fan-out).
  std::vector<DeliveryJob> claimed_jobs(Group& group,
                                        std::vector<sqlite::Writer::Claimed>& claimed) const {
    const std::string& owner = writer_->owner();
    const int64_t lease_ms = options_.lease.count();
    std::vector<InboundMessage*> inbound;  // in the order Writer::write saw them
    for (Pending& pending : group) {
      if (auto* item = std::get_if<Inbound>(&pending)) inbound.push_back(&item->message);
    }
    std::vector<DeliveryJob> jobs;
    jobs.reserve(claimed.size());
    for (size_t i = 0; i < claimed.size(); ++i) {
      InboundMessage& message = *inbound[claimed[i].message];
      Delivery& delivery = message.deliveries[claimed[i].delivery];
      bool last = i + 1 == claimed.size() || claimed[i + 1].message != claimed[i].message;
      DeliveryJob job;
      job.delivery.id = std::move(claimed[i].id);
      job.delivery.message_id = message.id;
      job.delivery.endpoint = delivery.endpoint;
      job.delivery.origin = delivery.origin;
      job.delivery.rcpt_to = delivery.rcpt_to;
      job.delivery.state = "in_flight";
      job.delivery.attempts = 1;
      job.delivery.render_attempts = 1;
      job.delivery.next_attempt_at_ms = claimed[i].at_ms;
      job.delivery.lease_until_ms = claimed[i].at_ms + lease_ms;
      job.delivery.lease_owner = owner;
      job.received_at_ms = message.received_at_ms;
      job.envelope_json = last ? std::move(message.envelope_json) : message.envelope_json;
      job.data = last ? std::move(message.data) : message.data;
      jobs.push_back(std::move(job));
    }
    return jobs;
  }

  // One transaction for all of `pendings`: the inbound inserts, then the outbound ones (each
  // behind its idempotency check, so a key used twice in one group replays the first).
  Status timed_write(std::span<Pending> pendings, size_t claim,
                     std::vector<sqlite::Writer::Claimed>* claimed,
                     std::vector<PendingFinish>* finishes = nullptr) {
    started_ = std::chrono::steady_clock::now();
    std::vector<const InboundMessage*> inbound;
    std::vector<Outbound*> outbound;
    inbound.reserve(pendings.size());
    for (Pending& pending : pendings) {
      if (auto* item = std::get_if<Inbound>(&pending)) {
        inbound.push_back(&item->message);
      } else {
        outbound.push_back(&std::get<Outbound>(pending));
      }
    }
    sqlite::Writer::Also also;
    if (!outbound.empty() || (finishes != nullptr && !finishes->empty())) {
      also = [this, &outbound, finishes](int64_t now_ms) {
        for (Outbound* item : outbound) {
          int rc = outbound_writer_->insert(item->message, now_ms, item->result);
          if (rc != SQLITE_OK) return rc;
        }
        if (finishes == nullptr) return SQLITE_OK;
        for (const PendingFinish& p : *finishes) {
          const sqlite::Writer::Finish& f = p.finish;
          int rc = writer_->finish(f.delivery_id, f.outcome, f.next_attempt_at_ms, f.last_error,
                                   now_ms, f.attempt, f.rendered, f.origin);
          if (rc != SQLITE_OK) return rc;
        }
        return SQLITE_OK;
      };
    }
    Status status = writer_->write(inbound, also, claim, claimed);
    writable_ = status == Status::ok;
    return status;
  }

  static void complete(Pending& pending, Status status) {
    if (auto* item = std::get_if<Inbound>(&pending)) {
      item->done(status);
      return;
    }
    Outbound& item = std::get<Outbound>(pending);
    // Replay and conflict count only when the transaction that saw them committed.
    OutboundEnqueued result =
        status == Status::ok ? std::move(item.result) : refused(status, item.message);
    result.status = status;
    item.done(std::move(result));
  }

  void report(Status status, size_t messages) {
    if (!options_.on_commit) return;
    std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started_;
    options_.on_commit(seconds.count(), messages, status);
  }

  Options options_;
  std::unique_ptr<sqlite::Writer> writer_;  // used by the writer thread only
  std::unique_ptr<sqlite::Reader> reader_;
  std::unique_ptr<sqlite::OutboundWriter> outbound_writer_;  // writer thread only
  std::unique_ptr<sqlite::OutboundReader> outbound_reader_;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;
  std::atomic<bool> writable_{true};
  std::atomic<bool> finishes_failing_{false};  // outcomes wait for their retry
  // Writer thread only: outcomes whose commit failed, and when to try them again.
  std::vector<sqlite::Writer::Finish> failed_;
  std::vector<sqlite::OutboundWriter::Finish> failed_outbound_;
  std::chrono::steady_clock::time_point retry_at_{};
  std::mutex probe_mutex_;  // guards last_probe_
  std::chrono::steady_clock::time_point last_probe_{};
  std::chrono::steady_clock::time_point started_;  // writer thread only

  std::mutex mutex_;  // guards queue_, tasks_, both finish queues, closing_ and the fields below
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  std::deque<Task> tasks_;
  std::deque<PendingFinish> finishes_;
  std::deque<PendingOutboundFinish> outbound_finishes_;
  bool closing_ = false;
  bool finish_awaited_ = false;  // a finish_delivery caller waits for its commit
  bool writer_asleep_ = false;   // the writer waits with nothing queued (no deadline)
  std::chrono::steady_clock::time_point lingering_since_;  // the oldest queued outcome's time

  // Held by the writer from a consumer's reserve() to its take(), and by set_delivery_consumer.
  std::mutex consumer_mutex_;
  DeliveryConsumer* consumer_ = nullptr;

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
  if (!sqlite::configure(db, error) || !sqlite::migrate(db, error, options.resolve_endpoint) ||
      !sqlite::requeue_in_flight(db, now_ms, error) ||
      !sqlite::limit_size(db, options.max_size, error)) {
    error = options.path + ": " + error;
    return nullptr;
  }
  Parts parts;
  std::string owner = options.owner.empty() ? common::uuid_v7() : options.owner;
  parts.writer->set_lease(owner, options.lease.count());
  parts.outbound_writer->set_lease(owner, options.outbound_lease.count());
  if (!parts.writer->open(std::move(db), error) || !parts.reader->open(options.path, error) ||
      !parts.outbound_writer->open(*parts.writer, options.idempotency_ttl, error) ||
      !parts.outbound_reader->open(*parts.reader, error) ||
      !parts.checkpointer->start(options.path, error)) {
    error = options.path + ": " + error;
    return nullptr;
  }
  parts.checkpointer->watch(parts.writer->connection());
  return std::make_unique<SqliteStore>(options, std::move(parts));
}

}  // namespace store
