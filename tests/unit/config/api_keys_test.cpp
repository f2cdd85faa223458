// Tests of api.keys[].scopes and api.keys[].rate_limit (issue 14): defaults (full access, no
// limits), every key read, and bad values refused naming their key.
#include <gtest/gtest.h>

#include "config/config.h"
#include "test_support.h"

using config_test::dump;
using config_test::find_error;

namespace {

TEST(LoadApiKeys, WithoutScopesOrLimitsAKeyKeepsFullAccess) {
  auto result = config::load_string("api:\n  keys: [{name: shop, key: k1}]\n");
  ASSERT_TRUE(result.config) << dump(result);
  const config::ApiKey& key = result.config->api.keys.at(0);
  EXPECT_FALSE(key.scopes.has_value());
  EXPECT_EQ(key.rate_limit, config::ApiRateLimit{});
  EXPECT_FALSE(key.rate_limit.limited());
}

TEST(LoadApiKeys, ScopesAndRateLimitsAreRead) {
  auto result = config::load_string(
      "api:\n"
      "  keys:\n"
      "    - name: shop\n"
      "      key: k1\n"
      "      scopes: [send, messages:read, send]\n"
      "      rate_limit: {requests_per_second: 20, burst: 40, recipients_per_hour: 5000}\n"
      "    - name: reader\n"
      "      key: k2\n"
      "      scopes: inbound:read\n"
      "      rate_limit: {requests_per_second: 5}\n"
      "    - {name: all, key: k3, scopes: [send, messages:read, inbound:read, inbound:write, "
      "suppressions]}\n");
  ASSERT_TRUE(result.config) << dump(result);
  const auto& keys = result.config->api.keys;
  EXPECT_EQ(keys[0].scopes, (std::vector<std::string>{"send", "messages:read"}));
  EXPECT_EQ(keys[0].rate_limit.requests_per_second, 20u);
  EXPECT_EQ(keys[0].rate_limit.burst, 40u);
  EXPECT_EQ(keys[0].rate_limit.recipients_per_hour, 5000u);
  EXPECT_EQ(keys[1].scopes, (std::vector<std::string>{"inbound:read"}));
  EXPECT_EQ(keys[1].rate_limit.burst, 5u);  // the burst defaults to one second's worth
  EXPECT_EQ(keys[1].rate_limit.recipients_per_hour, 0u);
  EXPECT_EQ(keys[2].scopes->size(), 5u);
  EXPECT_FALSE(keys[2].rate_limit.limited());
}

TEST(LoadApiKeys, BadValuesNameTheirKey) {
  struct Case {
    const char* keys;
    const char* key;
    const char* words;
  };
  const Case cases[] = {
      {"[{name: shop, key: k, scopes: [send, admin]}]", "api.keys[0].scopes",
       "key 'shop': unknown scope 'admin'"},
      {"[{name: a, key: k}, {name: b, key: l, scopes: [Send]}]", "api.keys[1].scopes",
       "key 'b': unknown scope 'Send'"},
      {"[{name: shop, key: k, scopes: []}]", "api.keys[0].scopes", "at least one scope"},
      {"[{name: shop, key: k, scopes: {send: true}}]", "api.keys[0].scopes", "list of strings"},
      {"[{name: shop, key: k, rate_limit: {requests_per_second: 0}}]",
       "api.keys[0].rate_limit.requests_per_second", ""},
      {"[{name: shop, key: k, rate_limit: {requests_per_second: 1.5}}]",
       "api.keys[0].rate_limit.requests_per_second", ""},
      {"[{name: shop, key: k, rate_limit: {burst: 10}}]", "api.keys[0].rate_limit.burst",
       "needs requests_per_second"},
      {"[{name: shop, key: k, rate_limit: {recipients_per_hour: -1}}]",
       "api.keys[0].rate_limit.recipients_per_hour", ""},
      {"[{name: shop, key: k, rate_limit: {per_day: 10}}]", "api.keys[0].rate_limit.per_day", ""},
      {"[{name: shop, key: k, rate_limit: 10}]", "api.keys[0].rate_limit", ""},
      {"[{name: shop, key: k, role: admin}]", "api.keys[0].role", ""},
  };
  for (const Case& c : cases) {
    auto result = config::load_string(std::string("api:\n  keys: ") + c.keys + "\n");
    EXPECT_FALSE(result.config) << c.keys;
    const config::Error* error = find_error(result, c.key);
    ASSERT_NE(error, nullptr) << c.keys << "\n" << dump(result);
    EXPECT_NE(error->message.find(c.words), std::string::npos) << error->message;
  }
}

}  // namespace
