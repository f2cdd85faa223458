// The outbound side's writes on the PostgreSQL writer connection (the send API): the insert of a
// message behind its idempotency key (unique across replicas: a UNIQUE constraint and ON
// CONFLICT), the recipients' claims (FOR UPDATE SKIP LOCKED on the message row), results with
// their status history, and the bounces recorded on them (record_bounce).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "store/commit_rows.h"
#include "store/postgres/writer.h"
#include "store/store.h"

namespace store::postgres {

class EventWriter;

class OutboundWriter {
 public:
  OutboundWriter(Writer& writer, int64_t lease_ms, int64_t ttl_ms)
      : writer_(writer), lease_ms_(lease_ms), ttl_ms_(ttl_ms) {}

  // Inside the caller's open transaction: replay or conflict when the key was used within the
  // TTL (by any replica, committed or committing now: ON CONFLICT waits for it), else the message
  // and its queued recipients are inserted (`inserted` set). False when a statement failed.
  bool insert(const OutboundMessage& message, int64_t now_ms, OutboundEnqueued& result,
              bool& inserted);

  std::vector<OutboundJob> claim(size_t limit, int64_t now_ms, Status& status);

  using Finish = store::OutboundFinishRow;
  // Several results in ONE durable transaction (a lost "sent" would send twice).
  Status finish_all(const std::vector<Finish>& finishes, int64_t now_ms);

  // Store::record_bounce in ONE durable transaction (store.h); matched = false writes nothing.
  BounceRecorded record_bounce(const Bounce& bounce, int64_t now_ms);

  // Delivery events are recorded through `events` in the same transactions (null: none).
  void set_events(EventWriter* events) { events_ = events; }

 private:
  // 1 = the key decided (replay or conflict), 0 = free, -1 = failed.
  int check_key(const OutboundMessage& message, OutboundEnqueued& result);
  bool claim_recipients(OutboundJob& job, int64_t now_ms);
  // Inside record_bounce's transaction, for the recipient found (recorded.rcpt).
  bool write_bounce(const Bounce& bounce, int64_t now_ms, BounceRecorded& recorded);

  Writer& writer_;
  EventWriter* events_ = nullptr;
  int64_t lease_ms_;
  int64_t ttl_ms_;
};

}  // namespace store::postgres
