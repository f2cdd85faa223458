// What the inbound checks' verdicts become (issue 13, points 2 and 3): the
// Authentication-Results header (RFC 8601) with its forged copies removed, the `authentication`
// and `spam` objects of bridge.v1, and the decision a policy takes on them. Pure functions.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "mailauth/verdicts.h"

namespace mailauth {

// Everything the checks found about one message.
struct Verdicts {
  bool authenticated = false;  // SPF, DKIM and DMARC ran (authentication.enabled)
  SpfVerdicts spf;
  std::vector<DkimVerdict> dkim;
  DmarcVerdict dmarc;
  std::optional<SpamVerdict> spam;  // set when spam.rspamd.url is
};

// "Authentication-Results: <authserv_id>; spf=... ; dkim=... ; dmarc=... ; arc=none\r\n",
// folded one result per line. Values a sender chose appear only when they are safe tokens.
std::string results_header(std::string_view authserv_id, const Verdicts& verdicts);

// Removes from the header section of `message` (in place) every Authentication-Results field
// whose authserv-id is `authserv_id` (case-insensitive): a sender must not forge our verdicts
// (RFC 8601 5). Returns how many were removed. Linear in the header section's size.
size_t remove_results_headers(std::string& message, std::string_view authserv_id);

// bridge.v1 "authentication" (null when not authenticated) and "spam" (null when not scanned),
// as JSON text.
std::string authentication_json(const Verdicts& verdicts);
std::string spam_json(const Verdicts& verdicts);

// The rules that apply to a message: the global policy with each recipient's route overrides,
// the strictest of them (a rule on for any recipient is on for the message, which gets one
// reply for all its recipients).
config::Policy policy_for(const config::Config& config, const std::vector<std::string>& rcpt_to);

struct Decision {
  enum class Kind { accept, reject, defer } kind = Kind::accept;
  std::string reason;  // metric label: spf_fail, dmarc_reject, dkim_required, temperror, spam...
  std::string text;    // the reply's text after the enhanced code
};
// What `policy` does with `verdicts`: 550 5.7.1 (reject), 451 4.7.0 (a needed verdict is a
// temperror and the policy defers) or 451 4.7.1 (rspamd unavailable, failing closed).
Decision decide(const Verdicts& verdicts, const config::Policy& policy, bool spam_fail_closed);

}  // namespace mailauth
