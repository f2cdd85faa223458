// Runs the inbound checks of one message before its 250 (issue 13): SPF, DKIM (then DMARC on
// both) and rspamd, concurrently on a pool of worker threads, within the message's DNS budget
// (dns.budget) and rspamd's timeout. The SMTP session never blocks: `done` is called on a worker
// thread, and the session posts it back to its own. No Asio or HTTP in this header.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "mailauth/report.h"
#include "obs/metrics.h"

namespace mailauth {

class Resolver;

struct CheckInput {
  std::shared_ptr<const std::string> message;  // as received (no Received: yet)
  std::string client_ip;
  std::string helo;
  std::string mail_from;  // "" = null reverse-path
  std::vector<std::string> rcpt_to;
  std::optional<std::string> user;  // SMTP AUTH identity
  std::string queue_id;             // the message id the 250 will name
};

class Authenticator {
 public:
  // nullptr and `error` when the resolver cannot be set up (dns.servers). Only made when
  // authentication.enabled or spam.rspamd.url is set.
  static std::unique_ptr<Authenticator> make(const config::Config& config,
                                             const std::string& hostname, obs::Registry& metrics,
                                             std::string& error);
  // Registers the checks' metric families, so that /metrics lists them whether or not the
  // checks are on (the same families Authenticator::make uses).
  static void declare_metrics(obs::Registry& metrics);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Starts the checks; `done` runs once on a worker thread with every verdict.
  void check(CheckInput input, std::function<void(Verdicts)> done);
  // Counts a decision the session took on the verdicts (smtp_bridge_auth_decisions_total).
  void count_decision(const Decision& decision);

 private:
  struct Impl;
  explicit Authenticator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailauth
