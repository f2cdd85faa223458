// Health state shared by the components and read by the admin listener: /healthz answers while
// the process lives; /readyz answers 200 only while every readiness check passes and the
// process is not draining.
#pragma once
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace obs {

class Health {
 public:
  // A named check, e.g. {"store", [&]{ return store.writable(); }}.
  void add_check(std::string name, std::function<bool()> check);
  void set_draining(bool draining) { draining_ = draining; }
  bool draining() const { return draining_; }
  // Empty when ready; otherwise the names of the failing checks (or "draining").
  std::vector<std::string> not_ready() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::function<bool()>>> checks_;
  std::atomic<bool> draining_{false};
};

}  // namespace obs
