// The bounce consumer (ARCHITECTURE.md "Inbound path", README "Bounces"): DSNs that arrived for a
// VERP return path are stored like any inbound message, with one delivery row for
// common::kBounceEndpoint; the dispatcher hands those rows here instead of POSTing them. Each is
// parsed with mime::parse_dsn and recorded on the outbound recipient its return path names
// (store::Store::record_bounce: status history, bounced, message.bounced events, suppression).
#pragma once
#include <cstdint>
#include <string>

#include "config/config.h"
#include "store/store.h"

namespace delivery {

struct BounceOutcome {
  // recorded: a return path's recipient got its DSN fields (the row is delivered);
  // routed: not a DSN (an auto-reply sent to the return path), or one naming no message the
  // store still holds (pruned), whose recipients a route takes: routed like any message (rows
  // added for the routes' endpoints; this row is delivered);
  // unmatched: the same without a route (the row is dead, with the reason: the message stays
  // listed at GET /v1/inbound?state=dead); retry: the store could not commit (deferred).
  enum class Result { recorded, routed, unmatched, retry } result = Result::unmatched;
  std::string reason;  // unmatched and retry: why
  size_t bounced = 0;  // recipients set to bounced (Action failed)
};

BounceOutcome consume_bounce(store::Store& store, const config::Config& config,
                             const store::DeliveryJob& job, int64_t now_ms);

}  // namespace delivery
