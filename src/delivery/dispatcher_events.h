// delivery::EventDispatcher: delivers the delivery events' rows (issue 14, README "Delivery
// events") like inbound deliveries: Standard Webhooks headers signed with the events endpoint's
// secrets, retries with backoff and Retry-After (delivery.retry), dead letters on 406/410 or past
// max_age. The store hands out one message's events to one endpoint strictly in order (store.h
// claim_events). Owned and started by the Dispatcher; cpp-httplib stays in dispatcher_http.cpp.
#pragma once
#include <memory>

namespace config {
struct Config;
}
namespace store {
class Store;
}
namespace obs {
class Registry;
}

namespace delivery {

class EventDispatcher {
 public:
  // Registers its metrics (smtp_bridge_event_*); threads start only when events.endpoints is set.
  EventDispatcher(const config::Config& config, store::Store& store, obs::Registry& registry);
  ~EventDispatcher();
  EventDispatcher(const EventDispatcher&) = delete;
  EventDispatcher& operator=(const EventDispatcher&) = delete;

  void start();
  // Wakes the poller (an outbound outcome or a send was committed): events are claimed at once.
  void notify();
  // Lets in-flight POSTs finish (bounded by their timeouts) and joins the threads; rows still
  // in flight are queued again when their lease ends or at the next start (at least once).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delivery
