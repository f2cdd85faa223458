// Every metric of webhook delivery, declared once here. Labels name an endpoint by its origin
// (scheme://host:port) only: a URL's path may carry a secret token.
#pragma once
#include <memory>
#include <string>

#include "obs/metrics.h"
#include "store/store.h"

namespace delivery {

class Metrics {
 public:
  // Registers the families, and a collector that samples store.queue_stats() before each render
  // until detach() (the registry outlives the dispatcher; its collectors cannot be removed).
  Metrics(obs::Registry& registry, store::Store& store);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished attempt: smtp_bridge_delivery_attempts_total{endpoint,outcome}, the POST's
  // duration (when a POST was made, seconds >= 0) and dead letters.
  void attempt(const std::string& endpoint, store::DeliveryOutcome outcome, double seconds);
  // A delivery quarantined as a poison message (dead after max_render_attempts failed or crashed
  // renders): smtp_bridge_delivery_quarantined_total{endpoint}. Also counted by attempt(dead).
  void quarantined(const std::string& endpoint);
  // A delivery held as orphaned (its endpoint is not configured):
  // smtp_bridge_delivery_orphaned_total.
  void orphaned();
  // Rows whose lease ended and that went back to the queue
  // (smtp_bridge_delivery_lease_expired_total).
  void lease_expired(uint64_t rows);
  // A DSN the bounce consumer took (README "Bounces"): smtp_bridge_bounces_total{result} with
  // result bounced (a recipient set to bounced), recorded (only delayed/delivered reports),
  // routed (not a DSN, or for no message held: routed like any message), unmatched (the same
  // without a route: a dead letter) or retry (the store could not commit).
  void bounce(const char* result);
  // Stops the collector from touching the store.
  void detach();

 private:
  struct Sampler;
  obs::Family<obs::Counter>& attempts_;
  obs::Histogram& latency_;
  obs::Family<obs::Counter>& dead_letters_;
  obs::Counter& lease_expired_;
  obs::Family<obs::Counter>& quarantined_;
  obs::Counter& orphaned_;
  obs::Family<obs::Counter>& bounces_;
  std::shared_ptr<Sampler> sampler_;
};

const char* outcome_name(store::DeliveryOutcome outcome);

}  // namespace delivery
