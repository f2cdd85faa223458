// Readiness: the named checks the components registered, plus the draining flag set on SIGTERM.
// Checks run outside the lock, so a slow check never blocks add_check or another reader.
#include "obs/health.h"

namespace obs {

void Health::add_check(std::string name, std::function<bool()> check) {
  std::lock_guard lock(mutex_);
  checks_.emplace_back(std::move(name), std::move(check));
}

std::vector<std::string> Health::not_ready() const {
  std::vector<std::pair<std::string, std::function<bool()>>> checks;
  {
    std::lock_guard lock(mutex_);
    checks = checks_;
  }
  std::vector<std::string> failing;
  if (draining()) failing.emplace_back("draining");
  for (const auto& [name, check] : checks) {
    bool passed = false;
    try {
      passed = check();
    } catch (...) {
      passed = false;  // a check that throws is a failing check, not a dead admin thread
    }
    if (!passed) failing.push_back(name);
  }
  return failing;
}

}  // namespace obs
