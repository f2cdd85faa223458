// The writer connection: writes a group of inbound messages and their delivery rows in ONE
// transaction (BEGIN IMMEDIATE … COMMIT; the COMMIT fsyncs the WAL), and the deliveries'
// state changes (claim, a batch of finishes, prune), each in a transaction of its own whose
// COMMIT does not fsync: losing one to a crash only repeats a delivery (at least once), and the
// next durable COMMIT fsyncs the WAL up to and including it. Used by one thread only.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "store/commit_rows.h"
#include "store/sqlite/database.h"
#include "store/store.h"

namespace store::sqlite {

class Writer {
 public:
  // Takes the configured, migrated connection and prepares the statements it reuses.
  bool open(Connection db, std::string& error);
  // All of `messages` committed, or none (rolled back): ok, full or io_error. `also`, when
  // given, runs inside the same transaction after the inserts (the outbound messages of the
  // group: OutboundWriter::insert) and returns SQLITE_OK or the code that fails the group.
  using Also = std::function<int(int64_t now_ms)>;
  // The hot path (store.h DeliveryConsumer): the first `claim` delivery rows of the group, in
  // message order, are inserted in_flight with attempts 1 and listed in `claimed`; the others
  // are queued. `claimed` is cleared first and left empty when the write fails.
  using Claimed = store::ClaimedRow;
  Status write(const std::vector<const InboundMessage*>& messages, const Also& also = nullptr,
               size_t claim = 0, std::vector<Claimed>* claimed = nullptr);
  // Claims up to `limit` due rows (Store::claim_deliveries); empty on failure (rolled back).
  std::vector<DeliveryJob> claim(size_t limit, int64_t now_ms);
  // Records an in_flight row's outcome; SQLITE_OK or the failing code.
  // Only while this writer's claim with `attempt` (0 = any) holds the row (store.h).
  int finish(const std::string& delivery_id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
             const std::string& last_error, int64_t now_ms, int attempt = 0, bool rendered = true,
             const std::string& origin = {});
  // Several outcomes in ONE transaction (one fsync for all of them): SQLITE_OK, or the failing
  // code with everything rolled back.
  using Finish = store::FinishRow;
  int finish_all(const std::vector<Finish>& finishes, int64_t now_ms);
  // Claims hold their rows for `lease_ms` as `owner` (store.h Options::lease, owner).
  void set_lease(std::string owner, int64_t lease_ms) {
    owner_ = std::move(owner);
    lease_ms_ = lease_ms;
  }
  const std::string& owner() const { return owner_; }
  // Store::requeue_expired for both directions in one transaction; `rc` = SQLITE_OK or the code.
  uint64_t requeue_expired(int64_t now_ms, int& rc);
  // Store::requeue_orphaned in one transaction.
  uint64_t requeue_orphaned(const std::vector<std::string>& endpoints, int64_t now_ms);
  // Deletes at most `limit` finished messages past their retention; the number deleted.
  uint64_t prune(int64_t delivered_before_ms, int64_t dead_before_ms, size_t limit);
  // Puts every row of the message that is not in flight back to queued, due at now_ms
  // (Store::redeliver_inbound); found = false also when the transaction failed.
  Redelivery redeliver(const std::string& message_id, int64_t now_ms);
  // Store::route_inbound: the rows queued, due at now_ms, committed durably.
  Status add_deliveries(const std::string& message_id, const std::vector<Delivery>& deliveries,
                        int64_t now_ms);
  // The same for an outbound message's delivery event rows (Store::redeliver_events).
  Redelivery redeliver_events(const std::string& message_id, int64_t now_ms);
  // Whether a message of `bytes` would fit now: inserts one and rolls it back (ok, full or
  // io_error). Nothing is kept.
  Status probe(size_t bytes);
  // synchronous=FULL (durable) or NORMAL for the next transactions; switched only on change.
  // False when the switch failed (the connection keeps its setting). Anything else writing on
  // this connection (the outbound side) sets what it needs before its BEGIN.
  bool set_durable(bool durable);
  // The connection, for the other writer-side statements (OutboundWriter) on this same thread.
  Connection& connection() { return db_; }
  // Finalizes the statements and closes the connection; write() then answers closed.
  void close() {
    set_durable(true);
    statements_ = {};
    db_ = Connection();
  }

 private:
  int insert(const InboundMessage& message, size_t index, int64_t now_ms, size_t& claim,
             std::vector<Claimed>* claimed);
  int read_due(size_t limit, int64_t now_ms, std::vector<DeliveryJob>& jobs);
  Status fail(int result_code);
  Redelivery requeue_message(const std::string& message_id, int64_t now_ms, Statement& count,
                             Statement& requeue);

  Connection db_;
  struct Statements {
    Statement begin, commit, rollback, insert_message, insert_delivery;
    Statement select_due, select_message, mark_in_flight, finish, prune;
    Statement count_rows, requeue, requeue_expired, requeue_expired_outbound, requeue_orphaned;
    Statement count_events, requeue_events;
  } statements_;
  std::string owner_;
  int64_t lease_ms_ = 5 * 60 * 1000;
  bool durable_ = true;  // schema::configure leaves the connection at synchronous=FULL
};

}  // namespace store::sqlite
