// Backend-independent parts of the Store interface: the blocking enqueue and status names.
// enqueue_inbound_wait (and _outbound_) returns only after `done` ran, i.e. after the durable
// commit (or refusal).
#include "store/store.h"

#include <future>

namespace store {

Status Store::enqueue_inbound_wait(InboundMessage message) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> result = promise->get_future();
  enqueue_inbound(std::move(message), [promise](Status status) { promise->set_value(status); });
  return result.get();
}

OutboundEnqueued Store::enqueue_outbound_wait(OutboundMessage message) {
  auto promise = std::make_shared<std::promise<OutboundEnqueued>>();
  std::future<OutboundEnqueued> result = promise->get_future();
  enqueue_outbound(std::move(message), [promise](OutboundEnqueued enqueued) {
    promise->set_value(std::move(enqueued));
  });
  return result.get();
}

OutboundEnqueued Store::enqueue_outbound_batch_wait(std::vector<OutboundMessage> messages) {
  auto promise = std::make_shared<std::promise<OutboundEnqueued>>();
  std::future<OutboundEnqueued> result = promise->get_future();
  enqueue_outbound_batch(std::move(messages), [promise](OutboundEnqueued enqueued) {
    promise->set_value(std::move(enqueued));
  });
  return result.get();
}

const char* to_string(Status status) {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::full:
      return "full";
    case Status::io_error:
      return "io_error";
    case Status::closed:
      return "closed";
  }
  return "unknown";
}

const char* to_string(DeliveryOutcome outcome) {
  switch (outcome) {
    case DeliveryOutcome::delivered:
      return "delivered";
    case DeliveryOutcome::deferred:
      return "deferred";
    case DeliveryOutcome::orphaned:
      return "orphaned";
    case DeliveryOutcome::dead:
      break;
  }
  return "dead";
}

const char* to_string(RecipientOutcome outcome) {
  switch (outcome) {
    case RecipientOutcome::sent:
      return "sent";
    case RecipientOutcome::failed:
      return "failed";
    case RecipientOutcome::deferred:
      break;
  }
  return "deferred";
}

}  // namespace store

namespace store {

std::string suppression_key(std::string_view address) {
  std::string key(address);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

}  // namespace store
