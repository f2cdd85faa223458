// The keys of the delivery, store and routes sections that issue 11 added: delivery.lease (more
// than twice the longest endpoint timeout), delivery.max_render_attempts, with their defaults and
// the errors naming them.
#include <gtest/gtest.h>

#include "config/config.h"
#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using config_test::find_error;

TEST(DeliveryKeys, lease_defaults_to_five_minutes_and_reads_a_duration) {
  EXPECT_EQ(config::Config{}.delivery.lease, 5min);
  auto loaded = config::load_string("delivery:\n  lease: 90s\n");
  ASSERT_TRUE(loaded.config) << loaded.errors.at(0).to_string();
  EXPECT_EQ(loaded.config->delivery.lease, 90s);
}

TEST(DeliveryKeys, lease_must_outlast_two_endpoint_timeouts) {
  auto loaded = config::load_string(
      "routes:\n"
      "  - match: '*'\n"
      "    endpoints:\n"
      "      - url: http://127.0.0.1:9/h\n"
      "        timeout: 60s\n"
      "delivery:\n"
      "  lease: 2m\n");
  const config::Error* error = find_error(loaded, "delivery.lease");
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->line, 7);
  EXPECT_NE(error->message.find("twice the longest endpoint timeout"), std::string::npos)
      << error->message;
  EXPECT_NE(find_error(config::load_string("delivery:\n  lease: 0s\n"), "delivery.lease"), nullptr);
}

TEST(DeliveryKeys, max_render_attempts_defaults_to_three_and_is_at_least_one) {
  EXPECT_EQ(config::Config{}.delivery.max_render_attempts, 3u);
  auto loaded = config::load_string("delivery:\n  max_render_attempts: 5\n");
  ASSERT_TRUE(loaded.config) << loaded.errors.at(0).to_string();
  EXPECT_EQ(loaded.config->delivery.max_render_attempts, 5u);
  EXPECT_NE(find_error(config::load_string("delivery:\n  max_render_attempts: 0\n"),
                       "delivery.max_render_attempts"),
            nullptr);
}

}  // namespace
