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

// An origin ("scheme://host:port", from parse_endpoint_url) split for httplib's host-and-port
// constructors. httplib 0.11's Client(scheme_host_port) matches an IPv6 literal with [\d:]+ only,
// so an address with hex letters ([2001:db8::a], [::ffff:...]) never connected: the brackets are
// taken off here (for getaddrinfo and the certificate's IP check) and put back in Host.
struct Origin {
  bool https = false;
  std::string host;  // without brackets
  int port = 0;
  std::string host_header;  // RFC 9110 7.2: "[v6]" with ":port" unless the scheme's default
};
Origin split_origin(const std::string& origin);

}  // namespace common
