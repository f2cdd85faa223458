// The relay's metrics, declared once (obs::Registry): messages and recipients by outcome,
// upstream transaction latency, open pool connections, the outbound queue by state (sampled
// from the store when /metrics is rendered), DKIM signatures made or not made, and the time
// spent waiting for relay.rate_limit.
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
  // Seconds a session waited for a token of relay.rate_limit before its transaction.
  void rate_limit_wait(double seconds);
  // One DKIM-Signature made (algorithm: rsa-sha256 | ed25519-sha256).
  void dkim_signature(const std::string& domain, const std::string& algorithm);
  // Shows a configured key's series from the start, at 0.
  void dkim_key(const std::string& domain, const std::string& algorithm);
  // A message sent without any signature: "no_key" (no key for its From domain, or no single
  // From) or "error" (its keys failed).
  void dkim_unsigned(const std::string& reason);
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
  obs::Family<obs::Counter>& dkim_signatures_;
  obs::Family<obs::Counter>& dkim_unsigned_;
  obs::Counter& rate_limit_wait_;
  std::shared_ptr<Sampler> sampler_;
};

}  // namespace relay
