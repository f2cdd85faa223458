// The loaders of the configuration's sections (internal to src/config/): each reads one YAML
// mapping into its part of Config, checks it, and reports every problem through the Reader.
#pragma once
#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace config::detail {

// `smtp:` — listeners, TLS files, AUTH users, limits (load_smtp.cpp).
void load_smtp(Reader& reader, const YAML::Node& node, Smtp& smtp);
// `routes:` — a list replacing the default catch-all (load_routes.cpp).
void load_routes(Reader& reader, const YAML::Node& node, std::vector<Route>& routes);
// One endpoint's keys after its mapping's keys were checked: url, name, secrets, timeout,
// headers, ca_file and the format's keys (load_routes.cpp; events.endpoints reuse it).
void load_endpoint_fields(Reader& reader, const YAML::Node& node, const std::string& key,
                          Endpoint& endpoint);
// `events:` — the delivery events' endpoints (load_events.cpp).
void load_events(Reader& reader, const YAML::Node& node, Events& events);
// `store:` — the backend and its settings (load_store.cpp).
void load_store(Reader& reader, const YAML::Node& node, Store& store);
// `relay.dkim:` — the DKIM signing keys, each key file parsed now (load_relay_dkim.cpp).
void load_relay_dkim(Reader& reader, const YAML::Node& node, std::vector<DkimKey>& keys);
// `dns:`, `authentication:`, `spam:` and `policy:`, after `routes:` (their policy overrides are
// checked against what is enabled) (load_auth.cpp).
void load_auth_sections(Reader& reader, const YAML::Node& root, Config& config);
// A policy mapping (global `policy:` or routes[].policy) into the keys it sets.
void load_policy(Reader& reader, const YAML::Node& node, const std::string& key,
                 PolicyOverride& policy);
// `base` with the keys `change` sets replaced.
Policy apply(const Policy& base, const PolicyOverride& change);
// `api.links:` — signed links to inbound parts (load_links.cpp).
void load_links(Reader& reader, const YAML::Node& node, Links& links);
// A list of HMAC keys (api.links.secrets, relay.return_path_secrets): each a string or
// {secret|secret_file|secret_env}, at least 16 bytes; the first signs (load_links.cpp).
void load_hmac_secrets(Reader& reader, const YAML::Node& node, const std::string& key,
                       std::vector<std::string>& secrets);
// After every section: a route or endpoint that makes links needs api.links (load_links.cpp).
void check_links_needed(Reader& reader, const YAML::Node& root, const Config& config);
// `retry:` under delivery and relay.
void load_retry(Reader& reader, const YAML::Node& node, const std::string& key, Retry& retry);
// A file the bridge must open later (TLS key, CA bundle): an error under prefix.name when `path`
// is set but not readable now, rather than at the first handshake (load_smtp.cpp).
void check_readable(Reader& reader, const YAML::Node& map, const std::string& prefix,
                    std::string_view name, const std::string& path);
// `text` in ASCII lower case (domain names as the config compares them).
std::string lower(std::string text);
// True when `text` has no whitespace or control characters (safe in an SMTP line or a header).
bool is_printable_token(std::string_view text);

}  // namespace config::detail
