// One upstream SMTP client connection (SMTP.md "Outbound client"): connect, implicit TLS or
// STARTTLS (required: never a silent plaintext fallback), EHLO (HELO only after a 5xx), SASL
// AUTH, then any number of transactions with per-recipient replies, RSET between, QUIT.
// Internal to src/relay/ (Asio in the interface); relay.cpp pools these.
#pragma once
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace relay {

using Duration = std::chrono::steady_clock::duration;

// RFC 5321 4.5.3.2 timeouts.
struct Timeouts {
  Duration connect = std::chrono::seconds(30);
  Duration greeting = std::chrono::minutes(5);
  Duration command = std::chrono::minutes(5);  // EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT
  Duration data_init = std::chrono::minutes(2);
  Duration data_block = std::chrono::minutes(3);
  Duration data_end = std::chrono::minutes(10);
};

struct ClientOptions {
  std::string host;  // name or IP; also the SNI name and the name the certificate must match
  uint16_t port = 587;
  config::UpstreamTls tls = config::UpstreamTls::starttls;
  std::string ehlo_name;           // relay.hostname (default: the host name)
  std::string mechanism = "auto";  // auto | plain | login | cram-md5 | xoauth2
  std::string username;            // "" = no AUTH
  std::string password;            // xoauth2: the bearer token
  Timeouts timeouts;
};

// The client TLS context: TLS 1.2+, verify against the system store or `ca_file` when `verify`.
// nullptr + error when ca_file cannot be read.
std::shared_ptr<asio::ssl::context> make_client_tls(bool verify, const std::string& ca_file,
                                                    std::string& error);

// One reply of the upstream, or a local failure (code 0: connection refused, TLS failure,
// timeout, connection closed; `text` says which).
struct Reply {
  int code = 0;
  std::string enhanced;  // "4.7.0" (RFC 3463), "" when absent
  std::string text;      // the lines' texts joined with "; "
  bool positive() const { return code >= 200 && code < 400; }
  bool permanent() const { return code >= 500; }
  // 421, 454 and 4.7.x (throttling, RFC 3463 / provider practice): slow down.
  bool throttling() const;
};

struct Capabilities {
  bool esmtp = false;
  bool pipelining = false, starttls = false, smtputf8 = false, eightbitmime = false;
  uint64_t size = 0;              // SIZE limit; 0 = none announced
  std::vector<std::string> auth;  // mechanisms, upper-case
  bool size_announced = false;    // SIZE offered (possibly without a limit): SIZE= may be sent
  // The session, not the server: over TLS (implicit or after STARTTLS), and the SASL
  // mechanism that authenticated it ("" = none).
  bool tls = false;
  std::string auth_used;
};

struct Envelope {
  std::string mail_from;
  std::vector<std::string> rcpt_to;
};

// A transaction's outcome: per recipient, the reply that decides it. A recipient refused at
// RCPT has its RCPT reply; an accepted one has the final reply to the data (RFC 5321 4.2.5);
// when the session failed before that (connection lost, MAIL refused, timeout), every
// recipient has that failure's reply. 2xx = sent, 5xx = failed, anything else = try again.
struct SendResult {
  std::vector<Reply> recipients;   // parallel to Envelope::rcpt_to
  bool connection_usable = false;  // the session may carry another transaction
  bool throttled = false;          // some reply asked us to slow down (421, 454, 4.7.x)
};

class Client {
 public:
  // Connects and readies the session (TLS, EHLO, AUTH). nullptr + `failure` when that fails;
  // `failure` is the upstream's reply (e.g. 535 for bad credentials) or a local one (code 0).
  static asio::awaitable<std::unique_ptr<Client>> open(asio::any_io_executor executor,
                                                       const ClientOptions& options,
                                                       asio::ssl::context& tls, Reply& failure);
  ~Client();

  // One transaction: MAIL FROM (SIZE=, SMTPUTF8, BODY=8BITMIME as needed and offered), RCPT
  // for each recipient (pipelined when offered), DATA with dot-stuffing (RFC 5321 4.5.2).
  // A message over the announced SIZE, or needing SMTPUTF8/8BITMIME the server does not offer,
  // fails every recipient with a local 5xx reply and sends nothing.
  asio::awaitable<SendResult> send(const Envelope& envelope, std::string_view data);
  // RSET between transactions; false when the session is no longer usable.
  asio::awaitable<bool> reset();
  // QUIT and close; never throws.
  asio::awaitable<void> quit();

  const Capabilities& capabilities() const;
  bool usable() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relay
