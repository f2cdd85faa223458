// The embedded SQLite Store: the shared writer thread (store/group_commit.h: one group commit,
// one fsync, for whatever waits) over SQLite's one writer connection. Delivery and outbound
// recipient state changes (claim, finish, prune) are tasks on that thread: SQLite has one
// writer. Outbound messages ride the same group commits as inbound ones.
#include <filesystem>
#include <memory>
#include <span>
#include <utility>
#include <variant>

#include "common/ids.h"
#include "common/time.h"
#include "store/group_commit.h"
#include "store/sqlite/checkpointer.h"
#include "store/sqlite/event_writer.h"
#include "store/sqlite/outbound_reader.h"
#include "store/sqlite/outbound_writer.h"
#include "store/sqlite/reader.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/suppressions.h"
#include "store/sqlite/writer.h"
#include "store/store.h"

namespace store {
namespace {

using sqlite::Connection;

// Small batches, each its own transaction, so that inbound commits are not held up long.
constexpr size_t kPruneBatch = 256;

Status status_of(int rc) {
  return rc == SQLITE_OK ? Status::ok : sqlite::status_from(rc);
}

// What open_sqlite opened; the outbound parts work on the writer's and the reader's connections.
struct Parts {
  std::unique_ptr<sqlite::Writer> writer = std::make_unique<sqlite::Writer>();
  std::unique_ptr<sqlite::Reader> reader = std::make_unique<sqlite::Reader>();
  std::unique_ptr<sqlite::OutboundWriter> outbound_writer =
      std::make_unique<sqlite::OutboundWriter>();
  std::unique_ptr<sqlite::OutboundReader> outbound_reader =
      std::make_unique<sqlite::OutboundReader>();
  std::unique_ptr<sqlite::Checkpointer> checkpointer = std::make_unique<sqlite::Checkpointer>();
  std::unique_ptr<sqlite::EventWriter> event_writer = std::make_unique<sqlite::EventWriter>();
};

class SqliteStore final : public GroupCommitStore {
 public:
  SqliteStore(const Options& options, Parts parts)
      : GroupCommitStore(options),
        writer_(std::move(parts.writer)),
        reader_(std::move(parts.reader)),
        outbound_writer_(std::move(parts.outbound_writer)),
        outbound_reader_(std::move(parts.outbound_reader)),
        checkpointer_(std::move(parts.checkpointer)),
        event_writer_(std::move(parts.event_writer)) {
    start();
  }
  ~SqliteStore() override { close(); }

  std::vector<DeliveryJob> claim_deliveries(size_t limit, int64_t now_ms) override {
    return run_on_writer(std::vector<DeliveryJob>{},
                         [this, limit, now_ms] { return writer_->claim(limit, now_ms); });
  }

  uint64_t requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now_ms) override {
    return run_on_writer(uint64_t{0}, [&] { return writer_->requeue_orphaned(endpoints, now_ms); });
  }

  uint64_t requeue_expired(int64_t now_ms) override {
    return run_on_writer(uint64_t{0}, [this, now_ms] {
      int rc = SQLITE_OK;
      uint64_t requeued = writer_->requeue_expired(now_ms, rc);
      if (rc != SQLITE_OK) writable_ = false;
      return requeued + event_writer_->requeue_expired(now_ms);
    });
  }

  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms) override {
    uint64_t inbound = prune_batches(
        [&] { return writer_->prune(delivered_before_ms, dead_before_ms, kPruneBatch); });
    // Outbound likewise: a sent recipient is kept like a delivered row, a failed one like dead.
    uint64_t outbound = prune_batches(
        [&] { return outbound_writer_->prune(delivered_before_ms, dead_before_ms, kPruneBatch); });
    // Event rows are not messages: deleted, but not counted.
    run_on_writer(uint64_t{0},
                  [&] { return event_writer_->prune(delivered_before_ms, dead_before_ms); });
    return inbound + outbound;
  }

  std::vector<EventRow> claim_events(size_t limit, int64_t now_ms) override {
    // Not fsynced, like the other claims: a claim lost to a crash only repeats a POST.
    return run_on_writer(std::vector<EventRow>{}, [&] {
      writer_->set_durable(false);
      return event_writer_->claim(limit, now_ms);
    });
  }

  void finish_event(const std::string& id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
                    const std::string& last_error, int attempt) override {
    int64_t now_ms = common::unix_ms(common::Clock::now());
    run_on_writer(false, [&] {
      writer_->set_durable(false);  // a lost outcome repeats the POST (at least once)
      return event_writer_->finish(id, outcome, next_attempt_at_ms, last_error, attempt, now_ms);
    });
  }

  BounceRecorded record_bounce(const Bounce& bounce) override {
    int64_t now_ms = common::unix_ms(common::Clock::now());
    BounceRecorded closed;
    closed.status = Status::closed;
    return run_on_writer(closed, [&] {
      BounceRecorded recorded = outbound_writer_->record_bounce(bounce, now_ms);
      if (recorded.status == Status::io_error) writable_ = false;
      return recorded;
    });
  }

  std::vector<EventRow> find_events(const std::string& message_id) override {
    return run_on_writer(std::vector<EventRow>{},
                         [&] { return sqlite::read_events(writer_->connection(), message_id); });
  }

  Redelivery redeliver_inbound(const std::string& id, int64_t now_ms) override {
    return run_on_writer(Redelivery{}, [&] { return writer_->redeliver(id, now_ms); });
  }
  Status add_deliveries(const std::string& message_id, const std::vector<Delivery>& deliveries,
                        int64_t now_ms) override {
    return writer_->add_deliveries(message_id, deliveries, now_ms);
  }
  Redelivery redeliver_events(const std::string& id, int64_t now_ms) override {
    return run_on_writer(Redelivery{}, [&] { return writer_->redeliver_events(id, now_ms); });
  }

  std::vector<InboundSummary> list_inbound(const InboundQuery& query) override {
    return reader_->list_inbound(query);
  }

  QueueStats queue_stats() override { return reader_->queue_stats(); }

  std::optional<StoredInbound> find_inbound(const std::string& id) override {
    return reader_->find_inbound(id);
  }
  uint64_t count_inbound() override { return reader_->count_inbound(); }

  std::optional<StoredOutbound> find_outbound(const std::string& id) override {
    return outbound_reader_->find(id);
  }

  std::vector<OutboundJob> claim_outbound(size_t limit, int64_t now_ms) override {
    return run_on_writer(std::vector<OutboundJob>{},
                         [this, limit, now_ms] { return outbound_writer_->claim(limit, now_ms); });
  }

  QueueStats outbound_stats() override { return outbound_reader_->stats(); }

  uint64_t size_bytes() override { return reader_->size_bytes(); }

  Status add_suppression(const Suppression& suppression, bool& created) override {
    created = false;
    return run_on_writer(Status::closed, [&] {
      Status status = sqlite::add_suppression(*writer_, suppression, created);
      if (status == Status::io_error) writable_ = false;
      return status;
    });
  }
  std::optional<bool> remove_suppression(const std::string& address) override {
    return run_on_writer(std::optional<bool>{},
                         [&] { return sqlite::remove_suppression(*writer_, address); });
  }
  std::vector<Suppression> list_suppressions(const std::string& after, size_t limit) override {
    return reader_->with_connection(
        [&](Connection& db) { return sqlite::list_suppressions(db, after, limit); });
  }
  std::vector<std::string> suppressed(const std::vector<std::string>& addresses) override {
    return reader_->with_connection(
        [&](Connection& db) { return sqlite::find_suppressed(db, addresses); });
  }

 private:
  template <typename Function>
  uint64_t prune_batches(Function prune_one) {
    uint64_t total = 0;
    for (;;) {
      uint64_t deleted = run_on_writer(uint64_t{0}, prune_one);
      total += deleted;
      if (deleted < kPruneBatch) return total;
    }
  }

  // One transaction for all of `pendings`: the inbound inserts, then the outbound ones (each
  // behind its idempotency check, so a key used twice in one group replays the first), then
  // the outcomes riding along.
  Status write(std::span<Pending> pendings, size_t claim, std::vector<ClaimedRow>* claimed,
               const std::vector<PendingFinish>* finishes) override {
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
          if (!item->insert_rest()) continue;
          OutboundEnqueued ignored;  // the rest carry no key: never a replay
          for (const OutboundMessage& message : item->rest) {
            rc = outbound_writer_->insert(message, now_ms, ignored);
            if (rc != SQLITE_OK) return rc;
          }
        }
        if (finishes == nullptr) return SQLITE_OK;
        for (const PendingFinish& p : *finishes) {
          const FinishRow& f = p.finish;
          int rc = writer_->finish(f.delivery_id, f.outcome, f.next_attempt_at_ms, f.last_error,
                                   now_ms, f.attempt, f.rendered, f.origin);
          if (rc != SQLITE_OK) return rc;
        }
        return SQLITE_OK;
      };
    }
    return writer_->write(inbound, also, claim, claimed);
  }

  Status finish_rows(const std::vector<FinishRow>& finishes, int64_t now_ms) override {
    return status_of(writer_->finish_all(finishes, now_ms));
  }
  Status finish_outbound_rows(const std::vector<OutboundFinishRow>& finishes,
                              int64_t now_ms) override {
    return status_of(outbound_writer_->finish_all(finishes, now_ms));
  }
  // A rolled-back write of a typical message.
  bool has_room(size_t bytes) override { return writer_->probe(bytes) == Status::ok; }
  const std::string& owner() const override { return writer_->owner(); }
  void close_writers() override {
    event_writer_->close();
    outbound_writer_->close();
    writer_->close();
  }
  // After the writer's connection is closed: its WAL hook calls the checkpointer.
  void after_close() override { checkpointer_->stop(); }

  std::unique_ptr<sqlite::Writer> writer_;  // used by the writer thread only
  std::unique_ptr<sqlite::Reader> reader_;
  std::unique_ptr<sqlite::OutboundWriter> outbound_writer_;  // writer thread only
  std::unique_ptr<sqlite::OutboundReader> outbound_reader_;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;
  std::unique_ptr<sqlite::EventWriter> event_writer_;  // writer thread only
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
  if (!parts.event_writer->open(parts.writer->connection(), options.event_endpoints, owner,
                                options.lease.count(), error)) {
    error = options.path + ": " + error;
    return nullptr;
  }
  parts.event_writer->requeue_all_in_flight(now_ms);  // one process owns an SQLite store
  parts.outbound_writer->set_events(parts.event_writer.get());
  parts.checkpointer->watch(parts.writer->connection());
  return std::make_unique<SqliteStore>(options, std::move(parts));
}

}  // namespace store
