// RFC 2047 encoded words in unstructured header text: "=?charset[*lang]?B|Q?text?=". Adjacent
// encoded words are joined without the white space between them (RFC 2047 6.2) and their bytes
// are concatenated before charset conversion, so a character split across words survives.
// Invalid words stay as text. Output is always valid UTF-8.
#include "mime/internal.h"

namespace mime {
namespace {

using detail::add_defect;
using detail::hex_value;

struct EncodedWord {
  size_t end = 0;       // one past the closing "?="
  std::string charset;  // lower-case, language suffix removed (RFC 2231 5)
  std::string bytes;    // decoded payload, still in `charset`
};

std::string decode_q(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out += ' ';  // RFC 2047 4.2 (2)
    } else if (c == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// `find` with a memo of the last answer, so that scanning many "=?" that never close stays linear:
// the first occurrence at or after `from` is still `result` for any later start up to `result`.
struct MemoFind {
  std::string_view haystack, needle;
  size_t from = std::string_view::npos, result = 0;
  size_t operator()(size_t start) {
    if (from != std::string_view::npos && start >= from && start <= result) return result;
    from = start;
    result = haystack.find(needle, start);
    return result;
  }
};

// Parses an encoded word starting at value[pos] ("=?"); false when it is not one.
bool parse_encoded_word(std::string_view value, size_t pos, MemoFind& find_question,
                        MemoFind& find_close, EncodedWord& word) {
  size_t q1 = find_question(pos + 2);
  if (q1 == std::string_view::npos || q1 == pos + 2) return false;
  std::string_view charset = value.substr(pos + 2, q1 - pos - 2);
  for (char c : charset)
    if (detail::is_space(c) || c == '=') return false;
  if (q1 + 2 >= value.size() || value[q1 + 2] != '?') return false;
  char encoding = detail::lower_ascii(value[q1 + 1]);
  if (encoding != 'b' && encoding != 'q') return false;
  size_t text_begin = q1 + 3;
  size_t close = find_close(text_begin);
  if (close == std::string_view::npos) return false;
  std::string_view text = value.substr(text_begin, close - text_begin);
  size_t star = charset.find('*');
  word.charset = detail::to_lower(charset.substr(0, star));
  if (encoding == 'b') {
    word.bytes = detail::decode_base64(text, nullptr);
  } else {
    word.bytes = decode_q(text);
  }
  word.end = close + 2;
  return true;
}

}  // namespace

namespace detail {

namespace {
FieldBudget field_budget(const Limits& limits, size_t raw_size, size_t left) {
  FieldBudget budget;
  size_t k = std::max<size_t>(limits.header_expansion, 1);
  budget.room = std::min(left, raw_size > (SIZE_MAX - 256) / k ? SIZE_MAX : raw_size * k + 256);
  budget.max_words = limits.max_encoded_words;
  budget.max_tokens = limits.max_header_tokens;
  budget.max_items = limits.max_addresses;
  budget.max_parameters = limits.max_parameters;
  return budget;
}
}  // namespace

FieldBudget default_field_budget(size_t raw_size) {
  static const Limits kLimits;
  return field_budget(kLimits, raw_size, SIZE_MAX);
}

FieldBudget ParseContext::field(size_t raw_size) {
  FieldBudget budget = field_budget(limits, raw_size, text_left);
  budget.message_left = &text_left;
  budget.defects = defects;
  return budget;
}

std::string decode_words(std::string_view raw, FieldBudget& budget) {
  // Unfolded (RFC 5322 2.2.3) into a copy only when there is a line break to remove.
  if (budget.room == 0 && !trim(raw).empty()) {  // nothing left: no copy, no decoding
    add_defect(budget.defects, "header_text_truncated");
    return std::string();
  }
  std::string storage;
  std::string_view v = trim(unfolded(raw, storage));
  const size_t max_size = budget.room;
  std::string out;
  out.reserve(std::min(v.size(), max_size));
  bool cut = false;
  std::string pending, pending_charset;  // bytes of adjacent encoded words with one charset
  size_t literal_begin = 0, words = 0;
  bool last_was_word = false;
  auto flush_pending = [&] {
    if (!pending.empty() && !cut)
      cut = !append_utf8(out, pending, pending_charset, nullptr, max_size);
    pending.clear();
  };
  auto literal = [&](std::string_view text) {
    if (!cut) cut = !append_undeclared(out, text, max_size);
  };
  size_t pos = 0;
  MemoFind find_question{v, "?"}, find_close{v, "?="};
  while (!cut) {
    size_t found = v.find("=?", pos);
    if (found == std::string_view::npos) break;
    EncodedWord word;
    if (!parse_encoded_word(v, found, find_question, find_close, word)) {
      pos = found + 2;
      continue;
    }
    if (words++ == budget.max_words) {  // the rest stays as written
      add_defect(budget.defects, "too_many_encoded_words");
      break;
    }
    std::string_view between = v.substr(literal_begin, found - literal_begin);
    bool only_space = trim(between).empty();
    if (!(last_was_word && only_space)) {  // RFC 2047 6.2: white space between words is dropped
      flush_pending();
      literal(between);
    }
    if (!pending.empty() && word.charset != pending_charset) flush_pending();
    pending_charset = word.charset;
    pending += word.bytes;
    // Words of one charset are converted together; past 4 × what the output may still take
    // (≥ 1 byte of UTF-8 per 4 bytes in any charset but for escapes), the rest cannot fit.
    if (pending.size() / 4 > max_size - std::min(max_size, out.size()) + 64) {
      flush_pending();
      cut = true;
      break;
    }
    last_was_word = true;
    literal_begin = pos = word.end;
  }
  flush_pending();
  literal(v.substr(literal_begin));
  if (cut) add_defect(budget.defects, "header_text_truncated");
  budget.spend(out.size());
  return out;
}

}  // namespace detail

std::string decode_unstructured(std::string_view raw) {
  detail::FieldBudget budget = detail::default_field_budget(raw.size());
  return detail::decode_words(raw, budget);
}

}  // namespace mime
