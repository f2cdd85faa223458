// The JSON view of one mime::parse result that mime_dump prints and the corpus tests inspect:
// summaries, main bodies, attachments with decoded size and SHA-256, the part tree, defects.
// Promises: pure; every string of the parse appears in it, so one walk checks them all for UTF-8.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mime/message.h"

namespace corpus {

nlohmann::json message_to_json(std::string_view raw, const mime::Message& message);

// Every string in the parse, also those message_to_json leaves out (headers, params, content
// ids), checked for valid UTF-8; returns the JSON-pointer-like paths of the invalid ones.
std::vector<std::string> invalid_utf8_fields(std::string_view raw, const mime::Message& message);

// Strict UTF-8 (RFC 3629 section 4): no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view text);

std::string sha256_hex(std::string_view bytes);

}  // namespace corpus
