// SASL server side for SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN responses decoded and
// checked; credentials compared in constant time.
#pragma once
#include <string>
#include <string_view>
#include <variant>

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

// Constant-time comparison (CRYPTO_memcmp over equal lengths; the length itself may leak).
bool secure_equals(std::string_view a, std::string_view b);

// The LOGIN challenges: base64 "Username:" and "Password:".
inline constexpr const char* kLoginUserChallenge = "VXNlcm5hbWU6";
inline constexpr const char* kLoginPasswordChallenge = "UGFzc3dvcmQ6";

}  // namespace smtp
