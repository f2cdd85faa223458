// The bridge.v1 document (CONTRACTS.md 1, schema openapi/openapi.yaml#/components/schemas/BridgeV1):
// a stored message parsed with mime::parse and rendered field by field. Never throws on bad input:
// a message the parser cannot make sense of still renders its headers, raw parts and defects.
// The text form splices base64 in after dump (payload_splice.h); its bytes equal plain dump's.
#include "delivery/payload.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/time.h"
#include "delivery/payload_splice.h"
#include "mime/message.h"

namespace delivery {
namespace {

using nlohmann::json;

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Fetched once: EVP_sha256() makes each EVP_Digest look the implementation up again.
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, fetched ? fetched : EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

// Optional strings of the document are null rather than "" (openapi.yaml says which).
json or_null(const std::string& value) { return value.empty() ? json(nullptr) : json(value); }

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
  });
}

void add_defect(std::vector<std::string>& defects, const std::string& defect) {
  if (std::find(defects.begin(), defects.end(), defect) == defects.end()) defects.push_back(defect);
}

json address_json(const mime::Address& address) {
  return {{"name", address.name}, {"address", address.address}};
}

json address_list(const std::vector<mime::Address>& addresses) {
  json list = json::array();
  for (const mime::Address& address : addresses) list.push_back(address_json(address));
  return list;
}

json headers_json(const std::vector<mime::Header>& headers) {
  json list = json::array();
  for (const mime::Header& header : headers) list.push_back({{"name", header.name}, {"value", header.value}});
  return list;
}

json string_list(const std::vector<std::string>& values) {
  json list = json::array();
  for (const std::string& value : values) list.push_back(value);
  return list;
}

// The stored envelope with rcpt_to replaced by this endpoint's recipients; RFC 3461 per-recipient
// parameters are kept only for those recipients (other routes' recipients, Bcc ones included,
// must not leak). Fields the stored JSON lacks get neutral values so the document stays valid.
json envelope_json(std::string_view stored, const std::vector<std::string>& rcpt_to, size_t size) {
  json envelope = {{"mail_from", ""},
                   {"rcpt_to", json::array()},
                   {"params", {{"size", size}, {"body", "7BIT"}, {"smtputf8", false}}},
                   {"helo", ""},
                   {"client", {{"ip", ""}, {"port", 0}}},
                   {"tls", nullptr},
                   {"auth", nullptr}};
  json parsed = json::parse(stored, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object())
    for (auto& [key, value] : parsed.items())
      if (envelope.contains(key)) envelope[key] = value;
  envelope["rcpt_to"] = string_list(rcpt_to);
  json& params = envelope["params"];
  if (params.is_object() && params.contains("rcpt") && params["rcpt"].is_object()) {
    json kept = json::object();
    for (const std::string& address : rcpt_to)
      if (params["rcpt"].contains(address)) kept[address] = params["rcpt"][address];
    if (kept.empty()) {
      params.erase("rcpt");
    } else {
      params["rcpt"] = kept;
    }
  }
  return envelope;
}

// IMAP numbering (RFC 3501 6.4.5) gives the root no number; as the single body part of a
// non-multipart message it is "1".
std::string part_number(const mime::Part& part) { return part.number.empty() ? "1" : part.number; }

json part_json(const mime::Message& message, int index) {
  const mime::Part& part = message.parts[index];
  json children = json::array();
  for (int child : part.children) children.push_back(part_json(message, child));
  return {{"part", part_number(part)},
          {"content_type", part.content_type},
          {"charset", or_null(part.charset)},
          {"transfer_encoding", part.transfer_encoding},
          {"disposition", or_null(part.disposition)},
          {"filename", or_null(part.filename)},
          {"content_id", or_null(part.content_id)},
          {"size", part.end > part.body_begin ? part.end - part.body_begin : 0},
          {"headers", headers_json(part.headers)},
          {"parts", std::move(children)}};
}

// The top-level body parts of a multipart message; a message that is not multipart (or whose
// boundary was never found) is its own single part "1".
json parts_json(const mime::Message& message) {
  json parts = json::array();
  if (message.parts.empty()) return parts;
  const mime::Part& root = message.parts[0];
  if (root.is_multipart() && !root.children.empty()) {
    for (int child : root.children) parts.push_back(part_json(message, child));
  } else {
    parts.push_back(part_json(message, 0));
  }
  return parts;
}

// Base64 of bytes (RFC 4648 4), or with `splices` a placeholder for it.
json base64_json(std::string bytes, detail::Splices* splices) {
  if (splices == nullptr) return common::base64_encode(bytes);
  return splices->add_owned(std::move(bytes));
}

json attachment_json(std::string_view raw, const mime::Part& part, const RenderOptions& options,
                     std::vector<std::string>& defects, detail::Splices* splices) {
  std::string decoded = mime::decode_body(raw, part, &defects);
  json attachment = {{"part", part_number(part)},
                     {"filename", or_null(part.filename)},
                     {"content_type", part.content_type},
                     {"disposition", or_null(part.disposition)},
                     {"content_id", or_null(part.content_id)},
                     {"size", decoded.size()},
                     {"sha256", sha256_hex(decoded)}};
  if (decoded.size() > options.max_attachment_bytes) {
    attachment["omitted"] = true;
  } else {
    attachment["content"] = base64_json(std::move(decoded), splices);
  }
  return attachment;
}

json main_body(std::string_view raw, const mime::Message& message, int index, std::vector<std::string>& defects) {
  if (index < 0 || static_cast<size_t>(index) >= message.parts.size()) return nullptr;
  return mime::decode_text(raw, message.parts[index], &defects);
}

json message_json(std::string_view raw, const mime::Message& message, const RenderOptions& options,
                  detail::Splices* splices) {
  std::vector<std::string> decoding_defects;
  static const std::vector<mime::Header> no_headers;
  const std::vector<mime::Header>& top = message.parts.empty() ? no_headers : message.parts[0].headers;
  bool has_subject = std::any_of(top.begin(), top.end(), [](const mime::Header& h) { return iequals(h.name, "Subject"); });

  json doc = {{"size", raw.size()},
              {"sha256", sha256_hex(raw)},
              {"subject", has_subject ? json(message.subject) : json(nullptr)},
              {"from", address_list(message.from)},
              {"to", address_list(message.to)},
              {"cc", address_list(message.cc)},
              {"bcc", address_list(message.bcc)},
              {"reply_to", address_list(message.reply_to)},
              {"sender", message.sender ? address_json(*message.sender) : json(nullptr)},
              {"date", message.date ? json(*message.date) : json(nullptr)},
              {"message_id", or_null(message.message_id)},
              {"in_reply_to", string_list(message.in_reply_to)},
              {"references", string_list(message.references)},
              {"headers", headers_json(top)}};
  doc["text"] = main_body(raw, message, message.text_part, decoding_defects);
  doc["html"] = main_body(raw, message, message.html_part, decoding_defects);
  json attachments = json::array();
  for (int index : message.attachments)
    if (index >= 0 && static_cast<size_t>(index) < message.parts.size())
      attachments.push_back(attachment_json(raw, message.parts[index], options, decoding_defects, splices));
  doc["attachments"] = std::move(attachments);
  doc["parts"] = parts_json(message);
  std::vector<std::string> defects = message.defects;
  for (const std::string& defect : decoding_defects) add_defect(defects, defect);
  doc["defects"] = string_list(defects);
  return doc;
}

}  // namespace

namespace detail {

json render_document(const InboundView& message, const RenderOptions& options, Splices* splices) {
  mime::Message parsed = mime::parse(message.data);
  auto received = common::Clock::time_point(std::chrono::milliseconds(message.received_at_ms));
  json doc = {{"type", "message.received"},
              {"version", "bridge.v1"},
              {"id", std::string(message.id)},
              {"received_at", common::rfc3339_utc(received)},
              {"envelope", envelope_json(message.envelope_json, options.rcpt_to, message.data.size())},
              {"message", message_json(message.data, parsed, options, splices)},
              {"raw", nullptr}};
  if (options.include_raw)
    doc["raw"] = splices ? json(splices->add_borrowed(message.data)) : json(common::base64_encode(message.data));
  return doc;
}

std::string render_text_spliced(const InboundView& message, const RenderOptions& options, std::string_view token) {
  Splices splices(token);
  // mime promises valid UTF-8; replacing instead of throwing is the last line of defence.
  std::string dumped = render_document(message, options, &splices).dump(-1, ' ', false, json::error_handler_t::replace);
  if (splices.empty()) return dumped;
  if (std::optional<std::string> text = splices.splice(dumped)) return std::move(*text);
  // The token occurs in the message itself: render the plain way.
  return render_bridge_v1(message, options).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace detail

json render_bridge_v1(const InboundView& message, const RenderOptions& options) {
  return detail::render_document(message, options, nullptr);
}

std::string render_bridge_v1_text(const InboundView& message, const RenderOptions& options) {
  return detail::render_text_spliced(message, options, detail::splice_token());
}

}  // namespace delivery
