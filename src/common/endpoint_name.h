// The default name of a webhook endpoint (routes[].endpoints[].name, issue 11): deliveries are
// stored under the endpoint's name, not its URL, so that a URL may change under the same name.
// Header-only (shared by config, the store's migration and the app): "host" or "host:port" (the
// port only when not the scheme's default, so http → https keeps the name), then, when the URL
// has a path other than "/" or a query, "/" and 8 hex digits of the FNV-1a 32-bit hash of the
// path (trailing "/" dropped) and "?query": the path and query often carry a capability token,
// and a name is shown by the API and in logs, so neither appears in it.
#pragma once
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "common/url.h"

namespace common {

inline uint32_t fnv1a32(std::string_view text) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

// nullopt when `url` is not an endpoint URL (parse_endpoint_url).
inline std::optional<std::string> default_endpoint_name(std::string_view url) {
  std::optional<EndpointUrl> parsed = parse_endpoint_url(url);
  if (!parsed) return std::nullopt;
  // origin = "scheme://host:port"
  size_t host_at = parsed->origin.find("://") + 3;
  size_t colon = parsed->origin.rfind(':');
  std::string scheme = parsed->origin.substr(0, host_at - 3);
  std::string host = parsed->origin.substr(host_at, colon - host_at);
  std::string port = parsed->origin.substr(colon + 1);
  std::string name = host;
  if (!(scheme == "http" && port == "80") && !(scheme == "https" && port == "443"))
    name += ":" + port;
  std::string rest = parsed->path;  // "/..." with the query
  size_t query = rest.find('?');
  std::string path = rest.substr(0, query);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (query != std::string::npos && query + 1 < rest.size()) path += rest.substr(query);
  if (path.empty()) return name;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", fnv1a32(path));
  return name + "/" + hex;
}

}  // namespace common
