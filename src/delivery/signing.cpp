// Standard Webhooks signing (CONTRACTS.md 1): "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per
// secret, the key being the base64 after "whsec_". Pure; secrets that cannot be decoded are skipped
// (config validation rejects them before they get here).
#include "delivery/signing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "common/base64.h"

namespace delivery {

std::optional<std::string> secret_key(std::string_view secret) {
  constexpr std::string_view prefix = "whsec_";
  if (secret.substr(0, prefix.size()) != prefix) return std::string(secret);
  return common::base64_decode(secret.substr(prefix.size()));
}

std::string sign(const std::vector<std::string>& secrets, std::string_view webhook_id, int64_t timestamp,
                 std::string_view body) {
  std::string content;
  content.reserve(webhook_id.size() + body.size() + 24);
  content.append(webhook_id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  std::string signatures;
  for (const std::string& secret : secrets) {
    std::optional<std::string> key = secret_key(secret);
    if (!key) continue;
    static const unsigned char empty_key = 0;  // HMAC() wants a non-null key even when it is empty
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    const void* key_bytes = key->empty() ? static_cast<const void*>(&empty_key) : key->data();
    if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key->size()), reinterpret_cast<const unsigned char*>(content.data()),
             content.size(), mac, &length) == nullptr)
      continue;
    if (!signatures.empty()) signatures += ' ';
    signatures += "v1,";
    signatures += common::base64_encode(std::string_view(reinterpret_cast<const char*>(mac), length));
  }
  return signatures;
}

}  // namespace delivery
