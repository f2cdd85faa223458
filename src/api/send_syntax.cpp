// The grammar pieces of the send API: RFC 5322 field names and Message-IDs, RFC 2045 content types
// and ids, line-end normalisation. Pure functions of their text; the JSON walk in send_request.cpp
// calls them.
#include <algorithm>

#include "api/send_request.h"
#include "common/mailbox.h"

namespace api {
namespace {

constexpr size_t kMaxContentId = 250;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}
std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

// RFC 2045 5.1 token: printable ASCII except SPACE and tspecials.
bool valid_token(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c > 32 && c < 127 && std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string::npos;
  });
}

}  // namespace

bool valid_content_type(std::string_view text) {
  size_t slash = text.find('/');
  return slash != std::string_view::npos && valid_token(text.substr(0, slash)) &&
         valid_token(text.substr(slash + 1));
}

// RFC 5322 3.6.4 msg-id content (id-left "@" id-right, dot-atom-text either side) or a plain
// dot-atom-text: what may stand between < and > in a Content-ID (RFC 2045 7).
bool valid_content_id(std::string_view text) {
  if (text.empty() || text.size() > kMaxContentId) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x80 && (common::is_atext(c) || c == '.' || c == '@');
  });
}

size_t longest_line(std::string_view text) {
  size_t longest = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    longest = std::max(longest, end - start);
    start = end + 2;
  }
  return longest;
}

bool valid_field_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
  });
}

bool reserved_field_name(std::string_view name) {
  std::string lower_name = lowered(name);
  if (lower_name.rfind("content-", 0) == 0) return true;
  for (const char* reserved :
       {"from", "to", "cc", "bcc", "date", "message-id", "mime-version", "subject", "reply-to"}) {
    if (lower_name == reserved) return true;
  }
  return false;
}

mime::Mailbox split_mailbox(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  size_t open = text.rfind('<');
  if (text.empty() || text.back() != '>' || open == std::string_view::npos) {
    return {"", std::string(text)};
  }
  mime::Mailbox mailbox;
  mailbox.address = std::string(text.substr(open + 1, text.size() - open - 2));
  std::string_view name = trim(text.substr(0, open));
  // RFC 5322 3.2.4: a quoted display name loses its quotes and backslash escapes.
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '\\' && i + 1 < name.size()) ++i;
      mailbox.name.push_back(name[i]);
    }
  } else {
    mailbox.name = std::string(name);
  }
  return mailbox;
}

std::string find_message_id(std::string_view data) {
  size_t end = data.find("\r\n\r\n");
  std::string_view header = data.substr(0, end == std::string_view::npos ? data.size() : end + 2);
  size_t pos = 0;
  while (pos < header.size()) {
    size_t line_end = header.find("\r\n", pos);
    if (line_end == std::string_view::npos) line_end = header.size();
    // RFC 5322 2.2.3: continuation lines start with WSP; they belong to the field before.
    size_t field_end = line_end;
    while (field_end + 2 < header.size() &&
           (header[field_end + 2] == ' ' || header[field_end + 2] == '\t')) {
      field_end = header.find("\r\n", field_end + 2);
      if (field_end == std::string_view::npos) field_end = header.size();
    }
    std::string_view field = header.substr(pos, field_end - pos);
    size_t colon = field.find(':');
    if (colon != std::string_view::npos && lowered(field.substr(0, colon)) == "message-id") {
      std::string_view value = field.substr(colon + 1);
      size_t open = value.find('<');
      size_t close = value.find('>', open == std::string_view::npos ? 0 : open);
      if (open != std::string_view::npos && close != std::string_view::npos) {
        return std::string(value.substr(open + 1, close - open - 1));
      }
      return "";
    }
    pos = field_end + 2;
  }
  return "";
}

std::string normalise_line_ends(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 32);
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < data.size() && data[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}
}  // namespace api
