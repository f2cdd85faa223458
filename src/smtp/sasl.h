// SASL server side for SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN responses decoded and
// checked; credentials compared in constant time, as SHA-256 digests so that no length leaks.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "smtp/reply.h"

namespace smtp {

struct PlainCredentials {
  std::string authzid;
  std::string username;
  std::string password;
};

// "*" cancels an exchange (RFC 4954 4) → 501 5.7.0.
bool is_cancel(std::string_view response);

// base64(authzid NUL authcid NUL passwd). Errors: not base64 → 501 5.5.2 Can't decode base64;
// not exactly three fields or empty username → 501 5.5.2 Can't split auth value; control
// characters in a field → 501 5.5.2.
std::variant<PlainCredentials, Reply> decode_plain(std::string_view response);
// One LOGIN step's answer (username or password), base64. Same errors.
std::variant<std::string, Reply> decode_login(std::string_view response);

// SHA-256 of a credential. Comparing digests instead of the texts makes the comparison's time
// independent of both lengths: CRYPTO_memcmp over texts needs equal lengths, and returning
// early on a length mismatch told a guesser the password's length.
using Digest = std::array<unsigned char, 32>;
Digest credential_digest(std::string_view text);
// Constant time whatever the contents and lengths (CRYPTO_memcmp of the two SHA-256 digests).
bool secure_equals(const Digest& expected, std::string_view candidate);
bool secure_equals(std::string_view a, std::string_view b);

// One smtp.auth.users entry as digests, made once at start-up: an attempt hashes only what the
// client sent, so the time taken says nothing about the stored name or password either.
struct StoredCredential {
  Digest username;
  Digest password;
};
StoredCredential store_credential(std::string_view username, std::string_view password);
// Compares against every stored user (no early exit): true when one matches both fields.
bool credentials_match(const std::vector<StoredCredential>& users, std::string_view username,
                       std::string_view password);

// The LOGIN challenges: base64 "Username:" and "Password:".
inline constexpr const char* kLoginUserChallenge = "VXNlcm5hbWU6";
inline constexpr const char* kLoginPasswordChallenge = "UGFzc3dvcmQ6";

}  // namespace smtp
