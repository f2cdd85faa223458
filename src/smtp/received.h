// What a finished SMTP transaction becomes in the Store: the Received: header the bridge
// prepends (RFC 5321 4.4), the envelope JSON (bridge.v1 "envelope", CONTRACTS.md 1) and the
// delivery rows (per route endpoint). Pure functions: no I/O, no Asio.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "smtp/address.h"
#include "store/store.h"

namespace smtp {

struct TlsInfo {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
};

// Everything known about one transaction when its data has been received.
struct Envelope {
  std::string id;        // UUIDv7, named in the 250 reply
  std::string hostname;  // ours
  std::string helo;      // the client's EHLO/HELO argument
  bool esmtp = true;     // EHLO (true) or HELO (false)
  std::string client_ip;
  uint16_t client_port = 0;
  std::optional<TlsInfo> tls;
  std::optional<std::string> auth_user;
  MailFrom mail;
  std::vector<RcptTo> rcpts;
  // The inbound checks' results (issue 13) as JSON text, bridge.v1's envelope.authentication
  // and envelope.spam; empty = not checked (null).
  std::string authentication_json;
  std::string spam_json;
  // Prepended above Received: (RFC 8601: the Authentication-Results header); may be empty.
  std::string trace_header;
};

// "SMTP", "ESMTP", "ESMTPS", "ESMTPA" or "ESMTPSA" (RFC 3848); "UTF8SMTP", "UTF8SMTPS",
// "UTF8SMTPA" or "UTF8SMTPSA" when MAIL carried SMTPUTF8 (RFC 6531 3.7.3).
std::string protocol_name(const Envelope& envelope);
// The Received: trace header, folded, ending in CRLF; "for" only with exactly one recipient.
std::string received_header(const Envelope& envelope, std::chrono::system_clock::time_point when);
// The envelope object as bridge.v1 shows it; params.size is the declared SIZE= (or null).
std::string envelope_json(const Envelope& envelope);
// One row per (route, endpoint) with the recipients whose first matching route it belongs to,
// in the order recipients were given. Recipients of routes without endpoints get no row.
std::vector<store::Delivery> deliveries_for(const std::vector<config::Route>& routes,
                                            const std::vector<std::string>& rcpt_to);
// True when `address` is a return path the relay signed (relay.return_path_domain, README
// "Bounces"): accepted at RCPT without a route, and handed to the bounce consumer.
bool is_return_path(const config::Relay& relay, std::string_view address);
// Assembles the store row: Received: header + `message` (moved), envelope, deliveries; the
// recipients that are return paths get one row for the bounce consumer
// (common::kBounceEndpoint) instead of their routes'.
store::InboundMessage make_inbound(const Envelope& envelope, std::string message,
                                   const std::vector<config::Route>& routes,
                                   const config::Relay& relay);

}  // namespace smtp
