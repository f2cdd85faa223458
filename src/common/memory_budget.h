// One process-wide budget for the bytes the bridge holds on behalf of its peers (ARCHITECTURE.md,
// Memory): SMTP message buffers, API request bodies and webhook renders all draw from it, so one
// path cannot take the memory the others need. Its default is a share of the container's cgroup
// memory limit (memory.max), so the pod is throttled by answers (452, 503, waits), not OOM-killed.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace common {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t max) : max_(max) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Takes `bytes` now if they fit; false (nothing taken) if not.
  bool try_reserve(uint64_t bytes);
  // Waits until `bytes` fit or `deadline` passes. A request larger than the whole budget is
  // granted once nothing else is held, so an oversized render still runs, alone.
  bool reserve_wait(uint64_t bytes, std::chrono::steady_clock::time_point deadline);
  void release(uint64_t bytes);

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t max() const { return max_; }
  bool exhausted() const { return used() >= max_; }
  bool can_fit(uint64_t bytes) const { return used() + bytes <= max_; }

 private:
  bool fits_locked(uint64_t bytes) const;

  const uint64_t max_;
  std::atomic<uint64_t> used_{0};
  std::mutex mutex_;  // only for waiters: try_reserve and release stay lock-free on the fast path
  std::condition_variable freed_;
  std::atomic<unsigned> waiters_{0};
};

// Holds a reservation and gives it back when it goes out of scope.
class BudgetLease {
 public:
  BudgetLease() = default;
  BudgetLease(MemoryBudget& budget, uint64_t bytes) : budget_(&budget), bytes_(bytes) {}
  BudgetLease(BudgetLease&& other) noexcept { *this = std::move(other); }
  BudgetLease& operator=(BudgetLease&& other) noexcept;
  ~BudgetLease() { reset(); }
  void reset();
  uint64_t bytes() const { return bytes_; }

 private:
  MemoryBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

// The container's memory limit in bytes: cgroup v2 `memory.max`, else cgroup v1
// `memory/memory.limit_in_bytes`, under `root`; nullopt when there is none ("max", the v1
// "unlimited" value, or no cgroup file).
std::optional<uint64_t> cgroup_memory_limit(const std::string& root = "/sys/fs/cgroup");

inline constexpr uint64_t kDefaultMemoryBudget = uint64_t(256) << 20;  // without a cgroup limit
inline constexpr uint64_t kMinimumMemoryBudget = uint64_t(32) << 20;
// Half of the limit: the other half is the process itself (code, SQLite's page caches, thread
// stacks, allocator slack) and what is not counted (small requests, logs).
uint64_t default_memory_budget(std::optional<uint64_t> cgroup_limit);

}  // namespace common
