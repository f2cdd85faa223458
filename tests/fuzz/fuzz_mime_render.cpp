// libFuzzer target: mime::parse + the bridge.v1 render (delivery/payload) on arbitrary message
// bytes. Findings: a crash or sanitizer report, a document that is not valid UTF-8 JSON (parsed
// back with nlohmann::json, which rejects invalid UTF-8), and a body over the amplification bound
// the renderer documents (issue 11 point 1; delivery::max_document_size in payload.h: 2 x the
// message + the base64 it carries + kStructureAllowance + the envelope), asserted exactly, not as
// a second formula. The per-part and per-field structure is the allowance's to hold: a unit test
// (payload_test.cpp, the_most_structure_a_small_message_can_ask_for...) checks it does.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "delivery/payload.h"
#include "fuzz_check.h"

namespace {

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
  if (!document.is_object() || !document["message"].is_object()) return 0;

  // The base64 the document carries, as written: attachments' "content" (main bodies sent as
  // attachments included; omitted ones have none).
  size_t base64 = 0;
  const nlohmann::json& attachments = document["message"]["attachments"];
  for (const nlohmann::json& attachment : attachments)
    if (attachment.contains("content") && attachment["content"].is_string())
      base64 += attachment["content"].get_ref<const std::string&>().size();
  size_t bound =
      delivery::max_document_size(size, base64, kEnvelope.size(), options.rcpt_to.size());
  FUZZ_CHECK(body.size() <= bound,
             "webhook body %zu bytes for a %zu-byte message (base64 %zu, %zu attachments): over "
             "the bound %zu",
             body.size(), size, base64, attachments.size(), bound);
  return 0;
}
