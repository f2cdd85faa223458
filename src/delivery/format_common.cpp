// The shared half of the drop-in formats (format_common.h): reading the message once, the text
// cap, JSON strings, addresses, and the randomness and signature of Mailgun's fields.
#include "delivery/format_common.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "common/part_link.h"
#include "delivery/formats.h"
#include "delivery/payload_budget.h"

namespace delivery {

std::string random_hex(size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string bytes((n + 1) / 2, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size())) !=
      1) {
    // Only when OpenSSL's CSPRNG is unusable: the token is a replay nonce, not a key.
    std::random_device device;
    for (char& c : bytes) c = static_cast<char>(device());
  }
  std::string out;
  out.reserve(n);
  for (char c : bytes) {
    out += hex[static_cast<unsigned char>(c) >> 4];
    out += hex[static_cast<unsigned char>(c) & 0x0f];
  }
  out.resize(n);
  return out;
}

// Mailgun's "Securing webhooks": hex HMAC-SHA256 with the signing key over timestamp + token.
std::string mailgun_signature(std::string_view key, int64_t timestamp, std::string_view token) {
  std::string data = std::to_string(timestamp);
  data += token;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  static const unsigned char empty = 0;
  const void* key_bytes = key.empty() ? &empty : static_cast<const void*>(key.data());
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
           &length) == nullptr)
    return {};
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

namespace formats {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
  });
}

// A body decodes to at most 1.5 × its bytes + 64 KiB of UTF-8 (payload.cpp's limit); beyond,
// the text is cut there.
std::string decode_body_text(std::string_view raw, const mime::Message& message, int index,
                             bool& present) {
  present = index >= 0 && static_cast<size_t>(index) < message.parts.size();
  if (!present) return {};
  const mime::Part& part = message.parts[index];
  size_t limit = part.body_size() + part.body_size() / 2 + (64 << 10);
  bool cut = false;
  return mime::decode_text(raw, part, nullptr, limit, &cut);
}

// MAIL FROM of the stored envelope; "" when it cannot be read.
std::string envelope_sender(std::string_view envelope_json) {
  nlohmann::json envelope = nlohmann::json::parse(envelope_json, nullptr, false);
  if (!envelope.is_object()) return {};
  auto found = envelope.find("mail_from");
  if (found == envelope.end() || !found->is_string()) return {};
  return found->get<std::string>();
}

}  // namespace

const std::vector<mime::Header>& Source::top() const {
  static const std::vector<mime::Header> none;
  return parsed.parts.empty() ? none : parsed.parts[0].headers;
}

std::string_view Source::header(std::string_view name) const {
  for (const mime::Header& h : top())
    if (iequals(h.name, name)) return h.value;
  return {};
}

Source read_source(const InboundView& message, const RenderOptions& options, bool stripped_html) {
  Source source;
  source.id = message.id;
  source.raw = message.data;
  source.parsed = mime::parse(message.data);
  source.mail_from = envelope_sender(message.envelope_json);
  const mime::Message& parsed = source.parsed;
  source.text = decode_body_text(message.data, parsed, parsed.text_part, source.has_text);
  source.html = decode_body_text(message.data, parsed, parsed.html_part, source.has_html);
  for (int index : parsed.attachments)
    if (index >= 0 && static_cast<size_t>(index) < parsed.parts.size())
      source.attachments.push_back(index);
  std::sort(source.attachments.begin(), source.attachments.end());
  if (!options.extract_reply) return source;
  if (source.has_html && (stripped_html || !source.has_text)) {
    HtmlReply html = extract_reply_html(source.html);
    if (stripped_html) source.stripped_html = std::move(html.html);
    if (!source.has_text) source.reply = std::move(html.text);
  }
  if (source.has_text) source.reply = extract_reply_text(source.text);
  source.has_reply = source.has_text || source.has_html;
  return source;
}

namespace {

bool over_limits(uint64_t size, const RenderOptions& options) {
  return size > options.max_attachment_bytes ||
         (options.attachments_by_url && size > options.url_threshold);
}

// The decoded size of an attachment, estimated from its encoded body without decoding it.
uint64_t estimated_size(const mime::Part& part) {
  return part.transfer_encoding == "base64" ? part.body_size() / 4 * 3 : part.body_size();
}

}  // namespace

void plan_links(Source& source, const RenderOptions& options, size_t text_bytes, bool base64) {
  const AttachmentLinks& links = options.links;
  if (options.max_payload_bytes == 0 || links.base_url.empty() || links.secret.empty()) return;
  // The structure besides the text: a few hundred bytes per attachment and header field.
  uint64_t total = text_bytes + 64 * 1024 + 512 * source.attachments.size();
  std::vector<std::pair<uint64_t, int>> carried;  // (bytes in the document, index)
  for (int index : source.attachments) {
    uint64_t size = estimated_size(source.parsed.parts[index]);
    if (over_limits(size, options)) continue;
    uint64_t bytes = base64 ? (size + 2) / 3 * 4 : size;
    carried.emplace_back(bytes, index);
    total += bytes;
  }
  std::sort(carried.rbegin(), carried.rend());  // largest first
  for (const auto& [bytes, index] : carried) {
    if (total <= options.max_payload_bytes) break;
    source.by_link.push_back(index);
    total -= bytes;
  }
  std::sort(source.by_link.begin(), source.by_link.end());
}

Carried carry(const Source& source, int index, const RenderOptions& options) {
  const mime::Part& part = source.parsed.parts[index];
  Carried carried;
  carried.bytes = mime::decode_body(source.raw, part);
  carried.size = carried.bytes.size();
  carried.omitted = over_limits(carried.size, options) ||
                    std::binary_search(source.by_link.begin(), source.by_link.end(), index);
  if (!carried.omitted) return carried;
  std::string().swap(carried.bytes);
  const AttachmentLinks& links = options.links;
  if (!links.base_url.empty() && !links.secret.empty())
    carried.url = common::part_link(links.base_url, links.secret, source.id, part_number(part),
                                    links.expires);
  return carried;
}

std::string_view Cap::operator()(std::string_view s) const {
  if (cap_ == SIZE_MAX) return s;
  if (json_) return s.size() > cap_ / 6 ? s.substr(0, budget::escaped_prefix(s, cap_)) : s;
  if (s.size() <= cap_) return s;
  size_t end = cap_;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

size_t Cap::cost(std::string_view s) const {
  return json_ ? budget::escaped_size(s) : s.size();
}

Cap text_cap(const std::vector<size_t>& costs, size_t message_size, bool json) {
  return Cap(budget::water_level(costs, 3 * message_size + kTextSlack), json);
}

size_t capped_total(const std::vector<size_t>& costs, size_t message_size) {
  size_t total = 0;
  for (size_t cost : costs) total += cost;
  return std::min(total, 3 * message_size + kTextSlack);
}

std::string_view valid_text(std::string_view s, std::string& storage) {
  if (mime::is_valid_utf8(s)) return s;
  storage = mime::valid_utf8(s);
  return storage;
}

void append_json_string(std::string& out, std::string_view s) {
  std::string storage;
  s = valid_text(s, storage);
  static const char* hex = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0x0f];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::string_view mailbox_hash(std::string_view address) {
  size_t at = address.rfind('@');
  std::string_view local = address.substr(0, at);
  size_t plus = local.find('+');
  return plus == std::string_view::npos ? std::string_view() : local.substr(plus + 1);
}

std::string display_address(std::string_view name, std::string_view address) {
  if (name.empty()) return std::string(address);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += "\" <";
  out += address;
  out += '>';
  return out;
}

std::string_view part_number(const mime::Part& part) {
  return part.number.empty() ? std::string_view("1") : std::string_view(part.number);
}

}  // namespace formats
}  // namespace delivery
