// The text of an HTML body for reply extraction (see reply_html_text.h).
#include "delivery/reply_html_text.h"

#include <unordered_map>

namespace delivery::reply {
namespace {

// The length of the whitespace character at `i` (HTML's, and U+00A0 no-break space), or 0.
size_t whitespace_at(std::string_view s, size_t i) {
  char c = s[i];
  if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f') return 1;
  return (c == '\xC2' && i + 1 < s.size() && s[i + 1] == '\xA0') ? 2 : 0;
}

}  // namespace

Tag tag_of(std::string_view name) {
  static const std::unordered_map<std::string_view, Tag> tags = [] {
    std::unordered_map<std::string_view, Tag> map;
    for (std::string_view block :
         {"p",       "div",      "blockquote", "li",      "ul",     "ol",    "tr",     "table",
          "h1",      "h2",       "h3",         "h4",      "h5",     "h6",    "hr",     "section",
          "article", "header",   "footer",     "address", "center", "dl",    "dt",     "dd",
          "form",    "fieldset", "figure",     "main",    "nav",    "aside", "caption"})
      map[block] = Tag::block;
    for (std::string_view hidden : {"script", "style", "head", "title", "template", "noscript"})
      map[hidden] = Tag::skipped;
    map["br"] = Tag::br;
    map["pre"] = Tag::pre;
    map["td"] = Tag::cell;
    map["th"] = Tag::cell;
    return map;
  }();
  auto found = tags.find(name);
  return found == tags.end() ? Tag::other : found->second;
}

void TextWriter::enter(Tag tag) {
  if (tag == Tag::br) {
    out_ += '\n';
    space_ = false;
  } else if (tag == Tag::block || tag == Tag::pre) {
    line_break();
    starts_.push_back(out_.size());
  }
  if (tag == Tag::pre) ++pre_;
  if (tag == Tag::cell) space_ = true;
}

void TextWriter::leave(Tag tag) {
  if (tag == Tag::pre && pre_ > 0) --pre_;
  if ((tag != Tag::block && tag != Tag::pre) || starts_.empty()) return;
  // An empty paragraph that held only spaces (Outlook's <p>&nbsp;</p>) is a blank line.
  bool blank_line = out_.size() == starts_.back() && space_;
  starts_.pop_back();
  line_break();
  if (blank_line) out_ += '\n';
}

void TextWriter::text(std::string_view s) {
  if (pre_ > 0) {
    out_ += s;
    return;
  }
  size_t i = 0;
  while (i < s.size()) {
    size_t white = whitespace_at(s, i);
    if (white > 0) {
      space_ = true;
      i += white;
      continue;
    }
    size_t end = i + 1;
    while (end < s.size() && whitespace_at(s, end) == 0) ++end;
    if (space_ && !out_.empty() && out_.back() != '\n') out_ += ' ';
    space_ = false;
    out_.append(s.substr(i, end - i));
    i = end;
  }
}

void TextWriter::line_break() {
  if (!out_.empty() && out_.back() != '\n') out_ += '\n';
  space_ = false;
}

}  // namespace delivery::reply
