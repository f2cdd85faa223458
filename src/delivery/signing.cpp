// Standard Webhooks signing (CONTRACTS.md 1): "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per
// secret, the key being the base64 after "whsec_". Pure; secrets that cannot be decoded are skipped
// (the configuration refuses them before they get here).
#include "delivery/signing.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <initializer_list>
#include <memory>
#include <string>

#include "common/base64.h"

namespace delivery {

std::optional<std::string> secret_key(std::string_view secret) {
  constexpr std::string_view prefix = "whsec_";
  if (secret.substr(0, prefix.size()) != prefix) return std::nullopt;
  return common::base64_decode(secret.substr(prefix.size()));
}

namespace {

// HMAC-SHA256 of `parts` in order, as if joined (the body is not copied), or nullopt on failure.
// The HMAC implementation is fetched once: OpenSSL 3's one-shot HMAC() fetches it per call.
std::optional<std::string> hmac_sha256(std::string_view key,
                                       std::initializer_list<std::string_view> parts) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return std::nullopt;
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(mac),
                                                                &EVP_MAC_CTX_free);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  static const unsigned char empty_key = 0;  // the key pointer must not be null, even when empty
  const auto* key_bytes =
      key.empty() ? &empty_key : reinterpret_cast<const unsigned char*>(key.data());
  if (!ctx || EVP_MAC_init(ctx.get(), key_bytes, key.size(), params) != 1) return std::nullopt;
  for (std::string_view part : parts)
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()),
                       part.size()) != 1)
      return std::nullopt;
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t length = 0;
  if (EVP_MAC_final(ctx.get(), out, &length, sizeof out) != 1) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out), length);
}

}  // namespace

std::string sign(const std::vector<std::string>& secrets, std::string_view webhook_id,
                 int64_t timestamp, std::string_view body) {
  const std::string stamp = std::to_string(timestamp);
  std::string signatures;
  for (const std::string& secret : secrets) {
    std::optional<std::string> key = secret_key(secret);
    if (!key) continue;
    std::optional<std::string> mac = hmac_sha256(*key, {webhook_id, ".", stamp, ".", body});
    if (!mac) continue;
    if (!signatures.empty()) signatures += ' ';
    signatures += "v1,";
    signatures += common::base64_encode(*mac);
  }
  return signatures;
}

}  // namespace delivery
