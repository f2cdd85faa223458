// Delivery events' rows on the SQLite writer's connection (issue 14): inserted inside the
// transaction of the outbound write they report (OutboundWriter calls record), claimed in
// (endpoint, message) order, finished, re-queued and pruned like inbound deliveries.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "store/events.h"
#include "store/sqlite/database.h"

namespace store::sqlite {

class EventWriter {
 public:
  // Prepares its statements on `db` (migrated); `endpoints` name who gets which type. Claims
  // hold their rows for `lease_ms` as `owner`.
  bool open(Connection& db, std::vector<EventSubscription> endpoints, std::string owner,
            int64_t lease_ms, std::string& error);
  void close() { statements_ = {}; }
  bool enabled() const { return !endpoints_.empty(); }

  // Inside the caller's transaction: one row per endpoint subscribed to facts.type.
  int record(const EventFacts& facts, int64_t now_ms);
  // Inside the caller's transaction: the message's api_key and metadata for a recipient's event.
  int message_facts(const std::string& message_id, EventFacts& facts);
  // Each in its own statement on the writer thread (not fsynced: a claim or an outcome lost to
  // a crash repeats a POST, at least once).
  std::vector<EventRow> claim(size_t limit, int64_t now_ms);
  bool finish(const std::string& id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
              const std::string& last_error, int attempt, int64_t now_ms);
  uint64_t requeue_expired(int64_t now_ms);
  uint64_t requeue_all_in_flight(int64_t now_ms);
  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms);

 private:
  Connection* db_ = nullptr;
  std::vector<EventSubscription> endpoints_;
  std::string owner_;
  int64_t lease_ms_ = 0;
  struct Statements {
    Statement insert, message, select_due, mark, finish, requeue_expired, requeue_all, prune;
  } statements_;
};

// Reads one message's rows in seq order on any connection (Store::find_events).
std::vector<EventRow> read_events(Connection& db, const std::string& message_id);

}  // namespace store::sqlite
