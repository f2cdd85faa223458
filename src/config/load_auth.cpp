// dns:, authentication:, spam: and policy: (README "Mail authentication", issue 13), and the
// routes' policy overrides: the inbound checks, the resolver they use and what they may refuse.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "common/mailbox.h"
#include "common/url.h"
#include "config/sections.h"

namespace config::detail {

namespace {

void load_dns(Reader& reader, const YAML::Node& node, Dns& dns) {
  if (!reader.expect_map(node, "dns", {"servers", "budget"})) return;
  if (reader.read_string_list(node, "dns", "servers", dns.servers)) {
    for (const std::string& server : dns.servers)
      if (!parse_dns_server(server))
        reader.error("dns.servers", *Reader::field(node, "servers"),
                     "'" + server + "' is not an IP address with an optional port");
  }
  reader.read_duration(node, "dns", "budget", dns.budget, Duration(100));
}

void load_rspamd(Reader& reader, const YAML::Node& node, Rspamd& rspamd) {
  const std::string key = "spam.rspamd";
  if (!reader.expect_map(node, key, {"url", "timeout", "failure"})) return;
  // The client POSTs to <url>/checkv2 over the connection parse_endpoint_url describes: an
  // origin only (no path, query or fragment), like a webhook endpoint's (no userinfo).
  if (reader.read_string(node, key, "url", rspamd.url) && !rspamd.url.empty()) {
    std::optional<common::EndpointUrl> parsed = common::parse_endpoint_url(rspamd.url);
    if (!parsed || rspamd.url.find('#') != std::string::npos)
      reader.error(key + ".url", *Reader::field(node, "url"),
                   "must be an http:// or https:// URL with a host and an optional port");
    else if (parsed->path != "/")
      reader.error(key + ".url", *Reader::field(node, "url"),
                   "must have no path or query: the client POSTs to <url>/checkv2");
  }
  reader.read_duration(node, key, "timeout", rspamd.timeout, Duration(10));
  std::string failure = rspamd.fail_closed ? "defer" : "accept";
  reader.read_choice(node, key, "failure", {"accept", "defer"}, failure);
  rspamd.fail_closed = failure == "defer";
}

bool read_domains(Reader& reader, const YAML::Node& node, const std::string& key,
                  std::vector<std::string>& domains) {
  if (!reader.read_string_list(node, key, "require_dkim", domains)) return false;
  for (std::string& domain : domains) {
    domain = lower(domain);
    if (domain.empty() || domain.front() == '[' || !common::valid_domain(domain)) {
      reader.error(key + ".require_dkim", *Reader::field(node, "require_dkim"),
                   "'" + domain + "' is not a domain name");
      return false;
    }
  }
  return true;
}

}  // namespace

void load_policy(Reader& reader, const YAML::Node& node, const std::string& key,
                 PolicyOverride& policy) {
  if (!reader.expect_map(
          node, key,
          {"reject_dmarc", "reject_spf_fail", "require_dkim", "temperror", "reject_spam"}))
    return;
  auto flag = [&](const char* name, std::optional<bool>& out) {
    bool value = false;
    if (Reader::field(node, name) && reader.read_bool(node, key, name, value)) out = value;
  };
  flag("reject_dmarc", policy.reject_dmarc);
  flag("reject_spf_fail", policy.reject_spf_fail);
  flag("reject_spam", policy.reject_spam);
  if (Reader::field(node, "temperror")) {
    std::string choice;
    if (reader.read_choice(node, key, "temperror", {"accept", "defer"}, choice))
      policy.defer_temperror = choice == "defer";
  }
  if (Reader::field(node, "require_dkim")) {
    std::vector<std::string> domains;
    if (read_domains(reader, node, key, domains)) policy.require_dkim = std::move(domains);
  }
}

Policy apply(const Policy& base, const PolicyOverride& change) {
  Policy policy = base;
  if (change.reject_dmarc) policy.reject_dmarc = *change.reject_dmarc;
  if (change.reject_spf_fail) policy.reject_spf_fail = *change.reject_spf_fail;
  if (change.defer_temperror) policy.defer_temperror = *change.defer_temperror;
  if (change.reject_spam) policy.reject_spam = *change.reject_spam;
  if (change.require_dkim) policy.require_dkim = *change.require_dkim;
  return policy;
}

void load_auth_sections(Reader& reader, const YAML::Node& root, Config& config) {
  if (auto node = Reader::field(root, "dns")) load_dns(reader, *node, config.dns);
  if (auto node = Reader::field(root, "authentication")) {
    if (reader.expect_map(*node, "authentication", {"enabled", "workers"})) {
      reader.read_bool(*node, "authentication", "enabled", config.authentication.enabled);
      reader.read_unsigned(*node, "authentication", "workers", config.authentication.workers, 1,
                           1024);
    }
  }
  if (auto node = Reader::field(root, "spam")) {
    if (reader.expect_map(*node, "spam", {"rspamd"})) {
      if (auto rspamd = Reader::field(*node, "rspamd")) load_rspamd(reader, *rspamd, config.rspamd);
    }
  }
  std::optional<YAML::Node> global = Reader::field(root, "policy");
  if (global) {
    PolicyOverride read;
    load_policy(reader, *global, "policy", read);
    config.policy = apply(Policy{}, read);
  }
  // A rule that needs a verdict nobody computes would silently never apply.
  auto check = [&](const Policy& policy, const std::string& key, const YAML::Node& at) {
    bool needs_auth = policy.reject_dmarc || policy.reject_spf_fail || !policy.require_dkim.empty();
    if (needs_auth && !config.authentication.enabled)
      reader.error(key, at, "its DMARC, SPF and DKIM rules need authentication.enabled: true");
    if (policy.reject_spam && config.rspamd.url.empty())
      reader.error(key + ".reject_spam", at, "needs spam.rspamd.url");
  };
  if (global) check(config.policy, "policy", *global);
  std::optional<YAML::Node> routes = Reader::field(root, "routes");
  for (size_t i = 0; i < config.routes.size(); ++i) {
    if (config.routes[i].policy == PolicyOverride{} || !routes || !routes->IsSequence()) continue;
    check(apply(config.policy, config.routes[i].policy), "routes[" + std::to_string(i) + "].policy",
          (*routes)[i]);
  }
}

}  // namespace config::detail

namespace config {

std::optional<HostPort> parse_dns_server(std::string_view text) {
  const std::string server(text);
  std::string host = server;
  std::string port;
  if (!server.empty() && server.front() == '[') {
    size_t close = server.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = server.substr(1, close - 1);
    if (close + 1 < server.size()) {
      if (server[close + 1] != ':') return std::nullopt;
      port = server.substr(close + 2);
      if (port.empty()) return std::nullopt;
    }
  } else if (std::count(server.begin(), server.end(), ':') == 1) {
    host = server.substr(0, server.find(':'));
    port = server.substr(server.find(':') + 1);
    if (port.empty()) return std::nullopt;
  }
  unsigned char buffer[16];
  if (inet_pton(AF_INET, host.c_str(), buffer) != 1 &&
      inet_pton(AF_INET6, host.c_str(), buffer) != 1)
    return std::nullopt;
  if (port.empty()) return HostPort{host, 53};
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  unsigned long number = std::stoul(port);
  if (number < 1 || number > 65535) return std::nullopt;
  return HostPort{host, static_cast<uint16_t>(number)};
}

}  // namespace config
