// RFC 2047 encoded words in unstructured header text: "=?charset[*lang]?B|Q?text?=". Adjacent
// encoded words are joined without the white space between them (RFC 2047 6.2) and their bytes
// are concatenated before charset conversion, so a character split across words survives.
// Invalid words stay as text. Output is always valid UTF-8.
#include "mime/internal.h"

namespace mime {
namespace {

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

std::string decode_unstructured(std::string_view raw) {
  std::string value = detail::unfold(raw);
  std::string_view v = detail::trim(value);
  std::string out;
  out.reserve(v.size());
  std::string pending, pending_charset;  // bytes of adjacent encoded words with one charset
  size_t literal_begin = 0;
  bool last_was_word = false;
  auto flush_pending = [&] {
    if (!pending.empty()) out += to_utf8(pending, pending_charset);
    pending.clear();
  };
  size_t pos = 0;
  MemoFind find_question{v, "?"}, find_close{v, "?="};
  while (true) {
    size_t found = v.find("=?", pos);
    if (found == std::string_view::npos) break;
    EncodedWord word;
    if (!parse_encoded_word(v, found, find_question, find_close, word)) {
      pos = found + 2;
      continue;
    }
    std::string_view between = v.substr(literal_begin, found - literal_begin);
    bool only_space = detail::trim(between).empty();
    if (!(last_was_word && only_space)) {  // RFC 2047 6.2: white space between words is dropped
      flush_pending();
      out += detail::undeclared_to_utf8(between);
    }
    if (!pending.empty() && word.charset != pending_charset) flush_pending();
    pending_charset = word.charset;
    pending += word.bytes;
    last_was_word = true;
    literal_begin = pos = word.end;
  }
  flush_pending();
  out += detail::undeclared_to_utf8(v.substr(literal_begin));
  return out;
}

}  // namespace mime
