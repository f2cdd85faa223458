// Stalwart mail-parser's expected-result shapes (Rust enums serialised as JSON: "List"/"Group",
// "ContentType" with attributes, "Multipart"/"Message"/"Text"/"Binary" bodies) turned into the
// plain facts the corpus tests compare with mime::parse's results.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mime/message.h"

namespace stalwart {

struct Address {
  std::string name, address, group;
};

// The value of the first header `name` ("subject", "content_type", ...) of a Stalwart part.
const nlohmann::json* find_header(const nlohmann::json& part, const std::string& name);
// "type/subtype" lower-case from a ContentType value; default per RFC 2045 5.1 / RFC 2046 5.1.5.
std::string content_type_of(const nlohmann::json& part, const std::string& parent_type);
// Content-Disposition filename, else Content-Type name; "" when none.
std::string expected_filename(const nlohmann::json& part);
// Attribute lists come as [{"name","value"}] or [[name, value]]; names lower-cased.
std::vector<std::pair<std::string, std::string>> attributes(const nlohmann::json& value);

// Shape "M(L,E(L))" and pre-order content types of message `message`'s part `index`.
std::string signature(const nlohmann::json& message, size_t index);
std::string types(const nlohmann::json& message, size_t index, const std::string& parent_type = "");

std::vector<Address> flatten_addresses(const nlohmann::json& value);  // {"List":…} / {"Group":…}
std::vector<Address> normalise(const std::vector<mime::Address>& ours);
std::vector<std::string> addresses_of(const std::vector<Address>& list);  // "group:address"
std::vector<std::string> names_of(const std::vector<Address>& list);
std::string render(const std::vector<Address>& list);

}  // namespace stalwart
