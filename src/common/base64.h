// Base64 (RFC 4648 4) for SASL tokens and JSON payloads.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace common {
// Standard alphabet with padding, no line breaks.
std::string base64_encode(std::string_view bytes);
// Strict decoding: standard alphabet, padding required to a multiple of 4, no white space.
// Returns nullopt for anything else (SASL answers 501 to that, RFC 4954 4).
std::optional<std::string> base64_decode(std::string_view text);
}  // namespace common
