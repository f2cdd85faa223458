// prepare_record (spf_record.h): RFC 7208 section 12's grammar checked term by term, and the few
// rewrites that let libspf2 evaluate the record as the RFC says. libspf2 compiles some invalid
// records (a domain-spec without a valid top label, "redirect:" as a mechanism, CIDR lengths
// with leading zeros), and refuses some valid ones (CIDR /0, unknown modifiers with "_" or "/").
#include "mailauth/spf_record.h"

#include <arpa/inet.h>
#include <strings.h>

#include <cctype>
#include <cstring>

namespace mailauth::spf_detail {

namespace {

bool alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}
bool digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}
bool alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// macro-string (RFC 7208 7.1). The letters c, r and t belong to explanations only (7.3);
// `last_expand` says whether the string ends with a macro-expand.
bool macro_string(const std::string& s, bool crt_allowed, bool& last_expand) {
  last_expand = false;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c != '%') {
      if (c < 0x21 || c > 0x7e) return false;
      last_expand = false;
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) return false;
    const char next = s[i + 1];
    if (next == '%' || next == '_' || next == '-') {
      i += 2;
      last_expand = true;
      continue;
    }
    if (next != '{' || i + 2 >= s.size()) return false;
    const char letter = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 2])));
    if (std::strchr("slodiphv", letter) == nullptr &&
        !(crt_allowed && std::strchr("crt", letter) != nullptr))
      return false;
    size_t j = i + 3;
    while (j < s.size() && digit(s[j])) ++j;
    if (j < s.size() && (s[j] == 'r' || s[j] == 'R')) ++j;
    while (j < s.size() && std::strchr(".-+,/_=", s[j]) != nullptr && s[j] != '\0') ++j;
    if (j >= s.size() || s[j] != '}') return false;
    i = j + 1;
    last_expand = true;
  }
  return true;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool toplabel(const std::string& label) {
  if (label.empty()) return false;
  bool has_alpha = false, has_hyphen = false;
  for (char c : label) {
    if (alpha(c))
      has_alpha = true;
    else if (c == '-')
      has_hyphen = true;
    else if (!digit(c))
      return false;
  }
  if (!has_hyphen) return has_alpha;
  return alnum(label.front()) && alnum(label.back());
}

// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
bool domain_spec(const std::string& spec) {
  bool last_expand = false;
  if (spec.empty() || !macro_string(spec, false, last_expand)) return false;
  if (last_expand) return true;
  std::string name = spec;
  if (name.back() == '.') name.pop_back();
  const size_t dot = name.rfind('.');
  return dot != std::string::npos && toplabel(name.substr(dot + 1));
}

// Takes a CIDR length ("/24" with sep "/", "//64" with sep "//") off the end of `rest`:
// 1 taken (into `length`), 0 none there, -1 malformed (leading zero, too large).
int take_cidr(std::string& rest, const char* sep, int max, int& length) {
  size_t start = rest.size();
  while (start > 0 && digit(rest[start - 1])) --start;
  const size_t sep_size = std::strlen(sep);
  if (start == rest.size() || start < sep_size ||
      rest.compare(start - sep_size, sep_size, sep) != 0)
    return 0;
  if (sep_size == 1 && start >= 2 && rest[start - 2] == '/') return -1;  // a second "//"
  const std::string digits = rest.substr(start);
  if (digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return -1;
  length = std::stoi(digits);
  if (length > max) return -1;
  rest.erase(start - sep_size);
  return 1;
}

bool is_modifier(const std::string& term) {
  // modifier = name "=" ...; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
  if (term.empty() || !alpha(term[0])) return false;
  for (char c : term) {
    if (c == '=') return true;
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return false;
}

bool named(const std::string& modifier, const char* name) {
  const size_t length = std::strlen(name);
  return modifier.size() > length && modifier[length] == '=' &&
         strncasecmp(modifier.c_str(), name, length) == 0;
}

std::vector<std::string> split_terms(const std::string& record) {
  std::vector<std::string> terms;
  size_t start = 6;  // after "v=spf1"
  while (start < record.size()) {
    size_t space = record.find(' ', start);
    if (space == std::string::npos) space = record.size();
    if (space > start) terms.push_back(record.substr(start, space - start));
    start = space + 1;
  }
  return terms;
}

// "a" and "mx" (RFC 7208 5.3, 5.4): only the CIDR length of the client's family applies; a
// length of 0 matches any address the names have (see kAnyAddressLabel).
bool address_mechanism(const std::string& prefix, const std::string& name, std::string rest,
                       bool ipv6_client, std::string& rewritten) {
  int v4 = -1, v6 = -1;
  if (take_cidr(rest, "//", 128, v6) < 0 || take_cidr(rest, "/", 32, v4) < 0) return false;
  std::string domain;
  if (!rest.empty()) {
    if (rest[0] != ':' || !domain_spec(rest.substr(1))) return false;
    domain = rest.substr(1);
  }
  const int length = ipv6_client ? v6 : v4;
  if (length == 0) {
    if (domain.empty()) domain = "%{d}";
    if (domain.back() == '.') domain.pop_back();
    rewritten = prefix + name + ":" + domain + "." + kAnyAddressLabel;
    return true;
  }
  rewritten = prefix + name + (domain.empty() ? "" : ":" + domain);
  if (length > 0) rewritten += (ipv6_client ? "//" : "/") + std::to_string(length);
  return true;
}

// "ip4" and "ip6" (5.6): the network must be an address of the family; /0 is two halves.
bool network_mechanism(const std::string& prefix, bool v6, std::string rest,
                       std::string& rewritten) {
  int length = -1;
  if (rest.empty() || rest[0] != ':') return false;
  rest.erase(0, 1);
  if (take_cidr(rest, "/", v6 ? 128 : 32, length) < 0) return false;
  unsigned char address[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, rest.c_str(), address) != 1) return false;
  if (length == 0) {
    rewritten = v6 ? prefix + "ip6:::/1 " + prefix + "ip6:8000::/1"
                   : prefix + "ip4:0.0.0.0/1 " + prefix + "ip4:128.0.0.0/1";
  }
  return true;
}

// One mechanism (RFC 7208 12); `rewritten` starts as the term itself.
bool mechanism(const std::string& term, bool ipv6_client, std::string& rewritten) {
  const bool qualified = std::strchr("+-~?", term[0]) != nullptr;
  const std::string prefix = qualified ? term.substr(0, 1) : "";
  const std::string body = qualified ? term.substr(1) : term;
  size_t end = 0;
  while (end < body.size() && alnum(body[end])) ++end;
  std::string name = body.substr(0, end);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string rest = body.substr(end);
  if (name == "all") return rest.empty();
  if (name == "include" || name == "exists")
    return !rest.empty() && rest[0] == ':' && domain_spec(rest.substr(1));
  if (name == "ptr") return rest.empty() || (rest[0] == ':' && domain_spec(rest.substr(1)));
  if (name == "a" || name == "mx")
    return address_mechanism(prefix, name, rest, ipv6_client, rewritten);
  if (name == "ip4" || name == "ip6")
    return network_mechanism(prefix, name == "ip6", rest, rewritten);
  return false;  // unknown mechanism (RFC 7208 5: permerror)
}

bool is_all(const std::string& term) {
  const size_t start = std::strchr("+-~?", term[0]) != nullptr ? 1 : 0;
  return strcasecmp(term.c_str() + start, "all") == 0;
}

}  // namespace

int select_record(const std::vector<std::string>& txt, std::string& record) {
  int found = 0;
  for (const std::string& text : txt) {
    // RFC 7208 4.5: "v=spf1" (case-insensitively) followed by a space or the end.
    if (text.size() >= 6 && strncasecmp(text.c_str(), "v=spf1", 6) == 0 &&
        (text.size() == 6 || text[6] == ' ')) {
      if (++found == 1) record = text;
    }
  }
  return found;
}

bool prepare_record(const std::string& record, bool ipv6_client, PreparedRecord& out,
                    std::string& error) {
  out = PreparedRecord{};
  for (unsigned char c : record) {
    if (c < 0x20 || c > 0x7e) {  // RFC 7208 3.1 and 12: printable US-ASCII separated by SP
      error = "a character outside printable ASCII";
      return false;
    }
  }
  std::string redirect;
  int redirects = 0, exps = 0;
  bool has_all = false;
  for (const std::string& term : split_terms(record)) {
    if (is_modifier(term)) {
      const std::string value = term.substr(term.find('=') + 1);
      bool last_expand = false;
      const bool known = named(term, "redirect") || named(term, "exp");
      if (known ? !domain_spec(value) : !macro_string(value, true, last_expand)) {
        error = "the modifier \"" + term + "\" is malformed";
        return false;
      }
      if (named(term, "redirect")) ++redirects, redirect = term;
      if (named(term, "exp")) ++exps;
      continue;  // RFC 7208 6: unknown modifiers are ignored; exp is not used
    }
    PreparedRecord::Term entry{term, term};
    if (!mechanism(term, ipv6_client, entry.rewritten)) {
      error = "the term \"" + term + "\" is malformed or unknown";
      return false;
    }
    has_all = has_all || is_all(term);
    out.terms.push_back(entry);
  }
  if (redirects > 1 || exps > 1) {  // RFC 7208 6
    error = "\"redirect\" or \"exp\" appears more than once";
    return false;
  }
  if (!redirect.empty() && !has_all) out.terms.push_back({redirect, redirect});  // RFC 7208 6.1
  out.text = "v=spf1";
  for (const auto& term : out.terms) out.text += " " + term.rewritten;
  return true;
}

}  // namespace mailauth::spf_detail
