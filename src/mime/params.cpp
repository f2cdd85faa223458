// Content-Type and Content-Disposition parameters: RFC 2045 5.1 (token / quoted-string values,
// comments), RFC 2231 (continuations name*0, name*1*, charset'lang'%XX, mixed plain and encoded
// pieces), RFC 2047 words inside values (a common violation, decoded anyway; never in the
// boundary), and parameters after white space where the ';' is missing (Stalwart/mime4j do too).
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
          if (c == '\\' && i < s.size())  // a quoted-pair; a '\' at the end escapes nothing
            ++i;
          else if (c == '(')
            ++nesting;
          else if (c == ')' && --nesting == 0)
            break;
        }
      } else {
        break;
      }
    }
  }
  // A run of characters up to one of `stops`, white space or a comment.
  std::string_view token(std::string_view stops) {
    size_t start = i;
    while (i < s.size() && !is_space(s[i]) && s[i] != '(' &&
           stops.find(s[i]) == std::string_view::npos)
      ++i;
    return s.substr(start, i - start);
  }
  std::string quoted() { return read_quoted(s, i); }
};

struct Piece {
  int index;      // -1 for a parameter without section
  bool extended;  // name*= or name*N*=
  std::string value;
};

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && hex_value(s[i + 1]) >= 0 &&
        hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 2231 3-4: joins the sections in order; the first extended one carries charset'lang'.
// `words`: RFC 2047 words inside a plain value are decoded (a common violation), the white space
// around the value kept as written; false for the boundary, which is matched as bytes (RFC 2046
// 5.1.1: "=?" and trailing spaces are legal boundary characters).
std::string join_pieces(std::vector<Piece>& pieces, bool words, FieldBudget& budget) {
  std::stable_sort(pieces.begin(), pieces.end(),
                   [](const Piece& a, const Piece& b) { return a.index < b.index; });
  bool any_extended =
      std::any_of(pieces.begin(), pieces.end(), [](const Piece& p) { return p.extended; });
  if (!any_extended) {
    std::string joined;
    if (pieces.size() == 1)
      joined = std::move(pieces.front().value);  // no copy of a long value
    else
      for (const auto& p : pieces) joined += p.value;
    if (!words || joined.find("=?") == std::string::npos) {
      bool cut = false;
      std::string out = undeclared_to_utf8(joined, budget.room, &cut);
      if (cut) add_defect(budget.defects, "header_text_truncated");
      budget.spend(out.size());
      return out;
    }
    size_t lead = joined.find_first_not_of(" \t");
    if (lead == std::string::npos) return joined;
    size_t tail = joined.find_last_not_of(" \t") + 1;
    return joined.substr(0, lead) + decode_words(joined, budget) + joined.substr(tail);
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
    } else if (p.extended && !charset.empty() && v.size() > charset.size() &&
               v[charset.size()] == '\'' && iequals(v.substr(0, charset.size()), charset)) {
      // A later section repeating "charset'": "'" is not an attribute-char (RFC 2231 7), so the
      // prefix cannot be value; some mailers repeat it, drop it.
      v = v.substr(charset.size() + 1);
    }
    bytes += p.extended ? percent_decode(v) : std::string(v);
  }
  bool cut = false;
  std::string out = to_utf8_bounded(bytes, charset, nullptr, budget.room, &cut);
  if (cut) add_defect(budget.defects, "header_text_truncated");
  budget.spend(out.size());
  return out;
}

// The head: a token, and for "type/subtype" a second one after '/' (CFWS allowed around the
// '/', as in "message / rfc822 (x)"). The subtype ends at white space, ';' or a comment, so a
// header missing the ';' before its parameters ("multipart/mixed boundary=x") keeps them apart.
std::string read_head(Cursor& c) {
  c.skip_cfws();
  std::string out(c.token(";/"));
  size_t after_type = c.i;
  c.skip_cfws();
  if (!c.done() && c.peek() == '/') {
    ++c.i;
    c.skip_cfws();
    out += '/';
    out += c.token(";");
  } else {
    c.i = after_type;
  }
  return out;
}

// True when a parameter "name=" (RFC 2045 5.1, attribute then optional WSP and '=') starts at s[i].
bool starts_parameter(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size() && !is_space(s[j]) && s[j] != '=' && s[j] != ';' && s[j] != '"' &&
         s[j] != '(')
    ++j;
  if (j == i) return false;
  while (j < s.size() && is_wsp(s[j])) ++j;
  return j < s.size() && s[j] == '=';
}

// An unquoted value (RFC 2045 5.1 token), leniently extended over white space to the next word
// for values like "name=my file.pdf" and unquoted encoded words; it stops at ';', a comment, and
// before a word that starts another parameter ("access-type=x server=y", a missing ';').
std::string read_unquoted(Cursor& c) {
  size_t begin = c.i;
  size_t end = c.i;
  while (true) {
    c.token(";");
    end = c.i;
    size_t next = c.i;
    while (next < c.s.size() && is_wsp(c.s[next])) ++next;
    if (next == c.i || next >= c.s.size() || c.s[next] == ';' || c.s[next] == '(' ||
        starts_parameter(c.s, next))
      break;
    c.i = next;
  }
  return std::string(c.s.substr(begin, end - begin));
}

}  // namespace

std::map<std::string, std::string> parse_params(std::string_view value, std::string* head,
                                                FieldBudget* field_budget) {
  FieldBudget own = default_field_budget(value.size());
  FieldBudget& budget = field_budget != nullptr ? *field_budget : own;
  size_t sections = 0;
  Cursor c{value};
  std::string h = read_head(c);
  if (head != nullptr) *head = to_lower(h);
  std::map<std::string, std::vector<Piece>> collected;
  while (true) {
    c.skip_cfws();
    if (c.done()) break;
    if (c.peek() == ';') {
      ++c.i;
      continue;
    }
    // A parameter after ';' (RFC 2045 5.1), or after only white space (missing ';', lenient).
    if (!starts_parameter(value, c.i)) {  // junk: skip to the next ';'
      size_t next = value.find(';', c.i);
      c.i = next == std::string_view::npos ? value.size() : next;
      continue;
    }
    std::string name = to_lower(c.token("=;\""));
    c.skip_cfws();
    ++c.i;  // '='
    c.skip_cfws();
    std::string val = !c.done() && c.peek() == '"' ? c.quoted() : read_unquoted(c);
    // RFC 2231 3-4: name*, name*N, name*N*.
    Piece piece{-1, false, std::move(val)};
    if (!name.empty() && name.back() == '*') {
      piece.extended = true;
      name.pop_back();
    }
    size_t star = name.find('*');
    if (star != std::string::npos) {
      std::string_view digits = std::string_view(name).substr(star + 1);
      bool numeric =
          !digits.empty() && digits.size() < 6 &&
          std::all_of(digits.begin(), digits.end(), [](char d) { return d >= '0' && d <= '9'; });
      if (numeric) {
        piece.index = std::stoi(std::string(digits));
        name.resize(star);
      }
    }
    // Issue 11: a map entry per "a=b;" was ~25 bytes of memory per input byte.
    if (collected.size() == budget.max_parameters && collected.find(name) == collected.end()) {
      add_defect(budget.defects, "too_many_parameters");
      break;
    }
    if (sections++ == budget.max_tokens) {
      add_defect(budget.defects, "too_many_tokens");
      break;
    }
    collected[name].push_back(std::move(piece));
  }
  std::map<std::string, std::string> params;
  for (auto& [name, pieces] : collected) {
    // A plain "name=" beside RFC 2231 sections: the sections win.
    bool has_sections = std::any_of(pieces.begin(), pieces.end(),
                                    [](const Piece& p) { return p.index >= 0 || p.extended; });
    if (has_sections)
      pieces.erase(std::remove_if(pieces.begin(), pieces.end(),
                                  [](const Piece& p) { return p.index < 0 && !p.extended; }),
                   pieces.end());
    else if (pieces.size() > 1)
      pieces.resize(1);  // repeated parameter: the first one
    // message.h promises UTF-8 everywhere, keys included: a name with 8-bit bytes (RFC 2045 5.1
    // allows only tokens) is read like other undeclared bytes.
    bool cut = false;
    std::string key = undeclared_to_utf8(name, budget.room, &cut);
    budget.spend(key.size());
    if (cut) add_defect(budget.defects, "header_text_truncated");
    params[std::move(key)] = join_pieces(pieces, name != "boundary", budget);
  }
  return params;
}

}  // namespace detail

ContentType parse_content_type(std::string_view value) {
  ContentType ct;
  std::string head;
  ct.params = detail::parse_params(detail::unfold(value), &head);
  // The head as written, split at '/' (a Content-Disposition head has none), read like other
  // undeclared bytes: message.h promises UTF-8 (fuzz_mime_encoded found 8-bit bytes kept raw).
  std::string text = detail::undeclared_to_utf8(head);
  size_t slash = text.find('/');
  ct.type = text.substr(0, slash);
  if (slash != std::string::npos) ct.subtype = text.substr(slash + 1);
  return ct;
}

}  // namespace mime
