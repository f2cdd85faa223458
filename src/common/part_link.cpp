// HMAC-SHA256 of signed part links with OpenSSL's one-shot HMAC(); see part_link.h.
#include "common/part_link.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

#include "common/base64.h"

namespace common {
namespace {

// RFC 4648 5: '+' '/' → '-' '_', no '=' (the signature sits in a query string unescaped).
std::string base64url(std::string_view bytes) {
  std::string text = base64_encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return text;
}

}  // namespace

std::string part_link_signature(std::string_view secret, std::string_view message_id,
                                std::string_view part, int64_t expires) {
  std::string data;
  data.append(message_id).append("/").append(part).append("/").append(std::to_string(expires));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return base64url(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string part_link(std::string_view base_url, std::string_view secret,
                      std::string_view message_id, std::string_view part, int64_t expires) {
  std::string link(base_url);
  link.append("/v1/inbound/").append(message_id);
  link.append(part == "raw" ? std::string("/raw") : "/parts/" + std::string(part));
  link.append("?expires=").append(std::to_string(expires));
  link.append("&signature=").append(part_link_signature(secret, message_id, part, expires));
  return link;
}

LinkCheck check_part_link(const std::vector<std::string>& secrets, std::string_view message_id,
                          std::string_view part, std::string_view expires,
                          std::string_view signature, int64_t now) {
  int64_t when = 0;
  auto [end, error] = std::from_chars(expires.data(), expires.data() + expires.size(), when);
  // Only the form part_link writes: "01000" is not the link that was signed.
  if (error != std::errc() || end != expires.data() + expires.size() ||
      std::to_string(when) != expires)
    return LinkCheck::bad_signature;
  for (const std::string& secret : secrets) {
    std::string expected = part_link_signature(secret, message_id, part, when);
    if (expected.size() == signature.size() &&
        CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0)
      return when < now ? LinkCheck::expired : LinkCheck::valid;
  }
  return LinkCheck::bad_signature;
}

}  // namespace common
