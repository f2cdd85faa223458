// check_spf / check_spf_identity (spf.h): the identity and the client address checked as RFC 7208
// 4.3 requires, then libspf2's SPF_server_get_record + SPF_record_interpret over the DNS layer of
// spf_dns.h (libspf2's SPF_request_query_mailfrom is not used: it passes every loopback client).
#include "mailauth/spf.h"

#include <arpa/inet.h>
#include <strings.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>

#include "mailauth/spf_dns.h"

namespace mailauth {

namespace {

using spf_detail::DnsLayer;
using spf_detail::Evaluation;

// libspf2 prints its warnings on stderr from any thread: they are not ours to print. Its fatal
// errors (broken internal invariants) still abort.
void quiet_libspf2() {
  static std::once_flag once;
  std::call_once(once, [] {
    SPF_warning_handler = nullptr;
    SPF_info_handler = nullptr;
    SPF_debug_handler = nullptr;
  });
}

struct ServerFree {
  void operator()(SPF_server_t* p) const { SPF_server_free(p); }
};
struct RequestFree {
  void operator()(SPF_request_t* p) const { SPF_request_free(p); }
};
struct ResponseFree {
  void operator()(SPF_response_t* p) const { SPF_response_free(p); }
};
struct RecordFree {
  void operator()(SPF_record_t* p) const { SPF_record_free(p); }
};
using Server = std::unique_ptr<SPF_server_t, ServerFree>;
using Request = std::unique_ptr<SPF_request_t, RequestFree>;
using Response = std::unique_ptr<SPF_response_t, ResponseFree>;
using Record = std::unique_ptr<SPF_record_t, RecordFree>;

// RFC 7208 4.3: a domain that is malformed or not multi-label gives "none" without a lookup.
// Empty or over-long labels, address literals ("[192.0.2.1]"), spaces and controls are malformed.
bool checkable_domain(const std::string& domain, std::string& reason) {
  std::string name = domain;
  if (!name.empty() && name.back() == '.') name.pop_back();
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f || c == '[' || c == ']' || c == '@') {
      reason = "\"" + domain + "\" is not a domain name";
      return false;
    }
  }
  size_t labels = 0, start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    if (dot == start || dot - start > 63) {
      reason = "\"" + domain + "\" has an empty or over-long label";
      return false;
    }
    ++labels;
    start = dot + 1;
  }
  if (labels < 2 || name.size() > 253) {
    reason = "\"" + domain + "\" is not a fully qualified domain name";
    return false;
  }
  return true;
}

// The client address for libspf2; an IPv4-mapped IPv6 address is the IPv4 client it stands for
// (RFC 4291 2.5.5.2), so ip4 mechanisms and A records apply to it.
bool set_client(SPF_request_t* request, const std::string& client_ip) {
  std::string text = client_ip;
  if (text.size() > 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (text.rfind("IPv6:", 0) == 0) text = text.substr(5);
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return SPF_request_set_ipv4(request, v4) == 0;
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4, &v6.s6_addr[12], sizeof(v4));
    return SPF_request_set_ipv4(request, v4) == 0;
  }
  return SPF_request_set_ipv6(request, v6) == 0;
}

const char* result_word(SPF_result_t result) {
  switch (result) {
    case SPF_RESULT_PASS:
      return "pass";
    case SPF_RESULT_FAIL:
      return "fail";
    case SPF_RESULT_SOFTFAIL:
      return "softfail";
    case SPF_RESULT_NEUTRAL:
      return "neutral";
    case SPF_RESULT_NONE:
      return "none";
    case SPF_RESULT_TEMPERROR:
      return "temperror";
    default:
      return "permerror";  // PERMERROR, and INVALID (never a valid outcome)
  }
}

// Which term of the checked domain's record decided a mechanism match: the terms are evaluated
// again one at a time, in order, until one matches (libspf2 does not say which one did). Every
// answer comes from the evaluation's memo: the replay makes no lookup.
std::string matched_term(SPF_server_t* server, SPF_request_t* request, Evaluation& ev,
                         const char* domain) {
  ev.counting = false;
  for (const auto& term : ev.top.terms) {
    Response response(SPF_response_new(request));
    SPF_record_t* compiled = nullptr;
    const std::string text = "v=spf1 " + term.rewritten;
    if (!response ||
        SPF_record_compile(server, response.get(), &compiled, text.c_str()) != SPF_E_SUCCESS) {
      if (compiled) SPF_record_free(compiled);
      continue;
    }
    Record record(compiled);
    request->cur_dom = domain;
    response->spf_record_exp = record.get();
    SPF_record_interpret(record.get(), request, response.get(), 0);
    if (SPF_response_reason(response.get()) == SPF_REASON_MECH) return term.original;
  }
  return "";
}

void evaluate(SpfVerdict& verdict, SPF_server_t* server, SPF_request_t* request, Evaluation& ev) {
  request->cur_dom = request->env_from_dp;
  Response response(SPF_response_new(request));
  if (!response) {
    verdict.result = "temperror";
    verdict.reason = "out of memory";
    return;
  }
  SPF_record_t* compiled = nullptr;
  const SPF_errcode_t err = SPF_server_get_record(server, request, response.get(), &compiled);
  Record record(compiled);
  if (!ev.limit.empty()) {
    verdict.result = "permerror";
    verdict.reason = ev.limit;
  } else if (err == SPF_E_DNS_ERROR) {
    verdict.result = "temperror";
    verdict.reason = ev.dns_error;
  } else if (err == SPF_E_NOT_SPF) {
    verdict.result = "none";
    verdict.reason = "no SPF record at " + verdict.domain;  // RFC 7208 4.5
  } else if (err != SPF_E_SUCCESS || !record) {
    verdict.result = "permerror";
    verdict.reason = !ev.permanent.empty() ? ev.permanent : SPF_strerror(err);
  }
  if (err != SPF_E_SUCCESS || !record) return;

  response->spf_record_exp = record.get();
  SPF_record_interpret(record.get(), request, response.get(), 0);
  const SPF_result_t result = SPF_response_result(response.get());
  verdict.result = ev.limit.empty() ? result_word(result) : "permerror";
  if (!ev.limit.empty()) {
    verdict.reason = ev.limit;
  } else if (result == SPF_RESULT_TEMPERROR) {
    verdict.reason =
        !ev.dns_error.empty() ? ev.dns_error : SPF_strerror(SPF_response_errcode(response.get()));
  } else if (result == SPF_RESULT_PERMERROR || result == SPF_RESULT_INVALID) {
    verdict.reason =
        !ev.permanent.empty() ? ev.permanent : SPF_strerror(SPF_response_errcode(response.get()));
  } else if (SPF_response_reason(response.get()) == SPF_REASON_MECH) {
    verdict.mechanism = matched_term(server, request, ev, request->env_from_dp);
  }
}

}  // namespace

SpfVerdict check_spf_identity(Resolver& resolver, const std::string& client_ip,
                              const std::string& helo, const std::string& sender,
                              const std::string& identity, Deadline deadline) {
  quiet_libspf2();
  SpfVerdict verdict;
  verdict.identity = identity;
  // RFC 7208 4.3: the domain follows the last "@"; no local-part means "postmaster".
  const size_t at = sender.rfind('@');
  std::string local = at == std::string::npos ? "" : sender.substr(0, at);
  verdict.domain = at == std::string::npos ? sender : sender.substr(at + 1);
  if (local.empty()) local = "postmaster";
  verdict.sender = local + "@" + verdict.domain;
  if (!checkable_domain(verdict.domain, verdict.reason)) return verdict;  // none

  Evaluation ev(resolver, deadline);
  DnsLayer layer(ev);
  Server server(SPF_server_new_dns(layer.server(), 0));
  Request request(server ? SPF_request_new(server.get()) : nullptr);
  if (!request) {
    verdict.result = "temperror";
    verdict.reason = "out of memory";
    return verdict;
  }
  if (!set_client(request.get(), client_ip)) {
    verdict.reason = "the client address \"" + client_ip + "\" is not an IP address";
    return verdict;  // none: there is nothing to check
  }
  char address[INET6_ADDRSTRLEN] = {0};
  if (request->client_ver == AF_INET6)
    inet_ntop(AF_INET6, &request->ipv6, address, sizeof address);
  else
    inet_ntop(AF_INET, &request->ipv4, address, sizeof address);
  ev.client_address = address;
  // env_from first: SPF_request_set_helo_dom would otherwise make the HELO the sender.
  if (SPF_request_set_env_from(request.get(), verdict.sender.c_str()) != 0 ||
      (!helo.empty() && SPF_request_set_helo_dom(request.get(), helo.c_str()) != SPF_E_SUCCESS)) {
    verdict.result = "temperror";
    verdict.reason = "out of memory";
    return verdict;
  }
  evaluate(verdict, server.get(), request.get(), ev);
  return verdict;
}

SpfVerdicts check_spf(Resolver& resolver, const SpfQuery& query, Deadline deadline) {
  SpfVerdicts verdicts;
  std::string reason;
  in6_addr scratch{};
  std::string helo = query.helo;
  const bool literal = (helo.size() > 2 && helo.front() == '[') ||
                       inet_pton(AF_INET, helo.c_str(), &scratch) == 1 ||
                       inet_pton(AF_INET6, helo.c_str(), &scratch) == 1;
  if (literal || !checkable_domain(helo, reason)) {
    // RFC 7208 2.3: only a HELO that is a domain name is checked.
    verdicts.helo.identity = "helo";
    verdicts.helo.domain = literal ? "" : helo;
    verdicts.helo.sender = "postmaster@" + helo;
    verdicts.helo.reason = literal ? "the HELO is an address literal" : reason;
  } else {
    // The MAIL FROM domain's record is asked for now, so that its lookup runs during the HELO
    // check instead of after it (issue 13 point 4).
    const std::string from_domain = query.mail_from.substr(query.mail_from.rfind('@') + 1);
    if (!query.mail_from.empty() && strcasecmp(from_domain.c_str(), helo.c_str()) != 0 &&
        checkable_domain(from_domain, reason))
      resolver.prefetch(from_domain, RrType::txt);
    verdicts.helo =
        check_spf_identity(resolver, query.client_ip, helo, "postmaster@" + helo, "helo", deadline);
  }
  // RFC 7208 2.4: for the null reverse-path, the MAIL FROM identity is postmaster@HELO; when
  // the HELO was checked, that is the same check and its answer.
  if (!query.mail_from.empty()) {
    verdicts.mailfrom =
        check_spf_identity(resolver, query.client_ip, helo, query.mail_from, "mailfrom", deadline);
  } else {
    verdicts.mailfrom = verdicts.helo;
    verdicts.mailfrom.identity = "mailfrom";
  }
  return verdicts;
}

}  // namespace mailauth
