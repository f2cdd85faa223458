// Registers the inbound SMTP server's metric families (the one list of them, see metrics.h).
// Names follow Prometheus conventions: smtp_bridge_smtp_*, counters end in _total.
#include "smtp/metrics.h"

namespace smtp {

Metrics::Metrics(obs::Registry& registry)
    : connections(registry.counter("smtp_bridge_smtp_connections_total",
                                   "SMTP connections accepted, per listener.")),
      connections_active(
          registry.gauge("smtp_bridge_smtp_connections_active", "SMTP connections currently open.")
              .add({})),
      connections_rejected(registry.counter(
          "smtp_bridge_smtp_connections_rejected_total",
          "SMTP connections refused with 421 at connect, per reason (a connection limit, "
          "shutting down).")),
      sessions(registry.counter("smtp_bridge_smtp_sessions_total",
                                "SMTP sessions ended, per outcome (quit, disconnected, timeout, "
                                "shutdown, too_many_errors, protocol_violation, tls_failed, "
                                "error).")),
      session_seconds(registry
                          .histogram("smtp_bridge_smtp_session_seconds",
                                     "Duration of SMTP sessions, connect to close, in seconds.",
                                     {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900})
                          .add({})),
      messages_accepted(registry
                            .counter("smtp_bridge_smtp_messages_accepted_total",
                                     "Messages committed to the store and answered 250.")
                            .add({})),
      message_size(
          registry
              .histogram("smtp_bridge_smtp_message_size_bytes",
                         "Size of the accepted messages as stored (with the Received "
                         "header the bridge adds), in bytes.",
                         {1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864})
              .add({})),
      messages_rejected(registry.counter("smtp_bridge_smtp_messages_rejected_total",
                                         "Transactions refused after DATA/BDAT, per reason.")),
      recipients_rejected(registry.counter("smtp_bridge_smtp_recipients_rejected_total",
                                           "RCPT commands refused, per reason.")),
      received_bytes(registry
                         .counter("smtp_bridge_smtp_received_bytes_total",
                                  "Message bytes received in DATA and BDAT (after unstuffing).")
                         .add({})),
      tls_handshakes(registry.counter("smtp_bridge_smtp_tls_handshakes_total",
                                      "TLS handshakes (STARTTLS and implicit TLS), per result.")),
      auth(registry.counter("smtp_bridge_smtp_auth_total",
                            "SMTP AUTH attempts, per mechanism and result (throttled: refused "
                            "454 4.7.0 after too many failures from the address).")),
      commands_rejected(
          registry.counter("smtp_bridge_smtp_commands_rejected_total",
                           "Commands refused (syntax, sequence, policy), per reason.")),
      tls_reloads(registry.counter("smtp_bridge_smtp_tls_reloads_total",
                                   "Certificate reloads after smtp.tls files changed, per result "
                                   "(failure: the old pair stays in service).")),
      tls_certificate_expiry(
          registry.gauge("smtp_bridge_smtp_tls_certificate_expiry_timestamp_seconds",
                         "notAfter of the SMTP server certificate in service, as a Unix time.")) {}

}  // namespace smtp
