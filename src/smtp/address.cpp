// MAIL FROM / RCPT TO argument parsing: the path (RFC 5321 4.1.2, with RFC 6531 UTF-8) and the
// ESMTP parameters the server advertises. Anything a later JSON consumer could be fooled by
// (control, invisible or malformed characters, xtext-encoded line breaks) is rejected here.
#include "smtp/address.h"

#include <functional>

#include "common/mailbox.h"
#include "common/utf8.h"
#include "smtp/command.h"

namespace smtp {
namespace {

char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = to_upper(c);
  return out;
}
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && upper(a) == upper(b);
}
bool is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_non_ascii(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}

// Decodes the code point starting at text[i] (text is valid UTF-8) and advances i.
char32_t next_code_point(std::string_view text, size_t& i) {
  const auto c = static_cast<unsigned char>(text[i++]);
  if (c < 0x80) return c;
  size_t extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
  char32_t cp = c & (0x3f >> extra);
  for (size_t k = 0; k < extra && i < text.size(); ++k) cp = (cp << 6) | (text[i++] & 0x3f);
  return cp;
}

// Controls (C0, DEL, C1) and characters that are invisible or reorder text: they let an address
// look like another one in a log or JSON consumer (SMTP-CASES 7, nodemailer address tests).
bool is_forbidden(char32_t cp) {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true;
  if (cp == 0xad || cp == 0x61c || cp == 0x180e || cp == 0xfeff) return true;
  if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e)) return true;
  if ((cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069)) return true;
  return cp >= 0xfff9 && cp <= 0xfffb;
}

bool clean_text(std::string_view text) {
  if (!valid_utf8(text)) return false;
  for (size_t i = 0; i < text.size();) {
    if (is_forbidden(next_code_point(text, i))) return false;
  }
  return true;
}

// RFC 5321 4.1.2 A-d-l: "@one,@two:" before the mailbox; checked, then dropped (4.1.1.3).
bool strip_source_route(std::string_view& inner, size_t max_domain) {
  if (inner.empty() || inner.front() != '@') return true;
  size_t colon = inner.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view route = inner.substr(0, colon);
  size_t start = 0;
  while (start < route.size()) {
    size_t comma = route.find(',', start);
    std::string_view hop =
        route.substr(start, comma == std::string_view::npos ? comma : comma - start);
    if (hop.size() < 2 || hop.front() != '@' || !common::valid_domain(hop.substr(1), max_domain))
      return false;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  inner.remove_prefix(colon + 1);
  return true;
}

// Finds the '>' closing a path that starts with '<', skipping quoted strings.
size_t path_end(std::string_view text) {
  bool quoted = false;
  for (size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '>' && !quoted) {
      return i;
    }
  }
  return std::string_view::npos;
}

struct ParsedPath {
  bool ok = false;
  Outcome error = Outcome::bad_arguments;
  std::string address;
  std::string_view rest;  // the text after '>'
};

// `args` after the verb: "FROM:<path> params". `keyword` is "FROM:" or "TO:".
ParsedPath parse_path(std::string_view args, std::string_view keyword, Outcome bad_path,
                      const Limits& limits) {
  ParsedPath result;
  if (args.size() < keyword.size() || !iequals(args.substr(0, keyword.size()), keyword))
    return result;
  args.remove_prefix(keyword.size());
  if (!args.empty() && args.front() == ' ') args.remove_prefix(1);  // common client habit
  if (args.empty() || args.front() != '<') return result;
  size_t end = path_end(args);
  result.error = bad_path;
  if (end == std::string_view::npos || end + 1 > limits.max_path)
    return result;  // RFC 5321 4.5.3.1.3
  std::string_view inner = args.substr(1, end - 1);
  result.rest = args.substr(end + 1);
  if (!clean_text(inner) || !strip_source_route(inner, limits.max_domain)) return result;
  if (!inner.empty() && !common::valid_mailbox(inner, {limits.max_local_part, limits.max_domain})) {
    // RFC 5321 4.1.1.3: "<Postmaster>" without a domain must be accepted for RCPT.
    if (keyword != "TO:" || !iequals(inner, "postmaster")) return result;
    inner = "postmaster";
  }
  result.address = std::string(inner);
  result.ok = true;
  return result;
}

bool valid_keyword(std::string_view keyword) {
  // RFC 5321 4.1.2 esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
  if (keyword.empty() || !is_alnum(keyword.front())) return false;
  for (char c : keyword) {
    if (!is_alnum(c) && c != '-') return false;
  }
  return true;
}

bool valid_value(std::string_view value) {
  // RFC 5321 4.1.2 esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531 3.3).
  if (value.empty() || !valid_utf8(value)) return false;
  for (char c : value) {
    auto b = static_cast<unsigned char>(c);
    if (b < 33 || b == 127 || c == '=') return false;
  }
  return true;
}

// Splits " KEY=value KEY2" into the params map (upper-case keys); the handler is called with
// each key and its optional raw value and returns an error outcome or nothing.
using ParamHandler =
    std::function<std::optional<Outcome>(const std::string&, std::optional<std::string_view>)>;
std::optional<Outcome> parse_params(std::string_view rest, const ParamHandler& handle) {
  if (rest.empty()) return std::nullopt;
  if (rest.front() != ' ') return Outcome::bad_arguments;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    if (i == rest.size()) break;
    size_t end = rest.find(' ', i);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view token = rest.substr(i, end - i);
    i = end;
    size_t eq = token.find('=');
    std::string_view keyword = token.substr(0, eq);
    std::optional<std::string_view> value;
    if (eq != std::string_view::npos) value = token.substr(eq + 1);
    if (!valid_keyword(keyword) || (value && !valid_value(*value))) return Outcome::bad_arguments;
    if (auto error = handle(upper(keyword), value)) return error;
  }
  return std::nullopt;
}

// An xtext value (RFC 3461 4) decoded; nullopt when malformed or when the decoded text holds a
// control character (an encoded CR LF must not reach a header or the JSON).
std::optional<std::string> decode_clean_xtext(std::string_view value) {
  auto decoded = decode_xtext(value);
  if (!decoded || !valid_utf8(*decoded)) return std::nullopt;
  for (char c : *decoded) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) return std::nullopt;
  }
  return decoded;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  return true;
}

bool is_ascii(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// RFC 6533 3: EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}" (1-6 hex digits naming a Unicode
// scalar value other than ASCII controls) → its UTF-8. nullopt for a malformed escape, a
// surrogate or a value beyond U+10FFFF.
std::optional<std::string> decode_utf8_escapes(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, 3) != "\\x{") {
      out += text[i];
      continue;
    }
    size_t close = text.find('}', i + 3);
    if (close == std::string_view::npos || close == i + 3 || close - (i + 3) > 6)
      return std::nullopt;
    uint32_t code = 0;
    for (size_t k = i + 3; k < close; ++k) {
      const char h = to_upper(text[k]);
      int digit = is_digit(h) ? h - '0' : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
      if (digit < 0) return std::nullopt;
      code = code * 16 + static_cast<uint32_t>(digit);
    }
    if (code < 0x20 || code == 0x7f || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF)
      return std::nullopt;
    common::append_utf8(out, code);
    i = close;
  }
  return out;
}

std::optional<uint64_t> parse_size(std::string_view value) {
  if (value.empty() || value.size() > 19) return std::nullopt;  // < 10^19 fits in uint64_t
  uint64_t size = 0;
  for (char c : value) {
    if (!is_digit(c)) return std::nullopt;
    size = size * 10 + static_cast<uint64_t>(c - '0');
  }
  return size;
}

std::optional<Outcome> mail_param(MailFrom& mail, const std::string& key,
                                  std::optional<std::string_view> raw) {
  if (mail.params.count(key)) return Outcome::bad_arguments;  // duplicate parameter
  const std::string value = raw ? std::string(*raw) : std::string();
  std::string stored = upper(value);
  if (key == "SMTPUTF8") {  // RFC 6531 3.4: no value
    if (raw) return Outcome::bad_arguments;
    mail.smtputf8 = true;
  } else if (key == "SIZE") {  // RFC 1870 6
    auto size = raw ? parse_size(*raw) : std::nullopt;
    if (!size) return Outcome::bad_arguments;
    mail.size = size;
  } else if (key == "BODY") {  // RFC 6152 2, RFC 3030 3
    if (stored != "7BIT" && stored != "8BITMIME" && stored != "BINARYMIME")
      return Outcome::bad_arguments;
    mail.body = stored;
  } else if (key == "RET") {  // RFC 3461 4.3
    if (stored != "FULL" && stored != "HDRS") return Outcome::bad_arguments;
  } else if (key == "ENVID" || key == "AUTH") {  // RFC 3461 4.4, RFC 4954 5: xtext
    auto decoded = raw ? decode_clean_xtext(*raw) : std::nullopt;
    if (!decoded || (key == "ENVID" && decoded->size() > 100)) return Outcome::bad_arguments;
    stored = *decoded;
  } else {
    return Outcome::unknown_parameter;  // RFC 5321 4.1.1.11: 555
  }
  mail.params.emplace(key, std::move(stored));
  return std::nullopt;
}

// RFC 3461 4.1: NOTIFY = "NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY")
bool valid_notify(const std::string& value) {
  if (value == "NEVER") return true;
  size_t start = 0;
  std::string seen;
  while (true) {
    size_t comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? comma : comma - start);
    if (item != "SUCCESS" && item != "FAILURE" && item != "DELAY") return false;
    if (seen.find(item + ",") != std::string::npos) return false;
    seen += item + ",";
    if (comma == std::string::npos) return true;
    start = comma + 1;
  }
}

std::optional<Outcome> rcpt_param(RcptTo& rcpt, const std::string& key,
                                  std::optional<std::string_view> raw) {
  if (rcpt.params.count(key)) return Outcome::bad_arguments;
  if (!raw)
    return key == "NOTIFY" || key == "ORCPT" ? Outcome::bad_arguments : Outcome::unknown_parameter;
  std::string stored;
  if (key == "NOTIFY") {
    stored = upper(*raw);
    if (!valid_notify(stored)) return Outcome::bad_arguments;
  } else if (key == "ORCPT") {  // RFC 3461 4.2: addr-type ";" xtext
    size_t semicolon = raw->find(';');
    if (semicolon == std::string_view::npos || semicolon == 0) return Outcome::bad_arguments;
    std::string_view type = raw->substr(0, semicolon);
    for (char c : type) {
      if (!is_alnum(c) && c != '-') return Outcome::bad_arguments;
    }
    auto decoded = decode_clean_xtext(raw->substr(semicolon + 1));
    if (!decoded || decoded->empty()) return Outcome::bad_arguments;
    std::string shown_type(type);
    if (iequals_ascii(type, "utf-8")) {
      // RFC 6533 3: utf-8-addr-xtext / -unitext carry non-ASCII as \x{HEX} escapes.
      decoded = decode_utf8_escapes(*decoded);
      if (!decoded || decoded->empty()) return Outcome::bad_arguments;
      shown_type = "utf-8";
    } else if (iequals_ascii(type, "rfc822") && !is_ascii(*decoded)) {
      // Decoded to UTF-8, the address is no longer an rfc822 one: RFC 6533's utf-8 type names it
      // (an SMTPUTF8 client may send it as xtext-encoded UTF-8, like Postfix does).
      shown_type = "utf-8";
    }
    stored = shown_type + ";" + *decoded;
  } else {
    return Outcome::unknown_parameter;
  }
  rcpt.params.emplace(key, std::move(stored));
  return std::nullopt;
}

}  // namespace

std::optional<std::string> decode_xtext(std::string_view text) {
  // RFC 3461 4: xtext = *( xchar / hexchar ), hexchar = "+" 2HEXDIG (upper case per the RFC;
  // lower case is accepted from lenient clients).
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '+') {
      out.push_back(c);
      continue;
    }
    if (text.size() - i < 3) return std::nullopt;
    int value = 0;
    for (size_t k = 1; k <= 2; ++k) {
      const char h = to_upper(text[i + k]);
      int digit = is_digit(h) ? h - '0' : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
      if (digit < 0) return std::nullopt;
      value = value * 16 + digit;
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

bool needs_smtputf8(std::string_view address) {
  for (char c : address) {
    if (is_non_ascii(c)) return true;
  }
  return false;
}

PathParse<MailFrom> parse_mail_from(std::string_view args, const Limits& limits) {
  ParsedPath path = parse_path(args, "FROM:", Outcome::bad_sender_syntax, limits);
  if (!path.ok) return {std::nullopt, reply(path.error)};
  MailFrom mail;
  mail.address = std::move(path.address);
  mail.body = "7BIT";
  auto error =
      parse_params(path.rest, [&](const std::string& key, std::optional<std::string_view> value) {
        return mail_param(mail, key, value);
      });
  if (error) return {std::nullopt, reply(*error)};
  return {std::move(mail), Reply{}};
}

PathParse<RcptTo> parse_rcpt_to(std::string_view args, const Limits& limits) {
  ParsedPath path = parse_path(args, "TO:", Outcome::bad_recipient_syntax, limits);
  if (path.ok && path.address.empty()) path.ok = false;  // RFC 5321 4.1.1.3: no null forward-path
  if (!path.ok) return {std::nullopt, reply(path.error)};
  RcptTo rcpt;
  rcpt.address = std::move(path.address);
  auto error =
      parse_params(path.rest, [&](const std::string& key, std::optional<std::string_view> value) {
        return rcpt_param(rcpt, key, value);
      });
  if (error) return {std::nullopt, reply(*error)};
  return {std::move(rcpt), Reply{}};
}

}  // namespace smtp
