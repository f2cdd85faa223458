// The bridge.v1 webhook document (CONTRACTS.md 1): one stored inbound message, parsed with
// mime::parse, rendered as the JSON an endpoint receives. Pure: bytes in, JSON out; every string
// valid UTF-8.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace delivery {

struct InboundView {
  std::string_view id;             // the message's UUIDv7
  int64_t received_at_ms = 0;      // unix ms
  std::string_view envelope_json;  // the envelope object the SMTP session stored
  std::string_view data;           // the stored message bytes (Received: included)
};

// Signed links to the message's parts (common/part_link.h): made only when base_url is set.
struct AttachmentLinks {
  std::string base_url;  // api.links.base_url
  std::string secret;    // api.links.secrets[0], the one that signs
  int64_t expires = 0;   // unix seconds
};

struct RenderOptions {
  std::vector<std::string> rcpt_to;  // this endpoint's recipients (envelope.rcpt_to is replaced)
  bool include_raw = false;          // "raw": base64 of the bytes, else null
  uint64_t max_attachment_bytes = 10u << 20;  // larger: "content" omitted, "omitted": true
  bool extract_reply = true;                  // message.reply (delivery/reply_text.h)
  // routes[].attachments: url — attachments above url_threshold carry "url", not "content".
  bool attachments_by_url = false;
  uint64_t url_threshold = 0;
  // endpoints[].max_payload_bytes: the largest attachments go by link until the document fits.
  uint64_t max_payload_bytes = 0;
  AttachmentLinks links = {};
};

// The whole document, {"type":"message.received","version":"bridge.v1","id",...}, serialised
// compactly (what is POSTed and signed). For any message its size is at most max_document_size:
// 2 × message.data.size() + the base64 of its attachments + kStructureAllowance + the envelope
// (+ the base64 of the data with include_raw): caps and cuts are defects in message.defects.
// 2 MiB: the header strings' slack (1 MiB), the bodies' (2 × 64 KiB) and the JSON structure of
// what mime::Limits allows (1000 parts, 10000 fields, 1000 addresses per list).
constexpr size_t kStructureAllowance = 2 << 20;
// That bound, the one the tests and tests/fuzz/fuzz_mime_render.cpp assert: `base64` is the
// size of the base64 the document carries (attachments' "content", "raw"), the envelope is the
// stored envelope_json with RenderOptions::rcpt_to written in (up to 256 bytes per recipient).
constexpr size_t max_document_size(size_t message_size, size_t base64, size_t envelope_json_size,
                                   size_t recipients) {
  return 2 * message_size + base64 + kStructureAllowance + envelope_json_size + 256 * recipients;
}

std::string render_bridge_v1_text(const InboundView& message, const RenderOptions& options);
// What parsing and rendering a message of `message_bytes` may hold at its peak, the message
// itself included: 4 x its size (tests/tools/payload_amplification checks peak RSS <= 4 x size
// + 16 MiB for hostile shapes; the 16 MiB is the process's own baseline, not the render's), at
// least 64 KiB. Renders reserve this much of the process's memory budget.
inline uint64_t render_memory(size_t message_bytes) {
  return std::max<uint64_t>(4 * uint64_t(message_bytes), 64 * 1024);
}

}  // namespace delivery
