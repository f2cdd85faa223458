// The readers' connection (never the writer's): lookups and sizes for the API and metrics.
// Thread-safe: one mutex guards the connection and its reused statements.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/database.h"
#include "store/store.h"

namespace store::sqlite {

// Rows per state ("SELECT state, count(*) ...") and the oldest pending time ("SELECT min(...)"),
// read in one snapshot between begin and end; every state of `states` listed, 0 included.
struct StatsStatements {
  Statement& begin;
  Statement& end;
  Statement& count_by_state;
  Statement& oldest_pending;
};
Store::QueueStats read_queue_stats(const StatsStatements& statements,
                                   std::initializer_list<const char*> states);

class Reader {
 public:
  // Opens its own connection to the already created and migrated database at `path`.
  bool open(const std::string& path, std::string& error);
  std::optional<StoredInbound> find_inbound(const std::string& id);
  uint64_t count_inbound();
  std::vector<InboundSummary> list_inbound(const InboundQuery& query);
  // page_count × page_size of the database plus the size of its -wal file.
  uint64_t size_bytes();
  // Rows per state and the oldest pending received_at, read in one snapshot.
  Store::QueueStats queue_stats();
  // Runs use(connection) under the readers' mutex, so that other read-side classes
  // (OutboundReader) prepare and run their statements on this same connection.
  template <typename Use>
  auto with_connection(Use&& use) {
    std::lock_guard lock(mutex_);
    return use(db_);
  }

 private:
  bool read_deliveries(const std::string& message_id, std::vector<DeliveryRow>& rows);

  std::mutex mutex_;
  std::string wal_path_;
  Connection db_;
  Statement begin_, end_, find_message_, find_deliveries_, count_, page_count_, page_size_,
      count_by_state_, oldest_pending_, list_;
};

}  // namespace store::sqlite
