// The DNS layer under libspf2 (internal to spf.cpp): libspf2's lookups answered by
// mailauth::Resolver within the message's deadline, and what libspf2 does not enforce of RFC 7208
// done here: the record selection (4.5), the 10-term and 2-void-lookup limits (4.6.4), redirect as
// a modifier (6.1).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mailauth/resolver.h"
#include "mailauth/spf_record.h"

extern "C" {
#include <netinet/in.h>  // spf.h uses in_addr without including it
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
}

namespace mailauth::spf_detail {

// RFC 7208 4.6.4.
inline constexpr int kMaxDnsTerms = 10;
inline constexpr int kMaxVoidLookups = 2;
inline constexpr size_t kMaxAddressLookups = 10;  // per mx / ptr term

// The state of one check_host() evaluation, reached from libspf2's callbacks through the DNS
// layer's hook. One per evaluation and thread: nothing here is shared.
struct Evaluation {
  Evaluation(Resolver& r, Deadline d) : resolver(r), deadline(d) {}

  Resolver& resolver;
  Deadline deadline;
  // Off while spf.cpp replays single terms to learn which one matched: the limits were already
  // applied by the evaluation itself, and the replay's lookups come from `memo`.
  bool counting = true;
  int terms = 0;          // DNS-querying terms evaluated (a mx ptr exists include redirect)
  int voids = 0;          // term lookups answered NXDOMAIN or with no record
  int prefetched = 0;     // names handed to Resolver::prefetch (at most kMaxDnsTerms)
  std::string limit;      // set once a limit is exceeded: the result is permerror, whatever follows
  std::string dns_error;  // the first lookup that failed or timed out (for temperror's reason)
  std::string permanent;  // the first record that could not be used (for permerror's reason)
  bool top_fetched = false;
  PreparedRecord top;          // the record of the checked domain, as evaluated
  std::string client_address;  // the client as libspf2 sees it (IPv4-mapped made IPv4)
  // The address lookups an mx or ptr term makes for the names it got, in libspf2's order: these
  // are part of their term, not new terms.
  std::vector<std::string> follow_ups;
  size_t follow_next = 0;
  bool follow_any = false;  // they are for a CIDR length of 0 (see kAnyAddressLabel)
  bool follow_ptr = false;  // they validate PTR names (ptr, %{p}): failures are skipped
  std::map<std::pair<std::string, int>, DnsAnswer> memo;  // (lower-case name, type) -> answer

  DnsAnswer query(const std::string& name, RrType type);
};

// libspf2's DNS layer bound to an Evaluation. Not copyable: libspf2 keeps its address.
class DnsLayer {
 public:
  explicit DnsLayer(Evaluation& evaluation);
  DnsLayer(const DnsLayer&) = delete;
  DnsLayer& operator=(const DnsLayer&) = delete;
  SPF_dns_server_t* server() { return &server_; }

 private:
  SPF_dns_server_t server_{};
};

}  // namespace mailauth::spf_detail
