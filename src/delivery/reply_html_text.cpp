// The text of an HTML document for reply extraction (reply_html.cpp): what a reader sees, one line
// per block element and <br>, whitespace collapsed as HTML renders it (kept in <pre>), no script,
// style or head. An iterative walk: no recursion on deep nesting.
#include <libxml/tree.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace delivery {
namespace {

using Node = xmlNode*;

enum class Tag { other, br, block, pre, cell, skipped };

Tag tag_of(Node n) {
  static const std::unordered_map<std::string_view, Tag> tags = [] {
    std::unordered_map<std::string_view, Tag> map;
    for (std::string_view name :
         {"p",       "div",      "blockquote", "li",      "ul",     "ol",    "tr",     "table",
          "h1",      "h2",       "h3",         "h4",      "h5",     "h6",    "hr",     "section",
          "article", "header",   "footer",     "address", "center", "dl",    "dt",     "dd",
          "form",    "fieldset", "figure",     "main",    "nav",    "aside", "caption"})
      map[name] = Tag::block;
    for (std::string_view name : {"script", "style", "head", "title", "template", "noscript"})
      map[name] = Tag::skipped;
    map["br"] = Tag::br;
    map["pre"] = Tag::pre;
    map["td"] = Tag::cell;
    map["th"] = Tag::cell;
    return map;
  }();
  auto found = tags.find(reinterpret_cast<const char*>(n->name));
  return found == tags.end() ? Tag::other : found->second;
}

// The length of the whitespace character at `i` (HTML's, and U+00A0 no-break space), or 0.
size_t whitespace_at(std::string_view s, size_t i) {
  char c = s[i];
  if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f') return 1;
  return (c == '\xC2' && i + 1 < s.size() && s[i + 1] == '\xA0') ? 2 : 0;
}

class TextWriter {
 public:
  void enter(Tag tag) {
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
  void leave(Tag tag) {
    if (tag == Tag::pre && pre_ > 0) --pre_;
    if ((tag != Tag::block && tag != Tag::pre) || starts_.empty()) return;
    // An empty paragraph that held only spaces (Outlook's <p>&nbsp;</p>) is a blank line.
    bool blank_line = out_.size() == starts_.back() && space_;
    starts_.pop_back();
    line_break();
    if (blank_line) out_ += '\n';
  }
  void text(const xmlChar* content) {
    std::string_view s = reinterpret_cast<const char*>(content);
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
  std::string take() { return std::move(out_); }

 private:
  void line_break() {
    if (!out_.empty() && out_.back() != '\n') out_ += '\n';
    space_ = false;
  }

  std::string out_;
  std::vector<size_t> starts_;  // out_'s size where each open block element began
  bool space_ = false;
  int pre_ = 0;
};

}  // namespace

std::string html_document_text(xmlDoc* doc) {
  TextWriter writer;
  Node n = doc->children;
  while (n) {
    bool descend = false;
    if (n->type == XML_ELEMENT_NODE) {
      Tag tag = tag_of(n);
      descend = tag != Tag::skipped;
      if (descend) writer.enter(tag);
    } else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
      writer.text(n->content);
    }
    if (descend && n->children) {
      n = n->children;
      continue;
    }
    // Leave `n` (if entered) and every ancestor whose last child it was.
    for (;;) {
      if (n->type == XML_ELEMENT_NODE) writer.leave(tag_of(n));
      if (n->next) {
        n = n->next;
        break;
      }
      n = n->parent;
      if (!n || n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE) {
        n = nullptr;
        break;
      }
    }
  }
  return writer.take();
}

}  // namespace delivery
