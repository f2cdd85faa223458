// check_dmarc (dmarc.h). libopendmarc parses the record and chooses p= or sp=
// (opendmarc_policy_store_dmarc, opendmarc_get_policy_to_enforce) and knows the public suffix
// list (opendmarc_get_tld); the record is looked up here, through mailauth::Resolver, not by its
// own resolver. Alignment is decided here too: libopendmarc 1.4.2 finds a subdomain strictly
// aligned with its organizational domain (opendmarc_policy_check_alignment), which RFC 7489 3.1
// does not.
#include "mailauth/dmarc.h"

#include <opendmarc/dmarc.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include "common/utf8.h"
#include "mailauth/header_fields.h"

extern "C" int opendmarc_get_tld(u_char* domain, u_char* tld, size_t tld_len);  // exported

namespace mailauth {

namespace {

std::mutex init_mutex;
bool init_done = false;
std::atomic<bool> suffixes_loaded{false};  // read without the mutex by organizational_domain
std::string init_error;

constexpr size_t kMaxRecordBytes = 4096;  // libopendmarc parses a copy in a BUFSIZ buffer

u_char* bytes(std::string& text) {
  return reinterpret_cast<u_char*>(text.data());
}

// A host name libopendmarc can hold (its buffers are 256 bytes): 1-63 byte labels, 253 in all.
bool is_domain_name(const std::string& domain) {
  if (domain.empty() || domain.size() > 253 || !common::valid_utf8(domain)) return false;
  size_t label = 0;
  for (char c : domain) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '_' || u >= 0x80) || ++label > 63) return false;
  }
  return label > 0;
}

// The RFC5322.From domain (RFC 7489 3.1, 6.6.1): one From field naming one domain; "" and a
// reason otherwise.
std::string from_domain(std::string_view message, std::string& reason) {
  std::optional<std::string> value;
  HeaderReader reader(message);
  while (auto field = reader.next()) {
    if (!iequals(field->name, "From")) continue;
    if (value) {
      reason = "several From header fields (RFC 5322 3.6)";
      return "";
    }
    value = unfold(field->value);
  }
  if (!value) {
    reason = "no From header field";
    return "";
  }
  std::set<std::string> domains;
  for (const std::string& address : split_address_list(*value)) {
    std::string domain = lower(address_domain(address));
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    if (domain.empty()) {
      reason = "a From address has no domain";
      return "";
    }
    domains.insert(domain);
  }
  if (domains.size() != 1) {
    reason = domains.empty() ? "From has no address" : "From names several domains";
    return "";
  }
  if (!is_domain_name(*domains.begin())) {
    reason = "the From domain is not a domain name";
    return "";
  }
  return *domains.begin();
}

// RFC 7489 6.6.3 step 2: a record starts with "v=DMARC1" (white space around "=").
bool is_dmarc_record(std::string_view text) {
  auto skip_space = [&] {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  };
  skip_space();
  if (text.empty() || text.front() != 'v') return false;
  text.remove_prefix(1);
  skip_space();
  if (text.empty() || text.front() != '=') return false;
  text.remove_prefix(1);
  skip_space();
  if (text.substr(0, 6) != "DMARC1") return false;
  text.remove_prefix(6);
  skip_space();
  return text.empty() || text.front() == ';';
}

struct Discovery {
  enum class Kind { found, none, several, temperror } kind = Kind::none;
  std::string record;
  std::string reason;
};

Discovery discover(Resolver& resolver, const std::string& domain, Deadline deadline) {
  const std::string name = "_dmarc." + domain;
  DnsAnswer answer = resolver.query(name, RrType::txt, deadline);
  Discovery found;
  if (answer.status == DnsAnswer::Status::timeout || answer.status == DnsAnswer::Status::error) {
    found.kind = Discovery::Kind::temperror;
    found.reason = "DNS lookup of " + name +
                   (answer.status == DnsAnswer::Status::timeout ? " timed out" : " failed");
    return found;
  }
  for (std::string& record : answer.records) {
    if (!is_dmarc_record(record)) continue;
    if (found.kind == Discovery::Kind::found) {
      found.kind = Discovery::Kind::several;  // RFC 7489 6.6.3 step 4: DMARC is not applied
      found.reason = "several DMARC records at " + name;
      return found;
    }
    found.kind = Discovery::Kind::found;
    found.record = std::move(record);
    found.reason = name;
  }
  return found;
}

// RFC 7489 3.1.1 / 3.1.2: strict = the same name; relaxed = the same organizational domain.
bool aligned(const std::string& from, const std::string& other, bool strict) {
  if (other.empty()) return false;
  std::string name = lower(other);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name == from) return true;
  return !strict && is_domain_name(name) &&
         organizational_domain(name) == organizational_domain(from);
}

const char* policy_word(int policy) {
  switch (policy) {
    case DMARC_POLICY_REJECT:
    case DMARC_RECORD_P_REJECT:
      return "reject";
    case DMARC_POLICY_QUARANTINE:
    case DMARC_RECORD_P_QUARANTINE:
      return "quarantine";
    case DMARC_POLICY_NONE:
    case DMARC_RECORD_P_NONE:
      return "none";
    default:
      return "";
  }
}

// RFC 7489 6.6.4: a failing message outside the pct= sample gets the next less strict policy.
std::string sampled(const std::string& policy, unsigned pct) {
  if (pct >= 100 || policy == "none") return policy;
  thread_local std::mt19937 random{std::random_device{}()};
  if (std::uniform_int_distribution<unsigned>(0, 99)(random) < pct) return policy;
  return policy == "reject" ? "quarantine" : "none";
}

struct PolicyDeleter {
  void operator()(DMARC_POLICY_T* policy) const { opendmarc_policy_connect_shutdown(policy); }
};

// The record's p= / sp= / alignment modes / pct into `verdict`; false (and the reason) when
// libopendmarc rejects the record.
bool read_record(DMARC_POLICY_T* policy, std::string record, const std::string& from,
                 std::string org, bool at_org, DmarcVerdict& verdict) {
  if (record.size() > kMaxRecordBytes) {
    verdict.reason = "DMARC record longer than " + std::to_string(kMaxRecordBytes) + " bytes";
    return false;
  }
  std::string domain = from;
  int status = opendmarc_policy_store_dmarc(policy, bytes(record), bytes(domain),
                                            at_org ? bytes(org) : nullptr);
  if (status != DMARC_PARSE_OKAY) {
    verdict.reason = std::string("invalid DMARC record: ") + opendmarc_policy_status_to_str(status);
    return false;
  }
  int p = 0, sp = 0, adkim = 0, aspf = 0, pct = 100;
  opendmarc_policy_fetch_p(policy, &p);
  opendmarc_policy_fetch_sp(policy, &sp);
  opendmarc_policy_fetch_adkim(policy, &adkim);
  opendmarc_policy_fetch_aspf(policy, &aspf);
  opendmarc_policy_fetch_pct(policy, &pct);
  verdict.subdomain_policy = policy_word(sp);
  verdict.alignment_dkim = adkim == DMARC_RECORD_A_STRICT ? "s" : "r";
  verdict.alignment_spf = aspf == DMARC_RECORD_A_STRICT ? "s" : "r";
  verdict.pct = pct < 0 ? 100u : pct > 100 ? 100u : unsigned(pct);
  // Nothing aligned was stored: libopendmarc answers with the policy for a failing message,
  // p= or (record found at the organizational domain, RFC 7489 6.6.3 step 3) sp=.
  verdict.policy = policy_word(opendmarc_get_policy_to_enforce(policy));
  return true;
}

// The domain SPF authenticated (RFC 7489 3.1.2): MAIL FROM's, or HELO's for a null sender.
std::string spf_domain(const SpfVerdict& spf) {
  size_t at = spf.sender.rfind('@');
  return at != std::string::npos ? lower(spf.sender.substr(at + 1)) : lower(spf.domain);
}

// The result from the aligned identifiers (RFC 7489 6.6.2), and for a failure the disposition.
void evaluate(const SpfVerdict& spf_mailfrom, const std::vector<DkimVerdict>& dkim,
              DmarcVerdict& verdict) {
  const std::string& from = verdict.from_domain;
  const bool strict_spf = verdict.alignment_spf == "s", strict_dkim = verdict.alignment_dkim == "s";
  const std::string spf = spf_domain(spf_mailfrom);
  verdict.spf_aligned = spf_mailfrom.result == "pass" && aligned(from, spf, strict_spf);
  bool dkim_temperror = false;
  for (const DkimVerdict& signature : dkim) {
    if (!aligned(from, signature.domain, strict_dkim)) continue;
    verdict.dkim_aligned |= signature.result == "pass";
    dkim_temperror |= signature.result == "temperror";
  }
  if (verdict.spf_aligned || verdict.dkim_aligned) {
    verdict.result = "pass";
    return;
  }
  // No aligned pass, but one could have come from an identifier whose check failed for now.
  if (dkim_temperror || (spf_mailfrom.result == "temperror" && aligned(from, spf, strict_spf))) {
    verdict.result = "temperror";
    verdict.reason = std::string("no aligned pass; the aligned ") +
                     (dkim_temperror ? "DKIM signature" : "SPF check") + " had a temporary error";
    return;
  }
  verdict.result = "fail";
  verdict.disposition = sampled(verdict.policy, verdict.pct);
  if (verdict.disposition != verdict.policy)
    verdict.reason = "pct=" + std::to_string(verdict.pct) + ": " + verdict.disposition +
                     " instead of " + verdict.policy + " (RFC 7489 6.6.4)";
}

}  // namespace

bool init_dmarc(const std::string& public_suffix_file, std::string& error) {
  std::lock_guard lock(init_mutex);
  if (!init_done) {
    init_done = true;
    OPENDMARC_LIB_T lib{};
    lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
    if (public_suffix_file.size() >= sizeof lib.tld_source_file) {
      init_error = "public suffix list: path too long";
    } else {
      std::memcpy(lib.tld_source_file, public_suffix_file.c_str(), public_suffix_file.size() + 1);
      int status = opendmarc_policy_library_init(&lib);
      suffixes_loaded = status == DMARC_PARSE_OKAY;
      if (!suffixes_loaded)
        init_error = "public suffix list " + public_suffix_file + ": " + std::strerror(status);
    }
  }
  error = init_error;
  return suffixes_loaded;
}

std::string organizational_domain(const std::string& domain) {
  std::string name = lower(domain);
  if (suffixes_loaded && is_domain_name(name)) {
    u_char tld[512] = {};
    if (opendmarc_get_tld(bytes(name), tld, sizeof tld) == 0 && tld[0])
      return lower(reinterpret_cast<const char*>(tld));
    if (name.find('.') == std::string::npos) return name;
  }
  // The list's default rule "*" (a suffix not listed is one label): the last two labels.
  size_t last = name.rfind('.');
  if (last == std::string::npos || last == 0) return name;
  size_t before = name.rfind('.', last - 1);
  return before == std::string::npos ? name : name.substr(before + 1);
}

void prefetch_dmarc(Resolver& resolver, std::string_view message) {
  std::string ignored;
  init_dmarc(kPublicSuffixFile, ignored);
  std::string from = from_domain(message, ignored);
  if (from.empty()) return;
  resolver.prefetch("_dmarc." + from, RrType::txt);
  std::string org = organizational_domain(from);
  if (org != from) resolver.prefetch("_dmarc." + org, RrType::txt);
}

DmarcVerdict check_dmarc(Resolver& resolver, std::string_view message,
                         const SpfVerdict& spf_mailfrom, const std::vector<DkimVerdict>& dkim,
                         Deadline deadline) {
  std::string ignored;
  init_dmarc(kPublicSuffixFile, ignored);
  DmarcVerdict verdict;
  std::string from = from_domain(message, verdict.reason);
  if (from.empty()) {
    verdict.result = "permerror";
    return verdict;
  }
  verdict.from_domain = from;
  verdict.organizational_domain = organizational_domain(from);
  const std::string& org = verdict.organizational_domain;
  // RFC 7489 6.6.3: the From domain's record, else its organizational domain's (asked for at
  // the same time, as it is likely to be needed).
  if (org != from) resolver.prefetch("_dmarc." + org, RrType::txt);
  Discovery found = discover(resolver, from, deadline);
  bool at_org = false;
  if (found.kind == Discovery::Kind::none && org != from) {
    found = discover(resolver, org, deadline);
    at_org = true;
  }
  switch (found.kind) {
    case Discovery::Kind::temperror:
      verdict.result = "temperror";
      verdict.reason = found.reason;
      return verdict;
    case Discovery::Kind::several:
      verdict.reason = found.reason;
      return verdict;  // "none"
    case Discovery::Kind::none:
      verdict.reason =
          "no DMARC record at _dmarc." + from + (org != from ? " or _dmarc." + org : "");
      return verdict;
    case Discovery::Kind::found:
      break;
  }
  std::unique_ptr<DMARC_POLICY_T, PolicyDeleter> policy(
      opendmarc_policy_connect_init(reinterpret_cast<u_char*>(const_cast<char*>("0.0.0.0")), 0));
  if (!policy || !read_record(policy.get(), found.record, from, org, at_org, verdict)) {
    verdict.result = "permerror";
    if (!policy) verdict.reason = "libopendmarc: out of memory";
    return verdict;
  }
  evaluate(spf_mailfrom, dkim, verdict);
  return verdict;
}

}  // namespace mailauth
