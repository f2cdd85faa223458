// The DNS layer under libspf2 (spf_dns.h): each lookup libspf2 makes goes to mailauth::Resolver
// with the evaluation's deadline and is counted against RFC 7208 4.6.4's limits; record fetches go
// through get_spf, which selects and normalises the record before libspf2 compiles it.
#include "mailauth/spf_dns.h"
#include "mailauth/header_fields.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace mailauth::spf_detail {

namespace {

std::string without_final_dot(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

// A name the DNS can carry (RFC 1035 2.3.4): labels of 1 to 63 octets, 253 in all. A macro can
// expand to anything; what cannot be a name cannot exist (RFC 7208 4.8: it does not match).
bool dns_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const size_t label = dot - start;
    if (label == 0 || label > 63) return false;
    start = dot + 1;
  }
  return true;
}

const char* failure(DnsAnswer::Status status) {
  return status == DnsAnswer::Status::timeout ? "DNS timeout" : "DNS error";
}

Evaluation& evaluation_of(SPF_dns_server_t* server) {
  return *static_cast<Evaluation*>(server->hook);
}

// A libspf2 answer; libspf2 frees it (SPF_dns_rr_free). Records it cannot parse are left out.
SPF_dns_rr_t* make_rr(SPF_dns_server_t* server, const char* domain, ns_type type,
                      SPF_dns_stat_t herrno, const std::vector<std::string>& records = {},
                      uint32_t ttl = 0) {
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, static_cast<int>(ttl), herrno);
  if (rr == nullptr) return nullptr;  // libspf2 aborts on a failed allocation anyway
  int count = 0;
  for (const std::string& record : records) {
    if (type == ns_t_a) {
      in_addr address{};
      if (inet_pton(AF_INET, record.c_str(), &address) != 1) continue;
      if (SPF_dns_rr_buf_realloc(rr, count, sizeof(address)) != SPF_E_SUCCESS) break;
      rr->rr[count]->a = address;
    } else if (type == ns_t_aaaa) {
      in6_addr address{};
      if (inet_pton(AF_INET6, record.c_str(), &address) != 1) continue;
      if (SPF_dns_rr_buf_realloc(rr, count, sizeof(address)) != SPF_E_SUCCESS) break;
      rr->rr[count]->aaaa = address;
    } else {  // mx ptr txt: a C string in the union's storage
      if (SPF_dns_rr_buf_realloc(rr, count, record.size() + 1) != SPF_E_SUCCESS) break;
      std::memcpy(rr->rr[count]->txt, record.c_str(), record.size() + 1);
    }
    ++count;
  }
  rr->num_rr = count;
  return rr;
}

bool address_type(ns_type type) {
  return type == ns_t_a || type == ns_t_aaaa;
}

// Whether this address lookup is the next one an mx or ptr term (or the %{p} macro) makes for
// the names it was given: then it belongs to that term.
bool take_follow_up(Evaluation& ev, ns_type type, const std::string& name) {
  if (address_type(type) && ev.follow_next < ev.follow_ups.size() &&
      strcasecmp(ev.follow_ups[ev.follow_next].c_str(), name.c_str()) == 0) {
    ++ev.follow_next;
    return true;
  }
  ev.follow_ups.clear();
  ev.follow_next = 0;
  return false;
}

// RFC 7208 4.6.4's limits for a lookup: false (and `ev.limit` set) when it exceeds one. A term
// counts once; a void lookup counts when its term's own lookup found nothing.
bool within_limits(Evaluation& ev, bool term, const DnsAnswer* answer) {
  if (!term) return true;
  if (answer == nullptr) {
    if (++ev.terms <= kMaxDnsTerms) return true;
    ev.limit = "more than 10 DNS-querying terms (RFC 7208 4.6.4)";
    return false;
  }
  const bool void_lookup = answer->status == DnsAnswer::Status::nxdomain || answer->records.empty();
  if (!void_lookup || ++ev.voids <= kMaxVoidLookups) return true;
  ev.limit = "more than 2 void lookups (RFC 7208 4.6.4)";
  return false;
}

// The name to ask for, and whether it carries kAnyAddressLabel (then `name` is without it).
bool strip_any_address(std::string& name) {
  const std::string suffix = std::string(".") + kAnyAddressLabel;
  if (name.size() <= suffix.size() ||
      strcasecmp(name.c_str() + name.size() - suffix.size(), suffix.c_str()) != 0)
    return false;
  name.resize(name.size() - suffix.size());
  return true;
}

SPF_dns_rr_t* lookup(SPF_dns_server_t* server, const char* domain, ns_type type, int should_cache) {
  Evaluation& ev = evaluation_of(server);
  std::string name = without_final_dot(domain ? domain : "");
  // RFC 7208 3.1 and 14.1: the SPF RR type (99) is obsolete and not queried; libspf2 asks for
  // it first, so it is answered "no data" here and libspf2 goes on to TXT.
  if (!address_type(type) && type != ns_t_mx && type != ns_t_ptr && type != ns_t_txt)
    return make_rr(server, domain, type, NO_DATA);
  if (!ev.limit.empty()) return make_rr(server, domain, type, TRY_AGAIN);

  const bool follow_up = take_follow_up(ev, type, name);
  const bool any_address = strip_any_address(name);
  // libspf2 resolves the %{p} macro (RFC 7208 7.3) without caching, the ptr mechanism with: the
  // macro is part of the term that uses it, not a term.
  const bool p_macro = type == ns_t_ptr && !should_cache;
  const bool term = ev.counting && !follow_up && !p_macro && type != ns_t_txt;
  if (!within_limits(ev, term, nullptr)) return make_rr(server, domain, type, TRY_AGAIN);

  DnsAnswer answer;
  answer.status = DnsAnswer::Status::nxdomain;
  if (dns_name(name)) answer = ev.query(name, static_cast<RrType>(type));
  if (answer.status == DnsAnswer::Status::error || answer.status == DnsAnswer::Status::timeout) {
    // RFC 7208 5.5: a name of the PTR answer whose address lookup fails is skipped (libspf2
    // would end the evaluation with temperror).
    if (follow_up && ev.follow_ptr) return make_rr(server, domain, type, NO_DATA);
    if (ev.dns_error.empty()) ev.dns_error = std::string(failure(answer.status)) + " for " + name;
    return make_rr(server, domain, type, TRY_AGAIN);
  }
  if (!within_limits(ev, term, &answer)) return make_rr(server, domain, type, TRY_AGAIN);
  if (type == ns_t_mx || type == ns_t_ptr) {
    // RFC 7208 4.6.4: more than 10 MX records are a permerror of the mx mechanism; names past
    // the 10th PTR record are ignored (libspf2 would make that a permerror too).
    if (type == ns_t_mx && answer.records.size() > kMaxAddressLookups && ev.counting) {
      ev.limit = "more than 10 MX records at " + name + " (RFC 7208 4.6.4)";
      return make_rr(server, domain, type, TRY_AGAIN);
    }
    if (answer.records.size() > kMaxAddressLookups) answer.records.resize(kMaxAddressLookups);
    ev.follow_ups = answer.records;
    ev.follow_next = 0;
    ev.follow_any = any_address;
    ev.follow_ptr = type == ns_t_ptr;
  }
  // A CIDR length of 0: every address of the name matches, so the client's own stands for them.
  if (address_type(type) && !answer.records.empty() &&
      (any_address || (follow_up && ev.follow_any)))
    answer.records = {ev.client_address};
  if (answer.status == DnsAnswer::Status::nxdomain)
    return make_rr(server, domain, type, HOST_NOT_FOUND);
  if (answer.records.empty()) return make_rr(server, domain, type, NO_DATA);
  return make_rr(server, domain, type, NETDB_SUCCESS, answer.records, answer.ttl);
}

// What a term will look up when libspf2 reaches it, asked at once (Resolver::prefetch) so the
// lookups of a record run concurrently instead of one after the other (issue 13 point 4); the
// evaluation then finds them answered. Not the record's first DNS term (libspf2 asks for it next
// anyway: a prefetch would only cost a round trip to the resolver), only literal domains (a macro
// needs the evaluation), at most kMaxDnsTerms per evaluation; the limits count as before.
void prefetch_terms(Evaluation& ev, const PreparedRecord& record, const std::string& domain,
                    bool ipv6) {
  bool first = true;
  for (const auto& term : record.terms) {
    if (ev.prefetched >= kMaxDnsTerms) return;
    std::string text = term.original;
    if (!text.empty() && std::strchr("+-~?", text[0]) != nullptr) text.erase(0, 1);
    const size_t end = text.find_first_of(":=/");
    const std::string name = lower(text.substr(0, end));
    std::string target =
        end != std::string::npos && text[end] != '/' ? text.substr(end + 1) : domain;
    target = without_final_dot(target.substr(0, target.find('/')));
    RrType type;
    if (name == "include" || name == "redirect")
      type = RrType::txt;
    else if (name == "a")
      type = ipv6 ? RrType::aaaa : RrType::a;
    else if (name == "mx")
      type = RrType::mx;
    else if (name == "exists" || name == "ptr")
      type = RrType::a;
    else
      continue;
    if (std::exchange(first, false) || name == "ptr") continue;
    if (target.find('%') != std::string::npos || !dns_name(target)) continue;
    ev.resolver.prefetch(target, type);
    ++ev.prefetched;
  }
}

// The record fetch of check_host() (RFC 7208 4.4, 4.5) for the checked domain and for each
// include and redirect, in place of libspf2's own (which also asks for type SPF and keeps
// "v=spf1" records libspf2 cannot evaluate as RFC 7208 says).
SPF_errcode_t get_spf(SPF_server_t* spf_server, SPF_request_t* request, SPF_response_t* response,
                      SPF_record_t** recordp) {
  Evaluation& ev = evaluation_of(spf_server->resolver);
  *recordp = nullptr;
  const std::string domain = without_final_dot(request->cur_dom ? request->cur_dom : "");
  const bool top = !ev.top_fetched;
  ev.top_fetched = true;
  ev.follow_ups.clear();
  if (!ev.limit.empty()) return SPF_E_DNS_ERROR;
  if (!within_limits(ev, !top && ev.counting, nullptr))
    return SPF_E_DNS_ERROR;  // include, redirect
  if (!dns_name(domain)) return SPF_E_NOT_SPF;
  const DnsAnswer answer = ev.query(domain, RrType::txt);
  if (answer.status == DnsAnswer::Status::error || answer.status == DnsAnswer::Status::timeout) {
    if (ev.dns_error.empty()) ev.dns_error = std::string(failure(answer.status)) + " for " + domain;
    return SPF_E_DNS_ERROR;
  }
  std::string record;
  const int found =
      answer.status == DnsAnswer::Status::ok ? select_record(answer.records, record) : 0;
  if (found == 0) {
    if (!top && ev.permanent.empty()) ev.permanent = "no SPF record at " + domain;
    return SPF_E_NOT_SPF;
  }
  if (found > 1) {
    if (ev.permanent.empty()) ev.permanent = "several SPF records at " + domain;
    return SPF_E_MULTIPLE_RECORDS;
  }
  std::string error;
  PreparedRecord prepared;
  if (!prepare_record(record, request->client_ver == AF_INET6, prepared, error)) {
    if (ev.permanent.empty()) ev.permanent = error + " in the record of " + domain;
    return SPF_E_SYNTAX;
  }
  const SPF_errcode_t err =
      SPF_record_compile(spf_server, response, recordp, prepared.text.c_str());
  if (err != SPF_E_SUCCESS) {
    if (ev.permanent.empty())
      ev.permanent = std::string(SPF_strerror(err)) + " in the record of " + domain;
    return err;
  }
  if (ev.counting) prefetch_terms(ev, prepared, domain, request->client_ver == AF_INET6);
  if (top) ev.top = std::move(prepared);
  return SPF_E_SUCCESS;
}

// The explanation (RFC 7208 6.2) is not part of the verdict: no lookup is spent on it.
SPF_errcode_t get_exp(SPF_server_t*, const char*, char** bufp, size_t* buflenp) {
  if (*bufp == nullptr || *buflenp < 1) {
    char* buffer = static_cast<char*>(std::realloc(*bufp, 1));
    if (buffer == nullptr) return SPF_E_NO_MEMORY;
    *bufp = buffer;
    *buflenp = 1;
  }
  (*bufp)[0] = '\0';
  return SPF_E_SUCCESS;
}

}  // namespace

DnsAnswer Evaluation::query(const std::string& name, RrType type) {
  const auto key = std::make_pair(lower(name), static_cast<int>(type));
  auto found = memo.find(key);
  if (found != memo.end()) return found->second;
  DnsAnswer answer = resolver.query(name, type, deadline);
  memo.emplace(key, answer);
  return answer;
}

DnsLayer::DnsLayer(Evaluation& evaluation) {
  server_.destroy = nullptr;  // owned here, not by the SPF_server_t
  server_.lookup = lookup;
  server_.get_spf = get_spf;
  server_.get_exp = get_exp;
  server_.add_cache = nullptr;
  server_.layer_below = nullptr;
  server_.name = "smtp-bridge";
  server_.debug = 0;
  server_.hook = &evaluation;
}

}  // namespace mailauth::spf_detail
