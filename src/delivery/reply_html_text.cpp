// The text of an HTML document for reply extraction (reply_html.cpp): what a reader sees, one line
// per block element and <br>, whitespace collapsed as HTML renders it (kept in <pre>), no script,
// style or head. An iterative walk: no recursion on deep nesting.
#include <libxml/tree.h>

#include <string>
#include <string_view>
#include <vector>

namespace delivery {
namespace {

using Node = xmlNode*;

bool named(Node n, std::string_view name) {
  return reinterpret_cast<const char*>(n->name) == name;
}

bool skipped(Node n) {
  for (std::string_view name : {"script", "style", "head", "title", "template", "noscript"})
    if (named(n, name)) return true;
  return false;
}

bool block(Node n) {
  for (std::string_view name :
       {"p",       "div",     "blockquote", "li",     "ul",      "ol",     "tr",    "table",
        "h1",      "h2",      "h3",         "h4",     "h5",      "h6",     "pre",   "hr",
        "section", "article", "header",     "footer", "address", "center", "dl",    "dt",
        "dd",      "form",    "fieldset",   "figure", "main",    "nav",    "aside", "caption"})
    if (named(n, name)) return true;
  return false;
}

class TextWriter {
 public:
  void enter(Node n) {
    if (named(n, "br")) {
      out_ += '\n';
      space_ = false;
    } else if (block(n)) {
      line_break();
      starts_.push_back(out_.size());
    }
    if (named(n, "pre")) ++pre_;
    if (named(n, "td") || named(n, "th")) space_ = true;
  }
  void leave(Node n) {
    if (named(n, "pre") && pre_ > 0) --pre_;
    if (!block(n) || starts_.empty()) return;
    // An empty paragraph that held only spaces (Outlook's <p>&nbsp;</p>) is a blank line.
    bool blank_line = out_.size() == starts_.back() && space_;
    starts_.pop_back();
    line_break();
    if (blank_line) out_ += '\n';
  }
  void text(const xmlChar* content) {
    for (const xmlChar* c = content; *c; ++c) {
      if (pre_ > 0) {
        out_ += static_cast<char>(*c);
        continue;
      }
      bool white = *c == ' ' || *c == '\n' || *c == '\t' || *c == '\r' || *c == '\f';
      if (*c == 0xC2 && c[1] == 0xA0) {  // U+00A0 no-break space
        white = true;
        ++c;
      }
      if (white) {
        space_ = true;
        continue;
      }
      if (space_ && !out_.empty() && out_.back() != '\n') out_ += ' ';
      space_ = false;
      out_ += static_cast<char>(*c);
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
      descend = !skipped(n);
      if (descend) writer.enter(n);
    } else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
      writer.text(n->content);
    }
    if (descend && n->children) {
      n = n->children;
      continue;
    }
    // Leave `n` (if entered) and every ancestor whose last child it was.
    for (;;) {
      if (n->type == XML_ELEMENT_NODE && !skipped(n)) writer.leave(n);
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
