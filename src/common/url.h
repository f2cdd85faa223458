// Webhook endpoint URLs: what the configuration accepts and how the dispatcher connects, from one
// parser, so a URL that loads is a URL that can be POSTed to.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace common {

struct EndpointUrl {
  std::string origin;  // "https://host:443": the connection key and the metrics label
  std::string path;    // "/hooks/mail?x=1": what is POSTed to; "/" when the URL has none
};
// http or https URLs only (scheme case-insensitive, default ports 80/443, port 1-65535, "[v6]"
// hosts; RFC 3986 3.5: a fragment is dropped); nullopt for anything else (userinfo included: it
// would be a secret in the metrics label).
std::optional<EndpointUrl> parse_endpoint_url(std::string_view url);

}  // namespace common
