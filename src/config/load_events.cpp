// `events:` (issue 14, README "Delivery events"): the endpoints that receive the outbound
// messages' delivery events. An events endpoint is a route endpoint's url/secrets/headers (the
// same loader) plus the event types it receives; its payload is always the event's JSON.
#include <algorithm>
#include <set>

#include "config/sections.h"

namespace config::detail {
namespace {

void load_types(Reader& reader, const YAML::Node& node, const std::string& key,
                EventEndpoint& endpoint) {
  std::vector<std::string> types;
  if (!reader.read_string_list(node, key, "types", types)) return;
  if (types.empty()) {
    reader.error(key + ".types", node, "must name at least one event type");
    return;
  }
  std::vector<std::string> kept;
  for (size_t i = 0; i < types.size(); ++i) {
    if (std::find(kEventTypes.begin(), kEventTypes.end(), types[i]) == kEventTypes.end()) {
      reader.error(key + ".types[" + std::to_string(i) + "]", node,
                   "unknown event type '" + types[i] +
                       "': one of message.queued, message.sent, message.deferred, "
                       "message.failed, message.bounced");
    } else if (std::find(kept.begin(), kept.end(), types[i]) == kept.end()) {
      kept.push_back(types[i]);
    }
  }
  endpoint.types = std::move(kept);
}

}  // namespace

void load_events(Reader& reader, const YAML::Node& node, Events& events) {
  if (!reader.expect_map(node, "events", {"endpoints"})) return;
  auto list = Reader::field(node, "endpoints");
  if (!list) return;
  if (!list->IsSequence()) {
    reader.error("events.endpoints", *list, "must be a list of endpoints");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < list->size(); ++i) {
    const YAML::Node item = (*list)[i];
    std::string key = "events.endpoints[" + std::to_string(i) + "]";
    EventEndpoint endpoint;
    if (!reader.expect_map(item, key,
                           {"name", "url", "secret", "secret_file", "secret_env", "secrets",
                            "timeout", "headers", "ca_file", "types"}))
      continue;
    load_endpoint_fields(reader, item, key, endpoint.endpoint);
    if (Reader::field(item, "types")) load_types(reader, item, key, endpoint);
    // Event rows are stored under the name: two endpoints with one name would share a backlog.
    if (!endpoint.endpoint.name.empty() && !names.insert(endpoint.endpoint.name).second)
      reader.error(key + ".name", item,
                   "duplicate name '" + endpoint.endpoint.name + "' among events.endpoints");
    events.endpoints.push_back(std::move(endpoint));
  }
}

}  // namespace config::detail
