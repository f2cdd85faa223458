// The inbound SMTP server's metrics, declared once in one list (STYLE.md "Metrics"): every
// family is registered in metrics.cpp from this struct, and nowhere else in smtp/.
// Labelled families are kept as families; unlabelled series are resolved once.
#pragma once
#include <string>

#include "obs/metrics.h"

namespace smtp {

struct Metrics {
  explicit Metrics(obs::Registry& registry);

  obs::Family<obs::Counter>& connections;  // {listener="smtp"|"smtps"}
  obs::Gauge& connections_active;
  obs::Family<obs::Counter>& connections_rejected;  // {reason="max_connections"|
                                                    //  "max_connections_per_ip"|"shutting_down"}
  obs::Family<obs::Counter>& sessions;              // {outcome}, see session_ended()
  obs::Histogram& session_seconds;
  obs::Counter& messages_accepted;
  obs::Histogram& message_size;  // accepted messages as stored (with the Received header)
  obs::Family<obs::Counter>& messages_rejected;  // {reason="too_big"|"line_too_long"|"bare_lf"|...}
  obs::Family<obs::Counter>& recipients_rejected;  // {reason="unknown"|"too_many"|"syntax"|...}
  obs::Counter& received_bytes;
  obs::Family<obs::Counter>& tls_handshakes;     // {result="success"|"failure"}
  obs::Family<obs::Counter>& auth;               // {mechanism, result}, result "throttled":
                                                 // 454 4.7.0 by smtp.auth.max_failures
  obs::Family<obs::Counter>& commands_rejected;  // {reason}
  obs::Family<obs::Counter>& tls_reloads;        // {result="success"|"failure"}
  // notAfter of the certificate in service; no series at all without smtp.tls.
  obs::Family<obs::Gauge>& tls_certificate_expiry;

  void message_rejected(const std::string& reason) {
    messages_rejected.add({{"reason", reason}}).inc();
  }
  void recipient_rejected(const std::string& reason) {
    recipients_rejected.add({{"reason", reason}}).inc();
  }
  void command_rejected(const std::string& reason) {
    commands_rejected.add({{"reason", reason}}).inc();
  }
  void tls_handshake(bool ok) {
    tls_handshakes.add({{"result", ok ? "success" : "failure"}}).inc();
  }
  // outcome: quit, disconnected, timeout, shutdown, too_many_errors, protocol_violation,
  // tls_failed, error.
  void session_ended(const std::string& outcome, double seconds) {
    sessions.add({{"outcome", outcome}}).inc();
    session_seconds.observe(seconds);
  }
  void tls_reload(bool ok) { tls_reloads.add({{"result", ok ? "success" : "failure"}}).inc(); }
  void auth_attempt(const std::string& mechanism, const std::string& result) {
    auth.add({{"mechanism", mechanism}, {"result", result}}).inc();
  }
};

}  // namespace smtp
