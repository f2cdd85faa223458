// VERP return paths: HMAC-SHA256 tags with OpenSSL's one-shot HMAC(); see return_path.h.
#include "common/return_path.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <charconv>

namespace common {
namespace {

constexpr std::string_view kPrefix = "bounces+";
constexpr size_t kTagDigits = 10;
constexpr int kMaxPosition = 1000000;  // far above any recipient list the API takes

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string tag(std::string_view secret, std::string_view message_id, int position) {
  std::string data = "return-path/";
  data.append(message_id).append("/").append(std::to_string(position));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; hex.size() < kTagDigits; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

bool all_hex(std::string_view text) {
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// "0190f1c2a3b47c3d8e9f00112233aabb" → "0190f1c2-a3b4-7c3d-8e9f-00112233aabb"
std::string with_dashes(std::string_view hex) {
  std::string id;
  id.reserve(hex.size() + 4);
  for (size_t i = 0; i < hex.size(); ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id.push_back('-');
    id.push_back(hex[i]);
  }
  return id;
}

}  // namespace

std::string return_path(std::string_view domain, std::string_view secret,
                        std::string_view message_id, int position) {
  std::string compact;
  for (char c : message_id)
    if (c != '-') compact.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::string id = with_dashes(compact);
  std::string address(kPrefix);
  address.append(compact).append("-").append(std::to_string(position)).append("-");
  address.append(tag(secret, id, position)).append("@").append(domain);
  return address;
}

bool on_return_path_domain(std::string_view address, std::string_view domain) {
  size_t at = address.rfind('@');
  return at != std::string_view::npos && !domain.empty() &&
         lower(address.substr(at + 1)) == lower(domain);
}

std::optional<ReturnPathTarget> parse_return_path(std::string_view address, std::string_view domain,
                                                  const std::vector<std::string>& secrets) {
  if (!on_return_path_domain(address, domain)) return std::nullopt;
  std::string local = lower(address.substr(0, address.rfind('@')));
  if (local.size() > 64 || !local.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = std::string_view(local).substr(kPrefix.size());
  size_t dash1 = rest.find('-');
  size_t dash2 = dash1 == std::string_view::npos ? dash1 : rest.find('-', dash1 + 1);
  if (dash1 != 32 || dash2 == std::string_view::npos) return std::nullopt;
  std::string_view hex = rest.substr(0, 32);
  std::string_view number = rest.substr(dash1 + 1, dash2 - dash1 - 1);
  std::string_view given = rest.substr(dash2 + 1);
  int position = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), position);
  if (!all_hex(hex) || error != std::errc() || end != number.data() + number.size() ||
      std::to_string(position) != number || position < 0 || position > kMaxPosition ||
      given.size() != kTagDigits)
    return std::nullopt;
  std::string id = with_dashes(hex);
  for (const std::string& secret : secrets) {
    std::string expected = tag(secret, id, position);
    if (CRYPTO_memcmp(expected.data(), given.data(), kTagDigits) == 0)
      return ReturnPathTarget{id, position};
  }
  return std::nullopt;
}

}  // namespace common
