// The outbound side's writes on the writer's connection (the send API): the insert of a message
// with its recipient rows behind the idempotency check (inside the caller's group transaction),
// and the recipients' state changes (claim, a batch of finishes with their status history,
// bounces, prune). Writer thread only.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "store/commit_rows.h"
#include "store/sqlite/database.h"
#include "store/sqlite/writer.h"
#include "store/store.h"

namespace store::sqlite {

class EventWriter;

// Outbound recipients left in_flight by a process that died go back to queued (at least once);
// run by requeue_in_flight when the store opens.
bool requeue_outbound_in_flight(Connection& db, int64_t now_ms, std::string& error);

class OutboundWriter {
 public:
  // Prepares the statements it reuses on `writer`'s connection (configured and migrated); the
  // writer must stay open until close() or this object's end.
  bool open(Writer& writer, std::chrono::milliseconds idempotency_ttl, std::string& error);

  // Inside the caller's open transaction (group commit): checks the idempotency key, then inserts
  // the message and one queued recipient row per rcpt_to entry, unless the key replays or
  // conflicts (nothing written then). `result` gets replay, conflict and response_json; its
  // status is the caller's to set once the transaction's fate is known. SQLITE_OK or the code.
  int insert(const OutboundMessage& message, int64_t now_ms, OutboundEnqueued& result);

  // Store::claim_outbound, in a transaction of its own that does not fsync (a claim lost to a
  // crash only repeats an attempt); empty on failure (rolled back).
  std::vector<OutboundJob> claim(size_t limit, int64_t now_ms);

  using Finish = store::OutboundFinishRow;
  // Several results in ONE durable transaction (one fsync: a lost "sent" would send twice):
  // SQLITE_OK, or the code with all rolled back. Only recipients in_flight change, and each of
  // them gets one status history entry.
  int finish_all(const std::vector<Finish>& finishes, int64_t now_ms);

  // Store::record_bounce in ONE durable transaction (store.h); matched = false writes nothing.
  BounceRecorded record_bounce(const Bounce& bounce, int64_t now_ms);

  // Deletes at most `limit` messages whose recipients are all sent before sent_before_ms or
  // failed (bounced, suppressed) before failed_before_ms (their rows and history go with them);
  // the number deleted.
  uint64_t prune(int64_t sent_before_ms, int64_t failed_before_ms, size_t limit);

  // Claims hold their recipients for `lease_ms` as `owner` (store.h Options::outbound_lease).
  void set_lease(std::string owner, int64_t lease_ms) {
    owner_ = std::move(owner);
    lease_ms_ = lease_ms;
  }

  // Delivery events are recorded through `events` in the same transactions (null: none).
  void set_events(EventWriter* events) { events_ = events; }

  // Finalizes the statements; the methods then fail (closed).
  void close();

 private:
  int check_key(const OutboundMessage& message, OutboundEnqueued& result);
  int insert_rows(const OutboundMessage& message, int64_t now_ms);
  int read_due_messages(size_t limit, int64_t now_ms, std::vector<OutboundJob>& jobs);
  int claim_recipients(OutboundJob& job, int64_t now_ms);
  int finish_one(const Finish& finish, int64_t now_ms);
  // Inside record_bounce's transaction, for the recipient found (recorded.rcpt).
  int write_bounce(const Bounce& bounce, int64_t now_ms, BounceRecorded& recorded);
  // Appends one entry to the recipient's status history (outbound_history).
  int insert_history(const std::string& message_id, int64_t position, int64_t at_ms,
                     const std::string& state, int code, const std::string& enhanced,
                     const std::string& text, const std::string& inbound_id);
  void rollback();

  EventWriter* events_ = nullptr;
  Writer* writer_ = nullptr;
  Connection* db_ = nullptr;
  int64_t ttl_ms_ = 0;
  std::string owner_;
  int64_t lease_ms_ = 2 * 3600 * 1000;
  struct Statements {
    Statement begin, commit, rollback;
    Statement find_key, release_key, insert_message, insert_recipient;
    Statement select_due, select_due_recipients, mark_in_flight, finish, insert_history, prune;
    Statement bounce_recipient, bounced;
  } statements_;
};

}  // namespace store::sqlite
