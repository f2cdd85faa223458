// The JSON view of a mime::parse result (see message_json.h); also the strict UTF-8 check and
// SHA-256 used by the corpus tests and mime_dump.
#include "message_json.h"

#include <openssl/evp.h>

#include <cstdio>

namespace corpus {
namespace {

using nlohmann::json;

json address_json(const mime::Address& address) {
  return json{{"name", address.name}, {"address", address.address}, {"group", address.group}};
}

json addresses_json(const std::vector<mime::Address>& list) {
  json out = json::array();
  for (const auto& address : list) out.push_back(address_json(address));
  return out;
}

json part_tree(const mime::Message& message, int index, size_t depth) {
  const mime::Part& part = message.parts[static_cast<size_t>(index)];
  json node{{"number", part.number},           {"content_type", part.content_type},
            {"charset", part.charset},         {"transfer_encoding", part.transfer_encoding},
            {"disposition", part.disposition}, {"filename", part.filename},
            {"content_id", part.content_id},   {"size", part.body_size()},
            {"children", json::array()}};
  // The parser's own depth limit keeps this finite; the guard only protects against a broken table.
  if (depth > 200) return node;
  for (int child : part.children) {
    if (child >= 0 && child != index && static_cast<size_t>(child) < message.parts.size())
      node["children"].push_back(part_tree(message, child, depth + 1));
  }
  return node;
}

void check_string(std::string_view value, const std::string& path, std::vector<std::string>& out) {
  if (!valid_utf8(value)) out.push_back(path);
}

}  // namespace

bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    if (byte >= 0xC2 && byte <= 0xDF) {
      length = 2;
      code = byte & 0x1F;
    } else if (byte >= 0xE0 && byte <= 0xEF) {
      length = 3;
      code = byte & 0x0F;
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      length = 4;
      code = byte & 0x07;
    } else
      return false;
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && code < 0x10000)) return false;
    if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  char buffer[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(buffer, sizeof buffer, "%02x", digest[i]);
    hex += buffer;
  }
  return hex;
}

nlohmann::json message_to_json(std::string_view raw, const mime::Message& message) {
  json out;
  out["subject"] = message.subject;
  out["from"] = addresses_json(message.from);
  out["to"] = addresses_json(message.to);
  out["cc"] = addresses_json(message.cc);
  out["date"] = message.date ? json(*message.date) : json(nullptr);
  out["message_id"] = message.message_id;
  // A main body's text, and the charset it was read in (mime::decode_text's charset_used).
  const auto text_of = [&](int index, const char* name) {
    if (index < 0 || static_cast<size_t>(index) >= message.parts.size()) {
      out[name] = nullptr;
      out[std::string(name) + "_charset"] = nullptr;
      return;
    }
    std::string used;
    out[name] = mime::decode_text(raw, message.parts[static_cast<size_t>(index)], nullptr, SIZE_MAX,
                                  nullptr, &used);
    out[std::string(name) + "_charset"] = used;
  };
  text_of(message.text_part, "text");
  text_of(message.html_part, "html");
  out["attachments"] = json::array();
  for (int index : message.attachments) {
    if (index < 0 || static_cast<size_t>(index) >= message.parts.size()) continue;
    const mime::Part& part = message.parts[static_cast<size_t>(index)];
    const std::string body = mime::decode_body(raw, part);
    out["attachments"].push_back(json{{"part", part.number},
                                      {"filename", part.filename},
                                      {"content_type", part.content_type},
                                      {"disposition", part.disposition},
                                      {"content_id", part.content_id},
                                      {"size", body.size()},
                                      {"sha256", sha256_hex(body)}});
  }
  out["parts"] = message.parts.empty() ? json(nullptr) : part_tree(message, 0, 0);
  out["defects"] = message.defects;
  return out;
}

std::vector<std::string> invalid_utf8_fields(std::string_view raw, const mime::Message& message) {
  std::vector<std::string> out;
  check_string(message.subject, "/subject", out);
  const auto check_list = [&](const std::vector<mime::Address>& list, const std::string& path) {
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string at = path + "/" + std::to_string(i);
      check_string(list[i].name, at + "/name", out);
      check_string(list[i].address, at + "/address", out);
      check_string(list[i].group, at + "/group", out);
    }
  };
  check_list(message.from, "/from");
  check_list(message.to, "/to");
  check_list(message.cc, "/cc");
  check_list(message.bcc, "/bcc");
  check_list(message.reply_to, "/reply_to");
  if (message.sender) check_list({*message.sender}, "/sender");
  if (message.date) check_string(*message.date, "/date", out);
  check_string(message.message_id, "/message_id", out);
  for (const auto& id : message.in_reply_to) check_string(id, "/in_reply_to", out);
  for (const auto& id : message.references) check_string(id, "/references", out);
  for (const auto& defect : message.defects) check_string(defect, "/defects", out);
  for (size_t i = 0; i < message.parts.size(); ++i) {
    const mime::Part& part = message.parts[i];
    const std::string at = "/parts/" + std::to_string(i);
    for (const auto* field :
         {&part.number, &part.content_type, &part.charset, &part.transfer_encoding,
          &part.disposition, &part.filename, &part.content_id, &part.description, &part.boundary})
      check_string(*field, at + "/field", out);
    for (const auto& [name, value] : part.params) {
      check_string(name, at + "/params/name", out);
      check_string(value, at + "/params/" + name, out);
    }
    for (const auto& header : part.headers) {
      check_string(header.name, at + "/headers/name", out);
      check_string(header.value, at + "/headers/" + header.name, out);
    }
    if (part.children.empty() && !part.is_multipart() && part.content_type.rfind("text/", 0) == 0)
      check_string(mime::decode_text(raw, part), at + "/text", out);
  }
  return out;
}

}  // namespace corpus
