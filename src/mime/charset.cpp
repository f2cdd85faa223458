// Charset conversion to UTF-8 with glibc iconv (every charset glibc knows, plus the common MIME
// aliases glibc spells differently). Never fails: invalid bytes become U+FFFD, an unknown charset
// falls back to the undeclared rule (UTF-8 if valid, else windows-1252); both are defects.
#include <iconv.h>

#include <cerrno>

#include "mime/internal.h"

namespace mime {
namespace {

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

// Converts with iconv; each byte iconv rejects becomes U+FFFD. False when iconv does not know
// the charset.
bool convert(std::string_view bytes, const std::string& name, std::string& out, bool* invalid) {
  iconv_t cd = iconv_open("UTF-8", name.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out.clear();
  out.resize(bytes.size() * 2 + 16);
  char* in_ptr = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  size_t used = 0;
  while (true) {
    char* out_ptr = out.data() + used;
    size_t out_left = out.size() - used;
    size_t rc = in_left > 0 ? iconv(cd, &in_ptr, &in_left, &out_ptr, &out_left)
                            : iconv(cd, nullptr, nullptr, &out_ptr, &out_left);  // flush state
    used = out_ptr - out.data();
    if (rc != static_cast<size_t>(-1)) {
      if (in_left == 0) {
        // Flush any shift state (iso-2022-jp) once; rc from the flush call also lands here.
        char* flush_ptr = out.data() + used;
        size_t flush_left = out.size() - used;
        if (iconv(cd, nullptr, nullptr, &flush_ptr, &flush_left) != static_cast<size_t>(-1))
          used = flush_ptr - out.data();
        break;
      }
      continue;
    }
    if (errno == E2BIG) {
      out.resize(out.size() * 2 + 16);
      continue;
    }
    // EILSEQ (invalid byte) or EINVAL (truncated sequence at the end): U+FFFD, skip one byte.
    *invalid = true;
    if (out.size() - used < 3) out.resize(out.size() * 2 + 16);
    out.replace(used, 3, "\xEF\xBF\xBD");
    used += 3;
    ++in_ptr;
    --in_left;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset the shift state after garbage
    if (in_left == 0) break;
  }
  iconv_close(cd);
  out.resize(used);
  return true;
}

}  // namespace

std::string to_utf8(std::string_view bytes, std::string_view charset_in,
                    std::vector<std::string>* defects) {
  std::string charset = detail::to_lower(detail::trim(charset_in));
  while (!charset.empty() && (charset.front() == '"' || charset.front() == '\''))
    charset.erase(0, 1);
  while (!charset.empty() && (charset.back() == '"' || charset.back() == '\'')) charset.pop_back();
  if (charset.empty() || is_utf8_or_ascii(charset)) {
    // Undeclared or UTF-8/ASCII declared: RFC 6532 / common practice, 8-bit bytes that are not
    // UTF-8 are windows-1252 far more often than anything else.
    if (!charset.empty() && charset.rfind("utf", 0) == 0 && !detail::is_valid_utf8(bytes)) {
      detail::add_defect(defects, "invalid_utf8");
      return detail::sanitize_utf8(bytes);
    }
    return detail::undeclared_to_utf8(bytes);
  }
  std::string out;
  bool invalid = false;
  if (!convert(bytes, iconv_name(charset), out, &invalid)) {
    detail::add_defect(defects, "unknown_charset");
    return detail::undeclared_to_utf8(bytes);
  }
  if (invalid) detail::add_defect(defects, "invalid_charset_bytes");
  // iconv output is UTF-8 already; repair defensively (NUL and odd converters included).
  return detail::is_valid_utf8(out) ? out : detail::sanitize_utf8(out);
}

}  // namespace mime
