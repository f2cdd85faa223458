// The Authentication-Results header (RFC 8601), the bridge.v1 objects and the policy decision
// (report.h). Senders choose HELO names, MAIL FROM addresses, DKIM d=/s=/b= and reasons come
// from DNS: nothing of theirs enters the header unless it is a plain token, comments are
// filtered to printable ASCII without parentheses or backslashes.
#include "mailauth/report.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mailauth/header_fields.h"

namespace mailauth {

namespace {

// A domain-like token: letters, digits, '.', '-', '_' (DKIM selectors may hold '_').
bool domain_token(std::string_view text) {
  return !text.empty() && text.size() <= 253 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

// RFC 5322 atext of a dot-atom local part (no quoted local parts in our header).
bool local_part_token(std::string_view text) {
  static constexpr std::string_view extra = "!#$%&'*+-/=?^_`{|}~.";
  return !text.empty() && text.size() <= 64 && text.front() != '.' && text.back() != '.' &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != extra.npos;
         });
}

// RFC 2045 token, or a quoted-string of printable ASCII.
std::string value(std::string_view text) {
  static constexpr std::string_view tspecials = "()<>@,;:\\\"/[]?= ";
  bool token = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c > 0x20 && c < 0x7f && tspecials.find(c) == tspecials.npos;
  });
  if (token) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c < 0x20 || c >= 0x7f) continue;
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// " (text)" with what cannot stand in a comment left out; "" for empty text.
std::string comment(std::string_view text) {
  std::string kept;
  for (char c : text.substr(0, 200))
    if (c >= 0x20 && c < 0x7f && c != '(' && c != ')' && c != '\\') kept += c;
  return kept.empty() ? "" : " (" + kept + ")";
}

std::string spf_result(const SpfVerdict& spf) {
  std::string text = "spf=" + spf.result;
  text += comment(spf.mechanism.empty() ? spf.reason : "mechanism " + spf.mechanism);
  if (spf.identity == "helo") {
    if (domain_token(spf.domain)) text += " smtp.helo=" + spf.domain;
    return text;
  }
  size_t at = spf.sender.rfind('@');
  std::string_view local =
      at == std::string::npos ? "" : std::string_view(spf.sender).substr(0, at);
  if (local_part_token(local) && domain_token(spf.domain))
    text += " smtp.mailfrom=" + std::string(local) + "@" + spf.domain;  // RFC 8601 2.3 pvalue
  else if (domain_token(spf.domain))
    text += " smtp.mailfrom=" + spf.domain;
  return text;
}

std::string dkim_result(const DkimVerdict& dkim) {
  std::string text = "dkim=" + dkim.result + comment(dkim.reason);
  if (domain_token(dkim.domain)) text += " header.d=" + dkim.domain;
  if (domain_token(dkim.selector)) text += " header.s=" + dkim.selector;
  if (domain_token(dkim.algorithm)) text += " header.a=" + dkim.algorithm;
  bool b64 = !dkim.b.empty() && std::all_of(dkim.b.begin(), dkim.b.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
  });
  if (b64) text += " header.b=" + value(dkim.b);
  return text;
}

std::string dmarc_result(const DmarcVerdict& dmarc) {
  std::string detail;
  if (!dmarc.policy.empty()) detail = "p=" + dmarc.policy + " dis=" + dmarc.disposition;
  if (!dmarc.reason.empty()) detail += (detail.empty() ? "" : " ") + dmarc.reason;
  std::string text = "dmarc=" + dmarc.result + comment(detail);
  if (domain_token(dmarc.from_domain)) text += " header.from=" + dmarc.from_domain;
  return text;
}

nlohmann::json or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

nlohmann::json spf_object(const SpfVerdict& spf) {
  return {{"result", spf.result},
          {"domain", or_null(spf.domain)},
          {"sender", or_null(spf.sender)},
          {"mechanism", or_null(spf.mechanism)},
          {"reason", or_null(spf.reason)}};
}

}  // namespace

std::string results_header(std::string_view authserv_id, const Verdicts& verdicts) {
  std::vector<std::string> results;
  if (verdicts.authenticated) {
    results.push_back(spf_result(verdicts.spf.mailfrom));
    results.push_back(spf_result(verdicts.spf.helo));
    if (verdicts.dkim.empty()) results.push_back("dkim=none");
    for (const DkimVerdict& dkim : verdicts.dkim) results.push_back(dkim_result(dkim));
    results.push_back(dmarc_result(verdicts.dmarc));
    results.push_back("arc=none" + comment("not validated"));
  }
  std::string header = "Authentication-Results: " + std::string(authserv_id);
  if (results.empty()) return header + "; none\r\n";  // RFC 8601 2.2
  for (const std::string& result : results) header += ";\r\n\t" + result;
  return header + "\r\n";
}

namespace {

// `field` (name, colon, value, its CRLFs) is an Authentication-Results field whose authserv-id
// is `authserv_id`: the first token after CFWS (RFC 8601 2.2), comments skipped.
bool names_us(std::string_view field, std::string_view authserv_id) {
  size_t colon = field.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view field_name = field.substr(0, colon);
  while (!field_name.empty() && (field_name.back() == ' ' || field_name.back() == '\t'))
    field_name.remove_suffix(1);
  if (!iequals(field_name, "authentication-results")) return false;
  size_t i = colon + 1;
  int depth = 0;
  while (i < field.size()) {
    char c = field[i];
    if (c == '\\' && depth > 0) {
      i += 2;
    } else if (c == '(') {
      ++depth, ++i;
    } else if (c == ')' && depth > 0) {
      --depth, ++i;
    } else if (depth > 0 || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else {
      break;
    }
  }
  size_t start = std::min(i, field.size());
  size_t stop = field.find_first_of(" \t\r\n;(", start);
  return iequals(field.substr(start, stop == std::string_view::npos ? field.npos : stop - start),
                 authserv_id);
}

}  // namespace

size_t remove_results_headers(std::string& message, std::string_view authserv_id) {
  // One pass that moves each kept byte at most once, in place: erasing field by field would
  // move the rest of the message for every field, quadratic in a header of many forged fields.
  size_t removed = 0;
  size_t write = 0;
  size_t at = 0;
  while (at < message.size()) {
    size_t eol = message.find("\r\n", at);
    size_t end = eol == std::string::npos ? message.size() : eol + 2;
    if (end - at == 2) break;  // the empty line: the body follows
    // The field runs on over continuation lines (RFC 5322 2.2.3).
    while (end < message.size() && (message[end] == ' ' || message[end] == '\t')) {
      eol = message.find("\r\n", end);
      end = eol == std::string::npos ? message.size() : eol + 2;
    }
    if (names_us(std::string_view(message.data() + at, end - at), authserv_id)) {
      ++removed;
    } else {
      if (write != at) std::memmove(message.data() + write, message.data() + at, end - at);
      write += end - at;
    }
    at = end;
  }
  if (removed == 0) return 0;
  std::memmove(message.data() + write, message.data() + at, message.size() - at);
  message.resize(write + message.size() - at);
  return removed;
}

std::string authentication_json(const Verdicts& verdicts) {
  if (!verdicts.authenticated) return "null";
  nlohmann::json dkim = nlohmann::json::array();
  for (const DkimVerdict& d : verdicts.dkim)
    dkim.push_back({{"result", d.result},
                    {"domain", or_null(d.domain)},
                    {"selector", or_null(d.selector)},
                    {"algorithm", or_null(d.algorithm)},
                    {"canonicalization", or_null(d.canonicalization)},
                    {"length", d.length ? nlohmann::json(*d.length) : nlohmann::json(nullptr)},
                    {"key_bits", d.key_bits ? nlohmann::json(d.key_bits) : nlohmann::json(nullptr)},
                    {"identity", or_null(d.identity)},
                    {"reason", or_null(d.reason)}});
  const DmarcVerdict& m = verdicts.dmarc;
  nlohmann::json doc = {
      {"spf",
       {{"mailfrom", spf_object(verdicts.spf.mailfrom)}, {"helo", spf_object(verdicts.spf.helo)}}},
      {"dkim", dkim},
      {"dmarc",
       {{"result", m.result},
        {"from_domain", or_null(m.from_domain)},
        {"organizational_domain", or_null(m.organizational_domain)},
        {"policy", or_null(m.policy)},
        {"subdomain_policy", or_null(m.subdomain_policy)},
        {"alignment", {{"spf", m.alignment_spf}, {"dkim", m.alignment_dkim}}},
        {"spf_aligned", m.spf_aligned},
        {"dkim_aligned", m.dkim_aligned},
        {"pct", m.pct},
        {"disposition", m.disposition},
        {"reason", or_null(m.reason)}}},
      {"arc", {{"result", "none"}, {"reason", "not validated: Debian 12 packages no ARC library"}}},
  };
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string spam_json(const Verdicts& verdicts) {
  if (!verdicts.spam) return "null";
  const SpamVerdict& s = *verdicts.spam;
  if (s.status != "scanned")
    return nlohmann::json({{"status", s.status}, {"reason", or_null(s.reason)}}).dump();
  nlohmann::json symbols = nlohmann::json::array();
  for (const SpamSymbol& symbol : s.symbols)
    symbols.push_back({{"name", symbol.name}, {"score", symbol.score}});
  nlohmann::json doc = {{"status", s.status},
                        {"score", s.score},
                        {"required_score", s.required_score},
                        {"action", s.action},
                        {"symbols", symbols}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

config::Policy policy_for(const config::Config& config, const std::vector<std::string>& rcpt_to) {
  config::Policy result;  // all off, then each recipient's rules added
  bool matched = false;
  for (const std::string& address : rcpt_to) {
    std::optional<size_t> route = config::match_route(config.routes, address);
    if (!route) continue;
    matched = true;
    const config::PolicyOverride& change = config.routes[*route].policy;
    result.reject_dmarc |= change.reject_dmarc.value_or(config.policy.reject_dmarc);
    result.reject_spf_fail |= change.reject_spf_fail.value_or(config.policy.reject_spf_fail);
    result.defer_temperror |= change.defer_temperror.value_or(config.policy.defer_temperror);
    result.reject_spam |= change.reject_spam.value_or(config.policy.reject_spam);
    for (const std::string& domain : change.require_dkim.value_or(config.policy.require_dkim))
      if (std::find(result.require_dkim.begin(), result.require_dkim.end(), domain) ==
          result.require_dkim.end())
        result.require_dkim.push_back(domain);
  }
  return matched ? result : config.policy;
}

namespace {

// `domain` is `parent` or under it.
bool within(std::string_view domain, std::string_view parent) {
  if (iequals(domain, parent)) return true;
  return domain.size() > parent.size() && domain[domain.size() - parent.size() - 1] == '.' &&
         iequals(domain.substr(domain.size() - parent.size()), parent);
}

Decision reject(std::string reason, std::string text) {
  return {Decision::Kind::reject, std::move(reason), std::move(text)};
}

}  // namespace

Decision decide(const Verdicts& verdicts, const config::Policy& policy, bool spam_fail_closed) {
  bool temperror = false;  // a rule that is on met a temperror instead of a verdict
  if (verdicts.authenticated) {
    const SpfVerdict& spf = verdicts.spf.mailfrom;
    if (policy.reject_spf_fail && spf.result == "fail")
      return reject("spf_fail", "SPF of " + spf.domain + " does not permit this client");
    temperror |= policy.reject_spf_fail && spf.result == "temperror";
    const DmarcVerdict& dmarc = verdicts.dmarc;
    if (policy.reject_dmarc && dmarc.result == "fail" && dmarc.disposition == "reject")
      return reject("dmarc_reject",
                    "DMARC policy of " + dmarc.from_domain + " rejects this message");
    temperror |= policy.reject_dmarc && dmarc.result == "temperror";
    for (const std::string& listed : policy.require_dkim) {
      if (dmarc.from_domain.empty() || !within(dmarc.from_domain, listed)) continue;
      bool signed_by = false, dkim_temperror = false;
      for (const DkimVerdict& dkim : verdicts.dkim) {
        bool ours = within(dkim.domain, listed) && within(dmarc.from_domain, dkim.domain);
        signed_by |= ours && dkim.result == "pass";
        dkim_temperror |= dkim.result == "temperror";
      }
      if (signed_by) continue;
      if (!dkim_temperror)
        return reject("dkim_required", "a valid DKIM signature of " + listed + " is required");
      temperror = true;
    }
  }
  if (verdicts.spam) {
    const SpamVerdict& spam = *verdicts.spam;
    if (spam.status == "scanned" && policy.reject_spam && spam.action == "reject")
      return reject("spam", "message rejected as spam");
    if (spam.status != "scanned" && spam_fail_closed)
      return {Decision::Kind::defer, "spam_unavailable",
              "spam scanner unavailable, try again later"};
  }
  if (temperror && policy.defer_temperror)
    return {Decision::Kind::defer, "temperror",
            "temporary DNS failure while authenticating, try again later"};
  return {};
}

}  // namespace mailauth
