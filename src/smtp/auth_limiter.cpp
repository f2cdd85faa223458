// The per-address AUTH failure limiter (auth_limiter.h): a fixed window per address from its
// first counted attempt; entries whose window has ended are dropped when met or swept when the
// table is full, so memory stays bounded whatever the number of addresses.
#include "smtp/auth_limiter.h"

#include <arpa/inet.h>

#include <cstring>

namespace smtp {

std::string client_key(std::string_view ip) {
  if (ip.find(':') == std::string_view::npos) return std::string(ip);
  in6_addr address{};
  if (inet_pton(AF_INET6, std::string(ip).c_str(), &address) != 1) return std::string(ip);
  std::memset(address.s6_addr + 8, 0, 8);  // keep the /64 prefix
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &address, text, sizeof text);
  return std::string(text) + "/64";
}

bool AuthLimiter::begin(const std::string& client, Clock::time_point now) {
  if (max_failures_ == 0) return true;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(client);
  if (it != entries_.end() && now >= it->second.window_end) {
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    if (entries_.size() >= max_tracked_) sweep(now);
    // Still full: every tracked address is within its window. Refusing a new one (454, a
    // temporary answer) is safer than letting it guess untracked.
    if (entries_.size() >= max_tracked_) return false;
    it = entries_.emplace(client, Entry{0, now + window_}).first;
  }
  if (it->second.attempts >= max_failures_) return false;
  ++it->second.attempts;
  return true;
}

void AuthLimiter::forgive(const std::string& client) {
  if (max_failures_ == 0) return;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(client);
  if (it == entries_.end() || it->second.attempts == 0) return;
  if (--it->second.attempts == 0) entries_.erase(it);
}

size_t AuthLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void AuthLimiter::sweep(Clock::time_point now) {
  std::erase_if(entries_, [now](const auto& entry) { return now >= entry.second.window_end; });
}

}  // namespace smtp
