// The `routes:` section: which recipients the bridge accepts and where their mail is posted.
// Patterns, endpoint URLs, signing secrets and extra headers are all checked at load.
#include <cctype>

#include "config/sections.h"

namespace config::detail {
namespace {

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// "*", "*@domain" or "local@domain", nothing else (config.h, match_route).
bool valid_pattern(std::string_view pattern) {
  if (pattern == "*") return true;
  if (!is_printable_token(pattern)) return false;
  size_t at = pattern.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == pattern.size()) return false;
  std::string_view domain = pattern.substr(at + 1);
  return domain.find('*') == std::string_view::npos;
}

// RFC 9110 5.1 field-name = token; RFC 9110 5.5 field values carry no CR, LF or NUL.
bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) &&
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void load_match(Reader& reader, const YAML::Node& node, const std::string& key, Route& route) {
  auto match = Reader::field(node, "match");
  if (!match) {
    reader.error(key + ".match", node, "is required");
    return;
  }
  if (!reader.read_string_list(node, key, "match", route.match)) return;
  if (route.match.empty()) reader.error(key + ".match", *match, "must list at least one address");
  for (size_t i = 0; i < route.match.size(); ++i) {
    if (valid_pattern(route.match[i])) continue;
    std::string entry_key = key + ".match";
    if (match->IsSequence()) entry_key += "[" + std::to_string(i) + "]";
    reader.error(entry_key, match->IsSequence() ? (*match)[i] : *match,
                 "must be \"*\", \"*@domain\" or \"user@domain\", got '" + route.match[i] + "'");
  }
}

void load_headers(Reader& reader, const YAML::Node& node, const std::string& key,
                  std::map<std::string, std::string>& headers) {
  if (!node.IsMap()) {
    reader.error(key, node, "must be a mapping of header names to values");
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    std::string header_key = key + "." + name;
    if (!valid_header_name(name)) {
      reader.error(header_key, it->first, "is not a valid HTTP header name");
      continue;
    }
    auto value = reader.scalar(it->second, header_key, "a string");
    if (!value) continue;
    if (!valid_header_value(*value))
      reader.error(header_key, it->second, "must not contain CR, LF or NUL");
    else if (!headers.emplace(name, *value).second)
      reader.error(header_key, it->first, "duplicate header");
  }
}

// `secrets:` — several while rotating; each a literal or {secret|secret_file|secret_env}.
void load_secret_list(Reader& reader, const YAML::Node& node, const std::string& key,
                      std::vector<std::string>& secrets) {
  if (!node.IsSequence()) {
    reader.error(key, node, "must be a list of secrets");
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string item_key = key + "[" + std::to_string(i) + "]";
    const YAML::Node item = node[i];
    std::string secret;
    if (item.IsScalar()) {
      if (item.Scalar().empty())
        reader.error(item_key, item, "the secret is empty");
      else
        secrets.push_back(item.Scalar());
    } else if (item.IsMap()) {
      if (reader.expect_map(item, item_key, {"secret", "secret_file", "secret_env"}) &&
          reader.read_secret(item, item_key, "secret", secret, true))
        secrets.push_back(std::move(secret));
    } else {
      reader.error(item_key, item, "must be a secret or {secret_file: PATH} / {secret_env: NAME}");
    }
  }
}

void load_endpoint(Reader& reader, const YAML::Node& node, const std::string& key,
                   Endpoint& endpoint) {
  if (!reader.expect_map(node, key,
                         {"url", "secret", "secret_file", "secret_env", "secrets", "timeout",
                          "headers", "ca_file"}))
    return;
  auto url = Reader::field(node, "url");
  if (!url)
    reader.error(key + ".url", node, "is required");
  else if (reader.read_string(node, key, "url", endpoint.url)) {
    bool http = starts_with_nocase(endpoint.url, "http://") && endpoint.url.size() > 7;
    bool https = starts_with_nocase(endpoint.url, "https://") && endpoint.url.size() > 8;
    if ((!http && !https) || !is_printable_token(endpoint.url))
      reader.error(key + ".url", *url,
                   "must be an http:// or https:// URL, got '" + endpoint.url + "'");
  }
  auto list = Reader::field(node, "secrets");
  bool single = Reader::field(node, "secret") || Reader::field(node, "secret_file") ||
                Reader::field(node, "secret_env");
  if (list && single) {
    reader.error(key, node, "set either secrets or one of secret, secret_file, secret_env");
  } else if (list) {
    load_secret_list(reader, *list, key + ".secrets", endpoint.secrets);
  } else {
    std::string secret;
    if (reader.read_secret(node, key, "secret", secret, false)) endpoint.secrets.push_back(secret);
  }
  reader.read_duration(node, key, "timeout", endpoint.timeout, std::chrono::milliseconds(1));
  if (auto headers = Reader::field(node, "headers"))
    load_headers(reader, *headers, key + ".headers", endpoint.headers);
  // A PEM bundle the HTTPS client trusts instead of the system store; opened at each connect.
  if (reader.read_string(node, key, "ca_file", endpoint.ca_file))
    check_readable(reader, node, key, "ca_file", endpoint.ca_file);
}

void load_route(Reader& reader, const YAML::Node& node, const std::string& key, Route& route) {
  if (!reader.expect_map(node, key, {"match", "endpoints", "include_raw", "max_attachment_bytes"}))
    return;
  if (node.IsNull()) {
    reader.error(key + ".match", node, "is required");
    return;
  }
  load_match(reader, node, key, route);
  if (auto endpoints = Reader::field(node, "endpoints")) {
    if (!endpoints->IsSequence()) {
      reader.error(key + ".endpoints", *endpoints, "must be a list of {url, ...}");
    } else {
      for (size_t i = 0; i < endpoints->size(); ++i) {
        Endpoint endpoint;
        load_endpoint(reader, (*endpoints)[i], key + ".endpoints[" + std::to_string(i) + "]",
                      endpoint);
        route.endpoints.push_back(std::move(endpoint));
      }
    }
  }
  reader.read_bool(node, key, "include_raw", route.include_raw);
  reader.read_size(node, key, "max_attachment_bytes", route.max_attachment_bytes);
}

}  // namespace

void load_routes(Reader& reader, const YAML::Node& node, std::vector<Route>& routes) {
  if (!node.IsSequence()) {
    reader.error("routes", node, "must be a list of routes");
    return;
  }
  routes.clear();  // a present list replaces the default catch-all
  for (size_t i = 0; i < node.size(); ++i) {
    Route route;
    route.match.clear();
    load_route(reader, node[i], "routes[" + std::to_string(i) + "]", route);
    routes.push_back(std::move(route));
  }
}

bool is_printable_token(std::string_view text) {
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace config::detail
