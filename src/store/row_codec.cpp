// JSON array encoding for list columns, with nlohmann/json used without exceptions: invalid
// UTF-8 is replaced rather than thrown on, and unparsable text decodes to an empty list.
#include "store/row_codec.h"

#include <nlohmann/json.hpp>

#include "common/endpoint_name.h"
#include "common/url.h"

namespace store {

std::string encode_list(const std::vector<std::string>& items) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& item : items) array.push_back(item);
  return array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> decode_list(const std::string& json_text) {
  std::vector<std::string> items;
  nlohmann::json array = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!array.is_array()) return items;
  for (const auto& item : array) {
    if (item.is_string()) items.push_back(item.get<std::string>());
  }
  return items;
}

EndpointRef resolve_endpoint(const std::function<EndpointRef(const std::string&)>& resolve,
                             const std::string& endpoint, bool derive_name) {
  if (resolve) return resolve(endpoint);
  EndpointRef ref{endpoint, {}};
  if (auto url = common::parse_endpoint_url(endpoint)) ref.origin = url->origin;
  if (derive_name) ref.name = common::default_endpoint_name(endpoint).value_or(endpoint);
  return ref;
}

}  // namespace store
