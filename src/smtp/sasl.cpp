// SASL responses for SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN decoded from base64 and
// checked for shape and control characters; credentials compared in constant time (SHA-256
// digests, so neither content nor length leaks).
#include "smtp/sasl.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/base64.h"
#include "smtp/command.h"

namespace smtp {
namespace {

// RFC 4954 4: "=" is an empty response (an empty initial response on the AUTH line).
std::optional<std::string> decode_response(std::string_view response) {
  if (response == "=") return std::string();
  return common::base64_decode(response);
}

// RFC 4616 2: UTF-8 without NUL; control characters have no place in a name or password and
// would end up in logs.
bool clean_field(std::string_view field) {
  for (char c : field) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) return false;
  }
  return valid_utf8(field);
}

Reply control_characters() {
  return reply(Outcome::auth_bad_value).with_text("Invalid characters in auth value");
}

}  // namespace

bool is_cancel(std::string_view response) {
  return response == "*";
}

std::variant<PlainCredentials, Reply> decode_plain(std::string_view response) {
  auto decoded = decode_response(response);
  if (!decoded) return reply(Outcome::auth_bad_base64);
  // authzid NUL authcid NUL passwd (RFC 4616 2)
  const std::string& text = *decoded;
  size_t first = text.find('\0');
  if (first == std::string::npos) return reply(Outcome::auth_bad_value);
  size_t second = text.find('\0', first + 1);
  if (second == std::string::npos || text.find('\0', second + 1) != std::string::npos) {
    return reply(Outcome::auth_bad_value);
  }
  PlainCredentials credentials{text.substr(0, first), text.substr(first + 1, second - first - 1),
                               text.substr(second + 1)};
  if (credentials.username.empty()) return reply(Outcome::auth_bad_value);
  if (!clean_field(credentials.authzid) || !clean_field(credentials.username) ||
      !clean_field(credentials.password)) {
    return control_characters();
  }
  return credentials;
}

std::variant<std::string, Reply> decode_login(std::string_view response) {
  auto decoded = decode_response(response);
  if (!decoded) return reply(Outcome::auth_bad_base64);
  if (!clean_field(*decoded)) return control_characters();
  return std::move(*decoded);
}

Digest credential_digest(std::string_view text) {
  Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

bool secure_equals(const Digest& expected, std::string_view candidate) {
  Digest digest = credential_digest(candidate);
  return CRYPTO_memcmp(expected.data(), digest.data(), digest.size()) == 0;
}

bool secure_equals(std::string_view a, std::string_view b) {
  return secure_equals(credential_digest(a), b);
}

StoredCredential store_credential(std::string_view username, std::string_view password) {
  return StoredCredential{credential_digest(username), credential_digest(password)};
}

bool credentials_match(const std::vector<StoredCredential>& users, std::string_view username,
                       std::string_view password) {
  const Digest user_digest = credential_digest(username);
  const Digest password_digest = credential_digest(password);
  // Bitwise operators: every user and both fields are compared whatever matched before.
  unsigned match = 0;
  for (const StoredCredential& user : users) {
    unsigned same_user =
        CRYPTO_memcmp(user.username.data(), user_digest.data(), user_digest.size()) == 0;
    unsigned same_password =
        CRYPTO_memcmp(user.password.data(), password_digest.data(), password_digest.size()) == 0;
    match |= same_user & same_password;
  }
  return match != 0;
}

}  // namespace smtp
