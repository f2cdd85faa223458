// Charset conversion to UTF-8 with glibc iconv (every charset glibc knows, plus the common MIME
// aliases glibc spells differently). Never fails: invalid bytes become U+FFFD, an unknown charset
// falls back to the undeclared rule (UTF-8 if valid, else windows-1252); both are defects.
#include <iconv.h>

#include <cerrno>
#include <cstdint>

#include "mime/internal.h"

namespace mime {
namespace {

using detail::reserve_capped;

// MIME names (IANA registry and common misspellings) that glibc does not accept as written.
std::string iconv_name(const std::string& charset) {
  struct Alias {
    const char* mime;
    const char* glibc;
  };
  static constexpr Alias kAliases[] = {
      {"ks_c_5601-1987", "CP949"},
      {"ks_c_5601", "CP949"},
      {"x-sjis", "SHIFT_JIS"},
      {"shift-jis", "SHIFT_JIS"},
      {"gb2312", "GB18030"},
      {"gbk", "GB18030"},
      {"x-gbk", "GB18030"},
      {"iso-8859-8-i", "ISO-8859-8"},
      {"iso-8859-6-i", "ISO-8859-6"},
      {"unicode-1-1-utf-7", "UTF-7"},
      {"x-mac-roman", "MACINTOSH"},
      {"macintosh", "MACINTOSH"},
      {"windows-874", "CP874"},
      {"x-euc-jp", "EUC-JP"},
      {"x-user-defined", "WINDOWS-1252"},
  };
  for (const auto& alias : kAliases)
    if (charset == alias.mime) return alias.glibc;
  return charset;
}

bool is_utf8_or_ascii(const std::string& cs) {
  return cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii" ||
         cs == "ansi_x3.4-1968" || cs == "7bit" || cs == "8bit";
}

// Converts with iconv, appending to `out`; each byte iconv rejects becomes U+FFFD. False when
// iconv does not know the charset. Converted through a 64 KiB buffer: `out` grows with what is
// written (never by 2 × the input up front, zero-filled and so resident) and stops before passing
// `max_size`.
bool convert(std::string_view bytes, const std::string& name, size_t max_size, std::string& out,
             bool* invalid, bool* cut) {
  iconv_t cd = iconv_open("UTF-8", name.c_str());
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
      *invalid = true;
      out += "\xEF\xBF\xBD";
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

}  // namespace

namespace detail {

bool append_utf8(std::string& out, std::string_view bytes, std::string_view charset_in,
                 std::vector<std::string>* defects, size_t max_size) {
  std::string charset = to_lower(trim(charset_in.substr(0, 256)));
  while (!charset.empty() && (charset.front() == '"' || charset.front() == '\''))
    charset.erase(0, 1);
  while (!charset.empty() && (charset.back() == '"' || charset.back() == '\'')) charset.pop_back();
  if (charset.empty() || is_utf8_or_ascii(charset)) {
    // Undeclared or UTF-8/ASCII declared: RFC 6532 / common practice, 8-bit bytes that are not
    // UTF-8 are windows-1252 far more often than anything else.
    if (!charset.empty() && charset.rfind("utf", 0) == 0 && !is_valid_utf8(bytes)) {
      add_defect(defects, "invalid_utf8");
      return append_sanitized(out, bytes, max_size);
    }
    return append_undeclared(out, bytes, max_size);
  }
  bool invalid = false, cut = false;
  size_t start = out.size();
  if (!convert(bytes, iconv_name(charset), max_size, out, &invalid, &cut)) {
    add_defect(defects, "unknown_charset");
    return append_undeclared(out, bytes, max_size);
  }
  if (invalid) add_defect(defects, "invalid_charset_bytes");
  // iconv output is UTF-8 already; repair defensively (NUL and odd converters included).
  if (!is_valid_utf8(std::string_view(out).substr(start))) {
    std::string converted = out.substr(start);
    out.resize(start);
    cut = !append_sanitized(out, converted, max_size) || cut;
  }
  if (out.size() > max_size) {
    cut_utf8(out, max_size);
    cut = true;
  }
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
                    std::vector<std::string>* defects) {
  return detail::to_utf8_bounded(bytes, charset, defects, SIZE_MAX, nullptr);
}

}  // namespace mime
