// Query parameters and opaque cursors shared by the list routes (GET /v1/inbound,
// GET /v1/suppressions): one value per parameter, limit 1..kMaxLimit, and a cursor that is the
// base64url (RFC 4648 5, unpadded) of the last item's key of the previous page.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/reply.h"

namespace api {

// Query parameters, name → value, repeats kept (httplib::Params has this type).
using Params = std::multimap<std::string, std::string>;

constexpr size_t kDefaultLimit = 50;
constexpr size_t kMaxLimit = 500;

// The one value of `name`, or nullptr when absent; a repeated parameter is an error of its own.
const std::string* single(const Params& params, const std::string& name,
                          std::vector<FieldError>& errors);
// "1".."500" → the number; nullopt for anything else.
std::optional<size_t> parse_limit(const std::string& text);

// The cursor of a page's last key, and back: nullopt for text that is not a cursor
// encode_cursor made (another alphabet, padding, over `max_size` characters).
std::string encode_cursor(const std::string& key);
std::optional<std::string> decode_cursor_key(const std::string& cursor, size_t max_size);

}  // namespace api
