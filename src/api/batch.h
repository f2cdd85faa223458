// POST /v1/messages/batch (README "Batch send"): up to 500 send requests in one body, each
// validated and answered on its own, the valid ones committed in ONE store transaction
// (Store::enqueue_outbound_batch) before the 202. No HTTP library here (server.cpp adapts it).
#pragma once
#include <cstddef>
#include <string_view>

#include "api/messages.h"
#include "api/reply.h"

namespace common {
class MemoryBudget;
}
namespace obs {
class Counter;
class Registry;
}  // namespace obs
namespace store {
class Store;
}

namespace api {

inline constexpr size_t kMaxBatchItems = 500;

// smtp_bridge_api_batch_items_total{result="queued"|"invalid"}: items committed by a batch, and
// items answered with errors (README metrics table).
class BatchMetrics {
 public:
  explicit BatchMetrics(obs::Registry& registry);
  void count(size_t queued, size_t invalid);

 private:
  obs::Counter& queued_;
  obs::Counter& invalid_;
};

// {"messages": [send request, ...]} → 202 {"results": [{"id","status":"queued","message_id"} |
// {"status":"invalid","errors":[{field,message}]}, ...], "queued": n, "invalid": m}, one result
// per item in order, answered only after the commit. The document itself wrong → 422 naming
// "body" or "messages"; more than kMaxBatchItems → 413 naming "messages". Idempotency-Key stands
// for the whole batch: the same key and body within 24 h replay the first 202 (with
// Idempotent-Replayed: true), another body → 409. The built messages are held against `memory`
// (may be null) until the commit; beyond it → 503 memory-budget, nothing queued. Store refusal →
// 503 with Retry-After, nothing queued. `metrics` (may be null) counts the items.
Reply send_batch(store::Store& store, const SendContext& context, std::string_view body,
                 common::MemoryBudget* memory, BatchMetrics* metrics);

}  // namespace api
