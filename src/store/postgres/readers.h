// The PostgreSQL store's reads (API lookups, listings, metrics) and its retention pruning, on the
// pool's connections (never the writer's): each call takes one connection for its duration, and
// a message is read with its rows in one REPEATABLE READ snapshot. Thread-safe.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "store/postgres/connection.h"
#include "store/store.h"

namespace store::postgres {

class Readers {
 public:
  Readers(const PostgresOptions& options, size_t pool_size) : pool_(options, pool_size) {}

  std::optional<StoredInbound> find_inbound(const std::string& id);
  uint64_t count_inbound();
  std::vector<InboundSummary> list_inbound(const InboundQuery& query);
  std::optional<StoredOutbound> find_outbound(const std::string& id);
  // The suppression list's reads (store.h), in one snapshot; empty when the server is away.
  std::vector<Suppression> list_suppressions(const std::string& after, size_t limit);
  std::vector<std::string> suppressed(const std::vector<std::string>& addresses);
  // True when a reader connection answers a trivial query now (Store::readable).
  bool probe();
  // Rows per state (every state listed, 0 included) and the oldest pending time, one snapshot.
  Store::QueueStats queue_stats();
  Store::QueueStats outbound_stats();
  // The message bytes held (both directions): the measure Options::max_size limits.
  uint64_t size_bytes();
  // Store::prune in batches of `batch` messages, each its own transaction holding the prune
  // advisory lock (pg_try_advisory_xact_lock): 0 at once when another replica prunes now.
  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms, size_t batch);

 private:
  // Runs `use(connection)` on a pool connection inside a read-only REPEATABLE READ transaction;
  // false when not connected or a statement failed.
  template <typename Use>
  bool snapshot(Use&& use);
  bool read_deliveries(Connection& db, const std::vector<std::string>& message_ids,
                       std::vector<std::vector<DeliveryRow>*> into);
  Store::QueueStats stats(const char* count_sql, const char* count_name, const char* oldest_sql,
                          const char* oldest_name, std::initializer_list<const char*> states);
  uint64_t prune_one(const char* name, const char* sql, int64_t first_before_ms,
                     int64_t second_before_ms, size_t batch, bool& locked);

  Pool pool_;
};

}  // namespace store::postgres
