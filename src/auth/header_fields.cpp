// HeaderReader, unfold and parse_tag_list (header_fields.h): plain scans over the received bytes.
#include "auth/header_fields.h"

#include <algorithm>
#include <cctype>

namespace auth {

namespace {

bool is_wsp(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_wsp(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_wsp(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<HeaderField> HeaderReader::next() {
  if (done_) return std::nullopt;
  size_t begin = pos_;
  while (pos_ < message_.size()) {
    size_t end = message_.find('\n', pos_);
    size_t next = end == std::string_view::npos ? message_.size() : end + 1;
    std::string_view line = message_.substr(pos_, next - pos_);
    bool blank = line == "\r\n" || line == "\n";  // the end of the section (RFC 5322 2.1)
    bool starts_field = line.front() != ' ' && line.front() != '\t';
    if (pos_ > begin && (blank || starts_field)) break;  // the field at `begin` ends here
    if (blank) {
      done_ = true;
      header_end_ = pos_;
      body_offset_ = next;
      return std::nullopt;
    }
    pos_ = next;
  }
  if (pos_ == begin) {  // the end of the message, no empty line
    done_ = true;
    header_end_ = body_offset_ = message_.size();
    return std::nullopt;
  }
  std::string_view raw = message_.substr(begin, pos_ - begin);
  std::string_view text = raw;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  HeaderField field{{}, text, raw};
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    field.name = text.substr(0, colon);
    while (!field.name.empty() && (field.name.back() == ' ' || field.name.back() == '\t'))
      field.name.remove_suffix(1);
    field.value = text.substr(colon + 1);
  }
  return field;
}

std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value)
    if (c != '\r' && c != '\n') out += c;
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_tag_list(
    std::string_view text) {
  std::vector<std::pair<std::string, std::string>> tags;
  while (!text.empty()) {
    size_t semicolon = text.find(';');
    std::string_view spec = text.substr(0, semicolon);
    text = semicolon == std::string_view::npos ? std::string_view{} : text.substr(semicolon + 1);
    if (trim(spec).empty()) {
      if (semicolon == std::string_view::npos) break;  // a final ';' (RFC 6376 3.2)
      continue;
    }
    size_t equals = spec.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    std::string name(trim(spec.substr(0, equals)));
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return std::nullopt;
    for (const auto& [seen, value] : tags)
      if (seen == name) return std::nullopt;  // RFC 6376 3.2: a duplicated tag is an error
    tags.emplace_back(std::move(name), std::string(trim(spec.substr(equals + 1))));
  }
  return tags;
}

}  // namespace auth
