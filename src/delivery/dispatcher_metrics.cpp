// Delivery metrics: counters and the latency histogram are updated by the workers; the queue
// gauges are sampled from the store when /metrics is rendered (a registry collector).
#include "delivery/dispatcher_metrics.h"

#include <algorithm>
#include <mutex>

#include "common/time.h"

namespace delivery {

struct Metrics::Sampler {
  std::mutex mutex;
  store::Store* store = nullptr;  // nullptr once detached
  obs::Family<obs::Gauge>* depth = nullptr;
  obs::Gauge* oldest = nullptr;

  void sample() {
    std::lock_guard lock(mutex);
    if (store == nullptr) return;
    store::Store::QueueStats stats = store->queue_stats();
    for (const auto& [state, count] : stats.by_state) {
      depth->add({{"state", state}}).set(static_cast<double>(count));
    }
    double oldest_seconds = 0;
    if (stats.oldest_pending_ms > 0) {
      int64_t now_ms = common::unix_ms(common::Clock::now());
      oldest_seconds =
          std::max<double>(0, static_cast<double>(now_ms - stats.oldest_pending_ms) / 1000);
    }
    oldest->set(oldest_seconds);
  }
};

Metrics::Metrics(obs::Registry& registry, store::Store& store)
    : attempts_(registry.counter("smtp_bridge_delivery_attempts_total",
                                 "Webhook delivery attempts by endpoint and outcome "
                                 "(delivered, deferred, dead).")),
      latency_(registry
                   .histogram("smtp_bridge_delivery_latency_seconds",
                              "Duration of one webhook POST, in seconds.", obs::latency_buckets())
                   .add({})),
      dead_letters_(registry.counter("smtp_bridge_delivery_dead_letters_total",
                                     "Deliveries that became dead letters, by endpoint.")),
      lease_expired_(registry
                         .counter("smtp_bridge_delivery_lease_expired_total",
                                  "In-flight rows (inbound and outbound) whose lease ended and "
                                  "that were queued again while the process ran.")
                         .add({})),
      quarantined_(registry.counter(
          "smtp_bridge_delivery_quarantined_total",
          "Deliveries that became dead letters as poison messages: their render failed or "
          "crashed the process delivery.max_render_attempts times, by endpoint.")),
      orphaned_(registry
                    .counter("smtp_bridge_delivery_orphaned_total",
                             "Deliveries held as orphaned because their endpoint (by name) is not "
                             "configured; delivered again when it returns.")
                    .add({})),
      bounces_(registry.counter("smtp_bridge_bounces_total",
                                "DSNs to return paths taken by the bounce consumer, by result: "
                                "bounced, recorded (delayed or delivered reports), routed "
                                "(not a DSN, or for no message held: routed like any message), "
                                "unmatched (the same without a route), retry.")),
      sampler_(std::make_shared<Sampler>()) {
  sampler_->store = &store;
  sampler_->depth =
      &registry.gauge("smtp_bridge_delivery_queue_depth", "Inbound delivery rows by state.");
  sampler_->oldest = &registry
                          .gauge("smtp_bridge_delivery_oldest_pending_seconds",
                                 "Age of the oldest message with a queued or deferred delivery.")
                          .add({});
  registry.add_collector([sampler = sampler_] { sampler->sample(); });
}

Metrics::~Metrics() {
  detach();
}

void Metrics::detach() {
  std::lock_guard lock(sampler_->mutex);
  sampler_->store = nullptr;
}

void Metrics::attempt(const std::string& endpoint, store::DeliveryOutcome outcome, double seconds) {
  attempts_.add({{"endpoint", endpoint}, {"outcome", outcome_name(outcome)}}).inc();
  if (seconds >= 0) latency_.observe(seconds);
  if (outcome == store::DeliveryOutcome::dead) dead_letters_.add({{"endpoint", endpoint}}).inc();
}

void Metrics::quarantined(const std::string& endpoint) {
  quarantined_.add({{"endpoint", endpoint}}).inc();
}

void Metrics::bounce(const char* result) {
  bounces_.add({{"result", result}}).inc();
}

void Metrics::orphaned() {
  orphaned_.inc();
}

void Metrics::lease_expired(uint64_t rows) {
  lease_expired_.inc(static_cast<double>(rows));
}

const char* outcome_name(store::DeliveryOutcome outcome) {
  switch (outcome) {
    case store::DeliveryOutcome::delivered:
      return "delivered";
    case store::DeliveryOutcome::deferred:
      return "deferred";
    case store::DeliveryOutcome::dead:
      return "dead";
    case store::DeliveryOutcome::orphaned:
      return "orphaned";
  }
  return "unknown";
}

}  // namespace delivery
