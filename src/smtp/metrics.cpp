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
          "SMTP connections refused with 421 because a connection limit was reached.")),
      messages_accepted(registry
                            .counter("smtp_bridge_smtp_messages_accepted_total",
                                     "Messages committed to the store and answered 250.")
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
                            "SMTP AUTH attempts, per mechanism and result.")),
      commands_rejected(
          registry.counter("smtp_bridge_smtp_commands_rejected_total",
                           "Commands refused (syntax, sequence, policy), per reason.")) {}

}  // namespace smtp
