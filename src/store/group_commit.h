// The writer thread both backends share (internal to src/store): callers queue messages; ONE
// thread commits whatever is waiting as one group (one transaction, one fsync or WAL flush) and
// only then calls each message's `done`. A failed group is retried message by message, so one bad
// message cannot fail the others. Claims, requeues and other writes are tasks on the same thread,
// so that an outcome queued before a claim is committed before it. Outcomes nobody waits for ride
// the next group commit; outcomes whose commit failed are kept and committed again about once a
// second, the store unready meanwhile. The hot path: as many of a group's new delivery rows as the
// DeliveryConsumer reserves are claimed in its transaction and handed over after the commit.
//
// A backend derives from GroupCommitStore, implements the hooks below (run on the writer thread)
// and the rest of Store, calls start() at the end of its constructor and close() in its
// destructor.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "store/commit_rows.h"
#include "store/store.h"

namespace store {

// Outcomes nobody waits for (finish_delivery_later) wait this long, or until this many wait, for
// a group commit to ride instead of committing on their own. While mail arrives they always ride.
// A crash loses at most these, and the rows are delivered once more (at least once).
constexpr auto kOutcomeLinger = std::chrono::milliseconds(50);
constexpr size_t kMaxLingering = 1024;
// After a failed write, readiness checks try a write of a message this size (rolled back), at
// most once per interval: ready again once a typical message fits.
constexpr size_t kProbeBytes = 64 * 1024;
constexpr auto kProbeInterval = std::chrono::seconds(1);
// Outcomes whose commit failed are tried again this often.
constexpr auto kRetryInterval = std::chrono::seconds(1);

class GroupCommitStore : public Store {
 public:
  void enqueue_inbound(InboundMessage message, Done done) override;
  Status route_inbound(const std::string& message_id, std::vector<Delivery> deliveries,
                       int64_t now_ms) override;
  void enqueue_outbound(OutboundMessage message,
                        std::function<void(OutboundEnqueued)> done) override;
  void enqueue_outbound_batch(std::vector<OutboundMessage> messages,
                              std::function<void(OutboundEnqueued)> done) override;
  void set_delivery_consumer(DeliveryConsumer* consumer) override;
  void finish_delivery(const std::string& id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
                       const std::string& last_error, int attempt, bool rendered,
                       const std::string& origin) override;
  void finish_delivery_later(const std::string& id, DeliveryOutcome outcome,
                             int64_t next_attempt_at_ms, const std::string& last_error, int attempt,
                             bool rendered, const std::string& origin) override;
  void finish_outbound(const std::string& id, const std::vector<RecipientResult>& results) override;
  bool writable() override;
  void close() override;

 protected:
  struct Inbound {
    InboundMessage message;
    Done done;
  };
  struct Outbound {
    OutboundMessage message;
    std::function<void(OutboundEnqueued)> done;
    OutboundEnqueued result;  // filled inside the group's transaction
    // A batch's other messages (enqueue_outbound_batch): inserted in the same transaction right
    // after `message`, unless its key replayed or conflicted (insert_rest).
    std::vector<OutboundMessage> rest = {};
    // The messages write() inserts for this pending: `message`, then `rest` unless the key of
    // `message` (already checked into `result`) replayed or conflicted.
    bool insert_rest() const { return !result.replay && !result.conflict; }
    uint64_t bytes() const {
      uint64_t total = message.data.size();
      for (const OutboundMessage& m : rest) total += m.data.size();
      return total;
    }
  };
  // Both kinds wait in one queue, in arrival order, and share the group commits.
  using Pending = std::variant<Inbound, Outbound>;
  struct PendingFinish {
    FinishRow finish;
    std::shared_ptr<std::promise<void>> committed;  // null: nobody waits
  };

  explicit GroupCommitStore(const Options& options);
  ~GroupCommitStore() override;
  // Starts the writer thread: the last step of the derived constructor.
  void start();

  // The hooks, on the writer thread. write: ONE transaction for all of `pendings` (the inbound
  // inserts with the first `claim` delivery rows claimed into `claimed`, the outbound inserts each
  // behind its idempotency check filling Outbound::result, and `finishes` when not null), all
  // committed or none.
  virtual Status write(std::span<Pending> pendings, size_t claim, std::vector<ClaimedRow>* claimed,
                       const std::vector<PendingFinish>* finishes) = 0;
  // Several outcomes in one durable transaction: ok, or the failure with all rolled back.
  virtual Status finish_rows(const std::vector<FinishRow>& finishes, int64_t now_ms) = 0;
  // route_inbound on the writer thread, the endpoints already resolved.
  virtual Status add_deliveries(const std::string& message_id,
                                const std::vector<Delivery>& deliveries, int64_t now_ms) = 0;
  virtual Status finish_outbound_rows(const std::vector<OutboundFinishRow>& finishes,
                                      int64_t now_ms) = 0;
  // Whether a message of `bytes` fits now (a rolled-back write, or a size check).
  virtual bool has_room(size_t bytes) = 0;
  virtual const std::string& owner() const = 0;
  // The writer thread's last step: closes the writer connections.
  virtual void close_writers() = 0;
  // After the writer thread ended (close): stops the backend's other threads.
  virtual void after_close() {}

  static OutboundEnqueued refused(Status status, const OutboundMessage& message);

  // Runs `work()` on the writer thread and returns its result; `when_closed` if the store no
  // longer takes writes. Tasks queued before close() still run (close drains the queue).
  template <typename Result, typename Function>
  Result run_on_writer(Result when_closed, Function work) {
    auto promise = std::make_shared<std::promise<Result>>();
    std::future<Result> result = promise->get_future();
    {
      std::lock_guard lock(mutex_);
      if (closing_) return when_closed;
      tasks_.push_back([promise, &work] { promise->set_value(work()); });
      wake_.notify_one();
    }
    return result.get();  // `work` outlives the task: this frame waits for it
  }

  Options options_;
  std::atomic<bool> writable_{true};

 private:
  using Group = std::vector<Pending>;
  using Task = std::function<void()>;
  struct PendingOutboundFinish {
    std::vector<OutboundFinishRow> finishes;
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

  bool push(Pending pending);
  Work take_work();
  void run_writer();
  bool queue_finish(FinishRow finish, std::shared_ptr<std::promise<void>> committed);
  void commit_finishes(std::vector<PendingFinish>& pending);
  void commit_outbound_finishes(std::vector<PendingOutboundFinish>& pending);
  bool retrying() const { return !failed_.empty() || !failed_outbound_.empty(); }
  bool retry_due() const { return retrying() && std::chrono::steady_clock::now() >= retry_at_; }
  void keep_for_retry(std::vector<FinishRow> inbound, std::vector<OutboundFinishRow> outbound,
                      Status status);
  void retry_finishes();
  void commit_group(Group& group, std::vector<PendingFinish>* finishes);
  static size_t delivery_rows(std::span<Pending> pendings);
  static size_t messages_in(std::span<Pending> pendings);
  std::vector<DeliveryJob> claimed_jobs(Group& group, std::vector<ClaimedRow>& claimed) const;
  Status timed_write(std::span<Pending> pendings, size_t claim, std::vector<ClaimedRow>* claimed,
                     const std::vector<PendingFinish>* finishes = nullptr);
  static void complete(Pending& pending, Status status);
  void report(Status status, size_t messages);

  std::atomic<bool> finishes_failing_{false};  // outcomes wait for their retry
  // Writer thread only: outcomes whose commit failed, and when to try them again.
  std::vector<FinishRow> failed_;
  std::vector<OutboundFinishRow> failed_outbound_;
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

}  // namespace store
