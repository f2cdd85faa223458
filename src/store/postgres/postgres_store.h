// The PostgreSQL Store's class (store.h open_postgres; internal to src/store/postgres): the same
// semantics as the SQLite store, so that one contract test suite passes on both. The shared writer
// thread (store/group_commit.h) commits whatever waits as one group (one transaction, one WAL
// flush) on the writer connection; claims, finishes and requeues are tasks on it; reads and
// pruning use the pool; the LISTEN thread wakes this replica for rows other replicas committed.
#pragma once
#include <memory>
#include <span>
#include <utility>

#include "store/group_commit.h"
#include "store/postgres/events.h"
#include "store/postgres/listener.h"
#include "store/postgres/outbound.h"
#include "store/postgres/readers.h"
#include "store/postgres/schema.h"
#include "store/postgres/suppressions.h"
#include "store/postgres/writer.h"
#include "store/store.h"

namespace store::postgres {

constexpr size_t kPruneBatch = 256;

struct Parts {
  std::unique_ptr<Writer> writer;
  std::unique_ptr<OutboundWriter> outbound;
  std::unique_ptr<EventWriter> events;
  std::unique_ptr<Readers> readers;
  std::unique_ptr<Listener> listener;
};

class PostgresStore final : public GroupCommitStore {
 public:
  PostgresStore(const Options& options, Parts parts)
      : GroupCommitStore(options),
        writer_(std::move(parts.writer)),
        outbound_(std::move(parts.outbound)),
        events_(std::move(parts.events)),
        readers_(std::move(parts.readers)),
        listener_(std::move(parts.listener)) {
    start();
  }
  ~PostgresStore() override { close(); }

  std::vector<DeliveryJob> claim_deliveries(size_t limit, int64_t now) override {
    return run_on_writer(std::vector<DeliveryJob>{}, [this, limit, now] {
      Status status = Status::ok;
      auto jobs = writer_->claim(limit, now, status);
      if (status == Status::io_error) writable_ = false;
      return jobs;
    });
  }

  uint64_t requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now) override {
    return run_on_writer(uint64_t{0}, [&] { return writer_->requeue_orphaned(endpoints, now); });
  }

  uint64_t requeue_expired(int64_t now) override {
    return run_on_writer(uint64_t{0}, [this, now] {
      Status status = Status::ok;
      uint64_t requeued = writer_->requeue_expired(now, status);
      if (status != Status::ok) writable_ = false;
      return requeued + events_->requeue_expired(now);
    });
  }

  // One replica at a time (the prune advisory lock): 0 when another holds it.
  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms) override {
    // Event rows are not messages: deleted (by any replica: idempotent), not counted.
    run_on_writer(uint64_t{0}, [&] { return events_->prune(delivered_before_ms, dead_before_ms); });
    return readers_->prune(delivered_before_ms, dead_before_ms, kPruneBatch);
  }

  std::vector<EventRow> claim_events(size_t limit, int64_t now) override {
    return run_on_writer(std::vector<EventRow>{}, [&] { return events_->claim(limit, now); });
  }
  void finish_event(const std::string& id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
                    const std::string& last_error, int attempt) override;
  BounceRecorded record_bounce(const Bounce& bounce) override;
  std::vector<EventRow> find_events(const std::string& message_id) override {
    return run_on_writer(std::vector<EventRow>{}, [&] { return events_->find(message_id); });
  }

  Redelivery redeliver_inbound(const std::string& id, int64_t now) override {
    return run_on_writer(Redelivery{}, [&] { return writer_->redeliver(id, now); });
  }
  Status add_deliveries(const std::string& message_id, const std::vector<Delivery>& deliveries,
                        int64_t now) override {
    return writer_->add_deliveries(message_id, deliveries, now);
  }
  Redelivery redeliver_events(const std::string& id, int64_t now) override {
    return run_on_writer(Redelivery{}, [&] { return writer_->redeliver_events(id, now); });
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
    return zeros({"queued", "in_flight", "deferred", "sent", "failed", "bounced", "suppressed"});
  }

  std::vector<OutboundJob> claim_outbound(size_t limit, int64_t now) override {
    return run_on_writer(std::vector<OutboundJob>{}, [this, limit, now] {
      Status status = Status::ok;
      auto jobs = outbound_->claim(limit, now, status);
      if (status == Status::io_error) writable_ = false;
      return jobs;
    });
  }

  uint64_t size_bytes() override { return readers_->size_bytes(); }

  Status add_suppression(const Suppression& suppression, bool& created) override {
    created = false;
    return run_on_writer(Status::closed,
                         [&] { return postgres::add_suppression(*writer_, suppression, created); });
  }
  std::optional<bool> remove_suppression(const std::string& address) override {
    return run_on_writer(std::optional<bool>{},
                         [&] { return postgres::remove_suppression(*writer_, address); });
  }
  std::vector<Suppression> list_suppressions(const std::string& after, size_t limit) override {
    return readers_->list_suppressions(after, limit);
  }
  std::vector<std::string> suppressed(const std::vector<std::string>& addresses) override {
    return readers_->suppressed(addresses);
  }

 private:
  static QueueStats zeros(std::initializer_list<const char*> states) {
    QueueStats stats;
    for (const char* state : states) stats.by_state.emplace_back(state, 0);
    return stats;
  }

  Status write(std::span<Pending> pendings, size_t claim, std::vector<ClaimedRow>* claimed,
               const std::vector<PendingFinish>* finishes) override;
  Status finish_rows(const std::vector<FinishRow>& finishes, int64_t now_ms) override {
    return writer_->finish_all(finishes, now_ms);
  }
  Status finish_outbound_rows(const std::vector<OutboundFinishRow>& finishes,
                              int64_t now_ms) override {
    return outbound_->finish_all(finishes, now_ms);
  }
  // Connected, and under max_size.
  bool has_room(size_t bytes) override { return writer_->probe(bytes) == Status::ok; }
  const std::string& owner() const override { return writer_->owner(); }
  void close_writers() override { writer_->close(); }
  void after_close() override { listener_->stop(); }

  std::unique_ptr<Writer> writer_;  // writer thread only
  std::unique_ptr<OutboundWriter> outbound_;
  std::unique_ptr<EventWriter> events_;  // writer thread only
  std::unique_ptr<Readers> readers_;
  std::unique_ptr<Listener> listener_;
};

}  // namespace store::postgres
