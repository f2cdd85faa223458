// The new part of an HTML reply (reply_text.h): parsed with libxml2's HTML parser (no network, no
// XML_PARSE_HUGE: its default limits hold), the quoted history the mail clients mark is removed
// from the tree, the rest serialised again, and its text extracted and stripped like a plain body.
// Walks are iterative (threaded through parent/next pointers): no recursion on deep nesting.
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/parser.h>

#include <climits>
#include <memory>
#include <mutex>

#include "delivery/reply_markers.h"
#include "delivery/reply_text.h"
#include "mime/message.h"

namespace delivery {
namespace {

using Node = xmlNode*;

// libxml2's HTML parser stores element and attribute names in lower case.
bool is_element(Node n, const char* name = nullptr) {
  return n && n->type == XML_ELEMENT_NODE &&
         (!name || xmlStrEqual(n->name, reinterpret_cast<const xmlChar*>(name)));
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The attributes the quote markers are in, read in one pass without copying (the HTML parser
// stores a value as one text child).
struct Attributes {
  std::string_view id, classes, type, style;
};

Attributes attributes_of(Node n) {
  Attributes out;
  for (xmlAttr* a = n->properties; a; a = a->next) {
    std::string_view value;
    if (a->children && a->children->type == XML_TEXT_NODE && a->children->content)
      value = reinterpret_cast<const char*>(a->children->content);
    std::string_view name = reinterpret_cast<const char*>(a->name);
    if (name == "id")
      out.id = value;
    else if (name == "class")
      out.classes = value;
    else if (name == "type")
      out.type = value;
    else if (name == "style")
      out.style = value;
  }
  return out;
}

bool equals_lower(std::string_view token, std::string_view wanted) {
  if (token.size() != wanted.size()) return false;
  for (size_t i = 0; i < token.size(); ++i)
    if (lower(token[i]) != wanted[i]) return false;
  return true;
}

// Whether a class token is one of the quote containers' (Yahoo prefixes its class names with a
// per-message "ydp1a2b3c4d": its yahoo_quoted is matched as a suffix).
bool quote_class(std::string_view classes) {
  size_t pos = 0;
  while (pos < classes.size()) {
    size_t end = classes.find_first_of(" \t\r\n\f", pos);
    if (end == std::string_view::npos) end = classes.size();
    std::string_view token = classes.substr(pos, end - pos);
    pos = end + 1;
    for (std::string_view name :
         {"gmail_quote", "gmail_quote_container", "gmail_extra", "gmail_attr", "moz-cite-prefix",
          "moz-forward-container", "protonmail_quote"})
      if (equals_lower(token, name)) return true;
    constexpr std::string_view kYahoo = "yahoo_quoted";
    if (token.size() >= kYahoo.size() &&
        equals_lower(token.substr(token.size() - kYahoo.size()), kYahoo))
      return true;
  }
  return false;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && lower(haystack[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

// The node after `n` in document order, not entering `n`'s children.
Node next_after(Node n) {
  while (n && n->type != XML_DOCUMENT_NODE && n->type != XML_HTML_DOCUMENT_NODE) {
    if (n->next) return n->next;
    n = n->parent;
  }
  return nullptr;
}

void remove(Node n) {
  xmlUnlinkNode(n);
  xmlFreeNode(n);
}

// The first characters of a subtree's text, whitespace collapsed (bounded: at most `max_nodes`
// nodes walked, `max_bytes` kept; `complete` false when it was cut).
std::string short_text(Node root, size_t max_bytes, bool* complete) {
  std::string out;
  size_t nodes = 0;
  *complete = true;
  Node n = root;
  while (n) {
    if (++nodes > 200 || out.size() > max_bytes) {
      *complete = false;
      break;
    }
    if (n->type == XML_TEXT_NODE && n->content) {
      for (const xmlChar* c = n->content; *c; ++c) {
        bool white = *c == ' ' || *c == '\n' || *c == '\t' || *c == '\r';
        if (white) {
          if (!out.empty() && out.back() != ' ') out += ' ';
        } else {
          out += static_cast<char>(*c);
        }
      }
    } else if (is_element(n, "br") && !out.empty() && out.back() != ' ') {
      out += ' ';
    }
    if (n->type == XML_ELEMENT_NODE && n->children) {
      n = n->children;
      continue;
    }
    while (n && n != root && !n->next) n = n->parent;
    n = (n && n != root) ? n->next : nullptr;
  }
  return out;
}

bool ignorable(Node n) {
  if (is_element(n, "br") || n->type == XML_COMMENT_NODE) return true;
  if (n->type != XML_TEXT_NODE) return false;
  return !n->content || reply::is_blank(reinterpret_cast<const char*>(n->content));
}

// Apple Mail and others write "On …, … wrote:" just before the blockquote type="cite": removed
// with it (the line breaks between them too).
void remove_attribution_before(Node quote) {
  Node n = quote->prev;
  while (n && ignorable(n)) n = n->prev;
  if (!n || (n->type != XML_TEXT_NODE && n->type != XML_ELEMENT_NODE)) return;
  bool complete = false;
  std::string text = short_text(n, reply::kMaxAttribution, &complete);
  if (!complete || reply::attribution(text) == reply::Attribution::none) return;
  for (Node p = quote->prev; p;) {
    Node before = p->prev;
    bool last = p == n;
    remove(p);
    if (last) break;
    p = before;
  }
}

// Outlook desktop's header block of the original message: a div with a grey top border whose
// text begins with "From:" (or its translation).
bool outlook_header_block(Node n, std::string_view style) {
  if (!contains_ci(style, "border-top:solid #e1e1e1") &&
      !contains_ci(style, "border-top:solid #b5c4df"))
    return false;
  bool complete = false;
  std::string text = short_text(n, 200, &complete);
  return reply::header_field(text) == reply::Field::from;
}

enum class Action { keep, remove, cut };

Action classify(Node n) {
  if (n->type != XML_ELEMENT_NODE || !n->properties) return Action::keep;
  Attributes a = attributes_of(n);
  if (a.id == "divRplyFwdMsg" || a.id == "mail-editor-reference-message-container" ||
      (a.id == "zwchr" && is_element(n, "hr")))
    return Action::cut;
  if (is_element(n, "blockquote") && contains_ci(a.type, "cite")) return Action::remove;
  if (quote_class(a.classes) || a.id.find("yahoo_quoted") != std::string_view::npos)
    return Action::remove;
  if (!a.style.empty() && is_element(n, "div") && outlook_header_block(n, a.style))
    return Action::cut;
  return Action::keep;
}

// An element left with nothing to show (after the cut below removed its tail).
bool empty_element(Node n) {
  for (Node c = n->children; c; c = c->next)
    if (!ignorable(c)) return false;
  return true;
}

// Everything from `n` on, in document order (the Outlook reply header and the history below it),
// and the <hr> OWA draws just above it.
void cut_from(Node n) {
  Node before = n->prev;
  while (before && ignorable(before)) before = before->prev;
  if (is_element(before, "hr")) remove(before);
  Node parent = n->parent;
  for (Node s = n; s;) {
    Node next = s->next;
    remove(s);
    s = next;
  }
  while (parent && parent->type == XML_ELEMENT_NODE) {
    Node up = parent->parent;
    for (Node s = parent->next; s;) {
      Node next = s->next;
      remove(s);
      s = next;
    }
    if (!is_element(parent, "body") && !is_element(parent, "html") && empty_element(parent))
      remove(parent);
    parent = up;
  }
}

// Removes the quoted history; returns whether there was any.
bool strip_history(xmlDoc* doc) {
  bool removed = false;
  Node n = doc->children;
  while (n) {
    switch (classify(n)) {
      case Action::cut:
        cut_from(n);
        return true;
      case Action::remove: {
        Node next = next_after(n);
        if (is_element(n, "blockquote")) remove_attribution_before(n);
        remove(n);
        removed = true;
        n = next;
        break;
      }
      case Action::keep:
        n = (n->type == XML_ELEMENT_NODE && n->children) ? n->children : next_after(n);
        break;
    }
  }
  return removed;
}

}  // namespace

// Defined in reply_html_text.cpp.
std::string html_document_text(xmlDoc* doc);

namespace {

struct DocDeleter {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};

bool has_document_tags(std::string_view html) {
  return contains_ci(html, "<html") || contains_ci(html, "<body");
}

// The document (or, for a fragment, the body's content) in UTF-8.
std::string serialise(xmlDoc* doc, bool whole) {
  // No encoder: libxml2 keeps its tree in UTF-8 and writes it as it is.
  xmlOutputBuffer* buffer = xmlAllocOutputBuffer(nullptr);
  if (!buffer) return {};
  if (whole) {
    htmlDocContentDumpFormatOutput(buffer, doc, "UTF-8", 0);
  } else {
    Node root = xmlDocGetRootElement(doc);
    Node body = nullptr;
    for (Node c = root ? root->children : nullptr; c && !body; c = c->next)
      if (is_element(c, "body")) body = c;
    for (Node c = body ? body->children : nullptr; c; c = c->next)
      htmlNodeDumpFormatOutput(buffer, doc, c, "UTF-8", 0);
  }
  xmlOutputBufferFlush(buffer);
  std::string out(reinterpret_cast<const char*>(xmlOutputBufferGetContent(buffer)),
                  xmlOutputBufferGetSize(buffer));
  xmlOutputBufferClose(buffer);
  return out;
}

}  // namespace

HtmlReply extract_reply_html(std::string_view html) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  std::string valid;
  if (!mime::is_valid_utf8(html)) {
    valid = mime::valid_utf8(html);
    html = valid;
  }
  if (reply::is_blank(html) || html.size() > INT_MAX) return {};
  std::unique_ptr<xmlDoc, DocDeleter> doc(
      htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
                     HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                         HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD));
  if (!doc) return {};
  HtmlReply reply;
  // Without history, the HTML is given back as it came (serialising would only cost time and
  // rewrite what the sender wrote).
  reply.html =
      strip_history(doc.get()) ? serialise(doc.get(), has_document_tags(html)) : std::string(html);
  reply.text = extract_reply_text(html_document_text(doc.get()));
  return reply;
}

}  // namespace delivery
