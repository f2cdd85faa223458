// The suppression routes: validate (422 naming the field), call the Store, shape the entries the
// OpenAPI document describes. The cursor is the last address of a page in base64url, opaque to
// clients like GET /v1/inbound's; the list is ordered by the lower-cased address, so a cursor
// stays valid while entries are added or removed around it.
#include "api/suppressions.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>

#include "api/messages.h"
#include "common/base64.h"
#include "common/mailbox.h"
#include "common/time.h"
#include "common/utf8.h"
#include "store/store.h"

namespace api {
namespace {

constexpr size_t kMaxCursor = 1024;

std::string rfc3339(int64_t unix_ms) {
  return common::rfc3339_utc(common::Clock::time_point(std::chrono::milliseconds(unix_ms)));
}

nlohmann::json entry_json(const store::Suppression& s) {
  nlohmann::json entry = {
      {"address", s.address}, {"reason", s.reason}, {"created_at", rfc3339(s.created_at_ms)}};
  if (s.reason == "bounce") {
    auto text = [](const std::string& v) {
      return v.empty() ? nlohmann::json() : nlohmann::json(v);
    };
    entry["bounce"] = {{"status", text(s.status)},
                       {"diagnostic_code", text(s.diagnostic)},
                       {"message_id", text(s.message_id)},
                       {"recipient", text(s.rcpt)}};
  }
  return entry;
}

std::optional<std::string> decode_address_cursor(const std::string& cursor) {
  std::optional<std::string> address = decode_cursor_key(cursor, kMaxCursor);
  if (!address || !common::valid_utf8(*address)) return std::nullopt;
  return address;
}

// RFC 5321 4.1.2 Mailbox, UTF-8 (RFC 6531 3.3), no control characters: what a send's recipient
// may be, so every address a send can name can be suppressed.
bool valid_address(const std::string& address) {
  if (!common::valid_utf8(address)) return false;
  for (unsigned char c : address) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return common::valid_mailbox(address);
}

}  // namespace

Reply list_suppressions(store::Store& store, const Params& params) {
  std::vector<FieldError> errors;
  size_t limit = kDefaultLimit;
  std::string after;
  if (const std::string* text = single(params, "limit", errors)) {
    if (auto value = parse_limit(*text)) {
      limit = *value;
    } else {
      errors.push_back({"limit", "must be an integer from 1 to " + std::to_string(kMaxLimit)});
    }
  }
  if (const std::string* cursor = single(params, "cursor", errors)) {
    if (auto address = decode_address_cursor(*cursor)) {
      after = *address;
    } else {
      errors.push_back({"cursor", "is not a cursor this API returned"});
    }
  }
  if (!errors.empty()) {
    return problem(422, "invalid-parameters", "Invalid Parameters",
                   "the query parameters are not valid", errors);
  }
  // One more than asked tells whether another page follows.
  std::vector<store::Suppression> page = store.list_suppressions(after, limit + 1);
  if (page.empty() && !store.readable()) return store_unreadable();
  bool more = page.size() > limit;
  if (more) page.resize(limit);
  nlohmann::json items = nlohmann::json::array();
  for (const store::Suppression& s : page) items.push_back(entry_json(s));
  nlohmann::json next =
      more ? nlohmann::json(encode_cursor(page.back().address)) : nlohmann::json();
  return json_reply(200, {{"items", std::move(items)}, {"next_cursor", std::move(next)}});
}

Reply add_suppression(store::Store& store, std::string_view body, int64_t now_ms) {
  nlohmann::json request = nlohmann::json::parse(body, nullptr, false);
  if (!request.is_object()) {
    return problem(422, "invalid-request", "Invalid Request", "the request is not valid",
                   {{"body", "must be a JSON object"}});
  }
  std::vector<FieldError> errors;
  store::Suppression s;
  s.reason = "manual";
  s.created_at_ms = now_ms;
  auto address = request.find("address");
  if (address == request.end() || !address->is_string()) {
    errors.push_back({"address", "is required: a string"});
  } else if (!valid_address(address->get<std::string>())) {
    errors.push_back({"address", "must be a mailbox: local-part@domain (RFC 5321 4.1.2)"});
  } else {
    s.address = address->get<std::string>();
  }
  auto reason = request.find("reason");
  if (reason != request.end() && !(reason->is_string() && *reason == "manual"))
    errors.push_back({"reason", "must be \"manual\" (bounces are added by the bridge itself)"});
  for (const auto& [name, value] : request.items()) {
    if (name != "address" && name != "reason") errors.push_back({name, "is not a known field"});
  }
  if (!errors.empty())
    return problem(422, "invalid-request", "Invalid Request", "the request is not valid", errors);
  bool created = false;
  store::Status status = store.add_suppression(s, created);
  if (status != store::Status::ok) return unavailable(status);
  s.address = store::suppression_key(s.address);  // as stored
  return json_reply(created ? 201 : 200, entry_json(s));
}

Reply remove_suppression(store::Store& store, const std::string& address) {
  // Never on the list (an add validates the same way), and PostgreSQL's text refuses such bytes:
  // answered without asking the store.
  if (!valid_address(address)) return not_found("the address is not suppressed");
  std::optional<bool> removed = store.remove_suppression(address);
  if (!removed) return unavailable(store::Status::io_error);
  if (!*removed) return not_found("the address '" + address + "' is not suppressed");
  Reply reply;
  reply.status = 204;
  reply.content_type = "";
  return reply;
}

size_t suppressed_in(const std::string& body) {
  auto count = [](const nlohmann::json& item) {
    size_t n = 0;
    auto recipients = item.find("recipients");
    if (recipients == item.end() || !recipients->is_array()) return n;
    for (const auto& r : *recipients) n += r.is_object() && r.value("status", "") == "suppressed";
    return n;
  };
  nlohmann::json reply = nlohmann::json::parse(body, nullptr, false);
  if (!reply.is_object()) return 0;
  size_t n = count(reply);
  auto results = reply.find("results");  // a batch: per queued item
  if (results != reply.end() && results->is_array())
    for (const auto& item : *results)
      if (item.is_object()) n += count(item);
  return n;
}

}  // namespace api
