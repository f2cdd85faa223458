// Byte and UTF-8 utilities for the mime parser: validation, repair with U+FFFD, the
// undeclared-bytes fallback (UTF-8 if valid, else windows-1252) and small string helpers.
#include <algorithm>
#include <cstring>

#include "common/utf8.h"
#include "mime/internal.h"

namespace mime::detail {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower_ascii(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void add_defect(std::vector<std::string>* defects, std::string_view defect) {
  if (defects == nullptr) return;
  if (std::find(defects->begin(), defects->end(), defect) == defects->end())
    defects->emplace_back(defect);
}

namespace {
// Length of the valid UTF-8 sequence at s[i], or 0 when invalid (RFC 3629 4: no overlongs,
// no surrogates, nothing above U+10FFFF).
size_t valid_sequence(const unsigned char* s, size_t n, size_t i) {
  unsigned char c = s[i];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c == 0xE0) {
    len = 3;
    lo = 0xA0;
  } else if (c == 0xED) {
    len = 3;
    hi = 0x9F;
  } else if (c >= 0xE1 && c <= 0xEF)
    len = 3;
  else if (c == 0xF0) {
    len = 4;
    lo = 0x90;
  } else if (c == 0xF4) {
    len = 4;
    hi = 0x8F;
  } else if (c >= 0xF1 && c <= 0xF3)
    len = 4;
  else
    return 0;
  if (i + len > n) return 0;
  if (s[i + 1] < lo || s[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
  return len;
}

// Index of the first byte that is not plain ASCII, 8 bytes at a time.
size_t ascii_prefix(const unsigned char* s, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    if (w & 0x8080808080808080ULL) break;
  }
  while (i < n && s[i] < 0x80) ++i;
  return i;
}
}  // namespace

bool is_valid_utf8(std::string_view sv) {
  auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  size_t n = sv.size();
  size_t i = ascii_prefix(s, n);
  while (i < n) {
    size_t len = valid_sequence(s, n, i);
    if (len == 0) return false;
    i += len;
    if (len == 1) i += ascii_prefix(s + i, n - i);
  }
  return true;
}

namespace {
// Appends the longest prefix of valid UTF-8 `s` of at most `room` bytes that ends on a character
// boundary.
void append_valid_prefix(std::string& out, std::string_view s, size_t room) {
  size_t end = std::min(room, s.size());
  while (end > 0 && end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  out.append(s.data(), end);
}
}  // namespace

bool append_valid_utf8(std::string& out, std::string_view s, size_t max_size) {
  size_t room = max_size - std::min(max_size, out.size());
  reserve_capped(out, s.size(), max_size);
  if (s.size() <= room) {
    out.append(s);
    return true;
  }
  append_valid_prefix(out, s, room);
  return false;
}

bool append_sanitized(std::string& out, std::string_view sv, size_t max_size) {
  auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  size_t n = sv.size();
  if (out.size() >= max_size) return n == 0;
  size_t i = ascii_prefix(s, n);
  reserve_capped(out, n + 16, max_size);
  out.append(sv.data(), std::min(i, max_size - out.size()));
  bool stopped = out.size() >= max_size && i < n;  // ASCII: any byte is a boundary
  while (!stopped && i < n) {
    size_t len = valid_sequence(s, n, i);
    if (len == 0) {
      stopped = max_size - out.size() < 3;
      if (stopped) break;
      out += "\xEF\xBF\xBD";
      ++i;
      while (i < n && s[i] >= 0x80 && s[i] <= 0xBF) ++i;  // the rest of the broken sequence
      continue;
    }
    size_t start = i;
    i += len;
    if (len == 1) i += ascii_prefix(s + i, n - i);
    if (i - start > max_size - out.size()) {
      append_valid_prefix(out, sv.substr(start, i - start), max_size - out.size());
      stopped = true;
      break;
    }
    out.append(sv.data() + start, i - start);
  }
  return !stopped;
}

std::string sanitize_utf8(std::string_view sv, size_t max_size, bool* cut) {
  if (sv.size() <= max_size && is_valid_utf8(sv)) return std::string(sv);
  std::string out;
  if (!append_sanitized(out, sv, max_size) && cut != nullptr) *cut = true;
  return out;
}

void reserve_capped(std::string& out, size_t more, size_t max_size) {
  size_t want = std::min(max_size, out.size() + std::min(more, SIZE_MAX - out.size()));
  if (want <= out.capacity()) return;
  // Growth by doubling, but never past max_size: a cut string's capacity stays its bound.
  out.reserve(std::min(max_size, std::max(want, 2 * out.capacity())));
}

void cut_utf8(std::string& s, size_t max_size) {
  if (s.size() <= max_size) return;
  size_t end = max_size;
  // Back to the lead byte of the character that would be split (at most 3 continuation bytes).
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80 && max_size - end < 3)
    --end;
  s.resize(end);
}

namespace {
// windows-1252 0x80..0x9F as code points: the WHATWG index (0x81, 0x8D, 0x8F, 0x90 and 0x9D,
// undefined in Microsoft's table, are the C1 controls of the same value).
constexpr char16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

// A single-byte decoder: ASCII as it is, 0x80..0xFF through `high`.
template <typename High>
bool append_single_byte(std::string& out, std::string_view s, size_t max_size, High high) {
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  reserve_capped(out, n + n / 2, max_size);
  size_t i = 0;
  while (i < n) {
    size_t run = ascii_prefix(p + i, n - i);
    size_t room = max_size - std::min(max_size, out.size());
    out.append(s.data() + i, std::min(run, room));
    if (run > room) return false;
    i += run;
    if (i >= n) break;
    uint32_t cp = high(p[i++]);
    size_t len = cp < 0x800 ? 2 : 3;
    if (out.size() + len > max_size) return false;
    common::append_utf8(out, cp);
  }
  return true;
}
}  // namespace

bool append_windows_1252(std::string& out, std::string_view s, size_t max_size) {
  return append_single_byte(out, s, max_size, [](unsigned char c) -> uint32_t {
    return c < 0xA0 ? kCp1252High[c - 0x80] : c;
  });
}

bool append_x_user_defined(std::string& out, std::string_view s, size_t max_size) {
  // WHATWG x-user-defined: 0x80..0xFF are U+F780..U+F7FF.
  return append_single_byte(out, s, max_size,
                            [](unsigned char c) -> uint32_t { return 0xF780 + c - 0x80; });
}

size_t count_invalid_utf8(std::string_view sv) {
  auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  size_t n = sv.size(), i = 0, invalid = 0;
  while (i < n) {
    size_t len = valid_sequence(s, n, i);
    if (len == 0) ++invalid;
    i += len == 0 ? 1 : len;
  }
  return invalid;
}

bool append_undeclared(std::string& out, std::string_view s, size_t max_size) {
  if (out.size() >= max_size) return s.empty();
  if (is_valid_utf8(s)) return append_valid_utf8(out, s, max_size);
  return append_windows_1252(out, s, max_size);
}

std::string undeclared_to_utf8(std::string_view s, size_t max_size, bool* cut) {
  if (s.size() <= max_size && is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(std::min(s.size() * 2, max_size));
  if (!append_undeclared(out, s, max_size) && cut != nullptr) *cut = true;
  return out;
}

std::string unfold(std::string_view s) {
  // find_first_of would call memchr once per byte of `s`; one pass copies all but CR and LF.
  std::string out(s.size(), '\0');
  char* o = out.data();
  for (char c : s)
    if (c != '\r' && c != '\n') *o++ = c;
  out.resize(static_cast<size_t>(o - out.data()));
  return out;
}

std::string_view unfolded(std::string_view s, std::string& storage) {
  if (s.find_first_of("\r\n") == std::string_view::npos) return s;
  storage = unfold(s);
  return storage;
}

std::string read_quoted(std::string_view s, size_t& i) {
  std::string out;
  ++i;
  while (i < s.size() && s[i] != '"') {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out += s[i++];
  }
  if (i < s.size()) ++i;  // the closing quote; a cursor past the end would break a substr(i)
  return out;
}

}  // namespace mime::detail
