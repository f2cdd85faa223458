// A minimal reader for mime4j's X_decoded.xml files (see mime4j_xml.h): elements, attributes,
// text and the five predefined entities plus numeric references; nothing else of XML is needed.
#include "mime4j_xml.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>

namespace mime4j {
namespace {

struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string text;
  std::vector<std::unique_ptr<Element>> children;
};

void append_utf8(std::string& out, unsigned long code) {
  if (code < 0x80)
    out += static_cast<char>(code);
  else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

std::string unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const size_t semicolon = text[i] == '&' ? text.find(';', i) : std::string_view::npos;
    if (semicolon == std::string_view::npos || semicolon - i > 10) {
      out += text[i];
      continue;
    }
    const std::string_view name = text.substr(i + 1, semicolon - i - 1);
    if (name == "lt")
      out += '<';
    else if (name == "gt")
      out += '>';
    else if (name == "amp")
      out += '&';
    else if (name == "quot")
      out += '"';
    else if (name == "apos")
      out += '\'';
    else if (name.size() > 1 && name[0] == '#')
      append_utf8(out, name[1] == 'x' ? std::stoul(std::string(name.substr(2)), nullptr, 16)
                                      : std::stoul(std::string(name.substr(1))));
    else {
      out += text[i];
      continue;
    }
    i = semicolon;
  }
  return out;
}

// Parses the element starting at xml[pos] == '<'; pos ends after its closing tag.
std::unique_ptr<Element> parse_element(std::string_view xml, size_t& pos, int depth) {
  if (depth > 500 || pos >= xml.size() || xml[pos] != '<') return nullptr;
  const size_t close = xml.find('>', pos);
  if (close == std::string_view::npos) return nullptr;
  std::string_view tag = xml.substr(pos + 1, close - pos - 1);
  const bool empty = !tag.empty() && tag.back() == '/';
  if (empty) tag.remove_suffix(1);
  auto element = std::make_unique<Element>();
  const size_t name_end = std::min(tag.find_first_of(" \t\r\n"), tag.size());
  element->name = std::string(tag.substr(0, name_end));
  for (size_t at = tag.find('=', name_end); at != std::string_view::npos;
       at = tag.find('=', at + 1)) {
    size_t name_begin = tag.find_last_of(" \t\r\n", at);
    const std::string name(tag.substr(name_begin + 1, at - name_begin - 1));
    const size_t quote = at + 1;
    if (quote >= tag.size()) break;
    const size_t quote_end = tag.find(tag[quote], quote + 1);
    if (quote_end == std::string_view::npos) break;
    element->attributes[name] = unescape(tag.substr(quote + 1, quote_end - quote - 1));
    at = quote_end;
  }
  pos = close + 1;
  if (empty) return element;
  while (pos < xml.size()) {
    const size_t next = xml.find('<', pos);
    if (next == std::string_view::npos) return nullptr;
    element->text += unescape(xml.substr(pos, next - pos));
    pos = next;
    if (xml.compare(pos, 2, "</") == 0) {
      const size_t end = xml.find('>', pos);
      if (end == std::string_view::npos) return nullptr;
      pos = end + 1;
      return element;
    }
    auto child = parse_element(xml, pos, depth + 1);
    if (!child) return nullptr;
    element->children.push_back(std::move(child));
  }
  return nullptr;
}

std::optional<Entity> to_entity(const Element& element) {
  Entity entity;
  for (const auto& child : element.children) {
    if (child->name == "header") {
      for (const auto& field : child->children) {
        std::string text = field->text;
        if (!text.empty() && text.front() == '\n') text.erase(0, 1);
        entity.fields.push_back(text);
      }
    } else if (child->name == "multipart") {
      entity.kind = Entity::Kind::multipart;
      for (const auto& part : child->children) {
        if (part->name != "body-part") continue;
        auto nested = to_entity(*part);
        if (!nested) return std::nullopt;
        entity.children.push_back(std::move(*nested));
      }
    } else if (child->name == "message") {
      entity.kind = Entity::Kind::message;
      auto nested = to_entity(*child);
      if (!nested) return std::nullopt;
      entity.children.push_back(std::move(*nested));
    } else if (child->name == "text-body" || child->name == "binary-body") {
      entity.body_file = child->attributes["name"];
    }
  }
  return entity;
}

}  // namespace

std::optional<Entity> read_decoded_xml(std::string_view xml) {
  size_t pos = xml.find("<message>");
  if (pos == std::string_view::npos) return std::nullopt;
  const auto root = parse_element(xml, pos, 0);
  if (!root) return std::nullopt;
  return to_entity(*root);
}

std::string content_type_of(const Entity& entity, const std::string& parent_type) {
  for (const auto& field : entity.fields) {
    const size_t colon = field.find(':');
    if (colon == std::string::npos) continue;
    std::string name = field.substr(0, colon);
    name.erase(
        std::remove_if(name.begin(), name.end(), [](unsigned char c) { return std::isspace(c); }),
        name.end());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (name != "content-type") continue;
    std::string value = field.substr(colon + 1, field.find(';', colon) - colon - 1);
    value.erase(
        std::remove_if(value.begin(), value.end(), [](unsigned char c) { return std::isspace(c); }),
        value.end());
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    const size_t slash = value.find('/');
    if (slash != std::string::npos && slash > 0 && slash + 1 < value.size()) return value;
    break;
  }
  return parent_type == "multipart/digest" ? "message/rfc822" : "text/plain";
}

}  // namespace mime4j
