// The PostgreSQL Store's class (store.h open_postgres; internal to src/store/postgres): the same
// semantics as the SQLite store, so that
// one contract test suite passes on both. ONE writer thread commits whatever waits as one group
// (one transaction, one WAL flush) and only then calls each `done`; a failed group is retried
// message by message. Claims, finishes and requeues are tasks on the same thread (so that an
// outcome queued before a claim is committed before it); reads and pruning use the pool; the
// LISTEN thread wakes this replica for rows other replicas committed.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
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
#include "store/postgres/listener.h"
#include "store/postgres/outbound.h"
#include "store/postgres/readers.h"
#include "store/postgres/schema.h"
#include "store/postgres/writer.h"
#include "store/row_codec.h"
#include "store/sqlite/schema.h"
#include "store/store.h"

namespace store::postgres {

constexpr size_t kPruneBatch = 256;
// As in the SQLite store: outcomes nobody waits for ride the next group commit for this long.
constexpr auto kOutcomeLinger = std::chrono::milliseconds(50);
constexpr size_t kMaxLingering = 1024;
constexpr size_t kProbeBytes = 64 * 1024;
constexpr auto kProbeInterval = std::chrono::seconds(1);
constexpr auto kRetryInterval = std::chrono::seconds(1);

struct Parts {
  std::unique_ptr<Writer> writer;
  std::unique_ptr<OutboundWriter> outbound;
  std::unique_ptr<Readers> readers;
  std::unique_ptr<Listener> listener;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(const Options& options, Parts parts)
      : options_(options),
        writer_(std::move(parts.writer)),
        outbound_(std::move(parts.outbound)),
        readers_(std::move(parts.readers)),
        listener_(std::move(parts.listener)) {
    if (options_.max_batch == 0) options_.max_batch = 1;
    thread_ = std::thread([this] {
      common::name_this_thread("store-writer");
      run_writer();
    });
  }
  ~PostgresStore() override { close(); }

  void enqueue_inbound(InboundMessage message, Done done) override {
    for (Delivery& delivery : message.deliveries) {
      EndpointRef ref = resolve_endpoint(options_.resolve_endpoint, delivery.endpoint,
                                         /*derive_name=*/false);
      delivery.endpoint = std::move(ref.name);
      delivery.origin = std::move(ref.origin);
    }
    if (!push(Inbound{std::move(message), done})) done(Status::closed);
  }

  void enqueue_outbound(OutboundMessage message,
                        std::function<void(OutboundEnqueued)> done) override {
    OutboundEnqueued closed = refused(Status::closed, message);
    if (!push(Outbound{std::move(message), done, {}})) done(std::move(closed));
  }

  void set_delivery_consumer(DeliveryConsumer* consumer) override {
    std::lock_guard lock(consumer_mutex_);
    consumer_ = consumer;
  }

  std::vector<DeliveryJob> claim_deliveries(size_t limit, int64_t now) override {
    return run_on_writer(std::vector<DeliveryJob>{}, [this, limit, now](Writer& writer) {
      Status status = Status::ok;
      auto jobs = writer.claim(limit, now, status);
      if (status == Status::io_error) writable_ = false;
      return jobs;
    });
  }

  void finish_delivery(const std::string& id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
                       const std::string& last_error, int attempt, bool rendered,
                       const std::string& origin) override {
    auto committed = std::make_shared<std::promise<void>>();
    std::future<void> done = committed->get_future();
    if (queue_finish({id, outcome, next_attempt_at_ms, last_error, attempt, rendered, origin},
                     std::move(committed)))
      done.get();
  }

  void finish_delivery_later(const std::string& id, DeliveryOutcome outcome,
                             int64_t next_attempt_at_ms, const std::string& last_error, int attempt,
                             bool rendered, const std::string& origin) override {
    queue_finish({id, outcome, next_attempt_at_ms, last_error, attempt, rendered, origin}, nullptr);
  }

  uint64_t requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now) override {
    return run_on_writer(uint64_t{0},
                         [&](Writer& writer) { return writer.requeue_orphaned(endpoints, now); });
  }

  uint64_t requeue_expired(int64_t now) override {
    return run_on_writer(uint64_t{0}, [this, now](Writer& writer) {
      Status status = Status::ok;
      uint64_t requeued = writer.requeue_expired(now, status);
      if (status != Status::ok) writable_ = false;
      return requeued;
    });
  }

  // One replica at a time (the prune advisory lock): 0 when another holds it.
  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms) override {
    return readers_->prune(delivered_before_ms, dead_before_ms, kPruneBatch);
  }

  Redelivery redeliver_inbound(const std::string& id, int64_t now) override {
    return run_on_writer(Redelivery{}, [&](Writer& writer) { return writer.redeliver(id, now); });
  }

  std::vector<InboundSummary> list_inbound(const InboundQuery& query) override {
    return readers_->list_inbound(query);
  }
  std::optional<StoredInbound> find_inbound(const std::string& id) override {
    return readers_->find_inbound(id);
  }
  uint64_t count_inbound() override { return readers_->count_inbound(); }
  bool readable() override { return readers_->probe(); }
  std::optional<StoredOutbound> find_outbound(const std::string& id) override {
    return readers_->find_outbound(id);
  }

  // Only the replica holding the housekeeping lock samples (store.h queue_stats); the others
  // report every state at 0, so a sum or max over replicas is the queue's true depth.
  QueueStats queue_stats() override {
    if (listener_->housekeeper()) return readers_->queue_stats();
    return zeros({"queued", "in_flight", "deferred", "delivered", "dead", "orphaned"});
  }
  QueueStats outbound_stats() override {
    if (listener_->housekeeper()) return readers_->outbound_stats();
    return zeros({"queued", "in_flight", "deferred", "sent", "failed"});
  }

  std::vector<OutboundJob> claim_outbound(size_t limit, int64_t now) override {
    return run_on_writer(std::vector<OutboundJob>{}, [this, limit, now](Writer&) {
      Status status = Status::ok;
      auto jobs = outbound_->claim(limit, now, status);
      if (status == Status::io_error) writable_ = false;
      return jobs;
    });
  }

  void finish_outbound(const std::string& id,
                       const std::vector<RecipientResult>& results) override {
    if (results.empty()) return;
    PendingOutboundFinish pending{{}, std::make_shared<std::promise<void>>()};
    for (const RecipientResult& result : results) pending.finishes.push_back({id, result});
    std::future<void> done = pending.committed->get_future();
    {
      std::lock_guard lock(mutex_);
      if (closing_) return;  // stays in_flight until its lease ends (at least once)
      outbound_finishes_.push_back(std::move(pending));
      wake_.notify_one();
    }
    done.get();
  }

  bool writable() override {
    if (finishes_failing_.load()) return false;
    if (writable_.load()) return true;
    {
      std::lock_guard lock(probe_mutex_);
      auto now = std::chrono::steady_clock::now();
      if (now - last_probe_ < kProbeInterval) return false;
      last_probe_ = now;
    }
    bool room = run_on_writer(
        false, [](Writer& writer) { return writer.probe(kProbeBytes) == Status::ok; });
    if (room) writable_ = true;
    return room;
  }
  uint64_t size_bytes() override { return readers_->size_bytes(); }

  void close() override {
    std::lock_guard close_lock(close_mutex_);
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    listener_->stop();
  }

 private:
  struct Inbound {
    InboundMessage message;
    Done done;
  };
  struct Outbound {
    OutboundMessage message;
    std::function<void(OutboundEnqueued)> done;
    OutboundEnqueued result;
  };
  using Pending = std::variant<Inbound, Outbound>;
  using Group = std::vector<Pending>;
  using Task = std::function<void(Writer&)>;
  struct PendingFinish {
    Writer::Finish finish;
    std::shared_ptr<std::promise<void>> committed;
  };
  struct PendingOutboundFinish {
    std::vector<OutboundWriter::Finish> finishes;
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

  static QueueStats zeros(std::initializer_list<const char*> states) {
    QueueStats stats;
    for (const char* state : states) stats.by_state.emplace_back(state, 0);
    return stats;
  }

  static OutboundEnqueued refused(Status status, const OutboundMessage& message) {
    OutboundEnqueued result;
    result.status = status;
    result.response_json = message.response_json;
    return result;
  }

  bool push(Pending pending) {
    std::lock_guard lock(mutex_);
    if (closing_) return false;
    queue_.push_back(std::move(pending));
    wake_.notify_one();
    return true;
  }

  template <typename Result, typename Function>
  Result run_on_writer(Result when_closed, Function work) {
    auto promise = std::make_shared<std::promise<Result>>();
    std::future<Result> result = promise->get_future();
    {
      std::lock_guard lock(mutex_);
      if (closing_) return when_closed;
      tasks_.push_back([promise, &work](Writer& writer) { promise->set_value(work(writer)); });
      wake_.notify_one();
    }
    return result.get();
  }

  Work take_work();
  void run_writer();
  bool queue_finish(Writer::Finish finish, std::shared_ptr<std::promise<void>> committed);
  void commit_finishes(std::vector<PendingFinish>& pending);
  void commit_outbound_finishes(std::vector<PendingOutboundFinish>& pending);
  bool retrying() const { return !failed_.empty() || !failed_outbound_.empty(); }
  bool retry_due() const { return retrying() && std::chrono::steady_clock::now() >= retry_at_; }
  void keep_for_retry(std::vector<Writer::Finish> inbound,
                      std::vector<OutboundWriter::Finish> outbound, Status status);
  void retry_finishes();
  void commit_group(Group& group, std::vector<PendingFinish>* finishes);
  static size_t delivery_rows(std::span<Pending> pendings);
  std::vector<DeliveryJob> claimed_jobs(Group& group, std::vector<Writer::Claimed>& claimed) const;
  Status timed_write(std::span<Pending> pendings, size_t claim,
                     std::vector<Writer::Claimed>* claimed,
                     std::vector<PendingFinish>* finishes = nullptr);
  static void complete(Pending& pending, Status status);
  void report(Status status, size_t messages);

  Options options_;
  std::unique_ptr<Writer> writer_;  // writer thread only
  std::unique_ptr<OutboundWriter> outbound_;
  std::unique_ptr<Readers> readers_;
  std::unique_ptr<Listener> listener_;
  std::atomic<bool> writable_{true};
  std::atomic<bool> finishes_failing_{false};
  std::vector<Writer::Finish> failed_;  // writer thread only, with the two below
  std::vector<OutboundWriter::Finish> failed_outbound_;
  std::chrono::steady_clock::time_point retry_at_{};
  std::mutex probe_mutex_;
  std::chrono::steady_clock::time_point last_probe_{};
  std::chrono::steady_clock::time_point started_;

  std::mutex mutex_;  // guards the queues, closing_ and the flags below
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  std::deque<Task> tasks_;
  std::deque<PendingFinish> finishes_;
  std::deque<PendingOutboundFinish> outbound_finishes_;
  bool closing_ = false;
  bool finish_awaited_ = false;
  bool writer_asleep_ = false;
  std::chrono::steady_clock::time_point lingering_since_;

  std::mutex consumer_mutex_;
  DeliveryConsumer* consumer_ = nullptr;
  std::mutex close_mutex_;
  std::thread thread_;
};

}  // namespace store::postgres
