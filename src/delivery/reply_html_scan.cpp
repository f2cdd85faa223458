// The fast path's tag scanner (reply_html_scan.h). It reads tags the way libxml2's HTML parser
// does where that is plain (names, quoted attribute values, comments, script/style content), and
// gives up on anything else (a '<' that is not a tag, "<?", CDATA, a NUL byte, odd attribute
// syntax). A container is skipped only when its content is a strictly nested run of elements:
// every end tag closes the innermost open element, so libxml2's own recovery (closing elements
// implied by others) can never make it end elsewhere.
#include "delivery/reply_html_scan.h"

#include <cstdint>
#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "delivery/reply_text.h"

namespace delivery::reply {
namespace {

constexpr size_t npos = std::string_view::npos;
constexpr size_t kMaxOpen = 4096;  // nesting beyond this: not scanned (the parse decides)
constexpr size_t kMaxName = 64;    // libxml2 reads names of up to 100 bytes its own way

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// libxml2's IS_BLANK_CH: no form feed.
bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool name_char(char c) {
  return alpha(c) || (c >= '0' && c <= '9') || c == ':' || c == '-' || c == '_' || c == '.';
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

enum class Kind { unsure, start, end, comment, doctype };

struct Token {
  Kind kind = Kind::unsure;
  std::string name;           // lower case (start and end tags)
  size_t begin = 0, end = 0;  // '<' … just after '>'
  bool self_closed = false;   // "/>": libxml2 ends the element at once
};

// The value of an attribute from `i` (after '='): quoted, or unquoted up to a blank or '>'.
// Returns where it ends, npos when unsure.
size_t attribute_value(std::string_view h, size_t i) {
  if (i >= h.size()) return npos;
  if (h[i] == '"' || h[i] == '\'') {
    size_t close = h.find(h[i], i + 1);
    if (close == npos || h.substr(i + 1, close - i - 1).find('<') != npos) return npos;
    return close + 1;
  }
  size_t begin = i;
  while (i < h.size() && !blank(h[i]) && h[i] != '>') {
    if (h[i] == '"' || h[i] == '\'' || h[i] == '<' || h[i] == '=' || h[i] == '`') return npos;
    ++i;
  }
  // "x/>": is '/' the value's or the tag's? Not ours to guess.
  if (i == begin || (i < h.size() && h[i] == '>' && h[i - 1] == '/')) return npos;
  return i;
}

Token start_or_end_tag(std::string_view h, size_t pos) {
  Token t;
  t.begin = pos;
  bool end_tag = h[pos + 1] == '/';
  size_t i = pos + 1 + (end_tag ? 1 : 0);
  if (i >= h.size() || !alpha(h[i])) return t;
  size_t name_begin = i;
  while (i < h.size() && name_char(h[i])) ++i;
  if (i - name_begin > kMaxName) return t;
  for (size_t k = name_begin; k < i; ++k) t.name += lower(h[k]);
  if (end_tag) {
    while (i < h.size() && blank(h[i])) ++i;
    if (i >= h.size() || h[i] != '>') return t;
    t.kind = Kind::end;
    t.end = i + 1;
    return t;
  }
  for (;;) {
    size_t gap = i;
    while (i < h.size() && blank(h[i])) ++i;
    if (i >= h.size()) return t;
    if (h[i] == '>') break;
    if (h[i] == '/') {
      if (i + 1 >= h.size() || h[i + 1] != '>') return t;
      t.self_closed = true;
      ++i;
      break;
    }
    if (i == gap) return t;  // attributes are separated by blanks
    size_t name = i;
    while (i < h.size() && name_char(h[i])) ++i;
    if (i == name || i - name > kMaxName) return t;
    size_t after = i;
    while (after < h.size() && blank(h[after])) ++after;
    if (after < h.size() && h[after] == '=') {
      ++after;
      while (after < h.size() && blank(h[after])) ++after;
      i = attribute_value(h, after);
      if (i == npos) return t;
    }
  }
  t.kind = Kind::start;
  t.end = i + 1;
  return t;
}

// The token at `pos` (a '<').
Token token_at(std::string_view h, size_t pos) {
  Token t;
  t.begin = pos;
  if (pos + 1 >= h.size()) return t;
  if (h[pos + 1] != '!') return start_or_end_tag(h, pos);
  if (h.substr(pos, 4) == "<!--") {
    // "<!-->" and "<!--->" end differently across parsers: not ours to guess.
    std::string_view body = h.substr(pos + 4);
    if (body.substr(0, 1) == ">" || body.substr(0, 2) == "->") return t;
    size_t close = h.find("-->", pos + 4);
    if (close == npos) return t;
    t.kind = Kind::comment;
    t.end = close + 3;
    return t;
  }
  if (!equals_lower(h.substr(pos + 2, 7), "doctype")) return t;
  char quote = 0;
  for (size_t i = pos + 9; i < h.size(); ++i) {
    char c = h[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '<') {
      return t;
    } else if (c == '>') {
      t.kind = Kind::doctype;
      t.end = i + 1;
      return t;
    }
  }
  return t;
}

bool void_element(std::string_view name) {
  for (std::string_view empty :
       {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "param",
        "source", "track", "wbr", "basefont", "frame", "isindex", "keygen"})
    if (name == empty) return true;
  return false;
}

// Elements whose content libxml2 reads as raw text (up to the first "</" and a letter).
bool raw_text(std::string_view name) {
  return name == "script" || name == "style";
}

// Elements the scanner leaves to the parser: the document's own (libxml2 ignores them again
// inside it and counts them), and old ones with content rules of their own.
bool unsure_element(std::string_view name) {
  for (std::string_view odd : {"html", "head", "body", "frameset", "plaintext", "xmp", "listing",
                               "textarea", "title", "noscript", "noembed", "noframes", "iframe"})
    if (name == odd) return true;
  return false;
}

// Where the raw text of `name` from `pos` ends: the "</name" that libxml2 stops at (the first
// "</" followed by a letter must be it), npos when unsure.
size_t raw_text_end(std::string_view h, size_t pos, std::string_view name) {
  for (size_t at = h.find("</", pos); at != npos; at = h.find("</", at + 2)) {
    if (at + 2 >= h.size() || !alpha(h[at + 2])) continue;
    Token end = start_or_end_tag(h, at);
    return end.kind == Kind::end && end.name == name ? at : npos;
  }
  return npos;
}

// Marks of the containers taken out: Outlook's reply header (everything after it is history),
// and the quote containers removed whole (classify() in reply_html.cpp decides for real).
bool cut_mark(std::string_view tag) {
  return contains_ci(tag, "divrplyfwdmsg") || contains_ci(tag, "reference-message-container");
}
bool remove_mark(std::string_view tag) {
  for (std::string_view mark :
       {"gmail_quote", "cite", "yahoo_quoted", "protonmail_quote", "moz-forward-container"})
    if (contains_ci(tag, mark)) return true;
  return false;
}

// Where the element whose content begins at `pos` ends: the "</name" closing it, when every
// element inside is closed in order (void and "/>" elements need no end tag). npos when unsure.
size_t element_end(std::string_view h, size_t pos, const std::string& name) {
  std::vector<std::string> open;
  for (;;) {
    const void* lt = std::memchr(h.data() + pos, '<', h.size() - pos);
    if (!lt) return npos;
    pos = static_cast<size_t>(static_cast<const char*>(lt) - h.data());
    Token t = token_at(h, pos);
    if (t.kind == Kind::unsure) return npos;
    // A DOCTYPE libxml2 cannot read ends at the first '>', quoted or not (found by fuzz_reply):
    // in the content, only one without quotes is sure to end where we think.
    if (t.kind == Kind::doctype && h.substr(t.begin, t.end - t.begin).find_first_of("\"'") != npos)
      return npos;
    pos = t.end;
    if (t.kind == Kind::end) {
      if (open.empty()) return t.name == name ? t.begin : npos;
      if (open.back() != t.name) return npos;
      open.pop_back();
    } else if (t.kind == Kind::start) {
      if (unsure_element(t.name) || open.size() >= kMaxOpen) return npos;
      if (t.self_closed || void_element(t.name)) continue;
      if (raw_text(t.name)) {
        pos = raw_text_end(h, pos, t.name);
        if (pos == npos) return npos;
      }
      open.push_back(t.name);
    }
  }
}

// What extract_reply_html takes out shows one of these (lower case), anywhere in the HTML: in a
// tag, what classify() and outlook_border() look for; in text, is_original_message()'s dashes or
// a forward introduction's words. They are looked for in tags and text alike: where a tag ends
// is the parser's business (a quoted attribute value may hold '>'). ("cite" alone is not one:
// classify() only takes it in a blockquote, whose name holds "quote"; moz-cite-prefix holds
// "moz-".) Each is found from its `anchor`, the offset of a byte rarely seen in text.
struct Mark {
  std::string_view text;
  size_t anchor;
};
// Anchors: q z x - _ alone; the others with the byte after them (r+w, r+g, f+w, n+v, k+m, l+t,
// u+u, 0xD0+0xBF), which the SSE2 scan below tests together.
constexpr Mark kHistoryMarks[] = {{"quote", 0},
                                  {"gmail_", 5},
                                  {"moz-", 2},
                                  {"rplyfwd", 4},
                                  {"reference-message", 9},
                                  {"zwchr", 0},
                                  {"outlookmessageheader", 6},
                                  {"border-top", 6},
                                  {"--", 0},
                                  {"forwarded message", 2},
                                  {"weitergeleiteten", 5},
                                  {"réexpédié", 4},
                                  {"reenviado", 3},
                                  {"inoltrato", 3},
                                  {"doorgestuurd", 8},
                                  {"переадресованного", 0}};

// For each byte, the marks whose anchor it is (in either case).
struct AnchorTable {
  uint32_t marks[256] = {};
  AnchorTable() {
    for (size_t k = 0; k < std::size(kHistoryMarks); ++k) {
      auto c = static_cast<unsigned char>(kHistoryMarks[k].text[kHistoryMarks[k].anchor]);
      marks[c] |= 1u << k;
      if (c >= 'a' && c <= 'z') marks[c - 'a' + 'A'] |= 1u << k;
    }
  }
};

}  // namespace

// Where the scanner misreads the document before a container (a tag libxml2 reads otherwise), the
// parse does not confirm the container (reply_html.cpp: a start tag of that name ending at that
// '>', which it takes out): its content, read from there on, is what libxml2 reads after that
// start tag, whatever came before.
std::vector<Skip> plan_skips(std::string_view h) {
  std::vector<Skip> skips;
  // libxml2 takes a NUL byte for the end of its input in places.
  if (std::memchr(h.data(), '\0', h.size()) != nullptr) return skips;
  size_t pos = 0;
  for (;;) {
    const void* lt = std::memchr(h.data() + pos, '<', h.size() - pos);
    if (!lt) return skips;
    pos = static_cast<size_t>(static_cast<const char*>(lt) - h.data());
    Token t = token_at(h, pos);
    // Unsure from here on: what was planned before still holds (it came before this point).
    if (t.kind == Kind::unsure) return skips;
    pos = t.end;
    if (t.kind != Kind::start || t.self_closed || void_element(t.name)) continue;
    if (raw_text(t.name)) {
      pos = raw_text_end(h, pos, t.name);
      if (pos == npos) return skips;
      continue;
    }
    std::string_view tag = h.substr(t.begin, t.end - t.begin);
    // Outlook's header: all that follows is history, but libxml2's events after it (its
    // recovery from what it ignores) can close the elements open before it otherwise than at the
    // end of a cut input would (found by fuzz_reply): it is parsed whole.
    if (cut_mark(tag)) return skips;
    // Only a div or a blockquote: no start tag makes libxml2 close one (a <p> ends at a <div>).
    if ((t.name != "div" && t.name != "blockquote") || !remove_mark(tag)) continue;
    size_t close = element_end(h, t.end, t.name);
    if (close == npos) return skips;
    if (close > t.end) skips.push_back({t.end, close, t.name});
    pos = close;
  }
}

std::string without_skips(std::string_view html, const std::vector<Skip>& skips) {
  std::string out;
  size_t kept = html.size();
  for (const Skip& skip : skips) kept -= skip.until - skip.at;
  out.reserve(kept);
  size_t from = 0;
  for (const Skip& skip : skips) {
    out.append(html.substr(from, skip.at - from));
    from = skip.until;
  }
  out.append(html.substr(from));
  return out;
}

}  // namespace delivery::reply

namespace delivery {

namespace {

// Whether a mark is anchored at `i` (its anchor byte is html[i]).
bool mark_at(std::string_view html, size_t i) {
  using namespace reply;
  static const AnchorTable table;
  uint32_t marks = table.marks[static_cast<unsigned char>(html[i])];
  while (marks != 0) {
    const Mark& mark = kHistoryMarks[__builtin_ctz(marks)];
    marks &= marks - 1;
    if (i < mark.anchor || i - mark.anchor + mark.text.size() > html.size()) continue;
    if (equals_lower(html.substr(i - mark.anchor, mark.text.size()), mark.text)) return true;
  }
  return false;
}

#ifdef __SSE2__
// The positions among html[i, i + 16) where an anchor (or an anchor pair) is: a superset of those
// where a mark is anchored. Reads html[i, i + 17).
unsigned anchors_in(const char* p) {
  const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
  const __m128i case_bit = _mm_set1_epi8(0x20);  // a letter in lower case; others are compared raw
  const __m128i l0 = _mm_or_si128(v0, case_bit), l1 = _mm_or_si128(v1, case_bit);
  auto is = [](__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
  __m128i r = is(l0, 'r');
  __m128i any = _mm_or_si128(_mm_or_si128(is(l0, 'q'), is(l0, 'z')),
                             _mm_or_si128(is(l0, 'x'), _mm_or_si128(is(v0, '-'), is(v0, '_'))));
  any = _mm_or_si128(any, _mm_and_si128(r, _mm_or_si128(is(l1, 'w'), is(l1, 'g'))));
  any = _mm_or_si128(any, _mm_and_si128(is(l0, 'f'), is(l1, 'w')));
  any = _mm_or_si128(any, _mm_and_si128(is(l0, 'n'), is(l1, 'v')));
  any = _mm_or_si128(any, _mm_and_si128(is(l0, 'k'), is(l1, 'm')));
  any = _mm_or_si128(any, _mm_and_si128(is(l0, 'l'), is(l1, 't')));
  any = _mm_or_si128(any, _mm_and_si128(is(l0, 'u'), is(l1, 'u')));
  any = _mm_or_si128(any, _mm_and_si128(is(v0, '\xD0'), is(v1, '\xBF')));
  return static_cast<unsigned>(_mm_movemask_epi8(any));
}
#endif

}  // namespace

// One pass over the bytes, with no copy: 16 at a time where SSE2 is there (a block with no anchor,
// most, costs a few instructions), else a table look per byte.
bool may_hold_history(std::string_view html) {
  size_t i = 0;
#ifdef __SSE2__
  for (; i + 17 <= html.size(); i += 16)
    for (unsigned found = anchors_in(html.data() + i); found != 0; found &= found - 1)
      if (mark_at(html, i + static_cast<size_t>(__builtin_ctz(found)))) return true;
#endif
  for (; i < html.size(); ++i)
    if (mark_at(html, i)) return true;
  return false;
}

}  // namespace delivery
