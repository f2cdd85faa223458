// Content-Transfer-Encoding removal (RFC 2045 6): base64 and quoted-printable decoders that never
// fail. Bad input is skipped and recorded as a defect; decoding is a table lookup per byte into a
// preallocated buffer (no per-byte appends), linear in the input.
#include <array>
#include <cstdint>
#include <cstring>

#include "mime/internal.h"

namespace mime {
namespace detail {
namespace {

constexpr uint8_t kInvalid = 0xFF, kSpace = 0xFE, kPad = 0xFD;

constexpr std::array<uint8_t, 256> make_base64_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (uint8_t i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = i;
  t['-'] = 62;  // base64url, seen in the wild
  t['_'] = 63;
  t[' '] = t['\t'] = t['\r'] = t['\n'] = kSpace;
  t['='] = kPad;
  return t;
}
constexpr auto kBase64 = make_base64_table();

// kBase64 with each sextet already shifted to its place in a quartet (position 0..3); anything
// not in the alphabet sets bit 31, so one OR of four lookups tells whether the quartet is whole.
constexpr std::array<uint32_t, 256> make_shifted_table(int position) {
  std::array<uint32_t, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[c] = kBase64[c] < 64 ? uint32_t(kBase64[c]) << (18 - 6 * position) : 0x80000000u;
  return t;
}
constexpr auto kShift0 = make_shifted_table(0), kShift1 = make_shifted_table(1),
               kShift2 = make_shifted_table(2), kShift3 = make_shifted_table(3);

// Counts runs of SP/HT between two other characters of a line: words (base64_is_text).
class GapCounter {
 public:
  void text() {
    if (state_ == kAfterSpace) ++gaps_;
    state_ = kInText;
  }
  void byte(unsigned char c) {
    if (c == '\r' || c == '\n')
      state_ = kLineStart;
    else if (c == ' ' || c == '\t')
      state_ = state_ == kInText ? kAfterSpace : state_;
    else
      text();
  }
  size_t gaps() const { return gaps_; }

 private:
  enum { kLineStart, kInText, kAfterSpace } state_ = kLineStart;
  size_t gaps_ = 0;
};

// The bytes an incomplete quantum of `count` sextets carries (RFC 4648 4); 1 sextet carries none.
char* flush_quantum(uint32_t acc, int count, char* o) {
  if (count == 2) *o++ = static_cast<char>(acc >> 4);
  if (count == 3) {
    *o++ = static_cast<char>(acc >> 10);
    *o++ = static_cast<char>(acc >> 2);
  }
  return o;
}

}  // namespace

// RFC 2045 6.8: characters outside the alphabet are ignored; we also tolerate missing padding
// and data after padding (concatenated encodings). The word gaps are counted in the slow path
// only (the fast path reads alphabet characters alone), so real base64 costs nothing more.
std::string decode_base64(std::string_view in, std::vector<std::string>* defects,
                          size_t* word_gaps) {
  std::string out;
  out.resize(in.size() / 4 * 3 + 3);
  char* o = out.data();
  auto* s = reinterpret_cast<const unsigned char*>(in.data());
  size_t n = in.size();
  uint32_t acc = 0;
  int count = 0;
  bool invalid = false;
  GapCounter gaps;
  size_t i = 0;
  while (i < n) {
    // Fast path: a run of whole quartets of alphabet characters (a line), 4 characters → 3 bytes.
    if (count == 0) {
      size_t start = i;
      while (i + 4 <= n) {
        uint32_t v = kShift0[s[i]] | kShift1[s[i + 1]] | kShift2[s[i + 2]] | kShift3[s[i + 3]];
        if (v & 0x80000000u) break;
        o[0] = static_cast<char>(v >> 16);
        o[1] = static_cast<char>(v >> 8);
        o[2] = static_cast<char>(v);
        o += 3;
        i += 4;
      }
      if (i != start) gaps.text();
      if (i >= n) break;
    }
    gaps.byte(s[i]);
    uint8_t v = kBase64[s[i++]];
    if (v < 64) {
      acc = (acc << 6) | v;
      if (++count == 4) {
        o[0] = static_cast<char>(acc >> 16);
        o[1] = static_cast<char>(acc >> 8);
        o[2] = static_cast<char>(acc);
        o += 3;
        acc = 0;
        count = 0;
      }
    } else if (v == kPad) {  // the end of a quantum
      o = flush_quantum(acc, count, o);
      invalid = invalid || count == 1;
      acc = 0;
      count = 0;
    } else if (v == kInvalid) {
      invalid = true;
    }
  }
  if (count != 0) {
    add_defect(defects, "base64_missing_padding");
    o = flush_quantum(acc, count, o);
  }
  if (invalid) add_defect(defects, "invalid_base64");
  out.resize(o - out.data());
  if (word_gaps != nullptr) *word_gaps = gaps.gaps();
  return out;
}

// Whether a body declared base64 is plainly text instead: white space between words. Encoders
// write lines of alphabet characters only (RFC 2045 6.8), so a real base64 body has no such gap
// but where one was damaged; text has one every few characters (about 1 in 6 in English, 1 in 10
// with long words). The rule: at least one gap per 16 bytes of the body, line breaks included.
// Base64 with a few stray characters (punctuation, a stray space in a 76-character line, lines
// joined by spaces: 1 gap in 77) stays decoded, with its invalid_base64 defect.
bool base64_is_text(size_t word_gaps, size_t body_size) {
  return word_gaps > 0 && word_gaps * 16 >= body_size;
}

namespace {
// Decodes one line's text (without its line break) into `o`; returns the new end.
char* decode_qp_line(std::string_view line, char* o, bool* invalid) {
  size_t i = 0;
  while (i < line.size()) {
    const void* eq = std::memchr(line.data() + i, '=', line.size() - i);
    size_t stop = eq ? static_cast<const char*>(eq) - line.data() : line.size();
    std::memcpy(o, line.data() + i, stop - i);
    o += stop - i;
    i = stop;
    if (i >= line.size()) break;
    int hi = i + 1 < line.size() ? hex_value(line[i + 1]) : -1;
    int lo = i + 2 < line.size() ? hex_value(line[i + 2]) : -1;
    if (hi >= 0 && lo >= 0) {  // RFC 2045 6.7 (1); lower-case hex tolerated
      *o++ = static_cast<char>(hi * 16 + lo);
      i += 3;
    } else {
      *o++ = '=';  // RFC 2045 6.7 note (2): keep a bad '=' as it is
      *invalid = true;
      ++i;
    }
  }
  return o;
}
}  // namespace

std::string decode_quoted_printable(std::string_view in, std::vector<std::string>* defects) {
  std::string out;
  out.resize(in.size());
  char* o = out.data();
  bool invalid = false;
  size_t pos = 0;
  while (pos < in.size()) {
    const void* nl = std::memchr(in.data() + pos, '\n', in.size() - pos);
    size_t lf = nl ? static_cast<const char*>(nl) - in.data() : in.size();
    size_t next = nl ? lf + 1 : in.size();
    std::string_view line = in.substr(pos, lf - pos);
    std::string_view line_break = in.substr(lf, next - lf);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
      line_break = in.substr(lf - 1, next - lf + 1);
    }
    // RFC 2045 6.7 (3): trailing white space on a line is padding, not data.
    while (!line.empty() && is_wsp(line.back())) line.remove_suffix(1);
    bool soft = !line.empty() && line.back() == '=';  // RFC 2045 6.7 (5)
    if (soft) line.remove_suffix(1);
    o = decode_qp_line(line, o, &invalid);
    if (!soft) {
      std::memcpy(o, line_break.data(), line_break.size());
      o += line_break.size();
    }
    pos = next;
  }
  if (invalid) add_defect(defects, "invalid_quoted_printable");
  out.resize(o - out.data());
  return out;
}

}  // namespace detail

std::string decode_body(std::string_view raw, const Part& part, std::vector<std::string>* defects) {
  size_t begin = std::min(part.body_begin, raw.size());
  size_t end = std::min(std::max(part.end, begin), raw.size());
  std::string_view body = raw.substr(begin, end - begin);
  if (part.transfer_encoding == "base64") {
    std::vector<std::string> found;  // reported only when the decoded bytes are kept
    size_t gaps = 0;
    std::string decoded = detail::decode_base64(body, &found, &gaps);
    if (detail::base64_is_text(gaps, body.size())) {
      detail::add_defect(defects, "base64_not_encoded");  // the bytes as they are
      return std::string(body);
    }
    for (const auto& d : found) detail::add_defect(defects, d);
    return decoded;
  }
  if (part.transfer_encoding == "quoted-printable")
    return detail::decode_quoted_printable(body, defects);
  return std::string(body);  // 7bit, 8bit, binary and unknown encodings: bytes as they are
}

std::string decode_text(std::string_view raw, const Part& part, std::vector<std::string>* defects,
                        size_t max_size, bool* cut, std::string* charset_used) {
  std::string out;
  bool html = part.content_type == "text/html";
  bool done = true;
  if (part.transfer_encoding == "base64" || part.transfer_encoding == "quoted-printable") {
    done = detail::append_body_text(out, decode_body(raw, part, defects), part.charset, html,
                                    defects, max_size, charset_used);
  } else {
    // Bytes as they are: converted straight from the raw message, without a copy of the body.
    size_t begin = std::min(part.body_begin, raw.size());
    size_t end = std::min(std::max(part.end, begin), raw.size());
    done = detail::append_body_text(out, raw.substr(begin, end - begin), part.charset, html,
                                    defects, max_size, charset_used);
  }
  if (!done && cut != nullptr) *cut = true;
  return out;
}

bool is_valid_utf8(std::string_view bytes) {
  return detail::is_valid_utf8(bytes);
}
std::string valid_utf8(std::string_view bytes) {
  return detail::sanitize_utf8(bytes);
}

}  // namespace mime
