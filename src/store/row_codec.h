// How both backends store rows' list columns (rcpt_to: a JSON array of strings, readable by any
// SQL client) and which endpoint name and origin a delivery row records.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "store/store.h"

namespace store {

// ["a@example.com","b@example.com"]; bytes that are not UTF-8 become U+FFFD (JSON needs UTF-8).
std::string encode_list(const std::vector<std::string>& items);
// The strings of a JSON array; anything else (corrupt text, non-string items) is left out.
std::vector<std::string> decode_list(const std::string& json_text);

// The name and origin stored for `endpoint` (Options::resolve_endpoint, or the defaults: the
// URL's origin, and with `derive_name` its default name).
EndpointRef resolve_endpoint(const std::function<EndpointRef(const std::string&)>& resolve,
                             const std::string& endpoint, bool derive_name);

}  // namespace store
