// Bytes of message data the SMTP sessions hold in memory (SMTP.md "Limits"): a total for all
// sessions (smtp.limits.max_buffered_bytes) and, over it, a share per client address
// (max_buffered_bytes_per_ip), so that one client cannot hold what every other sender needs.
// Lock-free: a session accounts each read's bytes as they arrive.
#pragma once
#include <atomic>
#include <cstdint>

#include "common/memory_budget.h"

namespace smtp {

// The total, across sessions (smtp.limits.max_buffered_bytes), itself drawn from the
// process's memory budget when there is one (ARCHITECTURE.md, Memory): message buffers share it
// with API request bodies and webhook renders.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t max, common::MemoryBudget* process = nullptr)
      : max_(max), process_(process) {}
  bool try_reserve(uint64_t bytes) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used + bytes > max_) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    if (process_ && !process_->try_reserve(bytes)) {
      used_.fetch_sub(bytes, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void release(uint64_t bytes) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
    if (process_) process_->release(bytes);
  }
  bool exhausted() const {
    return used_.load(std::memory_order_relaxed) >= max_ || (process_ && process_->exhausted());
  }
  bool can_fit(uint64_t bytes) const {
    return used_.load(std::memory_order_relaxed) + bytes <= max_ &&
           (!process_ || process_->can_fit(bytes));
  }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const uint64_t max_;
  common::MemoryBudget* const process_;
  std::atomic<uint64_t> used_{0};
};

// What the sessions of one client address hold together; the Server keeps one per address
// while it has connections, and each of its sessions points to it.
struct ClientShare {
  std::atomic<uint64_t> used{0};
};

// Which limit refused: both are answered 452 4.3.1 (RFC 3463: mail system full, try later).
enum class BudgetRefusal { none, total, client };

// The per-client layer over the total. One connection holds at most max_message_size (the
// DATA reader and BDAT keep no byte past it), so it is not limited here again.
class BufferBudget {
 public:
  BufferBudget(MemoryBudget& total, uint64_t per_client) : total_(total), per_client_(per_client) {}
  // Takes `bytes` from the client's share and from the total, or nothing at all.
  BudgetRefusal try_reserve(ClientShare& share, uint64_t bytes);
  void release(ClientShare& share, uint64_t bytes);
  // Whether a transaction may start (MAIL, DATA, the first BDAT): refused while either limit
  // is used up or, with a declared SIZE (RFC 1870), could not take `size` more.
  BudgetRefusal admit(const ClientShare& share, uint64_t size) const;
  uint64_t per_client() const { return per_client_; }

 private:
  MemoryBudget& total_;
  const uint64_t per_client_;
};

}  // namespace smtp
