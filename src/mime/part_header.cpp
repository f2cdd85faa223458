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
  std::string v = unfold(value.substr(0, 1024));  // a longer word is no token anyway
  std::string_view t = trim(v);
  size_t stop = t.find_first_of(" \t(;");
  return to_lower(t.substr(0, stop));
}

// RFC 6838 4.2: type and subtype names are at most 127 characters each.
constexpr size_t kMaxContentType = 255;
// Labels copied into the part table (and written twice by bridge.v1): longer ones are not what
// their RFC allows (RFC 2045 6.1 / 2183 tokens, RFC 2978 charset names ≤ 40, RFC 5322 2.1.1).
constexpr size_t kMaxToken = 64;
constexpr size_t kMaxContentId = 998;

void apply_content_type(Part& part, const RawField* field, bool digest_child,
                        ParseContext& context) {
  part.content_type = digest_child ? "message/rfc822" : "text/plain";
  if (field == nullptr) return;
  FieldBudget budget = context.field(field->value.size());
  std::string head;
  std::string storage;
  part.params = parse_params(unfolded(field->value, storage), &head, &budget);
  size_t slash = head.find('/');
  std::string_view type = std::string_view(head).substr(0, slash);
  std::string_view subtype =
      slash == std::string::npos ? std::string_view() : std::string_view(head).substr(slash + 1);
  bool token_ok = !type.empty() && type.find_first_of("\"=<>@,") == std::string::npos;
  if (head.size() > kMaxContentType) {
    add_defect(context.defects, "invalid_content_type");  // RFC 2045 5.2: default applies
  } else if (token_ok && !subtype.empty()) {
    part.content_type = undeclared_to_utf8(head);
  } else if (type == "text") {
    part.content_type = "text/plain";  // "Content-Type: text" seen in old mailers
  } else {
    add_defect(context.defects, "invalid_content_type");  // RFC 2045 5.2: default applies
  }
  if (auto it = part.params.find("charset"); it != part.params.end()) {
    std::string_view charset = trim(it->second);
    if (charset.size() <= kMaxToken)
      part.charset = to_lower(charset);
    else
      add_defect(context.defects, "unknown_charset");  // read as undeclared
  }
}

// A copy of a decoded string within `budget` (only the part that fits is copied: a cut copy
// keeps no capacity beyond it).
std::string copy_within(const std::string& value, FieldBudget& budget, ParseContext& context) {
  std::string out;
  if (!append_undeclared(out, value, budget.room))
    add_defect(context.defects, "header_text_truncated");
  budget.spend(out.size());
  return out;
}

// A label of at most kMaxToken characters, else "" with `defect`.
std::string label(std::string_view value, std::string_view defect, ParseContext& context) {
  if (value.size() <= kMaxToken) return undeclared_to_utf8(value);
  add_defect(context.defects, defect);
  return "";
}

}  // namespace

void apply_header(Part& part, const HeaderBlock& block, bool digest_child, ParseContext& context) {
  part.headers.reserve(block.fields.size());
  for (const auto& f : block.fields) {
    FieldBudget budget = context.field(f.name.size() + f.value.size());
    bool cut = false;
    std::string name = undeclared_to_utf8(f.name, budget.room, &cut);
    if (cut) add_defect(context.defects, "header_text_truncated");
    budget.spend(name.size());
    part.headers.push_back({std::move(name), decode_words(f.value, budget)});
  }

  apply_content_type(part, find_field(block, "Content-Type"), digest_child, context);
  if (const RawField* f = find_field(block, "Content-Transfer-Encoding")) {
    std::string cte = first_word(f->value);
    if (!cte.empty()) {
      cte = label(cte, "invalid_transfer_encoding", context);
      if (!cte.empty()) part.transfer_encoding = std::move(cte);
    }
  }
  std::map<std::string, std::string> disposition_params;
  if (const RawField* f = find_field(block, "Content-Disposition")) {
    std::string head;
    FieldBudget budget = context.field(f->value.size());
    std::string storage;
    disposition_params = parse_params(unfolded(f->value, storage), &head, &budget);
    part.disposition = label(head, "invalid_disposition", context);
  }
  const std::string* filename = nullptr;
  if (auto it = disposition_params.find("filename");
      it != disposition_params.end() && !it->second.empty())
    filename = &it->second;
  else if (auto name = part.params.find("name"); name != part.params.end())
    filename = &name->second;
  if (filename != nullptr) {
    // A copy of a parameter: charged again, within the message's text budget.
    FieldBudget budget = context.field(filename->size());
    part.filename = copy_within(*filename, budget, context);
  }
  if (const RawField* f = find_field(block, "Content-ID")) {
    FieldBudget budget = context.field(f->value.size());
    budget.max_items = 1;
    budget.defects = nullptr;  // only the first id counts
    auto ids = message_ids(f->value, budget);
    if (!ids.empty() && ids.front().size() <= kMaxContentId) part.content_id = ids.front();
  }
  if (const RawField* f = find_field(block, "Content-Description")) {
    // The decoded field is in part.headers already: a copy, charged like one.
    size_t index = static_cast<size_t>(f - block.fields.data());
    if (index < part.headers.size()) {
      FieldBudget budget = context.field(f->value.size());
      part.description = copy_within(part.headers[index].value, budget, context);
    }
  }
}

void apply_summary(Message& m, const HeaderBlock& block, ParseContext& context) {
  const std::vector<Header>& decoded = m.parts.front().headers;
  for (size_t index = 0; index < block.fields.size(); ++index) {
    const RawField& f = block.fields[index];
    std::string name = to_lower(f.name.substr(0, 16));
    if (f.name.size() > 16) continue;
    FieldBudget budget = context.field(f.value.size());
    if (name == "subject" && m.subject.empty()) {
      // The decoded header value, copied (not decoded again), charged like a copy.
      if (index < decoded.size()) m.subject = copy_within(decoded[index].value, budget, context);
    } else if (name == "from" || name == "to" || name == "cc" || name == "bcc" ||
               name == "reply-to") {
      auto& list = name == "from"  ? m.from
                   : name == "to"  ? m.to
                   : name == "cc"  ? m.cc
                   : name == "bcc" ? m.bcc
                                   : m.reply_to;
      // Repeated fields are joined, within one Limits::max_addresses.
      budget.max_items =
          context.limits.max_addresses - std::min(context.limits.max_addresses, list.size());
      for (auto& a : address_list(f.value, budget)) list.push_back(std::move(a));
    } else if (name == "sender" && !m.sender) {
      budget.max_items = 1;
      budget.defects = nullptr;  // a second mailbox in Sender is no reason for a defect
      auto list = address_list(f.value, budget);
      if (!list.empty()) m.sender = std::move(list.front());
    } else if (name == "date" && !m.date) {
      m.date = parse_date(std::string_view(f.value).substr(0, 4096));
      if (!m.date) add_defect(&m.defects, "invalid_date");
    } else if (name == "message-id" && m.message_id.empty()) {
      budget.max_items = 1;
      budget.defects = nullptr;
      auto ids = message_ids(f.value, budget);
      if (!ids.empty()) m.message_id = ids.front();
    } else if (name == "in-reply-to" && m.in_reply_to.empty()) {
      m.in_reply_to = message_ids(f.value, budget);
    } else if (name == "references" && m.references.empty()) {
      m.references = message_ids(f.value, budget);
    }
  }
}

}  // namespace mime::detail
