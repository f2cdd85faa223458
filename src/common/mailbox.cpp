#include "common/mailbox.h"

#include <arpa/inet.h>

#include <string>

namespace common {
namespace {

bool is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_non_ascii(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}
std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  return out;
}
bool let_dig(char c) {
  return is_alpha(c) || is_digit(c) || is_non_ascii(c);
}

// RFC 5321 4.1.3 IPv4-address-literal: Snum 3("." Snum), Snum = 1*3DIGIT of at most 255.
bool valid_ipv4(std::string_view text) {
  int parts = 0;
  for (size_t start = 0; start <= text.size(); ++parts) {
    size_t end = text.find('.', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    if (part.empty() || part.size() > 3) return false;
    int value = 0;
    for (char c : part) {
      if (!is_digit(c)) return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255) return false;
    start = end + 1;
  }
  return parts == 4;
}

bool valid_address_literal(std::string_view text) {
  if (text.size() < 3 || text.front() != '[' || text.back() != ']') return false;
  std::string_view inner = text.substr(1, text.size() - 2);
  // "IPv6:" (a case-insensitive tag, RFC 5321 2.4) and what inet_pton reads as an IPv6 address.
  if (inner.size() > 5 && lowered(inner.substr(0, 5)) == "ipv6:") {
    in6_addr address{};
    return inet_pton(AF_INET6, std::string(inner.substr(5)).c_str(), &address) == 1;
  }
  return valid_ipv4(inner);
}

}  // namespace

bool is_atext(char c) {
  return is_alpha(c) || is_digit(c) || is_non_ascii(c) ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool valid_dot_string(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '.') {
      if (text[i - 1] == '.') return false;
    } else if (!is_atext(text[i])) {
      return false;
    }
  }
  return true;
}

size_t quoted_string_length(std::string_view text) {
  if (text.empty() || text.front() != '"') return 0;
  for (size_t i = 1; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (++i == text.size()) return 0;
      const auto quoted = static_cast<unsigned char>(text[i]);
      if (quoted < 32 || quoted > 126) return 0;
    } else if (c < 32 || c == 127) {
      return 0;
    }
  }
  return 0;
}

bool valid_domain(std::string_view domain, size_t max_domain) {
  if (domain.empty() || domain.size() > max_domain) return false;
  if (domain.front() == '[') return valid_address_literal(domain);
  for (size_t start = 0;;) {
    size_t dot = domain.find('.', start);
    std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63) return false;  // RFC 1035 2.3.4
    if (!let_dig(label.front()) || !let_dig(label.back())) return false;
    for (char c : label) {
      if (!let_dig(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool valid_mailbox(std::string_view mailbox, const MailboxLimits& limits) {
  size_t local_length = 0;
  if (!mailbox.empty() && mailbox.front() == '"') {
    local_length = quoted_string_length(mailbox);
    if (local_length == 0) return false;
  } else {
    local_length = mailbox.find('@');
    if (local_length == std::string_view::npos ||
        !valid_dot_string(mailbox.substr(0, local_length)))
      return false;
  }
  if (local_length > limits.max_local_part) return false;
  if (local_length >= mailbox.size() || mailbox[local_length] != '@') return false;
  return valid_domain(mailbox.substr(local_length + 1), limits.max_domain);
}

bool same_mailbox(std::string_view a, std::string_view b) {
  size_t at_a = a.rfind('@');
  size_t at_b = b.rfind('@');
  if (at_a == std::string_view::npos || at_b == std::string_view::npos) return a == b;
  return a.substr(0, at_a) == b.substr(0, at_b) &&
         lowered(a.substr(at_a)) == lowered(b.substr(at_b));
}

}  // namespace common
