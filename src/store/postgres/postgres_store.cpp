// Opening the PostgreSQL store (store.h open_postgres, check_postgres): connect, migrate under the
// advisory lock, give back this owner's rows left in flight, start LISTEN and the writer.
// Errors carry libpq's text (which may name the host), never the DSN or the password.
#include "store/postgres/postgres_store.h"

#include "common/ids.h"
#include "common/time.h"

namespace store {

namespace postgres {

// One transaction for all of `pendings`: the inbound inserts (one pipeline), then the outbound
// ones (each behind its idempotency check), then the outcomes riding along.
Status PostgresStore::write(std::span<Pending> pendings, size_t claim,
                            std::vector<ClaimedRow>* claimed,
                            const std::vector<PendingFinish>* finishes) {
  std::vector<const InboundMessage*> inbound;
  std::vector<Outbound*> outbound;
  uint64_t outbound_bytes = 0;
  for (Pending& pending : pendings) {
    if (auto* item = std::get_if<Inbound>(&pending)) {
      inbound.push_back(&item->message);
    } else {
      outbound.push_back(&std::get<Outbound>(pending));
      outbound_bytes += outbound.back()->bytes();
    }
  }
  Writer::Also also;
  if (!outbound.empty() || (finishes != nullptr && !finishes->empty())) {
    also = [this, &outbound, finishes](Connection& db, int64_t now, bool& notify_outbound) {
      for (Outbound* item : outbound) {
        bool inserted = false;
        if (!outbound_->insert(item->message, now, item->result, inserted)) return false;
        notify_outbound = notify_outbound || inserted;
        if (!item->insert_rest()) continue;
        OutboundEnqueued ignored;  // the rest carry no key: never a replay
        for (const OutboundMessage& message : item->rest)
          if (!outbound_->insert(message, now, ignored, inserted)) return false;
      }
      if (finishes == nullptr || finishes->empty()) return true;
      std::vector<Command> commands;
      for (const PendingFinish& p : *finishes)
        commands.push_back(writer_->finish_command(p.finish, now));
      return db.pipeline(commands);
    };
  }
  return writer_->write(inbound, outbound_bytes, also, claim, claimed);
}

void PostgresStore::finish_event(const std::string& id, DeliveryOutcome outcome,
                                 int64_t next_attempt_at_ms, const std::string& last_error,
                                 int attempt) {
  int64_t now = common::unix_ms(common::Clock::now());
  run_on_writer(false, [&] {
    return events_->finish(id, outcome, next_attempt_at_ms, last_error, attempt, now);
  });
}

BounceRecorded PostgresStore::record_bounce(const Bounce& bounce) {
  int64_t now = common::unix_ms(common::Clock::now());
  BounceRecorded closed;
  closed.status = Status::closed;
  return run_on_writer(closed, [&] {
    BounceRecorded recorded = outbound_->record_bounce(bounce, now);
    if (recorded.status == Status::io_error) writable_ = false;
    return recorded;
  });
}

}  // namespace postgres

std::unique_ptr<Store> open_postgres(const Options& options, const PostgresOptions& postgres,
                                     std::string& error) {
  using namespace store::postgres;
  std::string owner = options.owner.empty() ? common::uuid_v7() : options.owner;
  Parts parts;
  parts.writer = std::make_unique<Writer>(postgres, owner, options.lease.count(), options.max_size);
  if (!parts.writer->ensure()) {
    error = "cannot connect to PostgreSQL: " + parts.writer->link().last_error();
    return nullptr;
  }
  int64_t now = common::unix_ms(common::Clock::now());
  if (!migrate(parts.writer->db(), error)) {
    error = "PostgreSQL: " + error;
    return nullptr;
  }
  // Before this store's own owner lock is taken (by the listener): its previous run's rows too.
  if (!parts.writer->requeue_dead_owners(now, error)) {
    error = "PostgreSQL: " + error;
    return nullptr;
  }
  parts.outbound = std::make_unique<OutboundWriter>(
      *parts.writer, options.outbound_lease.count(),
      std::chrono::duration_cast<std::chrono::milliseconds>(options.idempotency_ttl).count());
  parts.events =
      std::make_unique<EventWriter>(*parts.writer, options.event_endpoints, options.lease.count());
  parts.outbound->set_events(parts.events.get());
  parts.readers = std::make_unique<Readers>(postgres, postgres.pool_size);
  parts.listener = std::make_unique<Listener>(postgres, owner, options.on_remote_rows);
  parts.listener->start();
  Listener* listener = parts.listener.get();
  parts.writer->set_announce([listener](const std::string& what) { listener->announce(what); });
  return std::make_unique<PostgresStore>(options, std::move(parts));
}

bool check_postgres(const PostgresOptions& postgres, std::string& detail) {
  using namespace store::postgres;
  Connection db;
  if (!db.connect(postgres, detail)) {
    detail = "cannot connect to PostgreSQL: " + detail;
    return false;
  }
  Result version = db.exec("SHOW server_version");
  Result schema = db.exec("SELECT current_schema()");
  if (!version.ok() || !schema.ok()) {
    db.fail(version.ok() ? schema : version);
    detail = "PostgreSQL: " + db.error();
    return false;
  }
  int found = 0;
  if (!read_schema_version(db, found, detail)) {
    detail = "PostgreSQL: " + detail;
    return false;
  }
  detail = "PostgreSQL " + version.text(0, 0) + ", schema " +
           (schema.null(0, 0) ? std::string("(none: the search_path names no existing schema)")
                              : "\"" + schema.text(0, 0) + "\"") +
           ", schema version " + std::to_string(found) + " (this build knows " +
           std::to_string(known_schema_version()) + ")";
  if (found > known_schema_version()) return false;
  return true;
}

}  // namespace store
