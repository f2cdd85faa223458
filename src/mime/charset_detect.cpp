// Finding the charset of text that does not declare a usable one: an HTML part's own
// <meta charset> (the WHATWG HTML prescan, simplified), and uchardet's statistical guess over a
// bounded prefix (the last resort, issue 15; the order of the rules is charset.cpp's).
#include <uchardet.h>

#include <cctype>
#include <cstring>

#include "mime/internal.h"

namespace mime::detail {
namespace {

bool html_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool starts_with_ci(std::string_view s, size_t at, std::string_view word) {
  return s.size() - at >= word.size() && iequals(s.substr(at, word.size()), word);
}

struct Attribute {
  std::string name, value;
};

// HTML "get an attribute" (prescan): reads one name[=value] at `pos`; false at '>' or the end.
bool get_attribute(std::string_view s, size_t& pos, Attribute& a) {
  a.name.clear();
  a.value.clear();
  while (pos < s.size() && (html_space(s[pos]) || s[pos] == '/')) ++pos;
  if (pos >= s.size() || s[pos] == '>') return false;
  while (pos < s.size()) {
    char c = s[pos];
    if (c == '=' && !a.name.empty()) break;
    if (html_space(c)) {
      while (pos < s.size() && html_space(s[pos])) ++pos;
      if (pos >= s.size() || s[pos] != '=') return true;  // a name without a value
      break;
    }
    if (c == '/' || c == '>') return true;
    a.name += lower_ascii(c);
    ++pos;
  }
  if (pos >= s.size()) return true;
  ++pos;  // '='
  while (pos < s.size() && html_space(s[pos])) ++pos;
  if (pos >= s.size()) return true;
  if (s[pos] == '"' || s[pos] == '\'') {
    char quote = s[pos++];
    while (pos < s.size() && s[pos] != quote) a.value += lower_ascii(s[pos++]);
    if (pos < s.size()) ++pos;
    return true;
  }
  while (pos < s.size() && !html_space(s[pos]) && s[pos] != '>') a.value += lower_ascii(s[pos++]);
  return true;
}

// HTML "extracting a character encoding from a meta element": charset=value in a content
// attribute ("text/html; charset=iso-8859-2"); "" when there is none.
std::string charset_in_content(std::string_view content) {
  size_t pos = 0;
  while (true) {
    size_t at = content.find("charset", pos);
    if (at == std::string_view::npos) return "";
    pos = at + 7;
    while (pos < content.size() && html_space(content[pos])) ++pos;
    if (pos >= content.size() || content[pos] != '=') continue;
    ++pos;
    while (pos < content.size() && html_space(content[pos])) ++pos;
    if (pos >= content.size()) return "";
    if (content[pos] == '"' || content[pos] == '\'') {
      size_t close = content.find(content[pos], pos + 1);
      if (close == std::string_view::npos) return "";
      return std::string(content.substr(pos + 1, close - pos - 1));
    }
    size_t end = pos;
    while (end < content.size() && !html_space(content[end]) && content[end] != ';') ++end;
    return std::string(content.substr(pos, end - pos));
  }
}

// The encoding one <meta> element declares (its attributes start at `pos`), "" when none.
std::string_view meta_encoding(std::string_view s, size_t& pos) {
  bool got_pragma = false;
  int need_pragma = -1;  // -1 unknown, 0 no, 1 yes
  std::string charset;
  bool seen_charset = false, seen_content = false, seen_equiv = false;
  Attribute a;
  while (get_attribute(s, pos, a)) {
    if (a.name == "http-equiv" && !seen_equiv) {
      seen_equiv = true;
      got_pragma = a.value == "content-type";
    } else if (a.name == "content" && !seen_content) {
      seen_content = true;
      std::string found = charset_in_content(a.value);
      if (!found.empty() && charset.empty()) {
        charset = found;
        need_pragma = 1;
      }
    } else if (a.name == "charset" && !seen_charset) {
      seen_charset = true;
      charset = a.value;
      need_pragma = 0;
    }
  }
  if (need_pragma < 0 || (need_pragma == 1 && !got_pragma) || charset.empty()) return {};
  std::string_view encoding = whatwg_encoding(charset);
  // A document that could read its own meta was not UTF-16; x-user-defined is windows-1252.
  if (encoding == "utf-16be" || encoding == "utf-16le") return "utf-8";
  if (encoding == "x-user-defined") return "windows-1252";
  if (encoding == "replacement") return {};
  return encoding;
}

}  // namespace

std::string_view html_meta_encoding(std::string_view html) {
  std::string_view s = html.substr(0, kMetaPrescanBytes);
  size_t pos = 0;
  while (pos < s.size()) {
    const void* lt = std::memchr(s.data() + pos, '<', s.size() - pos);
    if (lt == nullptr) break;
    pos = static_cast<const char*>(lt) - s.data();
    if (s.compare(pos, 4, "<!--") == 0) {
      size_t close = s.find("-->", pos + 2);
      if (close == std::string_view::npos) break;
      pos = close + 3;
    } else if (starts_with_ci(s, pos, "<meta") && pos + 5 < s.size() &&
               (html_space(s[pos + 5]) || s[pos + 5] == '/')) {
      pos += 6;
      std::string_view found = meta_encoding(s, pos);
      if (!found.empty()) return found;
    } else if (pos + 1 < s.size() && (std::isalpha(static_cast<unsigned char>(s[pos + 1])) ||
                                      (s[pos + 1] == '/' && pos + 2 < s.size() &&
                                       std::isalpha(static_cast<unsigned char>(s[pos + 2]))))) {
      // Another tag: its name, then its attributes (a quoted '>' does not end it).
      while (pos < s.size() && !html_space(s[pos]) && s[pos] != '>') ++pos;
      Attribute a;
      while (get_attribute(s, pos, a)) {
      }
    } else if (pos + 1 < s.size() &&
               (s[pos + 1] == '!' || s[pos + 1] == '/' || s[pos + 1] == '?')) {
      size_t close = s.find('>', pos + 1);
      if (close == std::string_view::npos) break;
      pos = close + 1;
    } else {
      ++pos;
    }
  }
  return {};
}

std::string detect_charset(std::string_view bytes) {
  uchardet_t detector = uchardet_new();
  if (detector == nullptr) return "";
  // A bounded prefix: the parse stays linear, and 64 KiB of text settle any guess it can make.
  size_t n = std::min(bytes.size(), kDetectPrefixBytes);
  std::string name;
  if (uchardet_handle_data(detector, bytes.data(), n) == 0) {
    uchardet_data_end(detector);
    const char* found = uchardet_get_charset(detector);
    if (found != nullptr) name = to_lower(found);
  }
  uchardet_delete(detector);
  return name;
}

}  // namespace mime::detail
