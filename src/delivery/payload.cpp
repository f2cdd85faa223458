// The bridge.v1 document (CONTRACTS.md 1, schema
// openapi/openapi.yaml#/components/schemas/BridgeV1): a stored message parsed with mime::parse and
// written field by field with RapidJSON's streaming Writer. No tree is built: nlohmann's (one
// allocation per field, then its serialiser) was a third of the rendering's time. Keys come in
// sorted order, as nlohmann::json (std::map) gave them. Never throws on bad input: a message the
// parser cannot make sense of still renders its headers, raw parts and defects.
#include "delivery/payload.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "common/base64.h"
#include "common/part_link.h"
#include "common/time.h"
#include "delivery/payload_budget.h"
#include "delivery/payload_out.h"
#include "delivery/reply_text.h"
#include "mime/message.h"

namespace delivery {
namespace {

using detail::DecodedCharsets;
using detail::Out;
using detail::part_number;
using detail::write_address;
using detail::write_addresses;
using detail::write_envelope;
using detail::write_headers;
using detail::write_part_labels;
using detail::write_parts;

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Fetched once: EVP_sha256() makes each EVP_Digest look the implementation up again.
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, fetched ? fetched : EVP_sha256(),
             nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
  });
}

void add_defect(std::vector<std::string>& defects, const std::string& defect) {
  if (std::find(defects.begin(), defects.end(), defect) == defects.end()) defects.push_back(defect);
}

// How attachments are written in one render: inline, or by signed link (issue 15).
struct AttachmentPlan {
  std::string_view message_id;
  const RenderOptions& options;
  std::vector<int> by_link;  // parts linked to make the document fit max_payload_bytes
  // Parts whose content was inlined, with the JSON bytes it took: what a second render for
  // max_payload_bytes may link instead.
  std::vector<std::pair<size_t, int>> inlined;

  bool link_for(int index, size_t size) const {
    if (options.links.base_url.empty()) return false;
    if (options.attachments_by_url && size > options.url_threshold) return true;
    return std::find(by_link.begin(), by_link.end(), index) != by_link.end();
  }
};

void write_attachment(Out& out, std::string_view raw, const mime::Message& message, int index,
                      AttachmentPlan& plan, std::vector<std::string>& defects) {
  const mime::Part& part = message.parts[index];
  std::string decoded = mime::decode_body(raw, part, &defects);
  bool linked = plan.link_for(index, decoded.size());
  bool omitted = !linked && decoded.size() > plan.options.max_attachment_bytes;
  out.begin_object();
  if (!omitted && !linked) {
    out.key("content");
    out.base64(decoded);
    plan.inlined.emplace_back(common::base64_encoded_size(decoded.size()), index);
  }
  write_part_labels(out, part);
  if (omitted) {
    out.key("omitted");
    out.boolean(true);
  }
  out.key("part");
  out.string(part_number(part));
  out.key("sha256");
  out.string(sha256_hex(decoded));
  out.key("size");
  out.number(decoded.size());
  if (linked) {
    // GET /v1/inbound/{id}/parts/{part}: a plain GET, no API key (common/part_link.h).
    const AttachmentLinks& links = plan.options.links;
    out.key("url");
    out.string(common::part_link(links.base_url, links.secret, plan.message_id, part_number(part),
                                 links.expires));
  }
  out.end_object();
}

// message.reply (issue 15): the new text of a reply without its quoted history and signature,
// from the text body, else from the HTML one; its HTML without the quoted history. Each is ""
// (null) when it would be the body itself.
struct ReplyFields {
  bool present = false;
  std::string text, html, signature;
  size_t json_size() const {
    return budget::escaped_size(text) + budget::escaped_size(html) +
           budget::escaped_size(signature);
  }
};

// An HTML body is parsed into a tree to find its quoted history: a few times its size in
// memory. Beyond this size (no reply is that long; a document is) the reply comes from the text
// body only.
constexpr size_t kMaxReplyHtml = 4 << 20;

ReplyFields extract_reply(const std::string* text, const std::string* html) {
  ReplyFields reply;
  if (html != nullptr && html->size() > kMaxReplyHtml) html = nullptr;
  if (text == nullptr && html == nullptr) return reply;
  reply.present = true;
  // An HTML without history to take out is `html` itself: not written twice (null). The text
  // comes from the text body when there is one: the HTML is then parsed only when it shows
  // quoted history to take out (looked for here: extract_reply_html would copy it back).
  if (html != nullptr && (text == nullptr || may_hold_history(*html))) {
    HtmlReply stripped = extract_reply_html(*html, /*with_text=*/text == nullptr);
    if (stripped.stripped) reply.html = std::move(stripped.html);
    if (text == nullptr) {
      reply.text = std::move(stripped.text.text);
      reply.signature = std::move(stripped.text.signature);
    }
  }
  if (text != nullptr) {
    // A text body with nothing to take out is `text` itself (up to the tidying Reply::whole
    // describes): not copied, not written twice (null), as the HTML above. mime::decode_text
    // gave it as valid UTF-8.
    Reply stripped = extract_reply_text(*text, {.copy_whole = false, .valid_utf8 = true});
    reply.text = std::move(stripped.text);
    reply.signature = std::move(stripped.signature);
  }
  return reply;
}

void write_reply(Out& out, const ReplyFields& reply) {
  if (!reply.present) {
    out.null();
    return;
  }
  out.begin_object();
  out.key("html");
  out.string_or_null(reply.html);
  out.key("signature");
  out.string_or_null(reply.signature);
  out.key("text");
  out.string_or_null(reply.text);
  out.end_object();
}

// Issue 11: a document is at most 2 × the message's size, plus its attachments' base64 and a
// constant for the structure within mime::Limits' caps (kStructureAllowance). Its parts:
// - a main body is inlined as text when its JSON takes at most 1.5 × its bytes in the message +
//   64 KiB (a charset can make 12 UTF-8 bytes of one, a control character 6 bytes of JSON);
//   else it is listed as an attachment (its bytes in base64), with defect "body_not_inlined";
// - the strings made from header fields (headers, summaries, part labels) share a pool of about
//   the message's size + kHeaderSlack; when they need more, the longest are cut to one length
//   (the water level, payload_budget.h), with defect "header_text_truncated". Ordinary mail is
//   never cut: its header strings take about its header's size.
constexpr size_t kBodySlack = 64 << 10;
constexpr size_t kTrimAfter = 4 << 20;    // message size from which render_bridge_v1_text trims
constexpr size_t kHeaderSlack = 1 << 20;  // a 500 KB Subject is still written whole, twice

size_t body_limit(const mime::Part& part) {
  return part.body_size() + part.body_size() / 2 + kBodySlack;
}

struct MainBody {
  bool present = false;
  std::string text;
  std::string charset;  // what it was decoded with
  size_t json_size = 0;
};

// Decodes a main body, or leaves it to the attachments when its JSON would be too large.
MainBody decode_main_body(std::string_view raw, const mime::Message& message, int index,
                          std::vector<std::string>& defects, std::vector<int>& attachments) {
  MainBody body;
  if (index < 0 || static_cast<size_t>(index) >= message.parts.size()) return body;
  const mime::Part& part = message.parts[index];
  bool cut = false;
  body.text = mime::decode_text(raw, part, &defects, body_limit(part), &cut, &body.charset);
  body.json_size = budget::escaped_size(body.text);
  if (cut || body.json_size > body_limit(part)) {
    add_defect(defects, "body_not_inlined");
    attachments.push_back(index);
    body.text = std::string();
    body.json_size = 0;
    return body;
  }
  body.present = true;
  return body;
}

void write_message(Out& out, std::string_view raw, const mime::Message& message,
                   AttachmentPlan& plan) {
  std::vector<std::string> decoding_defects;
  static const std::vector<mime::Header> no_headers;
  const std::vector<mime::Header>& top =
      message.parts.empty() ? no_headers : message.parts[0].headers;
  bool has_subject = std::any_of(top.begin(), top.end(),
                                 [](const mime::Header& h) { return iequals(h.name, "Subject"); });

  // Decoding adds defects, and "defects" comes before "html" and "text" in key order: the bodies
  // are decoded first (then the attachments, as they are written).
  std::vector<int> attachments;
  for (int index : message.attachments)
    if (index >= 0 && static_cast<size_t>(index) < message.parts.size())
      attachments.push_back(index);
  MainBody text = decode_main_body(raw, message, message.text_part, decoding_defects, attachments);
  MainBody html = decode_main_body(raw, message, message.html_part, decoding_defects, attachments);
  DecodedCharsets charsets;
  if (text.present) charsets = {message.text_part, -1, text.charset, {}};
  if (html.present) {
    charsets.html_part = message.html_part;
    charsets.html = html.charset;
  }
  std::sort(attachments.begin(), attachments.end());  // document order
  ReplyFields reply;
  if (plan.options.extract_reply)
    reply = extract_reply(text.present ? &text.text : nullptr, html.present ? &html.text : nullptr);
  // The bodies and their reply stay within the 2 × the message's size a document may take (the
  // reply of a body that quotes nothing is as long as the body): else the reply is left out.
  if (text.json_size + html.json_size + reply.json_size() > 2 * raw.size() + 2 * kBodySlack) {
    reply = ReplyFields();
    add_defect(decoding_defects, "reply_not_inlined");
  }

  // The header strings' pool: the message's size, less where the bodies (and the reply made
  // of them) take more than their share of 2 × the size (their decoded text is held while the
  // document is written, so memory stays within 4 × the size too), plus kHeaderSlack.
  size_t bodies = 2 * (text.json_size + html.json_size + reply.json_size());
  size_t pool = std::min(raw.size(), 2 * raw.size() - std::min(2 * raw.size(), bodies));
  pool += kHeaderSlack;
  size_t level = budget::water_level(budget::header_costs(message, attachments, has_subject), pool);
  if (level != SIZE_MAX) add_defect(decoding_defects, "header_text_truncated");
  out.set_cap(level);

  out.begin_object();
  out.key("attachments");
  out.begin_array();
  for (int index : attachments) write_attachment(out, raw, message, index, plan, decoding_defects);
  out.end_array();
  out.key("bcc");
  write_addresses(out, message.bcc);
  out.key("cc");
  write_addresses(out, message.cc);
  out.key("date");
  message.date ? out.string(*message.date) : out.null();
  std::vector<std::string> defects = message.defects;
  for (const std::string& defect : decoding_defects) add_defect(defects, defect);
  out.key("defects");
  out.strings(defects);
  out.key("from");
  write_addresses(out, message.from);
  out.key("headers");
  write_headers(out, top);
  out.key("html");
  html.present ? out.string(html.text) : out.null();
  html = MainBody();
  out.key("in_reply_to");
  out.texts(message.in_reply_to);
  out.key("message_id");
  out.text_or_null(message.message_id);
  out.key("parts");
  write_parts(out, message, charsets);
  out.key("references");
  out.texts(message.references);
  out.key("reply");
  write_reply(out, reply);
  reply = ReplyFields();
  out.key("reply_to");
  write_addresses(out, message.reply_to);
  out.key("sender");
  message.sender ? write_address(out, *message.sender) : out.null();
  out.key("sha256");
  out.string(sha256_hex(raw));
  out.key("size");
  out.number(raw.size());
  out.key("subject");
  has_subject ? out.text(message.subject) : out.null();
  out.key("text");
  text.present ? out.string(text.text) : out.null();
  out.key("to");
  write_addresses(out, message.to);
  out.end_object();
  out.set_cap(SIZE_MAX);
}

// The most the document can take (see write_message), so that its buffer is allocated once:
// pages never written are never resident, and growing by doubling would hold the old and the
// new buffer at once (3 × the text at the peak).
size_t document_bound(const InboundView& message, const mime::Message& parsed,
                      const RenderOptions& options) {
  // Attachments: base64 of at most their body bytes (4/3 of them), main bodies turned into
  // attachments included.
  size_t base64 = 0;
  for (const mime::Part& part : parsed.parts)
    if (part.children.empty()) base64 += common::base64_encoded_size(part.body_size());
  if (options.include_raw) base64 += common::base64_encoded_size(message.data.size());
  return max_document_size(message.data.size(), base64, message.envelope_json.size(),
                           options.rcpt_to.size());
}

std::string render_document(const InboundView& message, const mime::Message& parsed,
                            AttachmentPlan& plan) {
  const RenderOptions& options = plan.options;
  Out out(document_bound(message, parsed, options));
  auto received = common::Clock::time_point(std::chrono::milliseconds(message.received_at_ms));
  out.begin_object();
  out.key("envelope");
  write_envelope(out, message.envelope_json, options.rcpt_to, message.data.size());
  out.key("id");
  out.string(message.id);
  out.key("message");
  write_message(out, message.data, parsed, plan);
  out.key("raw");
  options.include_raw ? out.base64(message.data) : out.null();
  out.key("received_at");
  out.string(common::rfc3339_utc(received));
  out.key("type");
  out.string("message.received");
  out.key("version");
  out.string("bridge.v1");
  out.end_object();
  return out.take_text();
}

// The JSON a link takes in place of content: "url":"<base>/v1/inbound/<id>/parts/<n>?expires=
// <t>&signature=<43>" with its separators, part numbers of up to 64 characters.
size_t link_json_size(const RenderOptions& options, std::string_view id) {
  return options.links.base_url.size() + id.size() + 200;
}

}  // namespace

std::string render_bridge_v1_text(const InboundView& message, const RenderOptions& options) {
  mime::Message parsed = mime::parse(message.data);
#ifdef __GLIBC__
  // Parsing a large message frees large transient copies (unfolded values, parameter sections);
  // glibc keeps such freed memory resident once its dynamic mmap threshold has risen, and the
  // document's buffer does not fit in those holes: hand them back first (issue 11, peak RSS).
  if (message.data.size() >= kTrimAfter) malloc_trim(0);
#endif
  AttachmentPlan plan{message.id, options, {}, {}};
  std::string document = render_document(message, parsed, plan);
  // endpoints[].max_payload_bytes: the largest inlined attachments go by link until the
  // document fits; rendered again once (what else it holds cannot be made smaller).
  if (options.max_payload_bytes == 0 || document.size() <= options.max_payload_bytes ||
      options.links.base_url.empty() || plan.inlined.empty())
    return document;
  std::sort(plan.inlined.rbegin(), plan.inlined.rend());
  size_t size = document.size();
  for (const auto& [json_size, index] : plan.inlined) {
    if (size <= options.max_payload_bytes) break;
    plan.by_link.push_back(index);
    size -= std::min(size, json_size + 12);  // "content":"..", with its separator
    size += link_json_size(options, message.id);
  }
  std::string().swap(document);
  plan.inlined.clear();
  return render_document(message, parsed, plan);
}

}  // namespace delivery
