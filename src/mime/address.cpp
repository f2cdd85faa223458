// Address lists (RFC 5322 3.4): display names (quoted, RFC 2047 encoded), groups, comments,
// quoted local parts, UTF-8 addresses (RFC 6532), and the obsolete forms of RFC 5322 4.4 (routes
// "<@a,@b:user@c>", CFWS around dots), plus missing angle brackets ("Name user@host").
#include "mime/internal.h"

namespace mime {
namespace {

using detail::read_quoted;

enum class Kind { atom, quoted, comment, angle, special };

struct Token {
  Kind kind;
  std::string text;
  bool space_before = false;
};

bool is_atom_char(char c) {
  return !detail::is_space(c) && c != '(' && c != ')' && c != '<' && c != '>' && c != ',' &&
         c != ';' && c != ':' && c != '@' && c != '"';
}

// Reads a comment at s[i] == '(' (nested, escapes removed); returns its text without the parens.
std::string read_comment(std::string_view s, size_t& i) {
  std::string out;
  int nesting = 0;
  while (i < s.size()) {
    char c = s[i++];
    if (c == '\\' && i < s.size()) {
      out += s[i++];
      continue;
    }
    if (c == '(' && nesting++ == 0) continue;
    if (c == ')' && --nesting == 0) break;
    out += c;
  }
  return out;
}

// The addr-spec inside < >: comments and white space dropped, quoted local parts unquoted, an
// obsolete route (RFC 5322 4.4 obs-route) removed.
std::string clean_angle(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '(')
      read_comment(s, i);
    else if (c == '"')
      out += read_quoted(s, i);
    else if (detail::is_space(c))
      ++i;
    else
      out += s[i++];
  }
  if (!out.empty() && out.front() == '@') {
    size_t colon = out.rfind(':');
    if (colon != std::string::npos) out.erase(0, colon + 1);
  }
  return out;
}

// At most `max_tokens` tokens (issue 11: a token per atom of "a,a,a,..." was ~30 bytes of memory
// per input byte); `*more` set when input was left.
std::vector<Token> tokenize(std::string_view s, size_t max_tokens, bool* more) {
  std::vector<Token> tokens;
  size_t i = 0;
  bool space = false;
  while (i < s.size()) {
    if (tokens.size() == max_tokens) {
      *more = detail::trim(s.substr(i)).size() > 0;
      break;
    }
    char c = s[i];
    if (detail::is_space(c)) {
      space = true;
      ++i;
      continue;
    }
    Token t{Kind::atom, {}, space};
    space = false;
    if (c == '(') {
      t.kind = Kind::comment;
      t.text = read_comment(s, i);
      space = true;
    } else if (c == '"') {
      t.kind = Kind::quoted;
      t.text = read_quoted(s, i);
    } else if (c == '<') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != '>') {
        if (s[j] == '"') {
          size_t close = s.find('"', j + 1);
          j = close == std::string_view::npos ? s.size() : close + 1;  // unterminated: to the end
        } else {
          ++j;
        }
      }
      t.kind = Kind::angle;
      t.text = clean_angle(s.substr(i + 1, j - i - 1));
      i = j + 1;
    } else if (!is_atom_char(c)) {
      t.kind = Kind::special;
      t.text = std::string(1, c);
      ++i;
    } else {
      size_t j = i;
      while (j < s.size() && is_atom_char(s[j])) ++j;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    }
    tokens.push_back(std::move(t));
  }
  return tokens;
}

std::string join_words(const std::vector<std::string>& words, detail::FieldBudget& budget) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return detail::decode_words(out, budget);
}

// A display name from its phrase tokens, with their original spacing (RFC 5322 3.2.5 phrase): a
// space only where the input had white space, so "phil@example.com" stays one word. Quoted
// strings without encoded words are kept verbatim (RFC 5322 3.2.4 qcontent, leading spaces
// included); runs of atoms and quoted strings with encoded words are RFC 2047 decoded together.
std::string phrase_name(const std::vector<const Token*>& tokens, detail::FieldBudget& budget) {
  std::string out, run;
  bool run_open = false;
  auto flush = [&] {
    if (run_open) out += detail::decode_words(run, budget);
    run.clear();
    run_open = false;
  };
  for (const Token* t : tokens) {
    bool verbatim = t->kind == Kind::quoted && t->text.find("=?") == std::string::npos;
    bool space = t->space_before && (!out.empty() || run_open);
    if (verbatim) {
      flush();
      if (space) out += ' ';
      bool cut = false;
      std::string text = detail::undeclared_to_utf8(t->text, budget.room, &cut);
      if (cut) detail::add_defect(budget.defects, "header_text_truncated");
      budget.spend(text.size());
      out += text;
    } else {
      if (!run_open && space)
        out += ' ';
      else if (space)
        run += ' ';
      run += t->text;
      run_open = true;
    }
  }
  flush();
  return out;
}

// One mailbox from its tokens (RFC 5322 3.4 mailbox, name-addr / addr-spec), lenient.
std::optional<Address> make_mailbox(const std::vector<Token>& tokens, detail::FieldBudget& budget) {
  Address a;
  std::vector<std::string> before, after, comments;
  std::vector<const Token*> phrase;
  bool have_angle = false;
  for (const auto& t : tokens) {
    if (t.kind == Kind::comment) {
      if (!detail::trim(t.text).empty()) comments.push_back(t.text);
    } else if (t.kind == Kind::angle && !have_angle) {
      have_angle = true;
      a.address = t.text;
    } else {
      (have_angle ? after : before).push_back(t.text);
      if (!have_angle) phrase.push_back(&t);
    }
  }
  if (have_angle) {
    a.name = phrase_name(phrase, budget);
  } else {
    // Group tokens into words: '@', '.' and quoted local parts glue to their neighbours.
    std::vector<std::string> words;
    bool glue_next = false;
    for (const auto& t : tokens) {
      if (t.kind == Kind::comment) continue;
      // An empty quoted string ("From: \"") has no first or last character.
      bool glue = glue_next || (!t.space_before && !words.empty()) || t.text == "@" ||
                  (!t.text.empty() && t.text.front() == '.');
      if (glue && !words.empty())
        words.back() += t.text;
      else
        words.push_back(t.text);
      glue_next = t.text == "@" || (!t.text.empty() && t.text.back() == '.');
    }
    before.clear();
    for (const auto& w : words) {
      if (w.find('@') != std::string::npos)
        a.address = w;  // the last one with '@' wins
      else
        before.push_back(w);
    }
    if (a.address.empty() && words.size() == 1) {
      a.address = words.front();
      before.clear();
    }
    if (!a.address.empty()) {
      std::vector<std::string> rest;
      for (const auto& w : words)
        if (w != a.address) rest.push_back(w);
      before = rest;
    }
  }
  if (!have_angle) a.name = join_words(before, budget);
  if (a.name.empty()) a.name = join_words(after, budget);
  if (a.name.empty()) a.name = join_words(comments, budget);
  bool cut = false;
  a.address = detail::undeclared_to_utf8(a.address, budget.room, &cut);
  if (cut) detail::add_defect(budget.defects, "header_text_truncated");
  budget.spend(a.address.size());
  if (a.name.empty() && a.address.empty()) return std::nullopt;
  return a;
}

}  // namespace

namespace detail {

std::vector<Address> address_list(std::string_view value, FieldBudget& budget) {
  bool more = false;
  std::string storage;
  std::vector<Token> tokens = tokenize(unfolded(value, storage), budget.max_tokens, &more);
  if (more) add_defect(budget.defects, "too_many_tokens");
  std::vector<Address> out;
  std::vector<Token> current;
  std::string group;
  bool in_group = false;
  bool full = budget.max_items == 0;
  auto emit = [&] {
    if (full) return;
    if (auto a = make_mailbox(current, budget)) {
      if (out.size() == budget.max_items) {
        full = true;
      } else {
        a->group = group;
        if (group.size() > budget.room) {
          cut_utf8(a->group, budget.room);
          add_defect(budget.defects, "header_text_truncated");
        }
        budget.spend(a->group.size());
        out.push_back(std::move(*a));
      }
    }
    current.clear();
  };
  for (auto& t : tokens) {
    if (full) break;
    if (t.kind == Kind::special && t.text == ",") {
      emit();
    } else if (t.kind == Kind::special && t.text == ";") {
      emit();
      group.clear();  // RFC 5322 3.4 group ends with ';'
      in_group = false;
    } else if (t.kind == Kind::special && t.text == ":" && !in_group) {
      // display-name ':' starts a group
      std::vector<std::string> words, comments;
      for (const auto& g : current) (g.kind == Kind::comment ? comments : words).push_back(g.text);
      group = join_words(words, budget);
      in_group = true;
      current.clear();
    } else {
      current.push_back(std::move(t));
    }
  }
  emit();
  if (full) add_defect(budget.defects, "too_many_addresses");
  return out;
}

}  // namespace detail

std::vector<Address> parse_address_list(std::string_view value) {
  detail::FieldBudget budget = detail::default_field_budget(value.size());
  return detail::address_list(value, budget);
}

}  // namespace mime
