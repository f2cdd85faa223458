// Apache James mime4j's expected parse trees (X_decoded.xml: <message>/<body-part> entities with
// <header><field>, <multipart>, nested <message>, and <text-body|binary-body name="file"/> naming
// the transfer-decoded body) read into a small entity tree for the corpus tests.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mime4j {

struct Entity {
  std::vector<std::string> fields;  // "Name: value" as written (folds kept)
  enum class Kind { leaf, multipart, message } kind = Kind::leaf;
  std::vector<Entity> children;  // multipart: body parts; message: the one embedded message
  std::string body_file;         // leaf: the decoded body's file name, "" when none
};

// nullopt when the XML is not the expected shape.
std::optional<Entity> read_decoded_xml(std::string_view xml);

// Lower-case "type/subtype" of the first Content-Type field; RFC 2045 5.2 / RFC 2046 5.1.5
// defaults when there is none or it has no "/".
std::string content_type_of(const Entity& entity, const std::string& parent_type);

}  // namespace mime4j
