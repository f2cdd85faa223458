// The per-client share of the SMTP message-buffer budget (budget.h): a client's bytes are
// taken from its share first, then from the total; a refusal by the total gives the share back.
#include "smtp/budget.h"

namespace smtp {

BudgetRefusal BufferBudget::try_reserve(ClientShare& share, uint64_t bytes) {
  uint64_t used = share.used.load(std::memory_order_relaxed);
  do {
    if (used + bytes > per_client_) return BudgetRefusal::client;
  } while (!share.used.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  if (!total_.try_reserve(bytes)) {
    share.used.fetch_sub(bytes, std::memory_order_relaxed);
    return BudgetRefusal::total;
  }
  return BudgetRefusal::none;
}

void BufferBudget::release(ClientShare& share, uint64_t bytes) {
  share.used.fetch_sub(bytes, std::memory_order_relaxed);
  total_.release(bytes);
}

BudgetRefusal BufferBudget::admit(const ClientShare& share, uint64_t size) const {
  const uint64_t used = share.used.load(std::memory_order_relaxed);
  if (used >= per_client_ || used + size > per_client_) return BudgetRefusal::client;
  if (total_.exhausted() || !total_.can_fit(size)) return BudgetRefusal::total;
  return BudgetRefusal::none;
}

}  // namespace smtp
