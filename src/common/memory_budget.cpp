// The process-wide memory budget and the cgroup limit it is sized from (memory_budget.h).
#include "common/memory_budget.h"

#include <algorithm>
#include <fstream>
#include <utility>

namespace common {

bool MemoryBudget::try_reserve(uint64_t bytes) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used + bytes > max_) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

bool MemoryBudget::fits_locked(uint64_t bytes) const {
  uint64_t used = used_.load(std::memory_order_relaxed);
  return used + bytes <= max_ || (bytes > max_ && used == 0);
}

bool MemoryBudget::reserve_wait(uint64_t bytes, std::chrono::steady_clock::time_point deadline) {
  if (try_reserve(bytes)) return true;
  std::unique_lock lock(mutex_);
  waiters_.fetch_add(1, std::memory_order_relaxed);
  bool granted = false;
  for (;;) {
    if (fits_locked(bytes)) {
      // Waiters take their bytes under the lock; try_reserve callers race only for what fits.
      uint64_t used = used_.load(std::memory_order_relaxed);
      if (used_.compare_exchange_strong(used, used + bytes, std::memory_order_relaxed)) {
        granted = true;
        break;
      }
      continue;
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && !fits_locked(bytes)) break;
  }
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  return granted;
}

void MemoryBudget::release(uint64_t bytes) {
  used_.fetch_sub(bytes, std::memory_order_relaxed);
  if (waiters_.load(std::memory_order_relaxed) > 0) {
    std::lock_guard lock(mutex_);  // a waiter between its check and its wait sees the release
    freed_.notify_all();
  }
}

BudgetLease& BudgetLease::operator=(BudgetLease&& other) noexcept {
  if (this != &other) {
    reset();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void BudgetLease::reset() {
  if (budget_ && bytes_ > 0) budget_->release(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

namespace {

std::optional<uint64_t> read_limit(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !(in >> text) || text == "max") return std::nullopt;
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  try {
    uint64_t value = std::stoull(text);
    // cgroup v1 reports "no limit" as a page-rounded LONG_MAX; anything above 1 PiB is no limit.
    if (value == 0 || value >= (uint64_t(1) << 50)) return std::nullopt;
    return value;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<uint64_t> cgroup_memory_limit(const std::string& root) {
  if (auto v2 = read_limit(root + "/memory.max")) return v2;
  return read_limit(root + "/memory/memory.limit_in_bytes");
}

uint64_t default_memory_budget(std::optional<uint64_t> cgroup_limit) {
  if (!cgroup_limit) return kDefaultMemoryBudget;
  return std::max(*cgroup_limit / 2, kMinimumMemoryBudget);
}

}  // namespace common
