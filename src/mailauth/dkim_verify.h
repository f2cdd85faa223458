// Inbound DKIM verification (RFC 6376; ed25519-sha256, RFC 8463) with OpenDKIM's libopendkim:
// one verdict per DKIM-Signature field of the message, in header order. Public keys are looked
// up through mailauth::Resolver (every signature's key is prefetched as soon as the header section
// is read, so the lookups overlap the body hashing) within the message's deadline. The sender
// controls the signature fields, so the work is bounded: at most `max_signatures` are verified.
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

#include "mailauth/resolver.h"
#include "mailauth/verdicts.h"

namespace mailauth {

struct DkimLimits {
  // Signatures verified per message, from the top; the next ones (at most as many again) are
  // listed as permerror "too many signatures", any further ones are not listed.
  size_t max_signatures = 10;
  // A DKIM-Signature field longer than this is not given to libopendkim (permerror): its h= list
  // is matched against every header field for each name it lists.
  size_t max_signature_bytes = 8192;
  // Header fields given to libopendkim; a message with more gets permerror for every signature
  // (each signature's h= list is matched against all of them).
  size_t max_header_fields = 1000;
};

// RSA keys smaller than this fail (RFC 8301 3.2), with libopendkim's DKIM_OPTS_MINKEYBITS.
constexpr unsigned kMinRsaKeyBits = 1024;

// An empty vector when the message has no DKIM-Signature field. Never throws on any input.
std::vector<DkimVerdict> verify_dkim(Resolver& resolver, std::string_view message,
                                     Deadline deadline, const DkimLimits& limits = {});

}  // namespace mailauth
