// relay.dkim (README "DKIM signing"): the keys the relay signs outbound mail with. Each key file
// is read and parsed now, so that --check-config catches a missing, unreadable, encrypted,
// too small or wrong-typed key; the relay reads the files again when they change (rotation).
#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "common/mailbox.h"
#include "config/dkim_key.h"
#include "config/sections.h"

namespace config::detail {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

namespace {

// A DNS name of dot-separated labels (RFC 6376 3.1 selector, 3.5 d=); no address literals.
bool valid_dns_name(std::string_view name) {
  return !name.empty() && name.front() != '[' && common::valid_domain(name) &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x80; });
}

void load_dkim_key(Reader& reader, const YAML::Node& item, const std::string& key, DkimKey& dkim) {
  if (!reader.expect_map(item, key, {"domain", "selector", "key_file"})) return;
  for (const char* name : {"domain", "selector", "key_file"})
    if (!Reader::field(item, name)) reader.error(join_key(key, name), item, "is required");
  if (reader.read_string(item, key, "domain", dkim.domain, false) && !dkim.domain.empty() &&
      !valid_dns_name(dkim.domain))
    reader.error(key + ".domain", *Reader::field(item, "domain"), "must be a domain name");
  dkim.domain = lower(dkim.domain);
  if (reader.read_string(item, key, "selector", dkim.selector, false) && !dkim.selector.empty() &&
      !valid_dns_name(dkim.selector))
    reader.error(key + ".selector", *Reader::field(item, "selector"),
                 "must be dot-separated DNS labels (RFC 6376 3.1)");
  if (!reader.read_string(item, key, "key_file", dkim.key_file, false) || dkim.key_file.empty())
    return;
  const YAML::Node at = *Reader::field(item, "key_file");
  std::string reason;
  auto pem = read_text_file(dkim.key_file, reason);
  if (!pem) {
    reader.error(key + ".key_file", at, reason);
    return;
  }
  auto info = inspect_dkim_key(*pem, reason);
  if (!info) {
    reader.error(key + ".key_file", at, "'" + dkim.key_file + "' is " + reason);
    return;
  }
  dkim.algorithm = info->algorithm;
}

}  // namespace

void load_relay_dkim(Reader& reader, const YAML::Node& node, std::vector<DkimKey>& keys) {
  if (!node.IsSequence()) {
    reader.error("relay.dkim", node, "must be a list of {domain, selector, key_file}");
    return;
  }
  std::set<std::pair<std::string, std::string>> seen;  // (domain, algorithm)
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string key = "relay.dkim[" + std::to_string(i) + "]";
    DkimKey dkim;
    load_dkim_key(reader, node[i], key, dkim);
    if (dkim.algorithm.empty()) continue;  // reported above
    // One key per domain and algorithm: RSA plus Ed25519 is dual signing (RFC 8463 4), two of
    // the same kind would only make two signatures a verifier treats alike.
    if (!seen.insert({dkim.domain, dkim.algorithm}).second)
      reader.error(key, node[i],
                   "a second " + dkim.algorithm + " key for domain '" + dkim.domain + "'");
    keys.push_back(std::move(dkim));
  }
}

}  // namespace config::detail
