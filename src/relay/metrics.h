// The relay's metrics, declared once (obs::Registry): messages and recipients by outcome,
// upstream transaction latency, open pool connections, and the outbound queue by state
// (sampled from the store when /metrics is rendered).
#pragma once
#include <memory>
#include <string>

#include "obs/metrics.h"
#include "store/store.h"

namespace relay {

class Metrics {
 public:
  explicit Metrics(obs::Registry& registry);
  ~Metrics();                                // detaches the queue sampler from the store
  void message(const std::string& outcome);  // sent | deferred | failed | partial
  void recipient(store::RecipientOutcome outcome);
  void transaction_seconds(double seconds);
  void connections(double open);
  // Samples store.outbound_stats() into the queue gauge on every render, until destruction.
  void sample_queue(store::Store& store);

 private:
  struct Sampler;
  obs::Registry& registry_;
  obs::Family<obs::Counter>& messages_;
  obs::Family<obs::Counter>& recipients_;
  obs::Histogram& session_seconds_;
  obs::Gauge& pool_connections_;
  obs::Family<obs::Gauge>& queue_;
  std::shared_ptr<Sampler> sampler_;
};

}  // namespace relay
