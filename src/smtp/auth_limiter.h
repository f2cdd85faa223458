// Failed SMTP AUTH per client address, across connections (issue 11; SMTP.md "AUTH"): at most
// smtp.auth.max_failures guesses per smtp.auth.failure_window from one address; past them every
// AUTH from it is answered 454 4.7.0 until the window ends. Thread-safe; memory bounded.
#pragma once
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace smtp {

// The address a limit applies to: an IPv4 address as it is, an IPv6 address as its /64 (one
// subscriber's network: rotating through it must not buy more guesses). "" stays "".
std::string client_key(std::string_view ip);

class AuthLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxTracked = 65536;  // ~6 MB of entries at most

  // max_failures 0: no limit (begin() always admits).
  AuthLimiter(unsigned max_failures, Clock::duration window, size_t max_tracked = kMaxTracked)
      : max_failures_(max_failures), window_(window), max_tracked_(max_tracked) {}

  // An AUTH exchange from `client` (a client_key) starts. False: the address has used its
  // guesses for this window (or the table is full of addresses that have): answer 454 4.7.0
  // without checking anything. True: the attempt counts as a failure until forgive() takes it
  // back, so that parallel connections can never run more than max_failures guesses at once.
  bool begin(const std::string& client, Clock::time_point now);
  // The attempt did not fail on its credentials (success, "*", bad base64, a client gone
  // before its password was checked).
  void forgive(const std::string& client);
  size_t tracked() const;

 private:
  struct Entry {
    unsigned attempts = 0;
    Clock::time_point window_end;  // the window starts at the address's first counted attempt
  };
  void sweep(Clock::time_point now);

  const unsigned max_failures_;
  const Clock::duration window_;
  const size_t max_tracked_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace smtp
