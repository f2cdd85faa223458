// HeaderReader, unfold and parse_tag_list (header_fields.h): plain scans over the received bytes.
#include "mailauth/header_fields.h"

// dkim.h is C99: its _Bool is C++'s bool (the same ABI on every Debian target).
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include <algorithm>
#include <cctype>

namespace mailauth {

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

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
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

std::string address_domain(const std::string& address) {
  std::vector<unsigned char> text(address.begin(), address.end());
  text.push_back('\0');  // parsed in place
  unsigned char *user = nullptr, *domain = nullptr;
  if (dkim_mail_parse(text.data(), &user, &domain) != 0 || domain == nullptr) return "";
  return reinterpret_cast<const char*>(domain);
}

std::string ascii_text(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c < 0x20 || c >= 0x7f) c = '?';
  return out;
}

std::vector<std::string> split_address_list(std::string_view value) {
  std::vector<std::string> pieces;
  std::string piece;
  int comment = 0;  // nesting depth of ( )
  bool quoted = false, angle = false;
  auto flush = [&] {
    size_t first = piece.find_first_not_of(" \t");
    if (first != std::string::npos) pieces.push_back(piece.substr(first));
    piece.clear();
  };
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if ((quoted || comment > 0) && c == '\\' && i + 1 < value.size()) {
      piece += c;
      piece += value[++i];
      continue;
    }
    if (quoted) {
      quoted = c != '"';
    } else if (comment > 0) {
      comment += c == '(' ? 1 : c == ')' ? -1 : 0;
    } else if (c == '"') {
      quoted = true;
    } else if (c == '(') {
      comment = 1;
    } else if (c == '<') {
      angle = true;
    } else if (c == '>') {
      angle = false;
    } else if (!angle && c == ',') {
      flush();
      continue;
    } else if (!angle && c == ':') {  // a group's display name (RFC 5322 3.4)
      piece.clear();
      continue;
    } else if (!angle && c == ';') {  // the end of a group
      flush();
      continue;
    }
    piece += c;
  }
  flush();
  return pieces;
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

}  // namespace mailauth
