// Loading the YAML configuration (CONTRACTS.md 4) into config::Config: every key typed and
// checked, ALL problems collected with their dotted key and line, never an exception to the caller.
#include <algorithm>
#include <set>

#include "common/mailbox.h"
#include "common/units.h"
#include "config/sections.h"

namespace config {
namespace detail {

void load_retry(Reader& reader, const YAML::Node& node, const std::string& key, Retry& retry) {
  if (!reader.expect_map(node, key, {"initial", "max_interval", "max_age"})) return;
  const Duration minimum(1);
  reader.read_duration(node, key, "initial", retry.initial, minimum);
  reader.read_duration(node, key, "max_interval", retry.max_interval, minimum);
  reader.read_duration(node, key, "max_age", retry.max_age, minimum);
  if (retry.max_interval < retry.initial) {
    auto at = Reader::field(node, "max_interval");
    reader.error(key + ".max_interval", at ? *at : node, "must not be shorter than initial");
  }
}

namespace {

void load_delivery(Reader& reader, const YAML::Node& node, Delivery& delivery,
                   const std::vector<Route>& routes) {
  if (!reader.expect_map(node, "delivery", {"workers", "retry", "lease", "max_render_attempts"}))
    return;
  reader.read_unsigned(node, "delivery", "workers", delivery.workers, 1, 4096);
  reader.read_unsigned(node, "delivery", "max_render_attempts", delivery.max_render_attempts, 1,
                       1000);
  if (auto retry = Reader::field(node, "retry"))
    load_retry(reader, *retry, "delivery.retry", delivery.retry);
  // A row may wait for a worker for one POST, then be rendered and POSTed: a lease shorter than
  // two timeouts would hand a row that is still being posted to another claim (twice delivered).
  auto lease = Reader::field(node, "lease");
  if (!lease || !reader.read_duration(node, "delivery", "lease", delivery.lease, Duration(1000)))
    return;
  for (const Route& route : routes) {
    for (const Endpoint& endpoint : route.endpoints) {
      if (delivery.lease > 2 * endpoint.timeout) continue;
      reader.error("delivery.lease", *lease,
                   "must be longer than twice the longest endpoint timeout (" +
                       common::format_duration(endpoint.timeout) + ")");
      return;
    }
  }
}

// api.limits / admin.limits. max_header_line stops at 8192: cpp-httplib 0.11 is built with that
// limit for the request line (414) and each header line (400), so a larger one could not be used.
void load_http_limits(Reader& reader, const YAML::Node& node, const std::string& key,
                      HttpLimits& limits) {
  if (!reader.expect_map(node, key,
                         {"max_header_line", "max_headers", "max_head_bytes", "head_timeout",
                          "min_body_rate", "max_body"}))
    return;
  reader.read_unsigned(node, key, "max_header_line", limits.max_header_line, 256, 8192);
  reader.read_unsigned(node, key, "max_headers", limits.max_headers, 1, 10000);
  if (reader.read_size(node, key, "max_head_bytes", limits.max_head_bytes, 1024) &&
      limits.max_head_bytes > 16 * kMiB)
    reader.error(key + ".max_head_bytes", *Reader::field(node, "max_head_bytes"),
                 "must be at most 16MiB");
  reader.read_duration(node, key, "head_timeout", limits.head_timeout, Duration(100));
  reader.read_size(node, key, "min_body_rate", limits.min_body_rate);
  reader.read_size(node, key, "max_body", limits.max_body);
  if (limits.max_header_line > limits.max_head_bytes) {
    auto at = Reader::field(node, "max_header_line");
    reader.error(key + ".max_header_line", at ? *at : node, "must not exceed max_head_bytes");
  }
}

// api.keys[i].scopes: a non-empty list of kApiScopes, each kept once.
void load_api_scopes(Reader& reader, const YAML::Node& item, const std::string& key,
                     ApiKey& api_key) {
  auto node = Reader::field(item, "scopes");
  if (!node) return;
  std::vector<std::string> names;
  if (!reader.read_string_list(item, key, "scopes", names)) return;
  std::string who = api_key.name.empty() ? key : "key '" + api_key.name + "'";
  if (names.empty()) {
    reader.error(key + ".scopes", *node,
                 "must name at least one scope (leave scopes out for full access)");
    return;
  }
  std::vector<std::string> scopes;
  for (const std::string& name : names) {
    bool known =
        std::find(std::begin(kApiScopes), std::end(kApiScopes), name) != std::end(kApiScopes);
    if (!known) {
      reader.error(key + ".scopes", *node,
                   who + ": unknown scope '" + name +
                       "' (one of send, messages:read, inbound:read, inbound:write, suppressions)");
      return;
    }
    if (std::find(scopes.begin(), scopes.end(), name) == scopes.end()) scopes.push_back(name);
  }
  api_key.scopes = std::move(scopes);
}

// api.keys[i].rate_limit: {requests_per_second, burst, recipients_per_hour}, all optional.
void load_api_rate_limit(Reader& reader, const YAML::Node& node, const std::string& key,
                         ApiRateLimit& limit) {
  if (!reader.expect_map(node, key, {"requests_per_second", "burst", "recipients_per_hour"}))
    return;
  reader.read_unsigned(node, key, "requests_per_second", limit.requests_per_second, 1, 1000000);
  reader.read_unsigned(node, key, "burst", limit.burst, 1, 1000000);
  reader.read_unsigned(node, key, "recipients_per_hour", limit.recipients_per_hour, 1, 1000000000);
  if (limit.burst > 0 && limit.requests_per_second == 0) {
    reader.error(key + ".burst", *Reader::field(node, "burst"),
                 "needs requests_per_second (the rate the burst refills at)");
  }
  if (limit.burst == 0) limit.burst = limit.requests_per_second;
}

void load_api(Reader& reader, const YAML::Node& node, Api& api) {
  if (!reader.expect_map(node, "api", {"listen", "keys", "limits", "links"})) return;
  reader.read_address(node, "api", "listen", api.listen);
  if (auto links = Reader::field(node, "links")) load_links(reader, *links, api.links);
  if (auto limits = Reader::field(node, "limits"))
    load_http_limits(reader, *limits, "api.limits", api.limits);
  auto keys = Reader::field(node, "keys");
  if (!keys) return;
  if (!keys->IsSequence()) {
    reader.error("api.keys", *keys, "must be a list of {name, key...}");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < keys->size(); ++i) {
    const YAML::Node item = (*keys)[i];
    std::string key = "api.keys[" + std::to_string(i) + "]";
    if (!reader.expect_map(item, key,
                           {"name", "key", "key_file", "key_env", "scopes", "rate_limit"}))
      continue;
    ApiKey api_key;
    if (!Reader::field(item, "name")) reader.error(key + ".name", item, "is required");
    reader.read_string(item, key, "name", api_key.name, false);
    if (!api_key.name.empty() && !names.insert(api_key.name).second)
      reader.error(key + ".name", *Reader::field(item, "name"),
                   "duplicate name '" + api_key.name + "'");
    reader.read_secret(item, key, "key", api_key.key, true);
    load_api_scopes(reader, item, key, api_key);
    if (auto limit = Reader::field(item, "rate_limit"))
      load_api_rate_limit(reader, *limit, key + ".rate_limit", api_key.rate_limit);
    api.keys.push_back(std::move(api_key));
  }
}

void load_upstream(Reader& reader, const YAML::Node& node, Relay& relay) {
  const std::string key = "relay.upstream";
  if (!reader.expect_map(node, key, {"host", "port", "tls", "verify", "ca_file"})) return;
  if (reader.read_string(node, key, "host", relay.host) && !is_printable_token(relay.host))
    reader.error(key + ".host", *Reader::field(node, "host"), "must be a host name or address");
  reader.read_unsigned(node, key, "port", relay.port, 1, 65535);
  std::string tls = relay.tls == UpstreamTls::implicit ? "implicit"
                    : relay.tls == UpstreamTls::none   ? "none"
                                                       : "starttls";
  reader.read_choice(node, key, "tls", {"starttls", "implicit", "none"}, tls);
  relay.tls = tls == "implicit" ? UpstreamTls::implicit
              : tls == "none"   ? UpstreamTls::none
                                : UpstreamTls::starttls;
  reader.read_bool(node, key, "verify", relay.verify);
  reader.read_string(node, key, "ca_file", relay.ca_file);
}

void load_relay_auth(Reader& reader, const YAML::Node& node, Relay& relay) {
  const std::string key = "relay.auth";
  if (!reader.expect_map(node, key,
                         {"mechanism", "username", "password", "password_file", "password_env"}))
    return;
  reader.read_choice(node, key, "mechanism", {"auto", "plain", "login", "cram-md5", "xoauth2"},
                     relay.mechanism);
  reader.read_string(node, key, "username", relay.username);
  bool has_password = Reader::field(node, "password") || Reader::field(node, "password_file") ||
                      Reader::field(node, "password_env");
  if (!relay.username.empty() || has_password)
    reader.read_secret(node, key, "password", relay.password, true);
  if (auto file = Reader::field(node, "password_file"); file && file->IsScalar())
    relay.password_file = file->Scalar();
  if (has_password && relay.username.empty())
    reader.error(key + ".username", node, "is required when a password is set");
  if (relay.mechanism != "auto" && relay.username.empty() && !has_password)
    reader.error(key + ".username", node, "is required for mechanism " + relay.mechanism);
}

void load_relay_timeouts(Reader& reader, const YAML::Node& node, RelayTimeouts& timeouts) {
  const std::string key = "relay.timeouts";
  if (!reader.expect_map(node, key,
                         {"connect", "greeting", "command", "data_init", "data_block", "data_end"}))
    return;
  const Duration min = std::chrono::milliseconds(100);
  reader.read_duration(node, key, "connect", timeouts.connect, min);
  reader.read_duration(node, key, "greeting", timeouts.greeting, min);
  reader.read_duration(node, key, "command", timeouts.command, min);
  reader.read_duration(node, key, "data_init", timeouts.data_init, min);
  reader.read_duration(node, key, "data_block", timeouts.data_block, min);
  reader.read_duration(node, key, "data_end", timeouts.data_end, min);
}

void load_relay_rate_limit(Reader& reader, const YAML::Node& node, RelayRateLimit& limit) {
  const std::string key = "relay.rate_limit";
  if (!reader.expect_map(node, key, {"messages_per_second", "burst"})) return;
  if (!Reader::field(node, "messages_per_second"))
    reader.error(key + ".messages_per_second", node, "is required: messages a second, 1 or more");
  reader.read_unsigned(node, key, "messages_per_second", limit.messages_per_second, 1, 1000000);
  reader.read_unsigned(node, key, "burst", limit.burst, 1, 1000000);
}

// relay.return_path_domain and its secrets (README "Bounces"): both or neither.
void load_return_path(Reader& reader, const YAML::Node& node, Relay& relay) {
  auto domain_node = Reader::field(node, "return_path_domain");
  if (domain_node &&
      reader.read_string(node, "relay", "return_path_domain", relay.return_path_domain)) {
    relay.return_path_domain = lower(relay.return_path_domain);
    const std::string& domain = relay.return_path_domain;
    if (domain.empty() || domain.front() == '[' || !common::valid_domain(domain) ||
        std::any_of(domain.begin(), domain.end(), [](unsigned char c) { return c >= 0x80; }))
      reader.error("relay.return_path_domain", *domain_node,
                   "must be a domain name such as bounces.example.com, got '" +
                       relay.return_path_domain + "'");
  }
  if (auto secrets = Reader::field(node, "return_path_secrets"))
    load_hmac_secrets(reader, *secrets, "relay.return_path_secrets", relay.return_path_secrets);
  if (relay.return_path_domain.empty() != relay.return_path_secrets.empty())
    reader.error("relay.return_path_domain", node,
                 "needs both return_path_domain and return_path_secrets (the key that signs "
                 "each return path)");
}

void load_relay(Reader& reader, const YAML::Node& node, Relay& relay) {
  const std::string key = "relay";
  if (!reader.expect_map(node, key,
                         {"upstream", "auth", "hostname", "connections", "rate_limit", "retry",
                          "timeouts", "dkim", "return_path_domain", "return_path_secrets"}))
    return;
  if (auto timeouts = Reader::field(node, "timeouts"))
    load_relay_timeouts(reader, *timeouts, relay.timeouts);
  if (auto upstream = Reader::field(node, "upstream")) load_upstream(reader, *upstream, relay);
  if (auto auth = Reader::field(node, "auth")) load_relay_auth(reader, *auth, relay);
  if (reader.read_string(node, key, "hostname", relay.hostname) &&
      !is_printable_token(relay.hostname))
    reader.error("relay.hostname", *Reader::field(node, "hostname"),
                 "must be one word without spaces or control characters");
  reader.read_unsigned(node, key, "connections", relay.connections, 1, 1024);
  if (auto limit = Reader::field(node, "rate_limit"))
    load_relay_rate_limit(reader, *limit, relay.rate_limit);
  if (auto retry = Reader::field(node, "retry"))
    load_retry(reader, *retry, "relay.retry", relay.retry);
  if (auto dkim = Reader::field(node, "dkim")) load_relay_dkim(reader, *dkim, relay.dkim);
  load_return_path(reader, node, relay);
}

void load_document(Reader& reader, const YAML::Node& root, Config& config) {
  if (!root.IsNull() && !root.IsMap()) {
    reader.error("", root, "the configuration must be a mapping of sections (smtp:, routes:, ...)");
    return;
  }
  reader.expect_map(root, "",
                    {"smtp", "routes", "delivery", "store", "api", "relay", "admin", "log",
                     "memory", "dns", "authentication", "spam", "policy", "events"});
  if (auto node = Reader::field(root, "smtp")) load_smtp(reader, *node, config.smtp);
  if (auto node = Reader::field(root, "routes")) load_routes(reader, *node, config.routes);
  if (auto node = Reader::field(root, "delivery"))
    load_delivery(reader, *node, config.delivery, config.routes);
  if (auto node = Reader::field(root, "store")) load_store(reader, *node, config.store);
  if (auto node = Reader::field(root, "api")) load_api(reader, *node, config.api);
  if (auto node = Reader::field(root, "relay")) load_relay(reader, *node, config.relay);
  if (auto node = Reader::field(root, "events")) load_events(reader, *node, config.events);
  if (auto node = Reader::field(root, "admin")) {
    if (reader.expect_map(*node, "admin", {"listen", "limits"})) {
      reader.read_address(*node, "admin", "listen", config.admin.listen);
      if (auto limits = Reader::field(*node, "limits"))
        load_http_limits(reader, *limits, "admin.limits", config.admin.limits);
    }
  }
  if (auto node = Reader::field(root, "log")) {
    if (reader.expect_map(*node, "log", {"level"}))
      reader.read_choice(*node, "log", "level", {"debug", "info", "warn", "error"},
                         config.log.level);
  }
  if (auto node = Reader::field(root, "memory")) {
    if (reader.expect_map(*node, "memory", {"budget"}))
      reader.read_size(*node, "memory", "budget", config.memory.budget, 0);
  }
  load_auth_sections(reader, root, config);
  check_links_needed(reader, root, config);
}

}  // namespace
}  // namespace detail

LoadResult load_string(std::string_view yaml) {
  LoadResult result;
  Config config;
  detail::Reader reader(result.errors);
  try {
    if (auto root = detail::load_one_document(std::string(yaml), reader))
      detail::load_document(reader, *root, config);
  } catch (const YAML::Exception& e) {
    int line = e.mark.is_null() || e.mark.line < 0 ? 0 : e.mark.line + 1;
    reader.error("", line, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    reader.error("", 0, std::string("cannot load the configuration: ") + e.what());
  }
  // Report in file order, which is how a person fixes them.
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const Error& a, const Error& b) { return a.line < b.line; });
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

LoadResult load_file(const std::string& path) {
  std::string reason;
  auto text = detail::read_text_file(path, reason);
  if (!text) {
    LoadResult result;
    result.errors.push_back(Error{"", 0, reason});
    return result;
  }
  return load_string(*text);
}

}  // namespace config
