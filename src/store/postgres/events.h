// Delivery events' rows on the PostgreSQL writer connection (issue 14; store/events.h builds the
// JSON): inserted in the transaction of the outbound write they report, claimed in (endpoint,
// message) order with FOR UPDATE SKIP LOCKED across replicas, finished, re-queued when a lease
// ends and pruned like inbound deliveries.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "store/commit_rows.h"
#include "store/events.h"
#include "store/postgres/writer.h"

namespace store::postgres {

class EventWriter {
 public:
  EventWriter(Writer& writer, std::vector<EventSubscription> endpoints, int64_t lease_ms)
      : writer_(writer), endpoints_(std::move(endpoints)), lease_ms_(lease_ms) {}
  bool enabled() const { return !endpoints_.empty(); }

  // Inside the caller's transaction: the message's message.queued rows. False when it failed.
  bool record_queued(const OutboundMessage& message, int64_t now_ms);
  // Inside the caller's transaction: the rows of one recipient's event (message.bounced: facts'
  // bounce and recipient), with the message's api_key and metadata read here. False when failed.
  bool record(EventFacts facts, int64_t now_ms);
  // The outcomes' statements (finish_all's pipeline): each updates the recipient and, only when
  // that recipient was in flight, inserts its event rows, in one statement. Reads the messages'
  // api_key and metadata first (they never change). False when that read failed.
  bool finish_commands(const std::vector<OutboundFinishRow>& finishes, int64_t now_ms,
                       std::vector<Command>& commands);

  std::vector<EventRow> claim(size_t limit, int64_t now_ms);
  bool finish(const std::string& id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
              const std::string& last_error, int attempt, int64_t now_ms);
  uint64_t requeue_expired(int64_t now_ms);
  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms);
  std::vector<EventRow> find(const std::string& message_id);

 private:
  Writer& writer_;
  std::vector<EventSubscription> endpoints_;
  int64_t lease_ms_;
};

}  // namespace store::postgres
