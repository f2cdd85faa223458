// Charset conversion to UTF-8. Labels mean what the WHATWG Encoding Standard says they mean
// ("iso-8859-1" and "us-ascii" are windows-1252, so 0x80 is €); decoders are glibc iconv's, ours
// for utf-8, windows-1252 and x-user-defined. Never fails: invalid bytes become U+FFFD.
//
// A body's charset (append_body_text), in this order:
//  1. a byte order mark (WHATWG "decode": it wins over any label);
//  2. the declared charset's encoding, unless the bytes show it wrong: valid UTF-8 with 8-bit
//     bytes is UTF-8 whatever the label (a single-byte text is almost never valid UTF-8 by
//     chance), and when over a quarter of the 8-bit bytes are invalid in it, the detected
//     charset if the bytes are valid in that one (both "charset_mismatch"); detection needs 8
//     8-bit bytes at least (detected_encoding);
//  3. no usable label (none, or one neither WHATWG nor glibc knows: "unknown_charset"): an HTML
//     part's own <meta charset>; ASCII or valid UTF-8 as UTF-8; uchardet's guess when the bytes
//     are valid in it ("charset_detected"); else windows-1252.
// Header text (append_utf8) takes its label as declared: a few words are too little to guess.
#include <iconv.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "mime/internal.h"

namespace mime {
namespace {

using detail::add_defect;
using detail::reserve_capped;

// Converts with iconv, appending to `out`; each byte iconv rejects becomes U+FFFD and counts in
// `*invalid` (with `c1`, a rejected 0x80..0x9F becomes the C1 control of that value instead, as
// the WHATWG windows-874 and windows-125x indexes have the bytes Microsoft left undefined). False
// when iconv does not know the charset. Converted through a 64 KiB buffer: `out` grows with what is
// written (never by 2 × the input up front, zero-filled and so resident) and stops before passing
// `max_size`.
bool convert(std::string_view bytes, const char* name, bool c1, size_t max_size, std::string& out,
             size_t* invalid, bool* cut) {
  iconv_t cd = iconv_open("UTF-8", name);
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  char buffer[64 << 10];
  char* in_ptr = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  // A few bytes over max_size tell the caller that the output was cut (then cut_utf8).
  const size_t hard = max_size > SIZE_MAX - 4 ? SIZE_MAX : max_size + 4;
  reserve_capped(out, bytes.size() + 16, max_size);
  while (out.size() <= max_size) {
    char* out_ptr = buffer;
    size_t out_left = sizeof buffer;
    bool flush_call = in_left == 0;  // once the input is done: the shift state (iso-2022-jp)
    size_t rc = flush_call ? iconv(cd, nullptr, nullptr, &out_ptr, &out_left)
                           : iconv(cd, &in_ptr, &in_left, &out_ptr, &out_left);
    int error = rc == static_cast<size_t>(-1) ? errno : 0;
    size_t n = static_cast<size_t>(out_ptr - buffer);
    reserve_capped(out, n, hard);
    out.append(buffer, std::min(n, hard - std::min(out.size(), hard)));
    if (!flush_call && (error == EILSEQ || error == EINVAL)) {
      // An invalid byte, or a truncated sequence at the end: U+FFFD, skip one byte.
      auto byte = static_cast<unsigned char>(*in_ptr);
      if (c1 && byte >= 0x80 && byte <= 0x9F) {
        out += '\xC2';
        out += static_cast<char>(byte);
      } else {
        ++*invalid;
        out += "\xEF\xBF\xBD";
      }
      ++in_ptr;
      --in_left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset the shift state after garbage
    } else if (flush_call && error != E2BIG) {
      break;
    }
  }
  iconv_close(cd);
  if (out.size() > max_size) *cut = true;
  return true;
}

// Decodes `bytes` as `encoding` (a WHATWG name, or a label glibc knows) onto `out`. False when
// no decoder knows it (`out` untouched); `*invalid` counts the bytes that became U+FFFD.
bool decode_as(std::string& out, std::string_view bytes, std::string_view encoding, size_t max_size,
               size_t* invalid, bool* cut) {
  *invalid = 0;
  if (encoding == "utf-8") {
    bool valid = detail::is_valid_utf8(bytes);
    if (!valid) *invalid = detail::count_invalid_utf8(bytes);
    bool done = valid ? detail::append_valid_utf8(out, bytes, max_size)
                      : detail::append_sanitized(out, bytes, max_size);
    *cut = !done || *cut;
    return true;
  }
  if (encoding == "windows-1252" || encoding == "x-user-defined") {
    bool done = encoding == "windows-1252" ? detail::append_windows_1252(out, bytes, max_size)
                                           : detail::append_x_user_defined(out, bytes, max_size);
    *cut = !done || *cut;
    return true;
  }
  const char* decoder = detail::whatwg_decoder(encoding);
  std::string name = decoder != nullptr ? decoder : std::string(encoding);
  size_t start = out.size();
  // windows-874 and windows-1250 .. windows-1258.
  bool c1 = encoding == "windows-874" || encoding.substr(0, 10) == "windows-12";
  if (!convert(bytes, name.c_str(), c1, max_size, out, invalid, cut)) return false;
  // iconv output is UTF-8 already; repair defensively (NUL and odd converters included).
  if (!detail::is_valid_utf8(std::string_view(out).substr(start))) {
    std::string converted = out.substr(start);
    out.resize(start);
    *cut = !detail::append_sanitized(out, converted, max_size) || *cut;
  }
  if (out.size() > max_size) {
    detail::cut_utf8(out, max_size);
    *cut = true;
  }
  return true;
}

// A declared label as written: trimmed, quotes removed, lower-case.
std::string clean_label(std::string_view charset_in) {
  std::string charset = detail::to_lower(detail::trim(charset_in.substr(0, 256)));
  while (!charset.empty() && (charset.front() == '"' || charset.front() == '\''))
    charset.erase(0, 1);
  while (!charset.empty() && (charset.back() == '"' || charset.back() == '\'')) charset.pop_back();
  return charset;
}

// Labels that name no charset: none, or a transfer encoding written as one.
bool no_label(const std::string& label) {
  return label.empty() || label == "7bit" || label == "8bit";
}

// The encoding a label names: WHATWG's, else the label itself for glibc to decode (utf-7,
// cp850, and the ISO-2022 variants WHATWG calls "replacement": text for us, not a page whose
// script a browser could be tricked into running). "" for no label.
std::string resolve(const std::string& label) {
  static constexpr std::pair<const char*, const char*> kGlibcSpelling[] = {
      {"unicode-1-1-utf-7", "utf-7"}, {"ks_c_5601", "euc-kr"}};
  if (no_label(label)) return "";
  std::string_view encoding = detail::whatwg_encoding(label);
  if (!encoding.empty() && encoding != "replacement") return std::string(encoding);
  for (const auto& [alias, name] : kGlibcSpelling)
    if (label == alias) return name;
  return label;
}

// Whether a decoder knows `encoding` (resolve's result): WHATWG's do, others if glibc's does.
bool known(const std::string& encoding) {
  if (!detail::whatwg_encoding(encoding).empty()) return true;
  iconv_t cd = iconv_open("UTF-8", encoding.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  iconv_close(cd);
  return true;
}

size_t count_high(std::string_view bytes) {
  size_t n = 0, i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {  // 8 bytes at a time: their high bits, counted
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    // Each byte's high bit moved to its low bit, then the 8 bytes summed by one multiply.
    n += static_cast<size_t>((((w >> 7) & 0x0101010101010101ULL) * 0x0101010101010101ULL) >> 56);
  }
  for (; i < bytes.size(); ++i) n += static_cast<unsigned char>(bytes[i]) >= 0x80;
  return n;
}

// uchardet's guess, when there is enough to guess from: at least kDetectMinHighBytes 8-bit bytes
// (or an ESC of a 7-bit ISO-2022 text) in the prefix it reads. Below that its guesses are mostly
// wrong (measured on 14 languages' mail text: right 4-10 times in 14 with 1-6 such bytes, 10-11
// with 8-12, where windows-1252 was right 3-5 times), so windows-1252 stands. Its names that are
// no WHATWG label are mapped; those no decoder knows are dropped.
constexpr size_t kDetectMinHighBytes = 8;
std::string detected_encoding(std::string_view bytes) {
  std::string_view prefix = bytes.substr(0, detail::kDetectPrefixBytes);
  if (count_high(prefix) < kDetectMinHighBytes &&
      std::memchr(prefix.data(), 0x1B, prefix.size()) == nullptr)
    return "";
  std::string name = detail::detect_charset(bytes);
  if (name == "uhc") return "euc-kr";
  if (name == "mac-cyrillic") return "x-mac-cyrillic";
  if (name == "ascii") return "";  // nothing 8-bit to tell: the caller's UTF-8 rule applies
  std::string encoding = resolve(name);
  return known(encoding) ? encoding : "";
}

// One body conversion's state: where its text starts in `out`, and what was applied.
struct BodyText {
  std::string& out;
  size_t start;
  size_t max_size;
  std::vector<std::string>* defects;
  std::string used;
  bool cut = false;

  void restart() {
    out.resize(start);
    cut = false;
  }
  // Decodes all of `bytes` as `encoding`; the number of invalid bytes, SIZE_MAX when unknown.
  size_t decode(std::string_view bytes, const std::string& encoding) {
    size_t invalid = 0;
    if (!decode_as(out, bytes, encoding, max_size, &invalid, &cut)) return SIZE_MAX;
    used = encoding;
    return invalid;
  }
  // The detected charset, kept only when the bytes are valid in it; else `out` is rewound.
  bool try_detected(std::string_view bytes) {
    restart();
    std::string detected = detected_encoding(bytes);
    if (detected.empty()) return false;
    if (decode(bytes, detected) == 0) return true;
    restart();
    return false;
  }
};

// Rule 2 (header comment): the declared encoding, or what the bytes show instead.
void declared(BodyText& t, std::string_view bytes, const std::string& encoding) {
  bool wide = encoding == "utf-16be" || encoding == "utf-16le" || encoding == "x-user-defined";
  size_t high = wide || encoding == "utf-8" ? 0 : count_high(bytes);
  if (high > 0 && detail::is_valid_utf8(bytes)) {
    add_defect(t.defects, "charset_mismatch");
    t.decode(bytes, "utf-8");
    return;
  }
  size_t invalid = t.decode(bytes, encoding);
  if (invalid == 0) return;
  if (encoding == "utf-8") high = count_high(bytes);
  if (!wide && invalid * 4 > high) {
    if (t.try_detected(bytes)) {  // valid in the detected charset, so not the declared one
      add_defect(t.defects, "charset_mismatch");
      add_defect(t.defects, "charset_detected");
      return;
    }
    t.decode(bytes, encoding);  // try_detected rewound it
  }
  add_defect(t.defects, encoding == "utf-8" ? "invalid_utf8" : "invalid_charset_bytes");
}

// Rule 3: no usable label.
void undeclared(BodyText& t, std::string_view bytes, bool html) {
  if (html) {
    std::string_view meta = detail::html_meta_encoding(bytes);
    if (!meta.empty()) return declared(t, bytes, std::string(meta));
  }
  // ESC: a 7-bit ISO-2022 text (valid UTF-8 too), which only the detector recognises.
  bool escapes = std::memchr(bytes.data(), 0x1B, bytes.size()) != nullptr;
  bool valid = detail::is_valid_utf8(bytes);
  if (valid && !escapes) {  // ASCII included: the common case, validated once
    t.cut = !detail::append_valid_utf8(t.out, bytes, t.max_size);
    t.used = "utf-8";
    return;
  }
  if (t.try_detected(bytes)) {
    add_defect(t.defects, "charset_detected");
    return;
  }
  t.decode(bytes, valid ? "utf-8" : "windows-1252");
}

// WHATWG "BOM sniff": the encoding a byte order mark names, and the mark's length.
std::string_view bom_encoding(std::string_view bytes, size_t* length) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") {
    *length = 3;
    return "utf-8";
  }
  *length = 2;
  if (bytes.substr(0, 2) == "\xFE\xFF") return "utf-16be";
  if (bytes.substr(0, 2) == "\xFF\xFE") return "utf-16le";
  *length = 0;
  return {};
}

}  // namespace

namespace detail {

bool append_body_text(std::string& out, std::string_view bytes, std::string_view charset, bool html,
                      std::vector<std::string>* defects, size_t max_size, std::string* used) {
  BodyText t{out, out.size(), max_size, defects, {}};
  size_t bom = 0;
  std::string_view from_bom = bom_encoding(bytes, &bom);
  std::string label = clean_label(charset);
  std::string encoding = resolve(label);
  if (!from_bom.empty()) {
    size_t invalid = t.decode(bytes.substr(bom), std::string(from_bom));
    if (invalid > 0)
      add_defect(defects, from_bom == "utf-8" ? "invalid_utf8" : "invalid_charset_bytes");
  } else if (!encoding.empty() && known(encoding)) {
    declared(t, bytes, encoding);
  } else {
    if (!no_label(label)) add_defect(defects, "unknown_charset");
    undeclared(t, bytes, html);
  }
  if (used != nullptr) *used = t.used;
  return !t.cut;
}

bool append_utf8(std::string& out, std::string_view bytes, std::string_view charset_in,
                 std::vector<std::string>* defects, size_t max_size) {
  std::string label = clean_label(charset_in);
  // Undeclared, or an ASCII label over 8-bit bytes (RFC 6532 header text): UTF-8 when valid,
  // else windows-1252 (which is what WHATWG makes of the ASCII labels anyway).
  if (no_label(label) || label == "us-ascii" || label == "ascii" || label == "ansi_x3.4-1968")
    return append_undeclared(out, bytes, max_size);
  size_t invalid = 0;
  bool cut = false;
  std::string encoding = resolve(label);
  if (!decode_as(out, bytes, encoding, max_size, &invalid, &cut)) {
    add_defect(defects, "unknown_charset");
    return append_undeclared(out, bytes, max_size);
  }
  if (invalid > 0)
    add_defect(defects, encoding == "utf-8" ? "invalid_utf8" : "invalid_charset_bytes");
  return !cut;
}

std::string to_utf8_bounded(std::string_view bytes, std::string_view charset,
                            std::vector<std::string>* defects, size_t max_size, bool* cut) {
  std::string out;
  if (!append_utf8(out, bytes, charset, defects, max_size) && cut != nullptr) *cut = true;
  return out;
}

}  // namespace detail

std::string to_utf8(std::string_view bytes, std::string_view charset,
                    std::vector<std::string>* defects, std::string* charset_used) {
  std::string out;
  detail::append_body_text(out, bytes, charset, false, defects, SIZE_MAX, charset_used);
  return out;
}

}  // namespace mime
