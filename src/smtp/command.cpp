// Syntactic parsing of one SMTP command line (RFC 5321 4.1): verb, one space, arguments.
// Rejects control characters, invalid UTF-8 and malformed verbs before any handler sees them,
// and recognises HTTP request lines sent to the SMTP port.
#include "smtp/command.h"

#include <array>
#include <cstdint>

namespace smtp {
namespace {

constexpr size_t kMaxVerbLength = 16;

bool is_letter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

struct VerbName {
  const char* name;
  Verb verb;
};
constexpr std::array<VerbName, 19> kVerbs{{
    {"EHLO", Verb::ehlo},
    {"HELO", Verb::helo},
    {"MAIL", Verb::mail},
    {"RCPT", Verb::rcpt},
    {"DATA", Verb::data},
    {"BDAT", Verb::bdat},
    {"RSET", Verb::rset},
    {"NOOP", Verb::noop},
    {"QUIT", Verb::quit},
    {"VRFY", Verb::vrfy},
    {"EXPN", Verb::expn},
    {"HELP", Verb::help},
    {"STARTTLS", Verb::starttls},
    {"AUTH", Verb::auth},
    // RFC 5321 4.1.1 drops SEND, SOML, SAML; TURN and ETRN are not offered (502).
    {"SEND", Verb::obsolete},
    {"SOML", Verb::obsolete},
    {"SAML", Verb::obsolete},
    {"TURN", Verb::obsolete},
    {"ETRN", Verb::obsolete},
}};

Verb verb_of(std::string_view upper_name) {
  for (const auto& v : kVerbs) {
    if (upper_name == v.name) return v.verb;
  }
  return Verb::unknown;
}

CommandParse syntax_error() {
  return CommandParse{std::nullopt, reply(Outcome::bad_syntax)};
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (to_upper(text[i]) != to_upper(prefix[i])) return false;
  }
  return true;
}

}  // namespace

CommandParse parse_command(std::string_view line) {
  // RFC 5321 4.1.1: command = verb [SP argument] CRLF; no control characters anywhere (a bare CR
  // inside a line is how "RSET\rQUIT" smuggles a second command past a lenient parser).
  if (line.empty()) return syntax_error();
  for (char c : line) {
    if (is_control(static_cast<unsigned char>(c))) return syntax_error();
  }
  if (!valid_utf8(line)) return syntax_error();

  size_t verb_end = 0;
  while (verb_end < line.size() && is_letter(line[verb_end])) ++verb_end;
  if (verb_end == 0 || verb_end > kMaxVerbLength) return syntax_error();

  // Trailing spaces are tolerated; otherwise exactly one space separates verb and arguments.
  std::string_view rest = line.substr(verb_end);
  size_t last = rest.find_last_not_of(' ');
  rest = last == std::string_view::npos ? std::string_view{} : rest.substr(0, last + 1);
  std::string_view args;
  if (!rest.empty()) {
    if (rest.size() < 2 || rest[0] != ' ' || rest[1] == ' ') return syntax_error();
    args = rest.substr(1);
  }

  Command command;
  command.name.reserve(verb_end);
  for (size_t i = 0; i < verb_end; ++i) command.name.push_back(to_upper(line[i]));
  command.verb = verb_of(command.name);
  command.args = std::string(args);
  return CommandParse{std::move(command), Reply{}};
}

bool looks_like_http(std::string_view line) {
  // RFC 9110 9.3 methods; they are case-sensitive, and no SMTP verb shares a name with one.
  static constexpr std::array<std::string_view, 9> kMethods{
      "GET", "POST", "HEAD", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (auto method : kMethods) {
    if (line.size() <= method.size() + 1 || line.substr(0, method.size()) != method ||
        line[method.size()] != ' ') {
      continue;
    }
    std::string_view target = line.substr(method.size() + 1);
    if (target.front() == '/' || starts_with_ci(target, "http://") ||
        starts_with_ci(target, "https://")) {
      return true;
    }
    // Authority form (CONNECT host:port HTTP/1.1): recognised by the protocol version at the end.
    size_t space = line.rfind(' ');
    if (starts_with_ci(line.substr(space + 1), "HTTP/")) return true;
  }
  return false;
}

}  // namespace smtp
