// Content-Type and Content-Disposition parameters: RFC 2045 5.1 (token / quoted-string values,
// comments), RFC 2231 (continuations name*0, name*1*, charset'lang'%XX, mixed plain and encoded
// pieces) and RFC 2047 words inside quoted values (a common violation, decoded anyway).
#include <algorithm>

#include "mime/internal.h"

namespace mime {
namespace detail {
namespace {

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return s[i]; }
  // RFC 5322 3.2.2 CFWS: white space and (nested) comments.
  void skip_cfws() {
    while (i < s.size()) {
      if (is_space(s[i])) {
        ++i;
      } else if (s[i] == '(') {
        int nesting = 0;
        while (i < s.size()) {
          char c = s[i++];
          if (c == '\\') ++i;
          else if (c == '(') ++nesting;
          else if (c == ')' && --nesting == 0) break;
        }
      } else {
        break;
      }
    }
  }
  // A run of characters up to one of `stops`, white space or a comment.
  std::string_view token(std::string_view stops) {
    size_t start = i;
    while (i < s.size() && !is_space(s[i]) && s[i] != '(' && stops.find(s[i]) == std::string_view::npos) ++i;
    return s.substr(start, i - start);
  }
  // RFC 5322 3.2.4 quoted-string, backslash escapes removed; an unterminated one runs to the end.
  std::string quoted() {
    std::string out;
    ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i++];
    }
    ++i;
    return out;
  }
};

struct Piece {
  int index;       // -1 for a parameter without section
  bool extended;   // name*= or name*N*=
  std::string value;
};

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 2231 3-4: joins the sections in order; the first extended one carries charset'lang'.
std::string join_pieces(std::vector<Piece>& pieces) {
  std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.index < b.index; });
  bool any_extended = std::any_of(pieces.begin(), pieces.end(), [](const Piece& p) { return p.extended; });
  if (!any_extended) {
    std::string joined;
    for (const auto& p : pieces) joined += p.value;
    return joined.find("=?") != std::string::npos ? decode_unstructured(joined) : undeclared_to_utf8(joined);
  }
  std::string charset, bytes;
  bool first_extended = true;
  for (const auto& p : pieces) {
    std::string_view v = p.value;
    if (p.extended && first_extended) {
      first_extended = false;
      size_t q1 = v.find('\'');
      size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
      if (q2 != std::string_view::npos) {
        charset = std::string(v.substr(0, q1));
        v = v.substr(q2 + 1);
      }
    }
    bytes += p.extended ? percent_decode(v) : std::string(v);
  }
  return to_utf8(bytes, charset);
}

}  // namespace

std::map<std::string, std::string> parse_params(std::string_view value, std::string* head) {
  Cursor c{value};
  c.skip_cfws();
  size_t head_begin = c.i;
  size_t semicolon = value.find(';', head_begin);
  if (head != nullptr) {
    std::string_view h = value.substr(head_begin, semicolon == std::string_view::npos ? std::string_view::npos
                                                                                       : semicolon - head_begin);
    // Drop comments and white space inside the head ("message / rfc822 (x)").
    Cursor hc{h};
    std::string out;
    while (true) {
      hc.skip_cfws();
      if (hc.done()) break;
      std::string_view t = hc.token("");
      if (t.empty()) t = h.substr(hc.i++, 1);
      out += t;
    }
    *head = to_lower(out);
  }
  std::map<std::string, std::vector<Piece>> collected;
  c.i = semicolon == std::string_view::npos ? value.size() : semicolon;
  while (!c.done()) {
    if (c.peek() != ';') {  // junk between parameters: skip to the next ';'
      size_t next = value.find(';', c.i);
      c.i = next == std::string_view::npos ? value.size() : next;
      continue;
    }
    ++c.i;
    c.skip_cfws();
    std::string name = to_lower(c.token("=;\""));
    c.skip_cfws();
    if (name.empty() || c.done() || c.peek() != '=') continue;
    ++c.i;
    c.skip_cfws();
    std::string val;
    if (!c.done() && c.peek() == '"') {
      val = c.quoted();
    } else {
      val = std::string(c.token(";"));
      // Unquoted values with spaces ("name=my file.pdf"): take words up to ';' or a comment.
      size_t save = c.i;
      while (c.i < value.size() && is_wsp(value[c.i])) ++c.i;
      if (c.i < value.size() && value[c.i] != ';' && value[c.i] != '(') {
        size_t stop = value.find(';', c.i);
        if (stop == std::string_view::npos) stop = value.size();
        val = std::string(trim(value.substr(save - val.size(), stop - (save - val.size()))));
        c.i = stop;
      }
    }
    // RFC 2231 3-4: name*, name*N, name*N*.
    Piece piece{-1, false, std::move(val)};
    if (!name.empty() && name.back() == '*') {
      piece.extended = true;
      name.pop_back();
    }
    size_t star = name.find('*');
    if (star != std::string::npos) {
      std::string_view digits = std::string_view(name).substr(star + 1);
      bool numeric = !digits.empty() && digits.size() < 6 &&
                     std::all_of(digits.begin(), digits.end(), [](char d) { return d >= '0' && d <= '9'; });
      if (numeric) {
        piece.index = std::stoi(std::string(digits));
        name.resize(star);
      }
    }
    auto& pieces = collected[name];
    if (pieces.size() < 1000) pieces.push_back(std::move(piece));
  }
  std::map<std::string, std::string> params;
  for (auto& [name, pieces] : collected) {
    // A plain "name=" beside RFC 2231 sections: the sections win.
    bool has_sections = std::any_of(pieces.begin(), pieces.end(), [](const Piece& p) { return p.index >= 0 || p.extended; });
    if (has_sections)
      pieces.erase(std::remove_if(pieces.begin(), pieces.end(), [](const Piece& p) { return p.index < 0 && !p.extended; }),
                   pieces.end());
    else if (pieces.size() > 1)
      pieces.resize(1);  // repeated parameter: the first one
    params[name] = join_pieces(pieces);
  }
  return params;
}

}  // namespace detail

ContentType parse_content_type(std::string_view value) {
  ContentType ct;
  std::string head;
  ct.params = detail::parse_params(detail::unfold(value), &head);
  size_t slash = head.find('/');
  ct.type = head.substr(0, slash);
  if (slash != std::string::npos) ct.subtype = head.substr(slash + 1);
  return ct;
}

}  // namespace mime
