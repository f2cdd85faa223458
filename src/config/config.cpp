// Small pure helpers of the configuration: error text, the default host name, "host:port"
// splitting and recipient → route matching. No I/O except gethostname(); nothing throws.
#include "config/config.h"

#include <algorithm>

#include <unistd.h>

#include <array>
#include <cctype>
#include <charconv>
#include <climits>

namespace config {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// One match pattern against one address: "*" accepts everything, "*@domain" any local part at
// exactly that domain, anything else the exact address. Case-insensitive throughout.
bool pattern_accepts(std::string_view pattern, std::string_view address) {
  if (pattern == "*") return true;
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*@") {
    size_t at = address.rfind('@');
    if (at == std::string_view::npos || at == 0) return false;
    return iequals(pattern.substr(2), address.substr(at + 1));
  }
  return iequals(pattern, address);
}

}  // namespace

std::string Error::to_string() const {
  std::string out;
  if (line > 0) out += "line " + std::to_string(line) + ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

std::string default_hostname() {
  std::array<char, HOST_NAME_MAX + 1> buffer{};
  if (gethostname(buffer.data(), buffer.size() - 1) != 0 || buffer[0] == '\0') return "localhost";
  return std::string(buffer.data());
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    // "[v6]:port": the brackets keep the address's colons apart from the port's.
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos)
      return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '[' || c == ']' || c == '/')
      return std::nullopt;
  }
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

std::optional<size_t> match_route(const std::vector<Route>& routes, std::string_view address) {
  for (size_t i = 0; i < routes.size(); ++i) {
    for (const auto& pattern : routes[i].match) {
      if (pattern_accepts(pattern, address)) return i;
    }
  }
  return std::nullopt;
}

std::vector<RouteGroup> group_by_endpoint(const std::vector<Route>& routes,
                                          const std::vector<std::string>& rcpt_to) {
  std::vector<RouteGroup> groups;
  for (const std::string& address : rcpt_to) {
    std::optional<size_t> route = match_route(routes, address);
    if (!route) continue;
    for (size_t e = 0; e < routes[*route].endpoints.size(); ++e) {
      auto group = std::find_if(groups.begin(), groups.end(), [&](const RouteGroup& g) {
        return g.route == *route && g.endpoint == e;
      });
      if (group == groups.end()) group = groups.insert(groups.end(), RouteGroup{*route, e, {}});
      group->rcpt_to.push_back(address);
    }
  }
  return groups;
}

}  // namespace config
