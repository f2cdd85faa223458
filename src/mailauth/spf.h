// Inbound SPF (RFC 7208; issue 13 point 1): check_host() for the MAIL FROM and HELO identities of
// a message, evaluated by libspf2 with its DNS answered by mailauth::Resolver, so all lookups share
// the message's deadline. Thread-safe: each check has its own libspf2 server.
#pragma once
#include <string>

#include "mailauth/resolver.h"
#include "mailauth/verdicts.h"

namespace mailauth {

struct SpfQuery {
  std::string client_ip;  // "192.0.2.1", "2001:db8::1" (an IPv4-mapped IPv6 address counts as IPv4)
  std::string helo;       // the EHLO/HELO argument as sent
  std::string mail_from;  // the reverse-path without <>; "" = the null reverse-path
};

// check_host() (RFC 7208 4) of `sender` ("local@domain"; "@domain" and "domain" mean
// postmaster@domain) for the client address; `identity` is "mailfrom" or "helo" and only
// labels the verdict. `helo` feeds the %{h} macro. Never throws; every failure is a result
// (temperror when the deadline passes first).
SpfVerdict check_spf_identity(Resolver& resolver, const std::string& client_ip,
                              const std::string& helo, const std::string& sender,
                              const std::string& identity, Deadline deadline);

// Both identities: HELO (RFC 7208 2.3: "none" without a lookup when the HELO is an address
// literal or not a domain name) and MAIL FROM (2.4: postmaster@HELO for the null reverse-path).
SpfVerdicts check_spf(Resolver& resolver, const SpfQuery& query, Deadline deadline);

}  // namespace mailauth
