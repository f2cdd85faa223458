// The parts of a bridge.v1 document made from the message's structure (payload_out.h): its
// envelope as stored, address lists, header fields and the MIME tree with IMAP part numbers.
#include "delivery/payload_out.h"

#include <algorithm>

namespace delivery::detail {

void write_address(Out& out, const mime::Address& address) {
  out.begin_object();
  out.key("address");
  out.text(address.address);
  out.key("name");
  out.text(address.name);
  out.end_object();
}

void write_addresses(Out& out, const std::vector<mime::Address>& addresses) {
  out.begin_array();
  for (const mime::Address& address : addresses) write_address(out, address);
  out.end_array();
}

void write_headers(Out& out, const std::vector<mime::Header>& headers) {
  out.begin_array();
  for (const mime::Header& header : headers) {
    out.begin_object();
    out.key("name");
    out.text(header.name);
    out.key("value");
    out.text(header.value);
    out.end_object();
  }
  out.end_array();
}

// The stored envelope with rcpt_to replaced by this endpoint's recipients; RFC 3461 per-recipient
// parameters are kept only for those recipients (other routes' recipients, Bcc ones included,
// must not leak). Fields the stored JSON lacks, or all of them when it cannot be read, get
// neutral values so the document stays valid. The stored JSON is parsed with UTF-8 validation,
// so its strings can be written as they are; its keys come sorted (nlohmann wrote them).
void write_envelope(Out& out, std::string_view stored, const std::vector<std::string>& rcpt_to,
                    size_t size) {
  char pool[4096];  // a typical envelope's values fit here (the parser's stack is still allocated)
  rapidjson::MemoryPoolAllocator<> allocator(pool, sizeof pool);
  rapidjson::Document doc(&allocator);
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(stored.data(), stored.size());
  auto field = [&doc](const char* name) -> const rapidjson::Value* {
    if (!doc.IsObject()) return nullptr;
    auto member = doc.FindMember(name);
    return member == doc.MemberEnd() ? nullptr : &member->value;
  };
  auto value_or = [&out, &field](const char* name, auto otherwise) {
    out.key(name);
    if (const rapidjson::Value* value = field(name)) {
      out.value(*value);
    } else {
      otherwise();
    }
  };
  out.begin_object();
  value_or("auth", [&] { out.null(); });
  // The inbound checks' verdicts (issue 13, ARCHITECTURE.md "Runtime"): null when not run.
  value_or("authentication", [&] { out.null(); });
  value_or("client", [&] {
    out.begin_object();
    out.key("ip");
    out.string("");
    out.key("port");
    out.number(0);
    out.end_object();
  });
  value_or("helo", [&] { out.string(""); });
  value_or("mail_from", [&] { out.string(""); });
  out.key("params");
  const rapidjson::Value* params = field("params");
  if (params == nullptr) {
    out.begin_object();
    out.key("body");
    out.string("7BIT");
    out.key("size");
    out.number(size);
    out.key("smtputf8");
    out.boolean(false);
    out.end_object();
  } else if (!params->IsObject()) {
    out.value(*params);
  } else {
    out.begin_object();
    for (const auto& param : params->GetObject()) {
      if (!param.value.IsObject() ||
          std::string_view(param.name.GetString(), param.name.GetStringLength()) != "rcpt") {
        out.member(param.name, param.value);
        continue;
      }
      bool any = false;
      for (const auto& rcpt : param.value.GetObject()) {
        std::string_view address(rcpt.name.GetString(), rcpt.name.GetStringLength());
        if (std::find(rcpt_to.begin(), rcpt_to.end(), address) == rcpt_to.end()) continue;
        if (!any) {
          out.key("rcpt");
          out.begin_object();
          any = true;
        }
        out.member(rcpt.name, rcpt.value);
      }
      if (any) out.end_object();
    }
    out.end_object();
  }
  out.key("rcpt_to");
  out.strings(rcpt_to);
  value_or("spam", [&] { out.null(); });
  value_or("tls", [&] { out.null(); });
  out.end_object();
}

// IMAP numbering (RFC 3501 6.4.5) gives the root no number; as the single body part of a
// non-multipart message it is "1".
std::string_view part_number(const mime::Part& part) {
  return part.number.empty() ? std::string_view("1") : std::string_view(part.number);
}

// The fields a part and an attachment share, adjacent in both in key order.
void write_part_labels(Out& out, const mime::Part& part) {
  out.key("content_id");
  out.text_or_null(part.content_id);
  out.key("content_type");
  out.text(part.content_type);
  out.key("disposition");
  out.text_or_null(part.disposition);
  out.key("filename");
  out.text_or_null(part.filename);
}

namespace {

void write_part(Out& out, const mime::Message& message, int index, const DecodedCharsets& decoded) {
  const mime::Part& part = message.parts[index];
  out.begin_object();
  out.key("charset");
  out.text_or_null(part.charset);
  out.key("content_id");
  out.text_or_null(part.content_id);
  out.key("content_type");
  out.text(part.content_type);
  // What the text was read as (WHATWG name): the label's meaning, the HTML's <meta>, UTF-8 or
  // uchardet's guess (defects charset_detected, charset_mismatch); null for parts not decoded
  // as a main body.
  out.key("decoded_charset");
  out.string_or_null(decoded.of(index));
  out.key("disposition");
  out.text_or_null(part.disposition);
  out.key("filename");
  out.text_or_null(part.filename);
  out.key("headers");
  // The message's own header is message.headers (CONTRACTS.md 1), not repeated in its entry
  // here (issue 11: a long header was written twice).
  static const std::vector<mime::Header> no_headers;
  write_headers(out, index == 0 ? no_headers : part.headers);
  out.key("part");
  out.string(part_number(part));
  out.key("parts");
  out.begin_array();
  for (int child : part.children) write_part(out, message, child, decoded);
  out.end_array();
  out.key("size");
  out.number(part.end > part.body_begin ? part.end - part.body_begin : 0);
  out.key("transfer_encoding");
  out.text(part.transfer_encoding);
  out.end_object();
}

}  // namespace

// The top-level body parts of a multipart message; a message that is not multipart (or whose
// boundary was never found) is its own single part "1".
void write_parts(Out& out, const mime::Message& message, const DecodedCharsets& decoded) {
  out.begin_array();
  if (!message.parts.empty()) {
    const mime::Part& root = message.parts[0];
    if (root.is_multipart() && !root.children.empty()) {
      for (int child : root.children) write_part(out, message, child, decoded);
    } else {
      write_part(out, message, 0, decoded);
    }
  }
  out.end_array();
}

}  // namespace delivery::detail
