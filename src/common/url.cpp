#include "common/url.h"

#include <cctype>
#include <charconv>

namespace common {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool parse_port(std::string_view text, unsigned& port) {
  if (text.empty() || text.size() > 5) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port > 0 && port <= 65535;
}

}  // namespace

std::optional<EndpointUrl> parse_endpoint_url(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  path = path.substr(0, path.find('#'));  // RFC 3986 3.5: the fragment is not sent
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;

  std::string_view host = authority;
  std::string_view port_text;
  if (authority.front() == '[') {  // RFC 3986 3.2.2 IP-literal
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    if (!after.empty()) port_text = after.substr(1);
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return std::nullopt;
  unsigned port = scheme == "https" ? 443 : 80;
  if (!port_text.empty() && !parse_port(port_text, port)) return std::nullopt;

  EndpointUrl parsed;
  parsed.origin = scheme + "://" + lower(host) + ":" + std::to_string(port);
  parsed.path = path.empty() ? "/" : std::string(path);
  if (parsed.path.front() == '?') parsed.path.insert(0, "/");
  return parsed;
}

Origin split_origin(const std::string& origin) {
  Origin split;
  size_t host_at = origin.find("://") + 3;
  size_t colon = origin.rfind(':');
  split.https = origin.compare(0, host_at, "https://") == 0;
  std::string host = origin.substr(host_at, colon - host_at);
  split.port = std::stoi(origin.substr(colon + 1));
  split.host = host.size() > 1 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  split.host_header = host;
  if (split.port != (split.https ? 443 : 80)) split.host_header += ":" + std::to_string(split.port);
  return split;
}

}  // namespace common
