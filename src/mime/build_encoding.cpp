// Encoders for mime::build: header folding, RFC 2047 encoded words, RFC 2231 parameters,
// quoted-printable (RFC 2045 6.7) and base64 (RFC 2045 6.8) bodies. Output lines end in CRLF,
// stay within 78 octets where the encoding allows and never carry CR or LF inside a value.
#include <algorithm>

#include "common/base64.h"
#include "mime/build.h"
#include "mime/build_internal.h"

namespace mime::build_detail {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr std::string_view kWordPrefixB = "=?utf-8?B?";
constexpr std::string_view kWordPrefixQ = "=?utf-8?Q?";
constexpr size_t kWordOverhead = 12;  // "=?utf-8?X?" + "?="

bool is_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
// RFC 5322 3.2.3 atext; bytes ≥ 0x80 count as atext only where RFC 6532 3.2 allows (addresses).
bool is_atext(unsigned char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
                            std::string_view::npos;
}
bool is_printable(unsigned char c) {
  return c >= 0x20 && c <= 0x7e;
}

// Bytes in the UTF-8 sequence starting with `lead`; invalid leads count as one byte.
size_t utf8_length(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 1;
  return n;
}

// RFC 2047 4.2 / 5 (3): which bytes a Q word may carry as they are.
bool q_literal(unsigned char c, bool phrase) {
  if (phrase) return is_alnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
  return c > 0x20 && c < 0x7f && c != '=' && c != '?' && c != '_';
}
size_t q_cost(unsigned char c, bool phrase) {
  return (c == ' ' || q_literal(c, phrase)) ? 1 : 3;
}

void append_q(std::string& out, std::string_view bytes, bool phrase) {
  for (unsigned char c : bytes) {
    if (c == ' ') {
      out += '_';  // RFC 2047 4.2 (2)
    } else if (q_literal(c, phrase)) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

std::string make_word(std::string_view bytes, bool use_q, bool phrase) {
  std::string word(use_q ? kWordPrefixQ : kWordPrefixB);
  if (use_q) {
    append_q(word, bytes, phrase);
  } else {
    word += common::base64_encode(bytes);
  }
  word += "?=";
  return word;
}

// RFC 2231 7: attribute-char, what an extended value may carry without %XX.
bool is_attribute_char(unsigned char c) {
  return is_alnum(c) ||
         std::string_view("!#$&+-.^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}
void append_percent(std::string& out, std::string_view bytes) {
  for (unsigned char c : bytes) {
    if (is_attribute_char(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

std::string quoted_string(std::string_view s) {  // RFC 5322 3.2.4
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

bool is_dot_atom(std::string_view s) {  // RFC 5322 3.2.3 with RFC 6532 3.2 UTF-8
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!is_atext(c) && c < 0x80) {
      return false;
    }
  }
  return true;
}

bool is_ascii_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_printable(static_cast<unsigned char>(c)); });
}

}  // namespace

HeaderWriter::HeaderWriter(std::string& out, std::string_view name) : out_(out) {
  out_ += without_line_breaks(name);
  out_ += ':';
  column_ = out_.size() - std::min(out_.size(), out_.rfind('\n') + 1);
}

void HeaderWriter::piece(std::string_view text, std::string_view separator) {
  if (separator.empty() || first_) {
    if (first_ && !text.empty()) {
      out_ += ' ';
      ++column_;
    }
    first_ = first_ && text.empty();
  } else if (!text.empty() && column_ + separator.size() + text.size() > kMaxLine) {
    // (never before an empty piece: a continuation line of white space only is not allowed)
    out_ += "\r\n";  // RFC 5322 2.2.3: folding is a CRLF before white space
    column_ = 0;
    out_ += separator;
    column_ += separator.size();
  } else {
    out_ += separator;
    column_ += separator.size();
  }
  out_ += text;
  column_ += text.size();
}

void HeaderWriter::finish() {
  out_ += "\r\n";
  column_ = 0;
}

std::string without_line_breaks(std::string_view s) {
  std::string out(s);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return out;
}

bool is_plain_unstructured(std::string_view s, size_t max_word, bool allow_lookalike) {
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || c == '\t') {
      run = 0;
      continue;
    }
    if (!is_printable(c)) return false;
    if (!allow_lookalike && c == '=' && i + 1 < s.size() && s[i + 1] == '?')
      return false;                      // RFC 2047 6.1
    if (++run > max_word) return false;  // a word that no folding could bring under the limit
  }
  return true;
}

std::vector<std::string> encoded_words(std::string_view utf8, bool phrase, size_t first_limit) {
  size_t q_total = 0;
  for (unsigned char c : utf8) q_total += q_cost(c, phrase);
  const bool use_q = q_total <= common::base64_encoded_size(utf8.size());
  std::vector<std::string> words;
  size_t limit = std::clamp<size_t>(first_limit, 24, kMaxEncodedWord);
  size_t start = 0, bytes = 0, q_len = 0;
  for (size_t i = 0; i < utf8.size();) {
    size_t n = utf8_length(utf8, i);
    size_t add = 0;
    for (size_t k = 0; k < n; ++k) add += q_cost(static_cast<unsigned char>(utf8[i + k]), phrase);
    size_t payload = use_q ? q_len + add : common::base64_encoded_size(bytes + n);
    if (bytes > 0 && kWordOverhead + payload > limit) {  // RFC 2047 2: ≤ 75; 5: whole characters
      words.push_back(make_word(utf8.substr(start, bytes), use_q, phrase));
      limit = kMaxEncodedWord;
      start = i;
      bytes = 0;
      q_len = 0;
    }
    bytes += n;
    q_len += add;
    i += n;
  }
  if (bytes > 0 || words.empty())
    words.push_back(make_word(utf8.substr(start, bytes), use_q, phrase));
  return words;
}

void write_unstructured(HeaderWriter& writer, std::string_view raw_value, bool strict) {
  std::string value = without_line_breaks(raw_value);
  size_t first_room = kMaxLine - std::min(kMaxLine, writer.column() + 1);
  size_t first_word = std::min(value.find_first_of(" \t"), value.size());
  bool plain =
      strict ? is_plain_unstructured(value) && first_word <= first_room
             : is_plain_unstructured(
                   value, kMaxHardLine - std::min(writer.column() + 2, kMaxHardLine - 1), true);
  if (plain) {
    // RFC 5322 3.2.5 unstructured: fold before any run of white space, keeping it.
    size_t i = value.find_first_not_of(" \t");
    if (i == std::string::npos) return writer.piece("", " ");
    std::string_view v = value;
    std::string_view separator = " ";
    while (i < v.size()) {
      size_t end = std::min(v.find_first_of(" \t", i), v.size());
      writer.piece(v.substr(i, end - i), separator);
      size_t next = std::min(v.find_first_not_of(" \t", end), v.size());
      separator = v.substr(end, next - end);
      i = next;
    }
    if (!separator.empty()) writer.piece(separator, "");  // trailing white space, kept
    return;
  }
  auto words = encoded_words(value, false, first_room);
  for (const auto& word : words)
    writer.piece(word, " ");  // RFC 2047 6.2: space between words is dropped
}

std::string format_address(std::string_view raw) {
  std::string address = without_line_breaks(raw);
  size_t at = address.rfind('@');
  std::string_view local =
      std::string_view(address).substr(0, at == std::string::npos ? address.size() : at);
  std::string_view rest =
      at == std::string::npos ? std::string_view() : std::string_view(address).substr(at);
  bool quoted = local.size() >= 2 && local.front() == '"' && local.back() == '"';
  if (is_dot_atom(local) || quoted) return address;
  return quoted_string(local) + std::string(rest);  // RFC 5322 3.4.1, RFC 5321 4.1.2
}

std::string ascii_phrase(std::string_view name) {
  if (!is_ascii_printable(name) || name.find("=?") != std::string_view::npos) return "";
  bool atoms = !name.empty() && name.front() != ' ' && name.back() != ' ';
  for (size_t i = 0; atoms && i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    atoms = c == ' ' ? name[i + 1] != ' ' : is_atext(c);
  }
  if (atoms) return std::string(name);  // RFC 5322 3.2.5 phrase = 1*word
  std::string quoted = quoted_string(name);
  // A quoted-string is not folded here; longer ones go as encoded words that can be.
  return quoted.size() <= kMaxLine - 12 ? quoted : "";
}

void write_mailbox(HeaderWriter& writer, std::string_view raw_name, std::string_view address,
                   bool last) {
  std::string name = without_line_breaks(raw_name);
  std::string addr = format_address(address);
  if (name.empty()) {
    writer.piece(addr, " ");
  } else {
    std::string phrase = ascii_phrase(name);
    if (!phrase.empty() && phrase.front() != '"') {
      std::string_view p = phrase;
      for (size_t i = 0; i < p.size();) {
        size_t end = std::min(p.find(' ', i), p.size());
        writer.piece(p.substr(i, end - i), " ");
        i = end + 1;
      }
    } else if (!phrase.empty()) {
      writer.piece(phrase, " ");
    } else {
      size_t room = kMaxLine - std::min(kMaxLine, writer.column() + 1);
      for (const auto& word : encoded_words(name, true, room))
        writer.piece(word, " ");  // RFC 2047 5 (3)
    }
    writer.piece("<" + addr + ">", " ");
  }
  if (!last) writer.piece(",", "");
}

void write_parameter(HeaderWriter& writer, std::string_view name, std::string_view raw_value) {
  std::string value = without_line_breaks(raw_value);
  writer.piece(";", "");
  std::string plain = std::string(name) + "=" + quoted_string(value);
  if (is_ascii_printable(value) && plain.size() + 2 <= kMaxLine) return writer.piece(plain, " ");
  std::string single = std::string(name) + "*=utf-8''";  // RFC 2231 4
  append_percent(single, value);
  if (single.size() + 2 <= kMaxLine) return writer.piece(single, " ");
  // RFC 2231 3: sections name*0*, name*1*, ...; each holds whole UTF-8 characters so that a
  // reader decoding section by section still sees valid text.
  size_t section = 0;
  std::string text;
  auto start_section = [&] {
    text =
        std::string(name) + "*" + std::to_string(section) + "*=" + (section == 0 ? "utf-8''" : "");
  };
  start_section();
  size_t head = text.size();
  for (size_t i = 0; i < value.size();) {
    size_t n = utf8_length(value, i);
    std::string chunk;
    append_percent(chunk, std::string_view(value).substr(i, n));
    if (text.size() > head && text.size() + chunk.size() + 2 > kMaxLine) {
      writer.piece(text, " ");
      writer.piece(";", "");
      ++section;
      start_section();
      head = text.size();
    }
    text += chunk;
    i += n;
  }
  writer.piece(text, " ");
}

void write_legacy_name(HeaderWriter& writer, std::string_view raw_value) {
  std::string value = without_line_breaks(raw_value);
  std::string plain = "name=" + quoted_string(value);
  if (is_ascii_printable(value) && plain.size() + 2 <= kMaxLine) {
    writer.piece(";", "");
    return writer.piece(plain, " ");
  }
  // Not RFC 2047 conformant (encoded words inside a quoted-string) but what older readers of
  // name= understand; RFC 2231 filename* on Content-Disposition is the standard form. The words
  // use the restricted Q set of RFC 2047 5 (3), so '"' and '\\' are =22 and =5C: literal, they
  // would end or escape the quoted-string (issue 11: name="=?utf-8?Q?Rechnung_"M=C3=A4rz".pdf?=").
  auto words = encoded_words(value, true, kMaxLine - 9);
  writer.piece(";", "");
  for (size_t i = 0; i < words.size(); ++i)
    writer.piece(i == 0 ? "name=\"" + words[i] : words[i], " ");
  writer.piece("\"", "");
}

void append_quoted_printable(std::string& out, std::string_view text, bool soft_break_at_end) {
  size_t column = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {  // a hard line break
      out += "\r\n";
      ++i;
      column = 0;
      continue;
    }
    // The text's last character ends a line only when no soft break follows it.
    bool line_end =
        (i + 1 == text.size() && !soft_break_at_end) ||
        (i + 1 < text.size() && text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n');
    // RFC 2045 6.7 (2) literal printable ASCII except "="; (3) white space not at a line end.
    bool literal = (c > 0x20 && c < 0x7f && c != '=') || ((c == ' ' || c == '\t') && !line_end);
    size_t width = literal ? 1 : 3;
    // RFC 2045 6.7 (5): encoded lines ≤ 76 characters, the "=" of a soft break included.
    if (column + width > (line_end ? kBodyLine : kBodyLine - 1)) {
      out += "=\r\n";
      column = 0;
    }
    if (literal) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    column += width;
  }
  if (soft_break_at_end) out += "=\r\n";
}

void append_base64_lines(std::string& out, std::string_view bytes) {
  constexpr size_t kChunk = kBodyLine / 4 * 3;  // 57 bytes → 76 characters
  size_t lines = (bytes.size() + kChunk - 1) / kChunk;
  size_t old = out.size();
  out.resize(old + common::base64_encoded_size(bytes.size()) + (lines > 0 ? 2 * (lines - 1) : 0));
  char* o = out.data() + old;
  for (size_t i = 0; i < bytes.size(); i += kChunk) {
    if (i > 0) {
      *o++ = '\r';
      *o++ = '\n';
    }
    o = common::base64_encode_to(bytes.substr(i, std::min(kChunk, bytes.size() - i)), o);
  }
}

std::string normalize_line_ends(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace mime::build_detail

namespace mime {

std::string encode_header_words(std::string_view utf8) {
  if (build_detail::is_plain_unstructured(utf8)) return std::string(utf8);
  std::string out;
  for (const auto& word : build_detail::encoded_words(utf8, false)) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

std::string format_mailbox(const Mailbox& mailbox) {
  std::string address = build_detail::format_address(mailbox.address);
  std::string name = build_detail::without_line_breaks(mailbox.name);
  if (name.empty()) return address;
  std::string phrase = build_detail::ascii_phrase(name);
  if (phrase.empty()) {
    for (const auto& word : build_detail::encoded_words(name, true))
      phrase += (phrase.empty() ? "" : " ") + word;
  }
  return phrase + " <" + address + ">";
}

}  // namespace mime
