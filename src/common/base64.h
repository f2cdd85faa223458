// Base64 (RFC 4648 4) for SASL tokens and JSON payloads.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace common {
// Standard alphabet with padding, no line breaks.
std::string base64_encode(std::string_view bytes);
// Length of base64_encode(bytes) for `size` bytes: 4 characters per started 3-byte group.
constexpr size_t base64_encoded_size(size_t size) {
  return (size + 2) / 3 * 4;
}
// The same text written to `out`, which must have room for base64_encoded_size(bytes.size())
// characters; returns the end of what was written.
char* base64_encode_to(std::string_view bytes, char* out);
// Strict decoding: standard alphabet, padding required to a multiple of 4, no white space.
// Returns nullopt for anything else (SASL answers 501 to that, RFC 4954 4).
std::optional<std::string> base64_decode(std::string_view text);
}  // namespace common
