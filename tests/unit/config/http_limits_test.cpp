// Tests of api.limits and admin.limits: their defaults, every key read with its unit, and each
// bad value refused with an error naming the dotted key and its line.
#include <gtest/gtest.h>

#include "config/config.h"
#include "test_support.h"

using config_test::dump;
using config_test::find_error;

namespace {

TEST(LoadHttpLimits, DefaultsBoundHeadsAndGiveTheAdminPortATinyBody) {
  config::Config c;
  EXPECT_EQ(c.api.limits.max_header_line, 8192u);
  EXPECT_EQ(c.api.limits.max_headers, 100u);
  EXPECT_EQ(c.api.limits.max_head_bytes, 64u << 10);
  EXPECT_EQ(c.api.limits.head_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c.api.limits.min_body_rate, 16u << 10);
  EXPECT_EQ(c.api.limits.max_body, 0u);  // from smtp.limits.max_message_size
  EXPECT_EQ(c.admin.limits.max_body, 1024u);
  EXPECT_EQ(c.admin.limits.max_headers, 100u);
}

TEST(LoadHttpLimits, EveryKeyIsRead) {
  auto result = config::load_string(
      "api:\n"
      "  limits: {max_header_line: 4096, max_headers: 20, max_head_bytes: 16KiB,\n"
      "           head_timeout: 3s, min_body_rate: 1KiB, max_body: 2MiB}\n"
      "admin:\n"
      "  limits: {max_body: 0, head_timeout: 500ms}\n");
  ASSERT_TRUE(result.config) << dump(result);
  const auto& api = result.config->api.limits;
  EXPECT_EQ(api.max_header_line, 4096u);
  EXPECT_EQ(api.max_headers, 20u);
  EXPECT_EQ(api.max_head_bytes, 16u << 10);
  EXPECT_EQ(api.head_timeout, std::chrono::seconds(3));
  EXPECT_EQ(api.min_body_rate, 1024u);
  EXPECT_EQ(api.max_body, 2u << 20);
  const auto& admin = result.config->admin.limits;
  EXPECT_EQ(admin.max_body, 0u);
  EXPECT_EQ(admin.head_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(admin.max_headers, 100u);  // untouched keys keep their default
}

void expect_refused(const std::string& yaml, const std::string& key, int line) {
  auto result = config::load_string(yaml);
  EXPECT_FALSE(result.config) << yaml;
  const config::Error* error = find_error(result, key);
  ASSERT_NE(error, nullptr) << yaml << dump(result);
  EXPECT_EQ(error->line, line) << dump(result);
}

TEST(LoadHttpLimits, BadValuesNameTheKey) {
  // Above cpp-httplib's compiled 8192: it would answer 400 to what the limit lets through.
  expect_refused("api:\n  limits:\n    max_header_line: 8193\n", "api.limits.max_header_line", 3);
  expect_refused("api:\n  limits:\n    max_header_line: 100\n", "api.limits.max_header_line", 3);
  expect_refused("api:\n  limits:\n    max_headers: 0\n", "api.limits.max_headers", 3);
  expect_refused("api:\n  limits:\n    max_head_bytes: 512\n", "api.limits.max_head_bytes", 3);
  expect_refused("api:\n  limits:\n    max_head_bytes: 1GiB\n", "api.limits.max_head_bytes", 3);
  expect_refused("api:\n  limits:\n    head_timeout: 10ms\n", "api.limits.head_timeout", 3);
  expect_refused("api:\n  limits:\n    min_body_rate: fast\n", "api.limits.min_body_rate", 3);
  expect_refused("admin:\n  limits:\n    max_body: -1\n", "admin.limits.max_body", 3);
  expect_refused("admin:\n  limits:\n    max_heads: 1\n", "admin.limits.max_heads", 3);
  expect_refused("api:\n  limits:\n    max_header_line: 4096\n    max_head_bytes: 2KiB\n",
                 "api.limits.max_header_line", 3);
}

}  // namespace
