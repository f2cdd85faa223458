// Delivery events' payloads (issue 14, README "Delivery events", openapi.yaml `webhooks`): both
// backends build the JSON here, inside the transaction that records what the event reports, and
// store it as the row's payload, so that every attempt POSTs the same bytes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace store {

// What one event reports; the row id, its type and created_at are added per row.
struct EventFacts {
  std::string type;  // "message.queued", "message.sent", ...
  std::string message_id;
  std::string api_key;                      // "" = none (JSON null)
  std::string metadata_json;                // "" = none (JSON null)
  std::vector<std::string> recipients;      // message.queued: every recipient
  const RecipientResult* result = nullptr;  // per-recipient events
  int64_t at_ms = 0;
  // message.bounced (last, with default initializers: the older aggregate initializations
  // stay warning-free).
  const Bounce* bounce = nullptr;
  std::string recipient = {};  // message.bounced: the recipient
};

// The event type a recipient's outcome reports.
const char* event_type(RecipientOutcome outcome);
// The endpoints (names) whose types include `type`.
std::vector<std::string> subscribers(const std::vector<EventSubscription>& endpoints,
                                     std::string_view type);
// The queue id an upstream's 250 reply names ("250 2.0.0 Ok: queued as 4BCD" from Postfix,
// "250 Ok: 0100018c-..." from SES, "queued as <id>"), or nullopt.
std::optional<std::string> queue_id_of(std::string_view text);
// The event's JSON document for the row `id`.
std::string event_payload(const std::string& id, const EventFacts& facts);

}  // namespace store
