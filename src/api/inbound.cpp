// The inbound routes: validate parameters (422 with the failing fields), read the Store on the
// readers' connection, shape the JSON the OpenAPI document describes. The list shows each
// message's subject from its header only (parsed from the first bytes, never the whole body).
#include "api/inbound.h"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>

#include "common/base64.h"
#include "common/time.h"
#include "mime/message.h"

namespace api {
namespace {

constexpr std::array<const char*, 5> kStatuses = {"queued", "deferred", "dead", "delivered",
                                                  "orphaned"};
constexpr size_t kHeadBytes = 16384;  // enough for any ordinary header, Received lines included

std::string rfc3339(int64_t unix_ms) {
  return common::rfc3339_utc(common::Clock::time_point(std::chrono::milliseconds(unix_ms)));
}

// An endpoint is shown by its name and its URL's origin, never the URL: its path and query often
// carry a capability token, and every API key may read this (issue 11).
nlohmann::json delivery_json(const store::DeliveryRow& row) {
  bool pending = row.state == "queued" || row.state == "deferred";
  return {
      {"id", row.id},
      {"endpoint", row.endpoint},
      {"origin", row.origin.empty() ? nlohmann::json() : nlohmann::json(row.origin)},
      {"rcpt_to", row.rcpt_to},
      {"state", row.state},
      {"attempts", row.attempts},
      {"last_error", row.last_error.empty() ? nlohmann::json() : nlohmann::json(row.last_error)},
      {"next_attempt_at",
       pending ? nlohmann::json(rfc3339(row.next_attempt_at_ms)) : nlohmann::json()}};
}

nlohmann::json deliveries_json(const std::vector<store::DeliveryRow>& rows) {
  nlohmann::json list = nlohmann::json::array();
  for (const store::DeliveryRow& row : rows) list.push_back(delivery_json(row));
  return list;
}

// The decoded Subject of a message's header (RFC 5322 3.6.5), or null when it has none.
nlohmann::json subject_of(const std::string& head) {
  size_t end = head.find("\r\n\r\n");
  if (end == std::string::npos) end = head.find("\n\n");
  std::string header = end == std::string::npos ? head : head.substr(0, end);
  header += "\r\n\r\n";  // a complete header with an empty body: parsed alone
  mime::Message parsed = mime::parse(header);
  if (parsed.parts.empty()) return nullptr;
  for (const mime::Header& field : parsed.parts[0].headers) {
    std::string name = field.name;
    for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (name == "subject") return parsed.subject;
  }
  return nullptr;
}

nlohmann::json summary_json(const store::InboundSummary& item) {
  return {{"id", item.id},
          {"received_at", rfc3339(item.received_at_ms)},
          {"mail_from", item.mail_from},
          {"rcpt_to", item.rcpt_to},
          {"size", item.size},
          {"subject", subject_of(item.head)},
          {"deliveries", deliveries_json(item.deliveries)}};
}

bool is_uuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> decode_cursor(const std::string& cursor) {
  std::optional<std::string> id = decode_cursor_key(cursor, 64);
  if (!id || !is_uuid(*id)) return std::nullopt;
  return id;
}

Reply list_inbound(store::Store& store, const Params& params) {
  std::vector<FieldError> errors;
  store::InboundQuery query;
  query.limit = kDefaultLimit;
  query.head_bytes = kHeadBytes;
  if (const std::string* status = single(params, "status", errors)) {
    bool known = false;
    for (const char* name : kStatuses) known = known || *status == name;
    if (known) {
      query.state = *status;
    } else {
      errors.push_back({"status", "must be one of queued, deferred, dead, delivered, orphaned"});
    }
  }
  if (const std::string* limit = single(params, "limit", errors)) {
    if (auto value = parse_limit(*limit)) {
      query.limit = *value;
    } else {
      errors.push_back({"limit", "must be an integer from 1 to " + std::to_string(kMaxLimit)});
    }
  }
  if (const std::string* cursor = single(params, "cursor", errors)) {
    if (auto id = decode_cursor(*cursor)) {
      query.before_id = *id;
    } else {
      errors.push_back({"cursor", "is not a cursor this API returned"});
    }
  }
  if (!errors.empty()) {
    return problem(422, "invalid-parameters", "Invalid Parameters",
                   "the query parameters are not valid", errors);
  }
  // One more than asked tells whether another page follows.
  size_t limit = query.limit;
  query.limit = limit + 1;
  std::vector<store::InboundSummary> page = store.list_inbound(query);
  if (page.empty() && !store.readable()) return store_unreadable();
  bool more = page.size() > limit;
  if (more) page.resize(limit);
  nlohmann::json items = nlohmann::json::array();
  for (const store::InboundSummary& item : page) items.push_back(summary_json(item));
  nlohmann::json next = more ? nlohmann::json(encode_cursor(page.back().id)) : nlohmann::json();
  return json_reply(200, {{"items", std::move(items)}, {"next_cursor", std::move(next)}});
}

Reply get_inbound(store::Store& store, const RenderInbound& render, const std::string& id) {
  std::optional<store::StoredInbound> stored = store.find_inbound(id);
  if (!stored && !store.readable()) return store_unreadable();
  if (!stored) return not_found("no inbound message has the id '" + id + "'");
  std::optional<std::string> rendered = render(*stored);
  if (!rendered) {
    Reply reply = problem(503, "memory-budget", "Service Unavailable",
                          "the bridge's memory budget has no room to render this message now");
    reply.headers.emplace_back("Retry-After", "5");
    return reply;
  }
  nlohmann::json document = nlohmann::json::parse(*rendered, nullptr, false);
  if (document.is_discarded()) return internal_error("the message could not be rendered");
  return json_reply(
      200, {{"message", std::move(document)}, {"deliveries", deliveries_json(stored->deliveries)}});
}

Reply redeliver_inbound(store::Store& store, const std::string& id, int64_t now_ms,
                        const std::function<void()>& requeued) {
  store::Redelivery result = store.redeliver_inbound(id, now_ms);
  if (!result.found && !store.readable()) return store_unreadable();
  if (!result.found) return not_found("no inbound message has the id '" + id + "'");
  if (result.deliveries == 0) {
    return problem(409, "no-endpoints", "No Endpoints",
                   "the message matched no webhook endpoint: there is nothing to redeliver");
  }
  if (result.requeued > 0 && requeued) requeued();
  return json_reply(202, {{"id", id}, {"deliveries", result.requeued}});
}

}  // namespace api
