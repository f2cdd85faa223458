// The list routes' parameters and cursors (paging.h).
#include "api/paging.h"

#include "common/base64.h"

namespace api {

const std::string* single(const Params& params, const std::string& name,
                          std::vector<FieldError>& errors) {
  auto [first, last] = params.equal_range(name);
  if (first == last) return nullptr;
  if (std::next(first) != last) {
    errors.push_back({name, "must be given at most once"});
    return nullptr;
  }
  return &first->second;
}

std::optional<size_t> parse_limit(const std::string& text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  if (value < 1 || value > kMaxLimit) return std::nullopt;
  return value;
}

std::string encode_cursor(const std::string& key) {
  std::string text = common::base64_encode(key);
  std::string cursor;
  for (char c : text) {
    if (c == '=') break;
    cursor.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
  }
  return cursor;
}

std::optional<std::string> decode_cursor_key(const std::string& cursor, size_t max_size) {
  if (cursor.empty() || cursor.size() > max_size) return std::nullopt;
  std::string text;
  for (char c : cursor) {
    if (c == '+' || c == '/' || c == '=') return std::nullopt;  // RFC 4648 5 alphabet only
    text.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  while (text.size() % 4 != 0) text.push_back('=');
  std::optional<std::string> key = common::base64_decode(text);
  if (!key || encode_cursor(*key) != cursor) return std::nullopt;  // one cursor per key
  return key;
}

}  // namespace api
