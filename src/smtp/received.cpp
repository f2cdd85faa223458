// Builds the store row for an accepted transaction: Received: header (RFC 5321 4.4, RFC 3848
// protocol names), envelope JSON (CONTRACTS.md 1, passwords never included) and deliveries.
// Promise: the message bytes are kept exactly as received; only the header is prepended.
#include "smtp/received.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/return_path.h"
#include "common/time.h"

namespace smtp {

// RFC 3848 2 (ESMTP, ESMTPS, ESMTPA, ESMTPSA) and RFC 6531 3.7.3: a transaction that used
// SMTPUTF8 is UTF8SMTP, with the same S and A suffixes (IANA "WITH protocol types").
std::string protocol_name(const Envelope& envelope) {
  if (!envelope.esmtp) return "SMTP";
  std::string name = envelope.mail.smtputf8 ? "UTF8SMTP" : "ESMTP";
  if (envelope.tls) name += "S";
  if (envelope.auth_user) name += "A";
  return name;
}

std::string received_header(const Envelope& envelope, std::chrono::system_clock::time_point when) {
  // RFC 5321 4.4: FROM clause with the EHLO name and the TCP-info, BY, WITH, ID, FOR.
  std::string header = "Received: from " + envelope.helo + " ([" + envelope.client_ip + "])\r\n";
  header += "\tby " + envelope.hostname + " (smtp-bridge) with " + protocol_name(envelope) +
            " id " + envelope.id;
  if (envelope.rcpts.size() == 1) {
    // Only with one recipient: naming several would disclose Bcc recipients to each other.
    header += "\r\n\tfor " + envelope.rcpts.front().address + "; ";
  } else {
    header += ";\r\n\t";
  }
  header += common::rfc5322_date(when) + "\r\n";
  return header;
}

namespace {

std::string lower(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

// `size` is what the client declared with SIZE= (RFC 1870), null when it declared nothing: the
// stored size, Received header included, is message.size.
nlohmann::json params_json(const Envelope& envelope) {
  const MailFrom& mail = envelope.mail;
  nlohmann::json params = {{"size", mail.size ? nlohmann::json(*mail.size) : nlohmann::json()},
                           {"body", mail.body.empty() ? std::string("7BIT") : mail.body},
                           {"smtputf8", mail.smtputf8}};
  // RFC 3461 DSN parameters: stored even though the bridge does not act on them.
  for (const char* key : {"RET", "ENVID"}) {
    auto it = mail.params.find(key);
    if (it != mail.params.end()) params[lower(key)] = it->second;
  }
  nlohmann::json rcpt = nlohmann::json::object();
  for (const RcptTo& to : envelope.rcpts) {
    nlohmann::json entry = nlohmann::json::object();
    for (const auto& [key, value] : to.params)
      if (key == "NOTIFY" || key == "ORCPT") entry[lower(key)] = value;
    if (!entry.empty()) rcpt[to.address] = entry;
  }
  if (!rcpt.empty()) params["rcpt"] = rcpt;
  return params;
}

}  // namespace

std::string envelope_json(const Envelope& envelope) {
  nlohmann::json rcpt_to = nlohmann::json::array();
  for (const RcptTo& to : envelope.rcpts) rcpt_to.push_back(to.address);
  nlohmann::json doc = {
      {"mail_from", envelope.mail.address},
      {"rcpt_to", rcpt_to},
      {"params", params_json(envelope)},
      {"helo", envelope.helo},
      {"client", {{"ip", envelope.client_ip}, {"port", envelope.client_port}}},
      {"tls", nullptr},
      {"auth", nullptr},
  };
  if (envelope.tls)
    doc["tls"] = {{"version", envelope.tls->version}, {"cipher", envelope.tls->cipher}};
  if (envelope.auth_user) doc["auth"] = *envelope.auth_user;
  // The inbound checks' verdicts (ARCHITECTURE.md "Runtime"); null when not run.
  doc["authentication"] = nullptr;
  doc["spam"] = nullptr;
  if (!envelope.authentication_json.empty())
    doc["authentication"] = nlohmann::json::parse(envelope.authentication_json, nullptr, false);
  if (!envelope.spam_json.empty())
    doc["spam"] = nlohmann::json::parse(envelope.spam_json, nullptr, false);
  // Addresses and EHLO names may carry bytes that are not UTF-8 only if the parsers let them
  // through; replace rather than throw.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<store::Delivery> deliveries_for(const std::vector<config::Route>& routes,
                                            const std::vector<std::string>& rcpt_to) {
  std::vector<store::Delivery> result;
  for (config::RouteGroup& group : config::group_by_endpoint(routes, rcpt_to))
    result.push_back(store::Delivery{routes[group.route].endpoints[group.endpoint].url,
                                     std::move(group.rcpt_to)});
  return result;
}

bool is_return_path(const config::Relay& relay, std::string_view address) {
  return !relay.return_path_domain.empty() &&
         common::parse_return_path(address, relay.return_path_domain, relay.return_path_secrets);
}

store::InboundMessage make_inbound(const Envelope& envelope, std::string message,
                                   const std::vector<config::Route>& routes,
                                   const config::Relay& relay) {
  auto now = std::chrono::system_clock::now();
  store::InboundMessage inbound;
  inbound.id = envelope.id;
  inbound.received_at_ms = common::unix_ms(now);
  inbound.mail_from = envelope.mail.address;
  for (const RcptTo& to : envelope.rcpts) inbound.rcpt_to.push_back(to.address);
  // The bytes stay in memory until delivered: into a buffer of their exact size when the
  // received one (grown by doubling) lacks room for the header or has much room left, else the
  // header is inserted in place.
  std::string header = envelope.trace_header + received_header(envelope, now);
  size_t size = header.size() + message.size();
  if (message.capacity() < size || message.capacity() - size > size / 4) {
    inbound.data.reserve(size);
    inbound.data.append(header).append(message);
    std::string().swap(message);
  } else {
    message.insert(0, header);
    inbound.data = std::move(message);
  }
  inbound.envelope_json = envelope_json(envelope);
  std::vector<std::string> routed, bounces;
  for (const std::string& rcpt : inbound.rcpt_to)
    (is_return_path(relay, rcpt) ? bounces : routed).push_back(rcpt);
  inbound.deliveries = deliveries_for(routes, routed);
  if (!bounces.empty())
    inbound.deliveries.push_back(
        store::Delivery{std::string(common::kBounceEndpoint), std::move(bounces)});
  return inbound;
}

}  // namespace smtp
