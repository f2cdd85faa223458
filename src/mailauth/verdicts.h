// What the inbound checks found about one message (issue 13, points 1 and 5): plain values that
// the authenticator turns into bridge.v1's `authentication` and `spam` objects and into the
// Authentication-Results header (RFC 8601). Result words are RFC 8601's (lower case).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mailauth {

// RFC 7208 2.6 results: pass fail softfail neutral none temperror permerror.
struct SpfVerdict {
  std::string result = "none";
  std::string identity;   // "mailfrom" or "helo" (RFC 7208 2.3, 2.4)
  std::string domain;     // the domain whose record was evaluated ("" when none could be)
  std::string sender;     // the identity as checked: "user@domain" (postmaster@helo for <>)
  std::string mechanism;  // the mechanism that matched ("ip4:192.0.2.0/24", "-all"); "" = default
  std::string reason;     // why, for temperror / permerror / none ("" otherwise)
};

struct SpfVerdicts {
  SpfVerdict mailfrom;
  SpfVerdict helo;
};

// One DKIM-Signature (RFC 6376) and what verifying it gave: pass fail neutral temperror
// permerror policy (RFC 8601 2.7.1).
struct DkimVerdict {
  std::string result = "neutral";
  std::string domain;              // d=
  std::string selector;            // s=
  std::string algorithm;           // a= ("rsa-sha256", "ed25519-sha256")
  std::string canonicalization;    // c= ("relaxed/simple")
  std::optional<uint64_t> length;  // l= when present (the body beyond it is not covered)
  unsigned key_bits = 0;           // the public key's size (0 when no key was found)
  std::string identity;            // i= or "@" + d=
  std::string b;                   // the first 8 characters of b= (RFC 6008 header.b)
  std::string reason;              // why it failed ("" on pass)
};

// RFC 7489: result pass fail none temperror permerror.
struct DmarcVerdict {
  std::string result = "none";
  std::string from_domain;            // the RFC5322.From domain ("" when none or several)
  std::string organizational_domain;  // RFC 7489 3.2
  std::string policy;                 // p= (or sp= when it applied); "" when no record
  std::string subdomain_policy;       // sp= as published ("" when absent)
  std::string alignment_spf = "r";    // aspf=
  std::string alignment_dkim = "r";   // adkim=
  unsigned pct = 100;
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string disposition = "none";  // what the bridge would apply: none quarantine reject
  std::string reason;                // for temperror / permerror / none
};

// rspamd's /checkv2 answer (point 5).
struct SpamSymbol {
  std::string name;
  double score = 0;
};
struct SpamVerdict {
  // "scanned" with the fields below, or "unavailable" (rspamd unreachable, slow or answering
  // garbage: `reason` says which), in which case the other fields are empty.
  std::string status = "scanned";
  double score = 0;
  double required_score = 0;
  std::string
      action;  // "no action" "greylist" "add header" "rewrite subject" "soft reject" "reject"
  std::vector<SpamSymbol> symbols;
  std::string reason;
};

}  // namespace mailauth
