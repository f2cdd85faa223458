// An SPF record made ready for libspf2 (internal to src/mailauth/spf*.cpp): selected (RFC
// 7208 4.5), checked against RFC 7208's grammar (12) as a whole before any term is evaluated (4.6),
// and rewritten into terms libspf2 evaluates as the RFC says where it does not on its own.
#pragma once
#include <string>
#include <vector>

namespace mailauth::spf_detail {

// A label appended to a domain-spec whose address records must all match: libspf2 cannot
// evaluate a CIDR length of 0 (it reads 0 as "none given"), so "a/0" becomes "a:%{d}.<label>"
// and the DNS layer answers such a name with the client's own address when the real name has
// any address (RFC 7208 5.6: /0 matches every address of the family).
inline constexpr const char* kAnyAddressLabel = "spf-bridge-any-address";

// RFC 7208 4.5: the one record of `txt` starting with "v=spf1" followed by a space or its end.
// Returns 0 (none), 1 (found, in `record`) or 2 (several: permerror).
int select_record(const std::vector<std::string>& txt, std::string& record);

struct PreparedRecord {
  struct Term {
    std::string original;   // as published ("ip4:192.0.2.0/24", "-all", "redirect=_spf.example")
    std::string rewritten;  // what libspf2 evaluates for it (space-separated terms, maybe several)
  };
  std::vector<Term> terms;  // in evaluation order: mechanisms, then the redirect modifier
  std::string text;         // "v=spf1 " + the rewritten terms: what libspf2 compiles
};

// The record checked and rewritten for a client of the given family, or false and `error`
// (permerror): any syntax error (4.6, 12); "redirect" or "exp" twice (6); characters outside
// printable ASCII (3.1). Rewritten: unknown modifiers and "exp" dropped (6: ignored; the
// explanation is not part of the verdict); "redirect" dropped when the record has an "all"
// mechanism (6.1), else put last (libspf2 would evaluate it where it stands); CIDR lengths of
// the other address family dropped and lengths of 0 rewritten (libspf2 rejects 0, 5.6).
bool prepare_record(const std::string& record, bool ipv6_client, PreparedRecord& out,
                    std::string& error);

}  // namespace mailauth::spf_detail
