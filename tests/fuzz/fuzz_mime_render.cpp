// libFuzzer target: mime::parse + the bridge.v1 render (delivery/payload) on arbitrary message
// bytes. Findings: a crash or sanitizer report, a document that is not valid UTF-8 JSON (parsed
// back with nlohmann::json, which rejects invalid UTF-8), and a body over the amplification budget
// of issue 11 point 1: webhook body <= 2 x the message + the attachments' base64 + a small
// constant. The constant is the document's fixed skeleton (16 KiB) plus the JSON skeleton of each
// part (512 bytes) and header field (32 bytes) the parser kept: structure, not content, bounded by
// the parser's caps; every string taken from the message counts against the 2 x.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "delivery/payload.h"
#include "fuzz_check.h"
#include "mime/message.h"

namespace {

// The document's fixed part (keys, sha256s, ids, the envelope below): about 1 KiB today. Per
// part: the keys and nulls of a "parts" entry and of an "attachments" one, with its sha256, about
// 360 bytes. Per header field: {"name":"","value":""}, 23 bytes.
constexpr size_t kBudgetConstant = 16 * 1024;
constexpr size_t kBudgetPerPart = 512;
constexpr size_t kBudgetPerHeaderField = 32;
constexpr std::string_view kEnvelope =
    R"({"auth":null,"client":{"ip":"192.0.2.1","port":25},"helo":"fuzz.example",)"
    R"("mail_from":"a@fuzz.example","params":{"body":"8BITMIME","size":1,"smtputf8":true},)"
    R"("rcpt_to":["b@fuzz.example"],"tls":null})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  delivery::InboundView view;
  view.id = "0190f0f0-0000-7000-8000-000000000000";
  view.received_at_ms = 1764201600000;
  view.envelope_json = kEnvelope;
  view.data = raw;
  delivery::RenderOptions options;
  options.rcpt_to = {"b@fuzz.example"};
  options.max_attachment_bytes = 1u << 20;
  std::string body = delivery::render_bridge_v1_text(view, options);

  nlohmann::json document;
  try {
    document = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    FUZZ_CHECK(false, "not valid UTF-8 JSON (%s), %zu bytes in", e.what(), size);
    return 0;
  }
  FUZZ_CHECK(document.is_object() && document.value("version", "") == "bridge.v1", "no bridge.v1");

  // The attachments' base64, as the render writes it (omitted ones have none).
  mime::Message parsed = mime::parse(raw);
  size_t attachments = 0;
  for (int index : parsed.attachments) {
    size_t decoded = mime::decode_body(raw, parsed.parts[index]).size();
    if (decoded <= options.max_attachment_bytes)
      attachments += common::base64_encoded_size(decoded);
  }
  size_t fields = 0;
  for (const mime::Part& part : parsed.parts) fields += part.headers.size();
  size_t budget = 2 * size + attachments + kBudgetConstant + kBudgetPerPart * parsed.parts.size() +
                  kBudgetPerHeaderField * fields;
  FUZZ_CHECK(body.size() <= budget,
             "webhook body %zu bytes for a %zu-byte message (attachments' base64 %zu, %zu parts, "
             "%zu header fields): over %zu",
             body.size(), size, attachments, parsed.parts.size(), fields, budget);
  return 0;
}
