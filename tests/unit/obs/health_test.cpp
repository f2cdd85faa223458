// Readiness: names of the failing checks, "draining" while draining, empty when ready.
#include "obs/health.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using Names = std::vector<std::string>;

TEST(Health, ready_when_every_check_passes) {
  obs::Health health;
  EXPECT_EQ(health.not_ready(), Names{});
  health.add_check("store", [] { return true; });
  EXPECT_EQ(health.not_ready(), Names{});
}

TEST(Health, names_the_failing_checks) {
  obs::Health health;
  bool store_ok = false;
  health.add_check("store", [&] { return store_ok; });
  health.add_check("smtp", [] { return true; });
  health.add_check("throws", []() -> bool { throw std::runtime_error("x"); });
  EXPECT_EQ(health.not_ready(), (Names{"store", "throws"}));
  store_ok = true;
  EXPECT_EQ(health.not_ready(), Names{"throws"});
}

TEST(Health, draining_makes_it_not_ready) {
  obs::Health health;
  health.add_check("store", [] { return true; });
  health.set_draining(true);
  EXPECT_TRUE(health.draining());
  EXPECT_EQ(health.not_ready(), Names{"draining"});
  health.set_draining(false);
  EXPECT_EQ(health.not_ready(), Names{});
}

}  // namespace
