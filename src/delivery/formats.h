// Drop-in payload formats (issue 15, README "Payload formats"): one stored inbound message as the
// JSON Postmark's inbound webhook posts, or as the multipart/form-data of Mailgun's "forward"
// route action, so that an application written against either provider reads it unchanged.
// Pure renderers (the randomness of Mailgun's token and boundary is passed in); never throw on bad
// input; every text is valid UTF-8.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "delivery/payload.h"

namespace delivery {

struct FormatBody {
  std::string body;
  std::string content_type;  // the POST's Content-Type
};

// The size bound of both formats (checked by tests/unit/delivery/formats_test.cpp and
// tests/fuzz/fuzz_formats.cpp): the text made from the message (header fields, bodies, the
// stripped reply, written once or twice) shares a pool of 3 × its size + 1 MiB, cut to one water
// level beyond it (payload_budget.h); the rest is the attachments' content as carried
// (`attachment_bytes`: the base64 of Postmark's Content, the bytes of Mailgun's files), the
// structure (kStructureAllowance, payload.h), the envelope and 256 bytes per recipient.
constexpr size_t max_format_size(size_t message_size, size_t attachment_bytes,
                                 size_t envelope_json_size, size_t recipients) {
  return 3 * message_size + attachment_bytes + kStructureAllowance + envelope_json_size +
         256 * recipients;
}

// What a render of either format may hold at its peak, the message included: the message, its
// decoded bodies and stripped reply, and the document (above). Reserved from the memory budget
// instead of render_memory().
inline uint64_t format_render_memory(size_t message_bytes) {
  return std::max<uint64_t>(6 * uint64_t(message_bytes), 64 * 1024);
}

// Postmark's inbound webhook JSON, `application/json; charset=utf-8`.
FormatBody render_postmark(const InboundView& message, const RenderOptions& options);

struct MailgunOptions {
  std::string signing_key;  // endpoints[].signing_key
  int64_t timestamp = 0;    // unix seconds, signed
  std::string token;        // 50 random characters (mailgun_token())
  // The multipart boundary's random part; a boundary found in the content is drawn again.
  // Default: random_hex(32).
  std::function<std::string()> boundary;
};

// Mailgun's forward() POST, `multipart/form-data; boundary=...`, with `signature` = hex
// HMAC-SHA256(signing_key, timestamp + token).
FormatBody render_mailgun(const InboundView& message, const RenderOptions& options,
                          const MailgunOptions& mailgun);

// `n` lower-case hex digits from OpenSSL's CSPRNG.
std::string random_hex(size_t n);
// A Mailgun token: 50 hex digits.
inline std::string mailgun_token() {
  return random_hex(50);
}
// hex HMAC-SHA256(key, timestamp + token): Mailgun's `signature`.
std::string mailgun_signature(std::string_view key, int64_t timestamp, std::string_view token);

}  // namespace delivery
