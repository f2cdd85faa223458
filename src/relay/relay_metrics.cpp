// The relay's Prometheus metrics (metrics.h), one list here. The queue gauge is sampled through
// a collector that holds only a shared Sampler, detached when the relay goes away, so a
// render after the relay's destruction touches nothing freed.
#include <mutex>

#include "relay/metrics.h"

namespace relay {

struct Metrics::Sampler {
  std::mutex mutex;
  store::Store* store = nullptr;
};

namespace {
const char* const kStates[] = {"queued", "in_flight",  "deferred", "sent",
                               "failed", "suppressed", "bounced"};
}

Metrics::Metrics(obs::Registry& registry)
    : registry_(registry),
      messages_(registry.counter(
          "smtp_bridge_relay_messages_total",
          "Outbound message attempts by outcome (sent, deferred, failed, partial).")),
      recipients_(
          registry.counter("smtp_bridge_relay_recipients_total",
                           "Outbound recipient attempts by outcome (sent, deferred, failed).")),
      session_seconds_(registry
                           .histogram("smtp_bridge_relay_session_seconds",
                                      "Upstream SMTP transaction latency (MAIL to final reply).",
                                      obs::latency_buckets())
                           .add({})),
      pool_connections_(registry
                            .gauge("smtp_bridge_relay_pool_connections",
                                   "Open upstream SMTP connections in the relay pool.")
                            .add({})),
      queue_(registry.gauge("smtp_bridge_outbound_queue", "Outbound recipients by state.")),
      dkim_signatures_(
          registry.counter("smtp_bridge_dkim_signatures_total",
                           "DKIM signatures made on relayed messages, by domain and algorithm.")),
      dkim_unsigned_(registry.counter(
          "smtp_bridge_dkim_unsigned_total",
          "Relayed messages sent without a DKIM signature, by reason (no_key, error).")),
      rate_limit_wait_(registry
                           .counter("smtp_bridge_relay_rate_limit_wait_seconds_total",
                                    "Seconds upstream sessions waited for relay.rate_limit "
                                    "before a transaction.")
                           .add({})),
      sampler_(std::make_shared<Sampler>()) {
  for (const char* outcome : {"sent", "deferred", "failed", "partial"})
    messages_.add({{"outcome", outcome}});
  for (const char* outcome : {"sent", "deferred", "failed"})
    recipients_.add({{"outcome", outcome}});
  for (const char* state : kStates) queue_.add({{"state", state}});
  for (const char* reason : {"no_key", "error"}) dkim_unsigned_.add({{"reason", reason}});
}

Metrics::~Metrics() {
  std::lock_guard lock(sampler_->mutex);
  sampler_->store = nullptr;
}

void Metrics::rate_limit_wait(double seconds) {
  rate_limit_wait_.inc(seconds);
}

void Metrics::message(const std::string& outcome) {
  messages_.add({{"outcome", outcome}}).inc();
}

void Metrics::recipient(store::RecipientOutcome outcome) {
  const char* name = outcome == store::RecipientOutcome::sent       ? "sent"
                     : outcome == store::RecipientOutcome::deferred ? "deferred"
                                                                    : "failed";
  recipients_.add({{"outcome", name}}).inc();
}

void Metrics::transaction_seconds(double seconds) {
  session_seconds_.observe(seconds);
}

void Metrics::connections(double open) {
  pool_connections_.set(open);
}

void Metrics::dkim_signature(const std::string& domain, const std::string& algorithm) {
  dkim_signatures_.add({{"domain", domain}, {"algorithm", algorithm}}).inc();
}

void Metrics::dkim_key(const std::string& domain, const std::string& algorithm) {
  dkim_signatures_.add({{"domain", domain}, {"algorithm", algorithm}});
}

void Metrics::dkim_unsigned(const std::string& reason) {
  dkim_unsigned_.add({{"reason", reason}}).inc();
}

void Metrics::sample_queue(store::Store& store) {
  {
    std::lock_guard lock(sampler_->mutex);
    sampler_->store = &store;
  }
  std::weak_ptr<Sampler> weak = sampler_;
  obs::Family<obs::Gauge>* queue = &queue_;
  registry_.add_collector([weak, queue] {
    auto sampler = weak.lock();
    if (!sampler) return;
    std::lock_guard lock(sampler->mutex);
    if (!sampler->store) return;
    auto stats = sampler->store->outbound_stats();
    for (const char* state : kStates) {
      uint64_t count = 0;
      for (const auto& [name, value] : stats.by_state)
        if (name == state) count = value;
      queue->add({{"state", state}}).set(static_cast<double>(count));
    }
  });
}

}  // namespace relay
