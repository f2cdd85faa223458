// Tests of dns:, authentication:, spam.rspamd: and policy: (issue 13) and of routes[].policy:
// defaults (all off), every key read, bad values and rules without the checks they need refused
// naming their key.
#include <gtest/gtest.h>

#include "config/config.h"
#include "test_support.h"

using config_test::dump;
using config_test::find_error;

namespace {

TEST(LoadAuthKeys, DefaultsAreAllOff) {
  config::Config c;
  EXPECT_FALSE(c.authentication.enabled);
  EXPECT_EQ(c.authentication.workers, 16u);
  EXPECT_TRUE(c.dns.servers.empty());
  EXPECT_EQ(c.dns.budget, std::chrono::seconds(5));
  EXPECT_EQ(c.rspamd.url, "");
  EXPECT_EQ(c.rspamd.timeout, std::chrono::seconds(5));
  EXPECT_FALSE(c.rspamd.fail_closed);
  EXPECT_EQ(c.policy, config::Policy{});
  EXPECT_FALSE(c.policy.reject_dmarc || c.policy.reject_spf_fail || c.policy.defer_temperror ||
               c.policy.reject_spam || !c.policy.require_dkim.empty());
}

TEST(LoadAuthKeys, EveryKeyIsRead) {
  auto result = config::load_string(
      "dns:\n"
      "  servers: ['127.0.0.1:5353', '[::1]:53', 192.0.2.53]\n"
      "  budget: 2500ms\n"
      "authentication:\n"
      "  enabled: true\n"
      "  workers: 4\n"
      "spam:\n"
      "  rspamd: {url: 'http://127.0.0.1:11333', timeout: 1s, failure: defer}\n"
      "policy:\n"
      "  reject_dmarc: true\n"
      "  require_dkim: [Example.COM]\n"
      "  temperror: defer\n"
      "routes:\n"
      "  - match: '*@strict.test'\n"
      "    policy: {reject_spf_fail: true, reject_spam: true, require_dkim: []}\n"
      "  - match: '*'\n");
  ASSERT_TRUE(result.config) << dump(result);
  const config::Config& c = *result.config;
  EXPECT_EQ(c.dns.servers, (std::vector<std::string>{"127.0.0.1:5353", "[::1]:53", "192.0.2.53"}));
  EXPECT_EQ(c.dns.budget, std::chrono::milliseconds(2500));
  EXPECT_TRUE(c.authentication.enabled);
  EXPECT_EQ(c.authentication.workers, 4u);
  EXPECT_EQ(c.rspamd.url, "http://127.0.0.1:11333");
  EXPECT_EQ(c.rspamd.timeout, std::chrono::seconds(1));
  EXPECT_TRUE(c.rspamd.fail_closed);
  EXPECT_TRUE(c.policy.reject_dmarc);
  EXPECT_FALSE(c.policy.reject_spf_fail);
  EXPECT_TRUE(c.policy.defer_temperror);
  EXPECT_EQ(c.policy.require_dkim, std::vector<std::string>{"example.com"});
  const config::PolicyOverride& strict = c.routes[0].policy;
  EXPECT_EQ(strict.reject_spf_fail, true);
  EXPECT_EQ(strict.reject_spam, true);
  EXPECT_EQ(strict.require_dkim, std::vector<std::string>{});
  EXPECT_FALSE(strict.reject_dmarc.has_value());
  EXPECT_EQ(c.routes[1].policy, config::PolicyOverride{});
}

TEST(LoadAuthKeys, BadValuesNameTheirKey) {
  struct Case {
    const char* yaml;
    const char* key;
  };
  const Case cases[] = {
      {"dns: {servers: [dns.example]}\n", "dns.servers"},
      {"dns: {servers: ['127.0.0.1:0']}\n", "dns.servers"},
      {"dns: {budget: 10ms}\n", "dns.budget"},
      {"authentication: {workers: 0}\n", "authentication.workers"},
      {"authentication: {enabled: maybe}\n", "authentication.enabled"},
      {"spam: {rspamd: {url: 'ftp://127.0.0.1'}}\n", "spam.rspamd.url"},
      {"spam: {rspamd: {url: 'http://127.0.0.1:11333/checkv2'}}\n", "spam.rspamd.url"},
      {"spam: {rspamd: {failure: reject}}\n", "spam.rspamd.failure"},
      {"policy: {temperror: reject}\n", "policy.temperror"},
      {"authentication: {enabled: true}\npolicy: {require_dkim: ['not a domain']}\n",
       "policy.require_dkim"},
      {"policy: {reject_dmarc: yes-please}\n", "policy.reject_dmarc"},
      {"policy: {unknown: true}\n", "policy.unknown"},
  };
  for (const Case& c : cases) {
    auto result = config::load_string(c.yaml);
    EXPECT_FALSE(result.config) << c.yaml;
    EXPECT_NE(find_error(result, c.key), nullptr) << c.yaml << dump(result);
  }
}

// spam.rspamd.url is an origin the client POSTs <url>/checkv2 to: what common::parse_endpoint_url
// (the client's parser) accepts, without a path, query, fragment or userinfo; "" is off.
TEST(LoadAuthKeys, RspamdUrlIsAnOriginOnly) {
  for (const char* good : {"http://127.0.0.1:11333", "http://127.0.0.1:11333/", "https://rspamd",
                           "http://[::1]:11333", "HTTP://Rspamd.Example:8080", ""}) {
    auto result = config::load_string(std::string("spam: {rspamd: {url: '") + good + "'}}\n");
    EXPECT_TRUE(result.config) << good << ": " << dump(result);
  }
  for (const char* bad :
       {"127.0.0.1:11333", "ftp://rspamd", "http://", "http://rspamd:0", "http://rspamd:99999",
        "http://rspamd/checkv2", "http://rspamd/?x=1", "http://rspamd/#f", "http://u:p@rspamd"}) {
    auto result = config::load_string(std::string("spam: {rspamd: {url: '") + bad + "'}}\n");
    EXPECT_FALSE(result.config) << bad;
    EXPECT_NE(find_error(result, "spam.rspamd.url"), nullptr) << bad << ": " << dump(result);
  }
}

TEST(LoadAuthKeys, RulesNeedTheChecksTheyActOn) {
  auto no_auth = config::load_string("policy: {reject_dmarc: true}\n");
  ASSERT_FALSE(no_auth.config);
  const config::Error* error = find_error(no_auth, "policy");
  ASSERT_NE(error, nullptr) << dump(no_auth);
  EXPECT_NE(error->message.find("authentication.enabled"), std::string::npos);

  auto no_rspamd =
      config::load_string("routes:\n  - match: '*'\n    policy: {reject_spam: true}\n");
  ASSERT_FALSE(no_rspamd.config);
  EXPECT_NE(find_error(no_rspamd, "routes[0].policy.reject_spam"), nullptr) << dump(no_rspamd);

  // A route may switch a global rule off again.
  auto off = config::load_string(
      "authentication: {enabled: true}\npolicy: {reject_spf_fail: true}\n"
      "routes:\n  - match: '*'\n    policy: {reject_spf_fail: false}\n");
  EXPECT_TRUE(off.config) << dump(off);
}

}  // namespace
