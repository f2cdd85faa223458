// The send routes (CONTRACTS.md 2) as functions from request values to a Reply: POST /v1/messages,
// POST /v1/messages/raw, GET /v1/messages/{id}. A 202 is answered only after the message is
// committed in the store; no HTTP library here (server.cpp adapts them, tests may call them).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/reply.h"
#include "api/send_request.h"
#include "store/store.h"

namespace api {

// What a send handler needs besides the body.
struct SendContext {
  std::string key_name;                        // the API key's name: Idempotency-Key scope
  std::optional<std::string> idempotency_key;  // the header's value, when it was sent
  std::string hostname;                        // Message-ID: <uuidv7@hostname>
  uint64_t max_message_bytes = 25ull << 20;    // decoded content (or raw message) at most; → 413
  int64_t now_ms = 0;                          // created_at and Date:
  std::function<void()> queued;                // called after a new message was committed
};

// Parse and validate (422 with every failing field), build the MIME message (mime::build),
// commit it (Store::enqueue_outbound) and answer 202 {"id","status":"queued","message_id"}.
// Idempotency-Key: the same key and body within 24 h → the first 202 again with
// `Idempotent-Replayed: true`; another body → 409. Store full/failing/closed → 503 Retry-After.
Reply send_message(store::Store& store, const SendContext& context, std::string_view body);
// The same for {"envelope": {"mail_from", "rcpt_to": [...]}, "raw": "<base64>"}: the bytes are
// sent as given (line ends made CRLF); message_id is the message's own Message-ID, or null.
Reply send_raw_message(store::Store& store, const SendContext& context, std::string_view body);
// The pieces send_batch (batch.h) shares with the single sends:
// errors of the Idempotency-Key header, checked before the body;
std::vector<FieldError> check_context(const SendContext& context);
// the outbound row of a valid request: a new id, Message-ID <id@hostname>, Date, MIME bytes;
store::OutboundMessage build_outbound(SendRequest& request, const SendContext& context);
// 503 with Retry-After for a store that refused a commit (full, failing, closing).
Reply unavailable(store::Status status);

// {"id","message_id","created_at","status","recipients":[...]}, or 404.
Reply get_message(store::Store& store, const std::string& id);
// POST /v1/messages/{id}/events/redeliver: the message's delivery events queued again (202
// {"id","events"}), 404, or 409 when no events endpoint took any of its events. `requeued` wakes
// the dispatcher.
Reply redeliver_events(store::Store& store, const std::string& id, int64_t now_ms,
                       const std::function<void()>& requeued);

// The message's status from its recipients' states: sending while any is in flight, else
// deferred while any waits for a retry, else queued while any waits for its first attempt;
// once all are final: sent (all sent), failed (all failed) or partially_failed.
std::string overall_status(const std::vector<store::OutboundRecipientRow>& recipients);
// The API's name of a recipient state: in_flight → sending; the others unchanged.
std::string recipient_status(const std::string& state);
// Lower-case hex SHA-256 (OpenSSL EVP).
std::string sha256_hex(std::string_view bytes);

}  // namespace api
