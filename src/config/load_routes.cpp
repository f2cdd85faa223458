// The `routes:` section: which recipients the bridge accepts and where their mail is posted.
// Patterns, endpoint URLs, signing secrets and extra headers are all checked at load.
#include <cctype>

#include "common/base64.h"
#include "common/endpoint_name.h"
#include "common/url.h"
#include "config/sections.h"

namespace config::detail {
namespace {

// "*", "*@domain" or "local@domain", nothing else (config.h, match_route).
bool valid_pattern(std::string_view pattern) {
  if (pattern == "*") return true;
  if (!is_printable_token(pattern)) return false;
  size_t at = pattern.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == pattern.size()) return false;
  std::string_view local = pattern.substr(0, at);
  std::string_view domain = pattern.substr(at + 1);
  // match_route knows no partial wildcards: "sup*@x" would only ever match itself.
  if (local != "*" && local.find('*') != std::string_view::npos) return false;
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

// A Standard Webhooks secret (CONTRACTS.md 1): "whsec_" and the key in base64. A secret the
// signer could not use would send the POSTs unsigned, so it is an error here. The secret itself
// never appears in the message.
void check_webhook_secret(Reader& reader, const std::string& key, const YAML::Node& at,
                          std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) != kPrefix) {
    reader.error(key, at, "must be whsec_ followed by the key in base64 (Standard Webhooks)");
    return;
  }
  std::optional<std::string> key_bytes = common::base64_decode(secret.substr(kPrefix.size()));
  if (!key_bytes)
    reader.error(key, at, "the key after whsec_ is not base64 (standard alphabet, padded)");
  else if (key_bytes->empty())
    reader.error(key, at, "the key after whsec_ is empty");
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
      if (item.Scalar().empty()) {
        reader.error(item_key, item, "the secret is empty");
      } else {
        check_webhook_secret(reader, item_key, item, item.Scalar());
        secrets.push_back(item.Scalar());
      }
    } else if (item.IsMap()) {
      if (reader.expect_map(item, item_key, {"secret", "secret_file", "secret_env"}) &&
          reader.read_secret(item, item_key, "secret", secret, true)) {
        check_webhook_secret(reader, item_key, item, secret);
        secrets.push_back(std::move(secret));
      }
    } else {
      reader.error(item_key, item, "must be a secret or {secret_file: PATH} / {secret_env: NAME}");
    }
  }
}

// RFC 3986 2.1 percent-decoding of userinfo; nullopt for a bad escape.
std::optional<std::string> percent_decoded(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

// Postmark posts with HTTP basic auth from the URL's user:password@ (its inbound webhook docs):
// for that format only, the userinfo is taken out of the URL into basic_auth, so that the URL
// the rest of the bridge shows, logs and names deliveries by never carries it. True when the URL
// had none or it was moved; false (error reported) when it is malformed.
bool move_userinfo(Reader& reader, const YAML::Node& at, const std::string& key,
                   Endpoint& endpoint) {
  size_t scheme = endpoint.url.find("://");
  if (scheme == std::string::npos) return true;
  size_t authority = scheme + 3;
  size_t end = endpoint.url.find_first_of("/?#", authority);
  size_t at_sign = endpoint.url.rfind('@', end == std::string::npos ? std::string::npos : end - 1);
  if (at_sign == std::string::npos || at_sign < authority) return true;
  std::string userinfo = endpoint.url.substr(authority, at_sign - authority);
  auto decoded = percent_decoded(userinfo);
  if (!endpoint.basic_auth.empty()) {
    reader.error(key + ".url", at, "set either basic_auth or a user:password@ in the URL");
    return false;
  }
  if (!decoded || decoded->find(':') == std::string::npos || decoded->front() == ':') {
    reader.error(key + ".url", at,
                 "the user:password@ of a postmark URL must be percent-encoded "
                 "user:password");
    return false;
  }
  endpoint.basic_auth = std::move(*decoded);
  endpoint.url.erase(authority, at_sign + 1 - authority);
  return true;
}

void load_endpoint_format(Reader& reader, const YAML::Node& node, const std::string& key,
                          Endpoint& endpoint) {
  std::string format = "bridge.v1";
  if (reader.read_choice(node, key, "format", {"bridge.v1", "postmark", "mailgun"}, format))
    endpoint.format = format == "postmark"  ? PayloadFormat::postmark
                      : format == "mailgun" ? PayloadFormat::mailgun
                                            : PayloadFormat::bridge_v1;
  bool has_key = reader.read_secret(node, key, "signing_key", endpoint.signing_key, false);
  if (endpoint.format == PayloadFormat::mailgun && !has_key)
    reader.error(key + ".signing_key", node,
                 "is required with format mailgun (its HTTP webhook signing key: receivers "
                 "verify `signature` with it)");
  if (endpoint.format != PayloadFormat::mailgun && has_key)
    reader.error(key + ".signing_key", node, "is only used with format mailgun");
  reader.read_size(node, key, "max_payload_bytes", endpoint.max_payload_bytes);
  // The same credentials as a URL's user:password@, from a Secret rather than the URL (which a
  // ConfigMap, logs and the API would show).
  if (reader.read_secret(node, key, "basic_auth", endpoint.basic_auth, false)) {
    if (endpoint.format != PayloadFormat::postmark)
      reader.error(key + ".basic_auth", node, "is only used with format postmark");
    else if (endpoint.basic_auth.find(':') == std::string::npos || endpoint.basic_auth[0] == ':')
      reader.error(key + ".basic_auth", node, "must be user:password");
  }
}

void load_endpoint(Reader& reader, const YAML::Node& node, const std::string& key,
                   Endpoint& endpoint) {
  if (!reader.expect_map(
          node, key,
          {"name", "url", "secret", "secret_file", "secret_env", "secrets", "timeout", "headers",
           "ca_file", "format", "max_payload_bytes", "signing_key", "signing_key_file",
           "signing_key_env", "basic_auth", "basic_auth_file", "basic_auth_env"}))
    return;
  load_endpoint_fields(reader, node, key, endpoint);
}

}  // namespace

void load_endpoint_fields(Reader& reader, const YAML::Node& node, const std::string& key,
                          Endpoint& endpoint) {
  load_endpoint_format(reader, node, key, endpoint);
  auto url = Reader::field(node, "url");
  if (!url)
    reader.error(key + ".url", node, "is required");
  else if (reader.read_string(node, key, "url", endpoint.url)) {
    bool moved = endpoint.format != PayloadFormat::postmark ||
                 (is_printable_token(endpoint.url) && move_userinfo(reader, *url, key, endpoint));
    // The dispatcher's own parser: a URL that loads is one it can POST to. Never echoed when
    // it may hold a password.
    if (moved && (!is_printable_token(endpoint.url) || !common::parse_endpoint_url(endpoint.url)))
      reader.error(key + ".url", *url,
                   "must be an http:// or https:// URL with a host, an optional port 1-65535 "
                   "and no user:password@ (format postmark only), got '" +
                       (endpoint.url.find('@') == std::string::npos ? endpoint.url
                                                                    : std::string("(hidden)")) +
                       "'");
  }
  // The name deliveries are stored under; shown by the API and in logs (so never the URL's path).
  if (auto name = Reader::field(node, "name")) {
    if (reader.read_string(node, key, "name", endpoint.name) &&
        (endpoint.name.empty() || endpoint.name.size() > 128 || !is_printable_token(endpoint.name)))
      reader.error(key + ".name", *name,
                   "must be 1 to 128 characters without spaces or control characters");
  } else if (auto derived = common::default_endpoint_name(endpoint.url)) {
    endpoint.name = *derived;
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
    if (reader.read_secret(node, key, "secret", secret, false)) {
      std::string used = Reader::field(node, "secret_file")  ? "secret_file"
                         : Reader::field(node, "secret_env") ? "secret_env"
                                                             : "secret";
      check_webhook_secret(reader, key + "." + used, *Reader::field(node, used), secret);
      endpoint.secrets.push_back(secret);
    }
  }
  reader.read_duration(node, key, "timeout", endpoint.timeout, std::chrono::milliseconds(1));
  if (auto headers = Reader::field(node, "headers"))
    load_headers(reader, *headers, key + ".headers", endpoint.headers);
  // A PEM bundle the HTTPS client trusts instead of the system store; opened at each connect.
  if (reader.read_string(node, key, "ca_file", endpoint.ca_file))
    check_readable(reader, node, key, "ca_file", endpoint.ca_file);
}

namespace {

void load_route(Reader& reader, const YAML::Node& node, const std::string& key, Route& route) {
  if (!reader.expect_map(node, key,
                         {"match", "endpoints", "include_raw", "max_attachment_bytes", "policy",
                          "attachments", "attachment_url_threshold", "extract_reply"}))
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
  std::string mode = "inline";
  if (reader.read_choice(node, key, "attachments", {"inline", "url"}, mode))
    route.attachments = mode == "url" ? AttachmentMode::url : AttachmentMode::inline_content;
  reader.read_size(node, key, "attachment_url_threshold", route.attachment_url_threshold);
  reader.read_bool(node, key, "extract_reply", route.extract_reply);
  if (auto policy = Reader::field(node, "policy"))
    load_policy(reader, *policy, key + ".policy", route.policy);
}

// The route settings the document of an endpoint's deliveries is rendered with.
bool same_payload(const Route& a, const Route& b) {
  return a.include_raw == b.include_raw && a.max_attachment_bytes == b.max_attachment_bytes &&
         a.attachments == b.attachments &&
         a.attachment_url_threshold == b.attachment_url_threshold &&
         a.extract_reply == b.extract_reply;
}

// Deliveries are stored under their endpoint's name, and the dispatcher finds an endpoint's
// settings by it. So the same endpoint may serve several routes (each POST carries its own route's
// recipients), but one name has one set of settings, and a route lists a name once (or every
// message to it would be POSTed twice). The SMTP side names a delivery's endpoint by its URL, and
// the store maps the URL to its name: so one URL has one name too.
void check_shared_endpoints(Reader& reader, const YAML::Node& node,
                            const std::vector<Route>& routes) {
  auto key_of = [](size_t route, size_t endpoint) {
    return "routes[" + std::to_string(route) + "].endpoints[" + std::to_string(endpoint) + "]";
  };
  for (size_t r = 0; r < routes.size(); ++r) {
    for (size_t e = 0; e < routes[r].endpoints.size(); ++e) {
      const Endpoint& endpoint = routes[r].endpoints[e];
      if (endpoint.url.empty() || endpoint.name.empty()) continue;  // reported already
      // Read as strings, so the route, its endpoints and this entry are maps.
      const YAML::Node entry = node[r]["endpoints"][e];
      // A derived name's conflict is its URL's: reported there.
      const std::string field = entry["name"] ? ".name" : ".url";
      const YAML::Node at = entry[field.substr(1)];
      bool reported = false;
      for (size_t r0 = 0; r0 <= r && !reported; ++r0) {
        size_t last = r0 == r ? e : routes[r0].endpoints.size();
        for (size_t e0 = 0; e0 < last && !reported; ++e0) {
          const Endpoint& other = routes[r0].endpoints[e0];
          if (other.name == endpoint.name) {
            reported = true;
            if (r0 == r) {
              reader.error(key_of(r, e) + field, at,
                           "'" + endpoint.name + "' is listed twice in this route");
            } else if (!(other == endpoint) || !same_payload(routes[r0], routes[r])) {
              reader.error(
                  key_of(r, e) + field, at,
                  "'" + endpoint.name + "' is also " + key_of(r0, e0) +
                      ", with other settings: deliveries are stored by endpoint name, so "
                      "one name has one url, one set of endpoint settings and one include_raw, "
                      "max_attachment_bytes, attachments, attachment_url_threshold and "
                      "extract_reply");
            }
          } else if (other.url == endpoint.url) {
            reported = true;
            reader.error(key_of(r, e) + ".url", entry["url"],
                         "is also the url of " + key_of(r0, e0) + " ('" + other.name +
                             "'): one url has one endpoint name");
          }
        }
      }
    }
  }
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
  check_shared_endpoints(reader, node, routes);
}

bool is_printable_token(std::string_view text) {
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace config::detail
