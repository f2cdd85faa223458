// The rows both backends' writers take from the group commit (group_commit.h): an outcome, an
// outbound recipient's result, a delivery row claimed by the hot path.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "store/store.h"

namespace store {

// One delivery outcome as both backends' writers record it (Store::finish_delivery).
struct FinishRow {
  std::string delivery_id;
  DeliveryOutcome outcome;
  int64_t next_attempt_at_ms;
  std::string last_error;
  int attempt = 0;       // the claim's token (store.h finish_delivery)
  bool rendered = true;  // the payload was rendered: render_attempts back to 0
  std::string origin;    // "" = keep the row's
};

// One outbound recipient's result (Store::finish_outbound).
struct OutboundFinishRow {
  std::string message_id;
  RecipientResult result;
};

// A delivery row the group's transaction inserted already claimed (the hot path).
struct ClaimedRow {
  size_t message = 0;   // index into the group's inbound messages, in order
  size_t delivery = 0;  // index into that message's deliveries
  std::string id;       // the delivery row's id
  int64_t at_ms = 0;    // its created_at and next_attempt_at
};

}  // namespace store
