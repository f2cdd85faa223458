// The fair-SMTP keys of issue 11 (smtp.limits.max_buffered_bytes_per_ip, min_data_rate,
// data_transaction_timeout; smtp.auth.max_failures, failure_window): their defaults, values as
// written, and errors naming the key and line.
#include <gtest/gtest.h>

#include "config/config.h"
#include "test_support.h"

using namespace std::chrono_literals;
using config_test::dump;
using config_test::find_error;

namespace {

config::Config load_ok(const std::string& yaml) {
  config::LoadResult result = config::load_string(yaml);
  EXPECT_TRUE(result.config) << yaml << dump(result);
  return result.config ? *result.config : config::Config{};
}

void expect_error(const std::string& yaml, const std::string& key, int line) {
  config::LoadResult result = config::load_string(yaml);
  EXPECT_FALSE(result.config) << yaml;
  const config::Error* error = find_error(result, key);
  ASSERT_NE(error, nullptr) << "no error for " << key << ": " << dump(result);
  EXPECT_EQ(error->line, line) << dump(result);
}

TEST(SmtpFairness, PerIpShareDefaultsToAQuarterOfTheBudget) {
  EXPECT_EQ(config::Config{}.smtp.limits.max_buffered_bytes_per_ip, 64 * config::kMiB);
  EXPECT_EQ(load_ok("smtp: {}\n").smtp.limits.max_buffered_bytes_per_ip, 64 * config::kMiB);
  // Set with the budget only: a quarter of that budget.
  EXPECT_EQ(load_ok("smtp:\n  limits:\n    max_buffered_bytes: 1GiB\n")
                .smtp.limits.max_buffered_bytes_per_ip,
            256 * config::kMiB);
  EXPECT_EQ(load_ok("smtp:\n  limits: {max_buffered_bytes: 64KiB, max_message_size: 32KiB,\n"
                    "           max_buffered_bytes_per_ip: 48KiB}\n")
                .smtp.limits.max_buffered_bytes_per_ip,
            48u * 1024);
}

TEST(SmtpFairness, PerIpShareHoldsAtLeastOneMessageOfTheLargestSize) {
  // A quarter of 64 MiB is less than max_message_size (25 MiB): the share is 25 MiB.
  EXPECT_EQ(load_ok("smtp:\n  limits:\n    max_buffered_bytes: 64MiB\n")
                .smtp.limits.max_buffered_bytes_per_ip,
            25 * config::kMiB);
  // A budget smaller than one message: all of it.
  EXPECT_EQ(load_ok("smtp:\n  limits:\n    max_buffered_bytes: 1MiB\n")
                .smtp.limits.max_buffered_bytes_per_ip,
            config::kMiB);
  EXPECT_EQ(load_ok("smtp:\n  limits: {max_message_size: 100MiB}\n")
                .smtp.limits.max_buffered_bytes_per_ip,
            100 * config::kMiB);
  expect_error("smtp:\n  limits:\n    max_buffered_bytes_per_ip: 10MiB\n",
               "smtp.limits.max_buffered_bytes_per_ip", 3);
}

TEST(SmtpFairness, PerIpShareCannotExceedTheBudget) {
  expect_error(
      "smtp:\n  limits:\n    max_buffered_bytes: 1MiB\n"
      "    max_buffered_bytes_per_ip: 2MiB\n",
      "smtp.limits.max_buffered_bytes_per_ip", 4);
  expect_error("smtp:\n  limits:\n    max_buffered_bytes_per_ip: 0\n",
               "smtp.limits.max_buffered_bytes_per_ip", 3);
  expect_error("smtp:\n  limits:\n    max_buffered_bytes_per_ip: lots\n",
               "smtp.limits.max_buffered_bytes_per_ip", 3);
}

TEST(SmtpFairness, DataRateAndTransactionDeadline) {
  config::Config defaults;
  EXPECT_EQ(defaults.smtp.limits.min_data_rate, 1024u);
  EXPECT_EQ(defaults.smtp.limits.data_transaction_timeout, 10min);
  auto c = load_ok("smtp:\n  limits: {min_data_rate: 2KiB, data_transaction_timeout: 30m}\n");
  EXPECT_EQ(c.smtp.limits.min_data_rate, 2048u);
  EXPECT_EQ(c.smtp.limits.data_transaction_timeout, 30min);
  EXPECT_EQ(load_ok("smtp:\n  limits: {min_data_rate: 0}\n").smtp.limits.min_data_rate, 0u);
  expect_error("smtp:\n  limits:\n    min_data_rate: fast\n", "smtp.limits.min_data_rate", 3);
  expect_error("smtp:\n  limits:\n    min_data_rate: -1\n", "smtp.limits.min_data_rate", 3);
  expect_error("smtp:\n  limits:\n    data_transaction_timeout: 0s\n",
               "smtp.limits.data_transaction_timeout", 3);
  expect_error("smtp:\n  limits:\n    data_transaction_timeout: 10\n",
               "smtp.limits.data_transaction_timeout", 3);
}

TEST(SmtpFairness, AuthFailureLimiter) {
  config::Config defaults;
  EXPECT_EQ(defaults.smtp.auth.max_failures, 10u);
  EXPECT_EQ(defaults.smtp.auth.failure_window, 10min);
  auto c = load_ok("smtp:\n  auth: {max_failures: 3, failure_window: 1h}\n");
  EXPECT_EQ(c.smtp.auth.max_failures, 3u);
  EXPECT_EQ(c.smtp.auth.failure_window, 1h);
  EXPECT_EQ(load_ok("smtp:\n  auth: {max_failures: 0}\n").smtp.auth.max_failures, 0u);
  expect_error("smtp:\n  auth:\n    max_failures: -1\n", "smtp.auth.max_failures", 3);
  expect_error("smtp:\n  auth:\n    max_failures: 9999999\n", "smtp.auth.max_failures", 3);
  expect_error("smtp:\n  auth:\n    failure_window: 0s\n", "smtp.auth.failure_window", 3);
  expect_error("smtp:\n  auth:\n    failure_window: often\n", "smtp.auth.failure_window", 3);
}

}  // namespace
