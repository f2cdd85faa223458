// API-key authentication (CONTRACTS.md 2 and 4): `Authorization: Bearer <key>` checked against
// every configured key in constant time. With no key configured one is generated at start-up.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace api {

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
  // The generated key ("" when keys were configured). Shown once at start-up, never again.
  const std::string& generated() const { return generated_; }

 private:
  using Digest = std::array<unsigned char, 32>;
  std::vector<Digest> digests_;
  std::vector<std::string> names_;  // names_[i] belongs to digests_[i]
  std::string generated_;
};

// "sbk_" + 32 random bytes (OpenSSL RAND_bytes) in base64url without padding.
std::string generate_key();

}  // namespace api
