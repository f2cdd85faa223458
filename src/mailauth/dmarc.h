// DMARC (RFC 7489) of one message: the RFC5322.From domain, its policy record (_dmarc TXT of the
// From domain, else of its organizational domain, looked up through mailauth::Resolver within the
// message's deadline and parsed by OpenDMARC's libopendmarc), the alignment of the SPF (MAIL FROM)
// and DKIM pass results with the From domain, and the disposition the policy asks for.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "mailauth/resolver.h"
#include "mailauth/verdicts.h"

namespace mailauth {

// Debian's publicsuffix package: the list of public suffixes that gives the organizational
// domain (RFC 7489 3.2).
inline constexpr const char* kPublicSuffixFile = "/usr/share/publicsuffix/effective_tld_names.dat";

// Loads the public suffix list into libopendmarc, once per process (its library state is global,
// and its initialisation not thread-safe): the first call wins, later ones return its outcome.
// check_dmarc calls it with kPublicSuffixFile if nobody did before. Without a list (false and
// `error`), the organizational domain is the last two labels (the list's default rule "*").
bool init_dmarc(const std::string& public_suffix_file, std::string& error);

// The organizational domain of `domain` (lower case): the label below its public suffix.
std::string organizational_domain(const std::string& domain);

// Starts the lookups check_dmarc will make for `message` (the From domain's _dmarc record and
// its organizational domain's) without waiting, so that they overlap the other checks (DKIM).
void prefetch_dmarc(Resolver& resolver, std::string_view message);

// Never throws on any input. Result words (RFC 7489 11.2): pass (an aligned SPF or DKIM pass),
// fail (none; `disposition` is the policy after pct sampling), none (no record, or several:
// reason), temperror (the record lookup failed or timed out, or no aligned pass while an aligned
// identifier had a temperror), permerror (no single From domain, or an invalid record: reason).
DmarcVerdict check_dmarc(Resolver& resolver, std::string_view message,
                         const SpfVerdict& spf_mailfrom, const std::vector<DkimVerdict>& dkim,
                         Deadline deadline);

}  // namespace mailauth
