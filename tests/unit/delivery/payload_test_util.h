// Helpers shared by the payload and signing tests: CRLF message literals, an independent SHA-256
// (OpenSSL EVP), and a walk asserting that every string of a JSON document is valid UTF-8.
#pragma once
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace delivery::test {

// "\n" → "\r\n" (SMTP delivers CRLF lines).
inline std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

inline std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string out;
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    out += byte;
  }
  return out;
}

// RFC 3629 4: no overlong forms, no surrogates, nothing above U+10FFFF.
inline bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80                   ? 1
               : (c >= 0xc2 && c <= 0xdf) ? 2
               : (c >= 0xe0 && c <= 0xef) ? 3
               : (c >= 0xf0 && c <= 0xf4) ? 4
                                          : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    unsigned char c1 = static_cast<unsigned char>(n > 1 ? s[i + 1] : 0);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) ||
        (c == 0xf4 && c1 > 0x8f))
      return false;
    i += n;
  }
  return true;
}

inline void expect_valid_utf8(const nlohmann::json& value, const std::string& where = "$") {
  if (value.is_string()) {
    EXPECT_TRUE(is_valid_utf8(value.get_ref<const std::string&>())) << where;
  } else if (value.is_object()) {
    for (auto& [key, item] : value.items()) {
      EXPECT_TRUE(is_valid_utf8(key)) << where;
      expect_valid_utf8(item, where + "." + key);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      expect_valid_utf8(value[i], where + "[" + std::to_string(i) + "]");
  }
}

}  // namespace delivery::test
