// How list columns (rcpt_to) are stored: a JSON array of strings, readable by any SQLite client.
#pragma once
#include <string>
#include <vector>

namespace store::sqlite {

// ["a@example.com","b@example.com"]; bytes that are not UTF-8 become U+FFFD (JSON needs UTF-8).
std::string encode_list(const std::vector<std::string>& items);
// The strings of a JSON array; anything else (corrupt text, non-string items) is left out.
std::vector<std::string> decode_list(const std::string& json_text);

}  // namespace store::sqlite
