// The per-address AUTH failure limiter (auth_limiter.h): max_failures guesses per window per
// address across connections, the right password refused too while it holds, other addresses
// unaffected, attempts that did not fail given back, IPv6 counted per /64, memory bounded.
#include "smtp/auth_limiter.h"

#include <gtest/gtest.h>

namespace smtp {
namespace {

using namespace std::chrono_literals;
using Clock = AuthLimiter::Clock;

TEST(AuthLimiter, AnAddressGetsMaxFailuresGuessesPerWindow) {
  AuthLimiter limiter(3, 10min);
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.begin("192.0.2.1", t0 + i * 1s)) << i;
  EXPECT_FALSE(limiter.begin("192.0.2.1", t0 + 5s));
  EXPECT_FALSE(limiter.begin("192.0.2.1", t0 + 9min));
  EXPECT_TRUE(limiter.begin("192.0.2.2", t0 + 9min));   // another address is not affected
  EXPECT_TRUE(limiter.begin("192.0.2.1", t0 + 10min));  // the window has ended
}

TEST(AuthLimiter, AttemptsThatDidNotFailAreGivenBack) {
  AuthLimiter limiter(2, 10min);
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 10; ++i) {  // successes, cancels: never a lock-out
    ASSERT_TRUE(limiter.begin("192.0.2.1", t0)) << i;
    limiter.forgive("192.0.2.1");
  }
  EXPECT_EQ(limiter.tracked(), 0u);
  EXPECT_TRUE(limiter.begin("192.0.2.1", t0));
  EXPECT_TRUE(limiter.begin("192.0.2.1", t0));
  EXPECT_FALSE(limiter.begin("192.0.2.1", t0));
}

TEST(AuthLimiter, ParallelAttemptsCountBeforeTheirResult) {
  // Fifty connections starting AUTH at once get max_failures of them, not fifty.
  AuthLimiter limiter(10, 10min);
  int admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += limiter.begin("192.0.2.1", Clock::now()) ? 1 : 0;
  EXPECT_EQ(admitted, 10);
}

TEST(AuthLimiter, ZeroMeansNoLimit) {
  AuthLimiter limiter(0, 10min);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.begin("192.0.2.1", Clock::now()));
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(AuthLimiter, AFullTableDropsEndedWindowsAndElseRefusesNewAddresses) {
  AuthLimiter limiter(1, 1min, 2);
  const Clock::time_point t0 = Clock::now();
  EXPECT_TRUE(limiter.begin("a", t0));
  EXPECT_TRUE(limiter.begin("b", t0));
  EXPECT_FALSE(limiter.begin("c", t0 + 1s));   // full of addresses within their window
  EXPECT_TRUE(limiter.begin("c", t0 + 1min));  // their windows ended: swept
  EXPECT_EQ(limiter.tracked(), 1u);
}

TEST(ClientKey, Ipv4AsItIsIpv6AsItsSlash64) {
  EXPECT_EQ(client_key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
  EXPECT_EQ(client_key("::1"), "::/64");
  EXPECT_EQ(client_key(""), "");
}

}  // namespace
}  // namespace smtp
