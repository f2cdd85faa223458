// Header block splitting (RFC 5322 2.2): fields with their folded values as views into the raw
// bytes, ended by the empty line. Lenient: bare LF, WSP before the colon (RFC 5322 4.5), an mbox
// "From " line, and a body that starts without the empty line are all accepted.
#include <cstring>

#include "mime/internal.h"

namespace mime::detail {
namespace {

// The line starting at `pos`: [pos, content_end) is its text, `next` the first byte after its
// line break (CRLF or bare LF).
struct Line {
  size_t content_end;
  size_t next;
};

Line line_at(std::string_view text, size_t pos) {
  const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
  if (nl == nullptr) return {text.size(), text.size()};
  size_t lf = static_cast<const char*>(nl) - text.data();
  size_t end = (lf > pos && text[lf - 1] == '\r') ? lf - 1 : lf;
  return {end, lf + 1};
}

// Length of the field name when the line is "name:" (RFC 5322 3.6.8 ftext, with obsolete WSP
// before the colon), else 0.
size_t field_name_length(std::string_view line) {
  size_t i = 0;
  while (i < line.size()) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c == ':') break;
    if (c <= 32 || c == 127) break;
    ++i;
  }
  size_t name_len = i;
  while (i < line.size() && is_wsp(line[i])) ++i;  // RFC 5322 4.5.6 obs-optional
  if (name_len == 0 || i >= line.size() || line[i] != ':') return 0;
  return name_len;
}

}  // namespace

HeaderBlock split_header(std::string_view text, size_t max_fields,
                         std::vector<std::string>* defects) {
  HeaderBlock block;
  size_t pos = 0;
  // An mbox separator line before the first field.
  if (text.substr(0, 5) == "From ") pos = line_at(text, 0).next;
  bool first = true;
  while (pos < text.size()) {
    Line line = line_at(text, pos);
    std::string_view content = text.substr(pos, line.content_end - pos);
    if (content.empty()) {  // RFC 5322 2.1: the empty line separates header and body
      block.body_begin = line.next;
      return block;
    }
    size_t name_len = field_name_length(content);
    if (name_len == 0) {
      if (is_wsp(content.front()) && !block.fields.empty()) {  // stray continuation: extend
        auto& last = block.fields.back();
        last.value =
            std::string_view(last.value.data(), text.data() + line.content_end - last.value.data());
        pos = line.next;
        continue;
      }
      // Not a header line: the body starts here (a part without header, or a missing separator).
      if (!first || is_wsp(content.front())) add_defect(defects, "missing_header_separator");
      block.body_begin = pos;
      return block;
    }
    first = false;
    size_t line_start = pos;
    size_t value_begin = pos + content.find(':') + 1;
    size_t value_end = line.content_end;
    pos = line.next;
    // RFC 5322 2.2.3: continuation lines start with WSP.
    while (pos < text.size() && is_wsp(text[pos])) {
      Line cont = line_at(text, pos);
      value_end = cont.content_end;
      pos = cont.next;
    }
    if (block.fields.size() < max_fields) {
      block.fields.push_back(
          {text.substr(line_start, name_len), text.substr(value_begin, value_end - value_begin)});
    } else {
      add_defect(defects, "too_many_header_fields");
    }
  }
  block.body_begin = text.size();
  return block;
}

}  // namespace mime::detail
