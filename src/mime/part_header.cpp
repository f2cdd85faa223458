// Interpretation of a part's header block: Content-Type (RFC 2045 5, defaults of RFC 2045 5.2 and
// RFC 2046 5.1.5), Content-Transfer-Encoding (RFC 2045 6), Content-Disposition (RFC 2183),
// Content-ID, Content-Description; and the top-level summaries (RFC 5322 3.6).
#include "mime/internal.h"

namespace mime::detail {
namespace {

const RawField* find_field(const HeaderBlock& block, std::string_view name) {
  for (const auto& f : block.fields)
    if (iequals(f.name, name)) return &f;
  return nullptr;
}

// The first word of a header value, lower-case, comments and white space dropped.
std::string first_word(std::string_view value) {
  std::string v = unfold(value);
  std::string_view t = trim(v);
  size_t stop = t.find_first_of(" \t(;");
  return to_lower(t.substr(0, stop));
}

void apply_content_type(Part& part, const RawField* field, bool digest_child,
                        std::vector<std::string>* defects) {
  part.content_type = digest_child ? "message/rfc822" : "text/plain";
  if (field == nullptr) return;
  ContentType ct = parse_content_type(field->value);
  part.params = std::move(ct.params);
  bool token_ok = !ct.type.empty() && ct.type.find_first_of("\"=<>@,") == std::string::npos;
  if (token_ok && !ct.subtype.empty()) {
    part.content_type = undeclared_to_utf8(ct.type + "/" + ct.subtype);
  } else if (ct.type == "text") {
    part.content_type = "text/plain";  // "Content-Type: text" seen in old mailers
  } else {
    add_defect(defects, "invalid_content_type");  // RFC 2045 5.2: default applies
  }
  if (auto it = part.params.find("charset"); it != part.params.end())
    part.charset = to_lower(trim(it->second));
}

}  // namespace

void apply_header(Part& part, const HeaderBlock& block, bool digest_child,
                  std::vector<std::string>* defects) {
  part.headers.reserve(block.fields.size());
  for (const auto& f : block.fields)
    part.headers.push_back({undeclared_to_utf8(f.name), decode_unstructured(f.value)});

  apply_content_type(part, find_field(block, "Content-Type"), digest_child, defects);
  if (const RawField* f = find_field(block, "Content-Transfer-Encoding")) {
    std::string cte = first_word(f->value);
    if (!cte.empty()) part.transfer_encoding = undeclared_to_utf8(cte);
  }
  std::map<std::string, std::string> disposition_params;
  if (const RawField* f = find_field(block, "Content-Disposition")) {
    std::string head;
    disposition_params = parse_params(unfold(f->value), &head);
    part.disposition = undeclared_to_utf8(head);
  }
  if (auto it = disposition_params.find("filename");
      it != disposition_params.end() && !it->second.empty())
    part.filename = it->second;
  else if (auto name = part.params.find("name"); name != part.params.end())
    part.filename = name->second;
  if (const RawField* f = find_field(block, "Content-ID")) {
    auto ids = parse_message_ids(f->value);
    if (!ids.empty()) part.content_id = ids.front();
  }
  if (const RawField* f = find_field(block, "Content-Description"))
    part.description = decode_unstructured(f->value);
}

void apply_summary(Message& m, const HeaderBlock& block) {
  for (const auto& f : block.fields) {
    std::string name = to_lower(f.name);
    if (name == "subject" && m.subject.empty()) {
      m.subject = decode_unstructured(f.value);
    } else if (name == "from" || name == "to" || name == "cc" || name == "bcc" ||
               name == "reply-to") {
      auto& list = name == "from"  ? m.from
                   : name == "to"  ? m.to
                   : name == "cc"  ? m.cc
                   : name == "bcc" ? m.bcc
                                   : m.reply_to;
      for (auto& a : parse_address_list(f.value)) list.push_back(std::move(a));  // repeats joined
    } else if (name == "sender" && !m.sender) {
      auto list = parse_address_list(f.value);
      if (!list.empty()) m.sender = std::move(list.front());
    } else if (name == "date" && !m.date) {
      m.date = parse_date(f.value);
      if (!m.date) add_defect(&m.defects, "invalid_date");
    } else if (name == "message-id" && m.message_id.empty()) {
      auto ids = parse_message_ids(f.value);
      if (!ids.empty()) m.message_id = ids.front();
    } else if (name == "in-reply-to" && m.in_reply_to.empty()) {
      m.in_reply_to = parse_message_ids(f.value);
    } else if (name == "references" && m.references.empty()) {
      m.references = parse_message_ids(f.value);
    }
  }
}

}  // namespace mime::detail
