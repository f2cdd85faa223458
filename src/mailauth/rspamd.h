// The rspamd client (issue 13 point 5): one message and its SMTP envelope POSTed to rspamd's
// /checkv2, its JSON answer read back as an mailauth::SpamVerdict. Blocking; safe to call from
// several threads at once; the whole call is bounded by the timeout, and every failure is a value.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailauth/verdicts.h"

namespace mailauth {

struct RspamdOptions {
  std::string url;  // "http://127.0.0.1:11333" (spam.rspamd.url, checked at load)
  std::chrono::milliseconds timeout{2000};  // connect, send, scan and answer, all together
};

// What rspamd is told besides the message (its protocol's request headers).
struct SpamRequest {
  std::string_view message;  // the message as received (RFC 5322 bytes)
  std::string client_ip;     // IP: the SMTP client's address
  std::string helo;          // Helo: what it said in EHLO/HELO
  std::string mail_from;     // From: the MAIL FROM address ("" for the null reverse-path <>)
  // MTA-Name: the bridge's own name (smtp.hostname). Not sent as rspamd's `Hostname`, which
  // means the client's reverse-DNS name: the bridge does not look that up.
  std::string hostname;
  std::string queue_id;              // Queue-Id: the message's id, to match rspamd's log line
  std::vector<std::string> rcpt_to;  // one Rcpt per envelope recipient
  std::optional<std::string> user;   // User: the SASL identity when the session authenticated
};

// Scans one message. status "scanned" with score, required_score, action and symbols (at most
// 100: the largest by |score|), or "unavailable" with reason "unreachable" (no connection, TLS
// failure), "timeout" (`timeout` ran out), "http_<status>" (not 200) or "bad_response" (not
// rspamd's JSON, or an answer over 1 MiB).
SpamVerdict check_rspamd(const RspamdOptions& options, const SpamRequest& request);

}  // namespace mailauth
