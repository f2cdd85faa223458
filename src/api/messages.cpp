// The send routes: validated request → MIME bytes → one committed store row (with the scoped
// idempotency key and the body's hash) → 202; status reads map the recipients' rows to the JSON
// the OpenAPI document describes. Nothing is answered 202 that is not durably stored.
#include "api/messages.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

#include "api/send_request.h"
#include "common/ids.h"
#include "common/time.h"
#include "mime/build.h"

namespace api {
namespace {

constexpr size_t kMaxIdempotencyKey = 255;

std::string rfc3339(int64_t unix_ms) {
  return common::rfc3339_utc(common::Clock::time_point(std::chrono::milliseconds(unix_ms)));
}

Reply invalid(const std::vector<FieldError>& errors) {
  return problem(422, "invalid-request", "Invalid Request", "the request is not valid", errors);
}

Reply too_large(uint64_t limit) {
  return problem(413, "content-too-large", "Content Too Large",
                 "the message is larger than " + std::to_string(limit) + " bytes");
}

}  // namespace

// RFC 9110 10.2.3: how long to wait before trying again, per store refusal.
Reply unavailable(store::Status status) {
  const char* slug = "store-unavailable";
  const char* detail = "the message could not be stored; nothing was queued";
  const char* seconds = "10";
  if (status == store::Status::full) {
    slug = "store-full";
    detail = "the store is full; nothing was queued";
    seconds = "60";
  } else if (status == store::Status::closed) {
    slug = "shutting-down";
    detail = "the bridge is shutting down; nothing was queued";
    seconds = "5";
  }
  Reply reply = problem(503, slug, "Service Unavailable", detail);
  reply.headers.emplace_back("Retry-After", seconds);
  return reply;
}

namespace {

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): printable ASCII, 1..255.
bool valid_idempotency_key(const std::string& key) {
  if (key.empty() || key.size() > kMaxIdempotencyKey) return false;
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Reply accepted(const std::string& response_json, bool replayed) {
  Reply reply;
  reply.status = 202;
  reply.body = response_json;
  nlohmann::json body = nlohmann::json::parse(response_json, nullptr, false);
  if (body.is_object() && body.value("id", "") != "") {
    reply.headers.emplace_back("Location", "/v1/messages/" + body["id"].get<std::string>());
  }
  if (replayed) reply.headers.emplace_back("Idempotent-Replayed", "true");
  return reply;
}

// Commits `message` (its id, envelope and data set) and answers for it.
Reply enqueue(store::Store& store, const SendContext& context, std::string_view body,
              store::OutboundMessage message) {
  message.created_at_ms = context.now_ms;
  message.api_key = context.key_name;  // named in the message's delivery events
  if (context.idempotency_key) {
    // The key is the client's within its API key only: two clients never share one.
    message.idempotency_key = context.key_name + ":" + *context.idempotency_key;
    message.request_hash = sha256_hex(body);
  }
  // Each recipient's status as the suppression list reads now (README "Suppressions"). The
  // insert decides again in its own transaction, which is authoritative: an address added or
  // removed between this read and the commit shows here as it was (GET /v1/messages/{id} shows
  // what was decided).
  std::vector<std::string> suppressed = store.suppressed(message.rcpt_to);
  nlohmann::json recipients = nlohmann::json::array();
  for (const std::string& rcpt : message.rcpt_to) {
    bool off = std::find(suppressed.begin(), suppressed.end(), rcpt) != suppressed.end();
    recipients.push_back({{"address", rcpt}, {"status", off ? "suppressed" : "queued"}});
  }
  nlohmann::json response = {
      {"id", message.id},
      {"status", "queued"},  // committed, even when every recipient is suppressed
      {"message_id",
       message.message_id.empty() ? nlohmann::json() : nlohmann::json(message.message_id)},
      {"recipients", std::move(recipients)}};
  message.response_json = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  store::OutboundEnqueued result = store.enqueue_outbound_wait(std::move(message));
  if (result.status != store::Status::ok) return unavailable(result.status);
  if (result.conflict) {
    return problem(409, "idempotency-conflict", "Conflict",
                   "this Idempotency-Key was used with a different request body");
  }
  if (result.replay) return accepted(result.response_json, true);
  if (context.queued) context.queued();
  return accepted(result.response_json, false);
}

nlohmann::json last_reply_json(const store::OutboundRecipientRow& row) {
  if (row.last_code == 0 && row.last_text.empty()) return nullptr;
  return {{"code", row.last_code == 0 ? nlohmann::json() : nlohmann::json(row.last_code)},
          {"enhanced",
           row.last_enhanced.empty() ? nlohmann::json() : nlohmann::json(row.last_enhanced)},
          {"text", row.last_text}};
}

// The recipient's status history (README "Bounces"): every attempt's outcome and every DSN,
// oldest first, so a late bounce after `sent` shows both.
nlohmann::json history_json(const store::OutboundRecipientRow& row) {
  nlohmann::json history = nlohmann::json::array();
  for (const store::RecipientHistory& entry : row.history) {
    history.push_back(
        {{"at", rfc3339(entry.at_ms)},
         {"status", entry.state},
         {"code", entry.code == 0 ? nlohmann::json() : nlohmann::json(entry.code)},
         {"enhanced", entry.enhanced.empty() ? nlohmann::json() : nlohmann::json(entry.enhanced)},
         {"text", entry.text},
         {"dsn_id",
          entry.inbound_id.empty() ? nlohmann::json() : nlohmann::json(entry.inbound_id)}});
  }
  return history;
}

nlohmann::json recipient_json(const store::OutboundRecipientRow& row) {
  bool pending = row.state == "queued" || row.state == "deferred";
  return {{"address", row.rcpt},
          {"history", history_json(row)},
          {"status", recipient_status(row.state)},
          {"attempts", row.attempts},
          {"last_reply", last_reply_json(row)},
          {"next_attempt_at", pending && row.next_attempt_at_ms > 0
                                  ? nlohmann::json(rfc3339(row.next_attempt_at_ms))
                                  : nlohmann::json()}};
}

}  // namespace

std::vector<FieldError> check_context(const SendContext& context) {
  if (context.idempotency_key && !valid_idempotency_key(*context.idempotency_key)) {
    return {{"Idempotency-Key", "must be 1 to 255 printable ASCII characters"}};
  }
  return {};
}

store::OutboundMessage build_outbound(SendRequest& request, const SendContext& context) {
  store::OutboundMessage message;
  message.id = common::uuid_v7();
  // RFC 5322 3.6.4: unique worldwide: the message's own UUIDv7 at this bridge's name.
  message.message_id = message.id + "@" + context.hostname;
  request.message.message_id = message.message_id;
  request.message.date_ms = context.now_ms;
  message.created_at_ms = context.now_ms;
  message.mail_from = request.mail_from;
  message.rcpt_to = std::move(request.rcpt_to);
  message.data = mime::build(request.message);
  // Kept with the message and shown by GET /v1/messages/{id}; never sent upstream.
  if (!request.metadata.empty()) message.metadata_json = nlohmann::json(request.metadata).dump();
  return message;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

Reply send_message(store::Store& store, const SendContext& context, std::string_view body) {
  std::vector<FieldError> errors = check_context(context);
  Parsed<SendRequest> parsed = parse_send_request(body);
  errors.insert(errors.end(), parsed.errors.begin(), parsed.errors.end());
  if (!errors.empty()) return invalid(errors);
  SendRequest& request = parsed.value;
  if (request.content_bytes > context.max_message_bytes)
    return too_large(context.max_message_bytes);

  return enqueue(store, context, body, build_outbound(request, context));
}

Reply send_raw_message(store::Store& store, const SendContext& context, std::string_view body) {
  std::vector<FieldError> errors = check_context(context);
  Parsed<RawSendRequest> parsed = parse_raw_send_request(body);
  errors.insert(errors.end(), parsed.errors.begin(), parsed.errors.end());
  if (!errors.empty()) return invalid(errors);
  RawSendRequest& request = parsed.value;
  if (request.data.size() > context.max_message_bytes) return too_large(context.max_message_bytes);
  // Relayed as it is, a longer line would be refused by the upstream for good, after the 202.
  if (size_t longest = longest_line(request.data); longest > kMaxLineOctets) {
    return invalid(
        {{"raw", "has a line of " + std::to_string(longest) + " octets; at most " +
                     std::to_string(kMaxLineOctets) + " (RFC 5322 2.1.1, RFC 5321 4.5.3.1.6)"}});
  }

  store::OutboundMessage message;
  message.id = common::uuid_v7();
  message.message_id = std::move(request.message_id);
  message.mail_from = std::move(request.mail_from);
  message.rcpt_to = std::move(request.rcpt_to);
  message.data = std::move(request.data);
  return enqueue(store, context, body, std::move(message));
}

Reply get_message(store::Store& store, const std::string& id) {
  std::optional<store::StoredOutbound> stored = store.find_outbound(id);
  if (!stored && !store.readable()) return store_unreadable();
  if (!stored) return not_found("no outbound message has the id '" + id + "'");
  nlohmann::json recipients = nlohmann::json::array();
  for (const store::OutboundRecipientRow& row : stored->recipients) {
    recipients.push_back(recipient_json(row));
  }
  return json_reply(
      200, {{"id", stored->id},
            {"message_id",
             stored->message_id.empty() ? nlohmann::json() : nlohmann::json(stored->message_id)},
            {"created_at", rfc3339(stored->created_at_ms)},
            {"status", overall_status(stored->recipients)},
            {"metadata", stored->metadata_json.empty()
                             ? nlohmann::json::object()
                             : nlohmann::json::parse(stored->metadata_json, nullptr, false)},
            {"recipients", std::move(recipients)}});
}

Reply redeliver_events(store::Store& store, const std::string& id, int64_t now_ms,
                       const std::function<void()>& requeued) {
  store::Redelivery result = store.redeliver_events(id, now_ms);
  if (!result.found && !store.readable()) return store_unreadable();
  if (!result.found) return not_found("no outbound message has the id '" + id + "'");
  if (result.deliveries == 0)
    return problem(409, "no-events", "No Events",
                   "no events endpoint took an event of this message: there is nothing to "
                   "redeliver");
  if (result.requeued > 0 && requeued) requeued();
  return json_reply(202, {{"id", id}, {"events", result.requeued}});
}

std::string recipient_status(const std::string& state) {
  return state == "in_flight" ? "sending" : state;
}

std::string overall_status(const std::vector<store::OutboundRecipientRow>& recipients) {
  size_t sent = 0, failed = 0, in_flight = 0, deferred = 0, suppressed = 0;
  for (const store::OutboundRecipientRow& row : recipients) {
    sent += row.state == "sent";
    failed += row.state == "failed" || row.state == "bounced";  // bounced: failed after sent
    in_flight += row.state == "in_flight";
    deferred += row.state == "deferred";
    suppressed += row.state == "suppressed";
  }
  // Suppressed recipients were never to be sent: the status is the others'.
  if (suppressed > 0 && suppressed == recipients.size()) return "suppressed";
  if (in_flight > 0) return "sending";
  if (deferred > 0) return "deferred";
  if (sent + failed + suppressed < recipients.size()) return "queued";
  if (failed == 0) return "sent";
  return sent == 0 ? "failed" : "partially_failed";
}

}  // namespace api
