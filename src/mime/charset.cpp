// Charset conversion to UTF-8 with glibc iconv (every charset glibc knows, plus the common MIME
// aliases glibc spells differently). Never fails: invalid bytes become U+FFFD, an unknown charset
// falls back to the undeclared rule (UTF-8 if valid, else windows-1252); both are defects.
#include <iconv.h>

#include <cerrno>
#include <cstdint>

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
// the charset. The output grows as needed (never allocated at 2 × the input up front, which
// std::string would zero-fill and so make resident) and stops before passing `max_size`.
bool convert(std::string_view bytes, const std::string& name, size_t max_size, std::string& out,
             bool* invalid, bool* cut) {
  iconv_t cd = iconv_open("UTF-8", name.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  // 16 bytes of slack: iconv writes whole characters (≤ 4 bytes) and U+FFFD needs 3.
  const size_t limit = max_size > SIZE_MAX - 16 ? SIZE_MAX : max_size + 16;
  out.clear();
  out.resize(std::min(limit, bytes.size() + bytes.size() / 2 + 16));
  char* in_ptr = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  size_t used = 0;
  auto grow = [&] {
    if (out.size() >= limit || used >= max_size) return false;
    out.resize(std::min(limit, out.size() * 2 + 16));
    return true;
  };
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
      if (grow()) continue;
      *cut = true;
      break;
    }
    // EILSEQ (invalid byte) or EINVAL (truncated sequence at the end): U+FFFD, skip one byte.
    *invalid = true;
    if (out.size() - used < 3 && !grow()) {
      *cut = true;
      break;
    }
    out.replace(used, 3, "\xEF\xBF\xBD");
    used += 3;
    ++in_ptr;
    --in_left;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset the shift state after garbage
    if (in_left == 0) break;
  }
  iconv_close(cd);
  out.resize(used);
  if (used > max_size) *cut = true;
  return true;
}

}  // namespace

namespace detail {

std::string to_utf8_bounded(std::string_view bytes, std::string_view charset_in,
                            std::vector<std::string>* defects, size_t max_size, bool* cut) {
  bool stopped = false;
  std::string charset = to_lower(trim(charset_in.substr(0, 256)));
  while (!charset.empty() && (charset.front() == '"' || charset.front() == '\''))
    charset.erase(0, 1);
  while (!charset.empty() && (charset.back() == '"' || charset.back() == '\'')) charset.pop_back();
  std::string out;
  if (charset.empty() || is_utf8_or_ascii(charset)) {
    // Undeclared or UTF-8/ASCII declared: RFC 6532 / common practice, 8-bit bytes that are not
    // UTF-8 are windows-1252 far more often than anything else.
    if (!charset.empty() && charset.rfind("utf", 0) == 0 && !is_valid_utf8(bytes)) {
      add_defect(defects, "invalid_utf8");
      out = sanitize_utf8(bytes, max_size, &stopped);
    } else {
      out = undeclared_to_utf8(bytes, max_size, &stopped);
    }
  } else {
    bool invalid = false;
    if (!convert(bytes, iconv_name(charset), max_size, out, &invalid, &stopped)) {
      add_defect(defects, "unknown_charset");
      out = undeclared_to_utf8(bytes, max_size, &stopped);
    } else {
      if (invalid) add_defect(defects, "invalid_charset_bytes");
      // iconv output is UTF-8 already; repair defensively (NUL and odd converters included).
      if (!is_valid_utf8(out)) out = sanitize_utf8(out);
      cut_utf8(out, max_size);
    }
  }
  if (stopped && cut != nullptr) *cut = true;
  return out;
}

}  // namespace detail

std::string to_utf8(std::string_view bytes, std::string_view charset,
                    std::vector<std::string>* defects) {
  return detail::to_utf8_bounded(bytes, charset, defects, SIZE_MAX, nullptr);
}

}  // namespace mime
