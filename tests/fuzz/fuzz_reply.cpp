// libFuzzer target: reply extraction (delivery::extract_reply_text and extract_reply_html, issue
// 15) on arbitrary bytes, the same input given to both. Findings: a crash or sanitizer report, an
// output that is not valid UTF-8 (reply_text.h promises UTF-8), and an output out of proportion
// with the input: the text can only grow where invalid bytes become U+FFFD (3 bytes), the HTML
// where serialising escapes a character ("&" → "&amp;", '"' → "&quot;") or closes an open tag;
// and an HTML result of the fast path (reply_html_scan.h) that differs from the whole parse's.
#include <cstdint>
#include <string_view>

#include "delivery/reply_markers.h"
#include "delivery/reply_text.h"
#include "fuzz_check.h"
#include "mime/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::set_input(data, size);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t text_bound = 3 * size + 16;

  delivery::Reply reply = delivery::extract_reply_text(input);
  FUZZ_CHECK(mime::is_valid_utf8(reply.text), "text not UTF-8 (%zu bytes in)", size);
  FUZZ_CHECK(mime::is_valid_utf8(reply.signature), "signature not UTF-8");
  FUZZ_CHECK(reply.text.size() + reply.signature.size() <= text_bound, "text %zu + %zu > %zu",
             reply.text.size(), reply.signature.size(), text_bound);

  delivery::HtmlReply html = delivery::extract_reply_html(input);
  FUZZ_CHECK(mime::is_valid_utf8(html.html), "html not UTF-8 (%zu bytes in)", size);
  FUZZ_CHECK(mime::is_valid_utf8(html.text.text), "html's text not UTF-8");
  FUZZ_CHECK(mime::is_valid_utf8(html.text.signature), "html's signature not UTF-8");
  FUZZ_CHECK(html.html.size() <= 8 * size + 256, "html %zu bytes from %zu", html.html.size(), size);
  FUZZ_CHECK(html.text.text.size() + html.text.signature.size() <= text_bound,
             "html's text %zu + %zu > %zu", html.text.text.size(), html.text.signature.size(),
             text_bound);
  // The fast path (libxml2 without the history containers' content) gives what the whole
  // parse gives.
  delivery::HtmlReply whole = delivery::parse_reply_html(input, /*fast_path=*/false);
  FUZZ_CHECK(html.html == whole.html, "fast html differs from the whole parse's");
  FUZZ_CHECK(html.text.text == whole.text.text, "fast text differs from the whole parse's");
  FUZZ_CHECK(html.text.signature == whole.text.signature, "fast signature differs");
  FUZZ_CHECK(html.stripped == whole.stripped, "fast stripped differs");
  // The fast path never skips an HTML the parse would have stripped.
  if (!delivery::reply::is_blank(input) && html.html != mime::valid_utf8(input))
    FUZZ_CHECK(delivery::may_hold_history(input), "history removed from an HTML said to hold none");
  return 0;
}
