// The new part of an HTML reply (reply_text.h). libxml2's HTML parser (no network, no
// XML_PARSE_HUGE: its default limits hold) reads the body and reports each tag and text run
// (SAX): no tree is built, so memory stays near the input's size (a DOM of a tag-dense 25 MB body
// took 16 times that). Each event is written out again (the HTML) and to the text, except inside
// the quoted history the mail clients mark (Gmail's gmail_quote, Apple Mail's and Thunderbird's
// blockquote type="cite" with the attribution before it, Yahoo's yahoo_quoted), and nothing from
// Outlook's reply header on (divRplyFwdMsg, the border-top "From:" block). The text is then
// stripped like a plain body. The content of the quote containers reply_html_scan.h can place
// (the bulk of a long thread) is not handed to libxml2 at all: the same result, far sooner.
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "delivery/reply_html_scan.h"
#include "delivery/reply_html_text.h"
#include "delivery/reply_markers.h"
#include "delivery/reply_text.h"
#include "mime/message.h"

namespace delivery {
namespace {

constexpr size_t npos = std::string::npos;

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_lower(std::string_view token, std::string_view wanted) {
  if (token.size() != wanted.size()) return false;
  for (size_t i = 0; i < token.size(); ++i)
    if (lower(token[i]) != wanted[i]) return false;
  return true;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i)
    if (equals_lower(haystack.substr(i, needle.size()), needle)) return true;
  return false;
}

// The attributes the quote markers are in (libxml2 gives names in lower case).
struct Attributes {
  std::string_view id, classes, type, style;
};

Attributes attributes_of(const xmlChar** atts) {
  Attributes out;
  for (size_t i = 0; atts && atts[i]; i += 2) {
    std::string_view name = reinterpret_cast<const char*>(atts[i]);
    std::string_view value = atts[i + 1] ? reinterpret_cast<const char*>(atts[i + 1]) : "";
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

// Whether a class token is one of the quote containers' (Yahoo prefixes its class names with a
// per-message "ydp1a2b3c4d": its yahoo_quoted is matched as a suffix).
bool quote_class(std::string_view classes) {
  size_t pos = 0;
  while (pos < classes.size()) {
    size_t end = classes.find_first_of(" \t\r\n\f", pos);
    if (end == npos) end = classes.size();
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

enum class Action { keep, remove, cut };

Action classify(std::string_view name, const Attributes& a) {
  if (a.id == "divRplyFwdMsg" || a.id == "mail-editor-reference-message-container" ||
      (a.id == "zwchr" && name == "hr") || contains_ci(a.classes, "outlookmessageheader"))
    return Action::cut;
  if (name == "blockquote" && contains_ci(a.type, "cite")) return Action::remove;
  if (quote_class(a.classes) || a.id.find("yahoo_quoted") != npos) return Action::remove;
  return Action::keep;
}

// Outlook desktop's header block of the original message: a div with a grey top border (its
// text then decides: it begins with "From:" or a translation).
bool outlook_border(std::string_view name, const Attributes& a) {
  return name == "div" && (contains_ci(a.style, "border-top:solid #e1e1e1") ||
                           contains_ci(a.style, "border-top:solid #b5c4df"));
}

bool void_element(std::string_view name) {
  for (std::string_view empty :
       {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "param",
        "source", "track", "wbr", "basefont", "frame", "isindex", "keygen"})
    if (name == empty) return true;
  return false;
}

bool raw_text_element(std::string_view name) {
  return name == "script" || name == "style";
}

void escape(std::string& out, std::string_view s, bool attribute) {
  size_t from = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char* entity = nullptr;
    switch (s[i]) {
      case '&':
        entity = "&amp;";
        break;
      case '<':
        entity = "&lt;";
        break;
      case '>':
        entity = "&gt;";
        break;
      case '"':
        entity = attribute ? "&quot;" : nullptr;
        break;
      default:
        break;
    }
    if (!entity) continue;
    out.append(s.substr(from, i - from));
    out += entity;
    from = i + 1;
  }
  out.append(s.substr(from));
}

// An open element.
struct Frame {
  reply::Tag tag;
  bool written;                   // its start tag is in the HTML out (so will its end tag be)
  size_t html_start, text_start;  // the outputs' sizes before it
  // Its last child that is not a <br>, comment or whitespace (where it began in each output):
  // the attribution a cite blockquote may follow.
  size_t child_html = npos, child_text = npos;
  bool in_text_run = false;  // the last event inside it was text
};

// A container whose content the fast path left out (reply_html_scan.h): its start tag's '>' is
// at `offset` of the input parsed, and its content must be ignored (removed, or after a cut).
struct Watch {
  size_t offset;
  std::string_view name;
  bool confirmed = false;
};

class Stripper {
 public:
  Stripper(bool whole, std::vector<Watch>* watch) : whole_(whole), watch_(watch) {}
  // `offset`: where the parser is in its input (at the '>' of this start tag).
  void start(std::string_view name, const xmlChar** atts, size_t offset);
  void end(std::string_view name);
  void characters(std::string_view s, bool raw);
  void start(std::string_view name, const xmlChar** atts);
  void comment(std::string_view s);
  void doctype(const xmlChar* name, const xmlChar* external_id, const xmlChar* system_id);

  bool removed() const { return removed_; }
  std::string take_html() { return std::move(html_); }
  std::string take_text() { return text_.take(); }

 private:
  bool writes_tag(std::string_view name) const {
    return whole_ || (name != "html" && name != "head" && name != "body");
  }
  bool to_text() const { return hidden_ == 0; }
  void cut_at(size_t html_size, size_t text_size);
  void drop_attribution();
  void decide_candidate(bool ended);

  std::string html_;
  reply::TextWriter text_;
  std::vector<Frame> frames_;
  bool whole_;             // the input had <html>/<body>: write them (else only what is inside)
  bool removed_ = false;   // some history was removed
  bool cut_ = false;       // history reached: nothing more is written
  size_t after_cut_ = 0;   // elements open since the cut (their end tags are not written)
  size_t skip_ = 0;        // the depth inside a removed element
  size_t hidden_ = 0;      // inside script, style, head...: not text
  size_t raw_ = 0;         // inside script or style: written unescaped
  size_t hr_html_ = npos;  // OWA's <hr> just before divRplyFwdMsg (only whitespace since)
  size_t hr_text_ = npos;
  size_t candidate_ = npos;  // the frame of an Outlook border div waiting for its text
  std::vector<Watch>* watch_;
  size_t watched_ = 0;  // the first watch not passed yet
};

// Everything from here on is history: the outputs are cut to the given sizes; open elements that
// began after that are not closed in the HTML.
void Stripper::cut_at(size_t html_size, size_t text_size) {
  html_.resize(html_size);
  text_.truncate(text_size);
  for (auto& frame : frames_)
    if (frame.html_start >= html_size) frame.written = false;
  cut_ = true;
  removed_ = true;
}

// Before a cite blockquote: its attribution ("On …, … wrote:"), the parent's last child.
void Stripper::drop_attribution() {
  if (frames_.empty()) return;
  Frame& parent = frames_.back();
  if (parent.child_text == npos) return;
  std::string_view text = std::string_view(text_.out()).substr(parent.child_text);
  if (text.size() > 2 * reply::kMaxAttribution ||
      reply::attribution(text) == reply::Attribution::none)
    return;
  html_.resize(parent.child_html);
  text_.truncate(parent.child_text);
  parent.child_html = parent.child_text = npos;
}

void Stripper::decide_candidate(bool ended) {
  const Frame& frame = frames_[candidate_];
  std::string_view text = std::string_view(text_.out()).substr(frame.text_start);
  // "From:" and its translations come first: 64 bytes of text decide, or 200 of line breaks
  // (each look is bounded, however many text events the div holds).
  std::string_view head = reply::trim(text.substr(0, 200));
  if (!ended && head.size() < 64 && text.size() < 200) return;
  size_t index = candidate_;
  candidate_ = npos;
  if (reply::header_field(head.substr(0, 64)) == reply::Field::from)
    cut_at(frames_[index].html_start, frames_[index].text_start);
}

void Stripper::start(std::string_view name, const xmlChar** atts, size_t offset) {
  start(name, atts);
  // Implied elements (html, body) come before a tag at the same offset: the tag itself is last.
  if (!watch_) return;
  while (watched_ < watch_->size() && (*watch_)[watched_].offset < offset) ++watched_;
  if (watched_ < watch_->size() && (*watch_)[watched_].offset == offset)
    (*watch_)[watched_].confirmed = name == (*watch_)[watched_].name && (cut_ || skip_ > 0);
}

void Stripper::start(std::string_view name, const xmlChar** atts) {
  if (cut_) {
    ++after_cut_;
    return;
  }
  if (skip_ > 0) {
    ++skip_;
    return;
  }
  Attributes a = attributes_of(atts);
  Action action = classify(name, a);
  if (action == Action::cut) {
    // OWA draws an <hr> just above its reply header: it goes with it.
    if (hr_html_ != npos)
      cut_at(hr_html_, hr_text_);
    else
      cut_at(html_.size(), text_.out().size());
    ++after_cut_;
    return;
  }
  if (action == Action::remove) {
    if (name == "blockquote") drop_attribution();
    removed_ = true;
    skip_ = 1;
    return;
  }
  Frame frame{reply::tag_of(name), false, html_.size(), text_.out().size()};
  if (!frames_.empty() && frame.tag != reply::Tag::br) {
    Frame& parent = frames_.back();
    parent.child_html = frame.html_start;
    parent.child_text = frame.text_start;
    parent.in_text_run = false;
  }
  hr_html_ = name == "hr" ? frame.html_start : npos;
  hr_text_ = name == "hr" ? frame.text_start : npos;
  if (writes_tag(name)) {
    frame.written = true;
    html_ += '<';
    html_ += name;
    for (size_t i = 0; atts && atts[i]; i += 2) {
      html_ += ' ';
      html_ += reinterpret_cast<const char*>(atts[i]);
      if (!atts[i + 1]) continue;
      html_ += "=\"";
      escape(html_, reinterpret_cast<const char*>(atts[i + 1]), true);
      html_ += '"';
    }
    html_ += '>';
  }
  if (frame.tag == reply::Tag::skipped) ++hidden_;
  if (to_text()) text_.enter(frame.tag);
  if (raw_text_element(name)) ++raw_;
  if (candidate_ == npos && outlook_border(name, a)) candidate_ = frames_.size();
  frames_.push_back(frame);
}

void Stripper::end(std::string_view name) {
  if (after_cut_ > 0) {
    --after_cut_;
    return;
  }
  if (skip_ > 0) {
    if (--skip_ == 0 && !frames_.empty()) {
      frames_.back().child_html = frames_.back().child_text = npos;
      frames_.back().in_text_run = false;
    }
    return;
  }
  if (frames_.empty()) return;
  if (!cut_ && candidate_ == frames_.size() - 1) decide_candidate(true);
  Frame frame = frames_.back();
  frames_.pop_back();
  if (!cut_ && to_text()) text_.leave(frame.tag);
  if (frame.tag == reply::Tag::skipped && hidden_ > 0) --hidden_;
  if (raw_text_element(name) && raw_ > 0) --raw_;
  if (frame.written && !void_element(name)) {
    html_ += "</";
    html_ += name;
    html_ += '>';
  }
}

void Stripper::characters(std::string_view s, bool raw) {
  if (cut_ || skip_ > 0) return;
  bool blank = reply::is_blank(s);
  if (!blank && raw_ == 0 && reply::is_original_message(s)) {
    // "-----Original Message-----" as text (older Outlook): history from its element on, when it
    // is the first thing in it, else from the line itself.
    bool first = !frames_.empty() &&
                 reply::is_blank(std::string_view(text_.out()).substr(frames_.back().text_start));
    if (first)
      cut_at(frames_.back().html_start, frames_.back().text_start);
    else
      cut_at(html_.size(), text_.out().size());
    return;
  }
  if (!blank) {
    hr_html_ = hr_text_ = npos;
    if (!frames_.empty() && !frames_.back().in_text_run) {
      frames_.back().child_html = html_.size();
      frames_.back().child_text = text_.out().size();
      frames_.back().in_text_run = true;
    }
  }
  if (raw || raw_ > 0)
    html_.append(s);
  else
    escape(html_, s, false);
  if (to_text()) text_.text(s);
  if (candidate_ != npos) decide_candidate(false);
}

void Stripper::comment(std::string_view s) {
  if (cut_ || skip_ > 0) return;
  html_ += "<!--";
  html_.append(s);
  html_ += "-->";
}

void Stripper::doctype(const xmlChar* name, const xmlChar* external_id, const xmlChar* system_id) {
  if (!whole_ || cut_ || skip_ > 0 || !name) return;
  html_ += "<!DOCTYPE ";
  html_ += reinterpret_cast<const char*>(name);
  if (external_id) {
    html_ += " PUBLIC \"";
    html_ += reinterpret_cast<const char*>(external_id);
    html_ += '"';
  } else if (system_id) {
    html_ += " SYSTEM";
  }
  if (system_id) {
    html_ += " \"";
    html_ += reinterpret_cast<const char*>(system_id);
    html_ += '"';
  }
  html_ += ">\n";
}

Stripper& of(void* context) {
  auto* parser = static_cast<htmlParserCtxtPtr>(context);
  return *static_cast<Stripper*>(parser->_private);
}
std::string_view chars(const xmlChar* s, int length) {
  return {reinterpret_cast<const char*>(s), static_cast<size_t>(length > 0 ? length : 0)};
}

xmlSAXHandler handlers() {
  xmlSAXHandler sax;
  std::memset(&sax, 0, sizeof sax);
  sax.startElement = [](void* c, const xmlChar* name, const xmlChar** atts) {
    long consumed = xmlByteConsumed(static_cast<xmlParserCtxtPtr>(c));
    of(c).start(reinterpret_cast<const char*>(name), atts,
                consumed < 0 ? npos : static_cast<size_t>(consumed));
  };
  sax.endElement = [](void* c, const xmlChar* name) {
    of(c).end(reinterpret_cast<const char*>(name));
  };
  sax.characters = [](void* c, const xmlChar* s, int n) { of(c).characters(chars(s, n), false); };
  sax.ignorableWhitespace = sax.characters;
  sax.cdataBlock = [](void* c, const xmlChar* s, int n) { of(c).characters(chars(s, n), true); };
  sax.comment = [](void* c, const xmlChar* s) { of(c).comment(reinterpret_cast<const char*>(s)); };
  sax.internalSubset = [](void* c, const xmlChar* name, const xmlChar* external_id,
                          const xmlChar* system_id) {
    of(c).doctype(name, external_id, system_id);
  };
  return sax;
}

bool has_document_tags(std::string_view html) {
  for (size_t at = html.find('<'); at != npos; at = html.find('<', at + 1)) {
    std::string_view tag = html.substr(at + 1, 4);
    if (equals_lower(tag, "html") || equals_lower(tag, "body")) return true;
  }
  return false;
}

}  // namespace

namespace {

struct Parsed {
  bool removed = false;
  std::string html, text;
};

// One SAX parse of `html` (UTF-8, at most INT_MAX bytes) through the Stripper.
Parsed parse(std::string_view html, bool whole, std::vector<Watch>* watch) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  Parsed out;
  htmlParserCtxtPtr parser = htmlCreateMemoryParserCtxt(html.data(), static_cast<int>(html.size()));
  if (!parser) return out;
  Stripper stripper(whole, watch);
  xmlSAXHandler sax = handlers();
  std::memcpy(parser->sax, &sax, sizeof sax);
  parser->_private = &stripper;
  parser->userData = parser;  // the callbacks' context: the parser, whose _private is ours
  htmlCtxtUseOptions(parser, HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                 HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD);
  xmlSwitchEncoding(parser, XML_CHAR_ENCODING_UTF8);
  htmlParseDocument(parser);
  if (parser->myDoc) xmlFreeDoc(parser->myDoc);
  htmlFreeParserCtxt(parser);
  out.removed = stripper.removed();
  out.html = stripper.take_html();
  out.text = stripper.take_text();
  return out;
}

// The fast path stays well under libxml2's limits without XML_PARSE_HUGE (10 MB of text in one
// node), which a whole parse may reach and stop at: past them, only the whole parse says.
constexpr size_t kMaxFastPath = 4 << 20;

// The parse without the content of the history containers reply_html_scan.h finds, when each of
// them is confirmed taken out whole by the Stripper (else nothing: the whole document is parsed).
std::optional<Parsed> parse_fast(std::string_view html, bool whole) {
  if (html.size() > kMaxFastPath) return std::nullopt;
  std::vector<reply::Skip> skips = reply::plan_skips(html);
  if (skips.empty()) return std::nullopt;
  std::vector<Watch> watch;
  size_t left_out = 0;
  for (const reply::Skip& skip : skips) {
    watch.push_back({skip.at - 1 - left_out, skip.name});  // its '>', in what is parsed
    left_out += skip.until - skip.at;
  }
  Parsed parsed = parse(reply::without_skips(html, skips), whole, &watch);
  for (const Watch& w : watch)
    if (!w.confirmed) return std::nullopt;
  return parsed;
}

}  // namespace

bool reply::fast_path_taken(std::string_view html) {
  return parse_fast(html, has_document_tags(html)).has_value();
}

HtmlReply extract_reply_html(std::string_view html, bool with_text) {
  if (!with_text && !may_hold_history(html)) return {mime::valid_utf8(html), {}, false};
  return parse_reply_html(html, /*fast_path=*/true);
}

HtmlReply parse_reply_html(std::string_view html, bool fast_path) {
  std::string valid;
  if (!mime::is_valid_utf8(html)) {
    valid = mime::valid_utf8(html);
    html = valid;
  }
  if (reply::is_blank(html) || html.size() > INT_MAX) return {};
  // Whether to write <html> and <body>: from the whole input (the history may hold its own).
  bool whole = has_document_tags(html);
  std::optional<Parsed> parsed;
  if (fast_path) parsed = parse_fast(html, whole);
  if (!parsed) parsed = parse(html, whole, nullptr);
  HtmlReply reply;
  // Without history, the HTML is given back as it came (no rewriting of what the sender wrote).
  reply.stripped = parsed->removed;
  reply.html = reply.stripped ? std::move(parsed->html) : std::string(html);
  reply.text = extract_reply_text(parsed->text);
  return reply;
}

}  // namespace delivery
