// `api.links` (issue 15, README "The reply without its history, and large attachments by link"):
// the base URL receivers reach the API on and the keys that sign links to inbound parts; and the
// check that whatever makes links (routes[].attachments: url, endpoints[].max_payload_bytes) has
// them.
#include "common/url.h"
#include "config/sections.h"

namespace config::detail {
namespace {

// HMAC-SHA256 keys: shorter than 16 bytes would be guessable offline from one link.
constexpr size_t kMinSecret = 16;

}  // namespace

void load_hmac_secrets(Reader& reader, const YAML::Node& node, const std::string& key,
                       std::vector<std::string>& secrets) {
  if (!node.IsSequence() || node.size() == 0) {
    reader.error(key, node, "must be a list of at least one secret (the first signs)");
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string item_key = key + "[" + std::to_string(i) + "]";
    const YAML::Node item = node[i];
    std::string secret;
    if (item.IsScalar()) {
      secret = item.Scalar();
    } else if (!item.IsMap() ||
               !reader.expect_map(item, item_key, {"secret", "secret_file", "secret_env"}) ||
               !reader.read_secret(item, item_key, "secret", secret, true)) {
      if (!item.IsMap())
        reader.error(item_key, item,
                     "must be a secret or {secret_file: PATH} / {secret_env: NAME}");
      continue;
    }
    if (secret.size() < kMinSecret)
      reader.error(item_key, item,
                   "must be at least " + std::to_string(kMinSecret) + " bytes (a random key)");
    else
      secrets.push_back(std::move(secret));
  }
}

void load_links(Reader& reader, const YAML::Node& node, Links& links) {
  const std::string key = "api.links";
  if (!reader.expect_map(node, key, {"base_url", "secrets", "ttl"})) return;
  if (reader.read_string(node, key, "base_url", links.base_url)) {
    auto parsed = common::parse_endpoint_url(links.base_url);
    if (!is_printable_token(links.base_url) || !parsed ||
        links.base_url.find_first_of("?#") != std::string::npos)
      reader.error(key + ".base_url", *Reader::field(node, "base_url"),
                   "must be an http:// or https:// URL without query, user:password@ or "
                   "fragment, got '" +
                       links.base_url + "'");
    while (!links.base_url.empty() && links.base_url.back() == '/') links.base_url.pop_back();
  }
  if (auto secrets = Reader::field(node, "secrets"))
    load_hmac_secrets(reader, *secrets, key + ".secrets", links.secrets);
  reader.read_duration(node, key, "ttl", links.ttl, std::chrono::seconds(1));
  if (links.base_url.empty() != links.secrets.empty())
    reader.error(key, node, "needs both base_url and secrets");
}

void check_links_needed(Reader& reader, const YAML::Node& root, const Config& config) {
  if (!config.api.links.base_url.empty()) return;
  const YAML::Node routes = root["routes"];
  for (size_t r = 0; r < config.routes.size(); ++r) {
    std::string key = "routes[" + std::to_string(r) + "]";
    if (config.routes[r].attachments == AttachmentMode::url)
      reader.error(key + ".attachments", routes[r]["attachments"],
                   "url needs api.links (base_url and secrets) to sign the links");
    for (size_t e = 0; e < config.routes[r].endpoints.size(); ++e) {
      if (config.routes[r].endpoints[e].max_payload_bytes == 0) continue;
      reader.error(key + ".endpoints[" + std::to_string(e) + "].max_payload_bytes",
                   routes[r]["endpoints"][e]["max_payload_bytes"],
                   "needs api.links (base_url and secrets): bigger attachments go by link");
    }
  }
}

}  // namespace config::detail
