// Delivery events' JSON (events.h): {"id","type","created_at","data":{...}} as openapi.yaml's
// MessageEvent schemas describe it.
#include "store/events.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/time.h"

namespace store {
namespace {

std::string timestamp(int64_t ms) {
  return common::rfc3339_utc(common::Clock::time_point(std::chrono::milliseconds(ms)));
}

bool id_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '@' || c == '<' || c == '>';
}

// The token after `marker` (case-insensitive), or "".
std::string token_after(std::string_view text, std::string_view marker) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t at = lower.find(marker);
  if (at == std::string::npos) return {};
  size_t begin = at + marker.size();
  while (begin < text.size() && text[begin] == ' ') ++begin;
  size_t end = begin;
  while (end < text.size() && id_char(text[end])) ++end;
  std::string token(text.substr(begin, end - begin));
  // The sentence's full stop and angle brackets around the id are not part of it.
  while (!token.empty() && (token.back() == '.' || token.back() == '>')) token.pop_back();
  size_t first = token.find_first_not_of('<');
  token.erase(0, first == std::string::npos ? token.size() : first);
  return token;
}

nlohmann::json text_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

// message.bounced: what the DSN said (RFC 3464 2.2.2, 2.3.2-2.3.6) and where it is stored.
nlohmann::json bounce_json(const Bounce& bounce) {
  nlohmann::json out = nlohmann::json::object();
  out["action"] = text_or_null(bounce.action);
  out["status"] = text_or_null(bounce.status);
  out["code"] = bounce.code == 0 ? nlohmann::json(nullptr) : nlohmann::json(bounce.code);
  out["diagnostic_code"] = text_or_null(bounce.diagnostic);
  out["remote_mta"] = text_or_null(bounce.remote_mta);
  out["reporting_mta"] = text_or_null(bounce.reporting_mta);
  out["final_recipient"] = text_or_null(bounce.final_recipient);
  out["dsn_id"] = text_or_null(bounce.inbound_id);  // GET /v1/inbound/{id}
  return out;
}

nlohmann::json metadata(const std::string& json_text) {
  if (json_text.empty()) return nullptr;
  nlohmann::json parsed = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
}

}  // namespace

const char* event_type(RecipientOutcome outcome) {
  switch (outcome) {
    case RecipientOutcome::sent:
      return "message.sent";
    case RecipientOutcome::deferred:
      return "message.deferred";
    case RecipientOutcome::failed:
      break;
  }
  return "message.failed";
}

std::vector<std::string> subscribers(const std::vector<EventSubscription>& endpoints,
                                     std::string_view type) {
  std::vector<std::string> names;
  for (const EventSubscription& endpoint : endpoints) {
    if (std::find(endpoint.types.begin(), endpoint.types.end(), type) != endpoint.types.end())
      names.push_back(endpoint.endpoint);
  }
  return names;
}

std::optional<std::string> queue_id_of(std::string_view text) {
  std::string id = token_after(text, "queued as");
  if (id.empty()) id = token_after(text, "ok:");
  if (id.empty() || id.size() > 200) return std::nullopt;
  return id;
}

std::string event_payload(const std::string& id, const EventFacts& facts) {
  nlohmann::json data = {
      {"message_id", facts.message_id},
      {"api_key", facts.api_key.empty() ? nlohmann::json(nullptr) : nlohmann::json(facts.api_key)},
      {"metadata", metadata(facts.metadata_json)},
  };
  if (facts.type == "message.queued") data["recipients"] = facts.recipients;
  if (const RecipientResult* result = facts.result) {
    data["recipient"] = result->rcpt;
    data["reply"] = nlohmann::json(nullptr);
    if (result->code != 0 || !result->text.empty()) {
      nlohmann::json reply = nlohmann::json::object();
      reply["code"] = result->code == 0 ? nlohmann::json(nullptr) : nlohmann::json(result->code);
      reply["enhanced_code"] =
          result->enhanced.empty() ? nlohmann::json(nullptr) : nlohmann::json(result->enhanced);
      reply["text"] = result->text;
      data["reply"] = std::move(reply);
    }
    if (result->outcome == RecipientOutcome::sent) {
      auto queue_id = queue_id_of(result->text);
      data["queue_id"] = queue_id ? nlohmann::json(*queue_id) : nlohmann::json(nullptr);
    }
    if (result->outcome == RecipientOutcome::deferred)
      data["next_attempt_at"] = timestamp(result->next_attempt_at_ms);
  }
  if (const Bounce* bounce = facts.bounce) {
    data["recipient"] = facts.recipient;
    data["bounce"] = bounce_json(*bounce);
  }
  nlohmann::json event = {{"id", id},
                          {"type", facts.type},
                          {"created_at", timestamp(facts.at_ms)},
                          {"data", std::move(data)}};
  return event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace store
