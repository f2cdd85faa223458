// API-key authentication (CONTRACTS.md 2 and 4): `Authorization: Bearer <key>` checked against
// every configured key in constant time, answering who the key is: its name, scopes and rate
// limits. With no key configured one is generated at start-up (full access, no limits).
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace api {

struct Reply;

// Who presented a key: config api.keys[i] without the secret, and i (the index of its buckets).
struct KeyIdentity {
  std::string name;
  std::optional<std::vector<std::string>> scopes;  // nullopt: every scope
  config::ApiRateLimit rate_limit;
  size_t index = 0;
  // RFC 6749 3.3-style scope check: a key without scopes may do everything.
  bool allows(std::string_view scope) const;
};

// 403 insufficient-scope problem+json naming `scope` (detail and a "scope" member), with RFC 6750
// 3.1's WWW-Authenticate error="insufficient_scope".
Reply insufficient_scope(const KeyIdentity& key, std::string_view scope);

class KeyRing {
 public:
  // Keeps digests of `keys`; when `keys` is empty, generates one (generated() returns it).
  explicit KeyRing(const std::vector<config::ApiKey>& keys);
  // True when `authorization` is "Bearer <key>" with a known key. Every key is compared, each
  // in constant time, so the time taken does not tell which key or how much of it matched.
  bool authorized(std::string_view authorization) const;
  // The name of the key presented (config api.keys[].name; "generated" for the generated key),
  // or nullopt when authorization is not "Bearer <known key>". Same constant-time comparison:
  // the send API scopes Idempotency-Key values by this name.
  std::optional<std::string> authorize(std::string_view authorization) const;
  // The identity of the key presented, or null; the pointer lives as long as the ring.
  const KeyIdentity* identify(std::string_view authorization) const;
  // Every key, in config order (identity.index is its position here).
  const std::vector<KeyIdentity>& keys() const { return identities_; }
  // The generated key ("" when keys were configured). Shown once at start-up, never again.
  const std::string& generated() const { return generated_; }

 private:
  using Digest = std::array<unsigned char, 32>;
  std::vector<Digest> digests_;
  std::vector<KeyIdentity> identities_;  // identities_[i] belongs to digests_[i]
  std::string generated_;
};

// "sbk_" + 32 random bytes (OpenSSL RAND_bytes) in base64url without padding.
std::string generate_key();

}  // namespace api
