// Stalwart mail-parser's expected-result shapes → plain facts (see stalwart_shapes.h).
#include "stalwart_shapes.h"

#include <algorithm>

#include "corpus_support.h"

namespace stalwart {
namespace {

using nlohmann::json;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string text_or_empty(const json& value) {
  return value.is_string() ? value.get<std::string>() : "";
}

}  // namespace

const json* find_header(const json& part, const std::string& name) {
  if (!part.contains("headers")) return nullptr;
  for (const auto& header : part["headers"])
    if (header["name"].is_string() && header["name"].get<std::string>() == name)
      return &header["value"];
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> attributes(const json& value) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!value.is_array()) return out;
  for (const auto& item : value) {
    if (item.is_array() && item.size() == 2)
      out.emplace_back(lower(text_or_empty(item[0])), text_or_empty(item[1]));
    else if (item.is_object())
      out.emplace_back(lower(text_or_empty(item["name"])), text_or_empty(item["value"]));
  }
  return out;
}

std::string content_type_of(const json& part, const std::string& parent_type) {
  const json* value = find_header(part, "content_type");
  if (value && value->contains("ContentType")) {
    const json& type = (*value)["ContentType"];
    return lower(text_or_empty(type["c_type"])) + "/" + lower(text_or_empty(type["c_subtype"]));
  }
  return parent_type == "multipart/digest" ? "message/rfc822" : "text/plain";
}

std::string expected_filename(const json& part) {
  for (const auto& [header, attribute] :
       {std::pair{"content_disposition", "filename"}, std::pair{"content_type", "name"}}) {
    const json* value = find_header(part, header);
    if (!value || !value->contains("ContentType")) continue;
    for (const auto& [name, text] : attributes((*value)["ContentType"]["attributes"]))
      if (name == attribute) return text;
  }
  return "";
}

std::string signature(const json& message, size_t index) {
  const json& body = message["parts"][index]["body"];
  if (body.contains("Multipart")) {
    std::string out = "M(";
    bool first = true;
    for (const auto& child : body["Multipart"]) {
      out += (first ? "" : ",") + signature(message, child.get<size_t>());
      first = false;
    }
    return out + ")";
  }
  if (body.contains("Message")) return "E(" + signature(body["Message"], 0) + ")";
  return "L";
}

std::string types(const json& message, size_t index, const std::string& parent_type) {
  const json& part = message["parts"][index];
  const std::string type = content_type_of(part, parent_type);
  std::string out = type;
  const json& body = part["body"];
  if (body.contains("Multipart"))
    for (const auto& child : body["Multipart"])
      out += "," + types(message, child.get<size_t>(), type);
  if (body.contains("Message")) out += "," + types(body["Message"], 0, type);
  return out;
}

std::vector<Address> flatten_addresses(const json& value) {
  std::vector<Address> out;
  const auto add = [&](const json& item, const std::string& group) {
    Address address{text_or_empty(item["name"]), text_or_empty(item["address"]), group};
    if (!address.name.empty() || !address.address.empty()) out.push_back(address);
  };
  if (value.contains("List"))
    for (const auto& item : value["List"]) add(item, "");
  if (value.contains("Group"))
    for (const auto& group : value["Group"])
      for (const auto& item : group["addresses"]) add(item, text_or_empty(group["name"]));
  return out;
}

std::vector<Address> normalise(const std::vector<mime::Address>& ours) {
  std::vector<Address> out;
  for (const auto& address : ours)
    if (!address.name.empty() || !address.address.empty())
      out.push_back({address.name, address.address, address.group});
  return out;
}

std::vector<std::string> addresses_of(const std::vector<Address>& list) {
  std::vector<std::string> out;
  for (const auto& address : list) out.push_back(address.group + ":" + address.address);
  return out;
}

std::vector<std::string> names_of(const std::vector<Address>& list) {
  std::vector<std::string> out;
  for (const auto& address : list) out.push_back(address.name);
  return out;
}

std::string render(const std::vector<Address>& list) {
  std::string out = "[";
  for (const auto& address : list) {
    if (out.size() > 1) out += ", ";
    if (!address.group.empty()) out += address.group + ": ";
    out += corpus::show(address.name, 60) + " <" + address.address + ">";
  }
  return out + "]";
}

}  // namespace stalwart
