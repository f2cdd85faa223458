// libFuzzer target: mime::parse + the drop-in formats (delivery/formats.h) on arbitrary message
// bytes. Findings: a crash or sanitizer report; a Postmark document that is not valid UTF-8 JSON
// (parsed back with nlohmann::json, which rejects invalid UTF-8); a Mailgun form whose boundary
// occurs other than as its delimiters, that does not end with the close delimiter, or whose text
// fields are not valid UTF-8; and a body of either over formats.h's max_format_size.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/formats.h"
#include "fuzz_check.h"
#include "mime/message.h"

namespace {

constexpr std::string_view kEnvelope =
    R"({"auth":null,"client":{"ip":"192.0.2.1","port":25},"helo":"fuzz.example",)"
    R"("mail_from":"a@fuzz.example","params":{"body":"8BITMIME","size":1,"smtputf8":true},)"
    R"("rcpt_to":["b+h@fuzz.example"],"tls":null})";

void check_postmark(const delivery::InboundView& view, const delivery::RenderOptions& options) {
  delivery::FormatBody out = delivery::render_postmark(view, options);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(out.body);
  } catch (const nlohmann::json::exception& e) {
    FUZZ_CHECK(false, "postmark: not valid UTF-8 JSON (%s), %zu bytes in", e.what(),
               view.data.size());
    return;
  }
  size_t base64 = 0;
  if (doc.is_object() && doc["Attachments"].is_array())
    for (const nlohmann::json& a : doc["Attachments"])
      if (a.contains("Content") && a["Content"].is_string())
        base64 += a["Content"].get_ref<const std::string&>().size();
  size_t bound =
      delivery::max_format_size(view.data.size(), base64, kEnvelope.size(), options.rcpt_to.size());
  FUZZ_CHECK(out.body.size() <= bound, "postmark: %zu bytes for a %zu-byte message: over %zu",
             out.body.size(), view.data.size(), bound);
}

void check_mailgun(const delivery::InboundView& view, const delivery::RenderOptions& options) {
  delivery::FormatBody out =
      delivery::render_mailgun(view, options, {"key-fuzz", 1700000000, std::string(50, 'a'), {}});
  const std::string prefix = "multipart/form-data; boundary=";
  FUZZ_CHECK(out.content_type.rfind(prefix, 0) == 0, "mailgun: content type %s",
             out.content_type.c_str());
  const std::string delimiter = "--" + out.content_type.substr(prefix.size());
  const std::string close = delimiter + "--\r\n";
  FUZZ_CHECK(out.body.size() >= close.size() &&
                 out.body.compare(out.body.size() - close.size(), close.size(), close) == 0,
             "mailgun: no close delimiter at the end");
  // Every occurrence of the boundary starts a line that is a delimiter (RFC 2046 5.1.1); each
  // part between them is a header, a blank line and a value. Files (filename=) are bytes, the
  // other fields text.
  size_t files = 0;
  for (size_t at = out.body.find(delimiter); at != std::string::npos;) {
    FUZZ_CHECK(at == 0 || out.body.compare(at - 2, 2, "\r\n") == 0,
               "mailgun: the boundary occurs inside a value at %zu", at);
    size_t start = at + delimiter.size();
    if (out.body.compare(start, 4, "--\r\n") == 0) {
      FUZZ_CHECK(start + 4 == out.body.size(), "mailgun: the boundary occurs after the end");
      break;
    }
    size_t next = out.body.find(delimiter, start);
    if (next == std::string::npos) {
      FUZZ_CHECK(false, "mailgun: a part without its end");
      break;
    }
    std::string_view part(out.body.data() + start, next - start);
    size_t blank = part.find("\r\n\r\n");
    FUZZ_CHECK(blank != std::string_view::npos && part.size() >= blank + 6,
               "mailgun: a part without a header");
    if (blank == std::string_view::npos || part.size() < blank + 6) break;
    std::string_view head = part.substr(0, blank);
    std::string_view value = part.substr(blank + 4, part.size() - blank - 6);
    if (head.find("; filename=\"") != std::string_view::npos) {
      files += value.size();
    } else {
      FUZZ_CHECK(mime::is_valid_utf8(value), "mailgun: a text field is not UTF-8");
    }
    FUZZ_CHECK(mime::is_valid_utf8(head), "mailgun: a part header is not UTF-8");
    at = next;
  }
  size_t bound =
      delivery::max_format_size(view.data.size(), files, kEnvelope.size(), options.rcpt_to.size());
  FUZZ_CHECK(out.body.size() <= bound, "mailgun: %zu bytes for a %zu-byte message: over %zu",
             out.body.size(), view.data.size(), bound);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  delivery::InboundView view;
  view.id = "0190f0f0-0000-7000-8000-000000000000";
  view.received_at_ms = 1764201600000;
  view.envelope_json = kEnvelope;
  view.data = std::string_view(reinterpret_cast<const char*>(data), size);
  delivery::RenderOptions options;
  options.rcpt_to = {"b+h@fuzz.example"};
  options.max_attachment_bytes = 1u << 20;
  // Half the inputs with the attachment links of a route in url mode.
  if (size % 2 == 1) {
    options.attachments_by_url = true;
    options.url_threshold = 64;
    options.links = {"https://bridge.example", "secret", 1764205200};
  }
  if (size % 3 == 0) {  // and a third with a payload cap that sends the largest by link
    options.max_payload_bytes = 4096;
    options.links = {"https://bridge.example", "secret", 1764205200};
  }
  check_postmark(view, options);
  check_mailgun(view, options);
  return 0;
}
