// Tests of `events.endpoints` (issue 14, README "Delivery events"): an endpoint's url, name,
// secrets, timeout, headers and types; every type by default; an unknown type, a duplicate
// name, a route-only key or a bad secret is an error naming the key.
#include <gtest/gtest.h>

#include <stdlib.h>

#include "config/config.h"
#include "test_support.h"

using config_test::dump;
using config_test::find_error;

namespace {

const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

TEST(LoadEventsKeys, NoneByDefault) {
  config::Config c;
  EXPECT_TRUE(c.events.endpoints.empty());
}

TEST(LoadEventsKeys, EveryKeyIsReadAndTypesDefaultToAll) {
  auto result = config::load_string(std::string("events:\n"
                                                "  endpoints:\n"
                                                "    - name: crm\n"
                                                "      url: https://crm.example/events\n"
                                                "      secret: ") +
                                    kSecret +
                                    "\n"
                                    "      timeout: 5s\n"
                                    "      headers: {X-Tenant: shop}\n"
                                    "      types: [message.failed, message.bounced]\n"
                                    "    - url: http://127.0.0.1:9000/all\n");
  ASSERT_TRUE(result.config) << dump(result);
  const auto& endpoints = result.config->events.endpoints;
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(endpoints[0].endpoint.name, "crm");
  EXPECT_EQ(endpoints[0].endpoint.url, "https://crm.example/events");
  EXPECT_EQ(endpoints[0].endpoint.secrets, std::vector<std::string>{kSecret});
  EXPECT_EQ(endpoints[0].endpoint.timeout, std::chrono::seconds(5));
  EXPECT_EQ(endpoints[0].endpoint.headers.at("X-Tenant"), "shop");
  EXPECT_EQ(endpoints[0].types, (std::vector<std::string>{"message.failed", "message.bounced"}));
  EXPECT_EQ(endpoints[1].types,
            (std::vector<std::string>{"message.queued", "message.sent", "message.deferred",
                                      "message.failed", "message.bounced"}));
  EXPECT_FALSE(endpoints[1].endpoint.name.empty());  // the URL's default name
}

TEST(LoadEventsKeys, SecretsComeFromEnvOrFile) {
  config_test::TempDir dir;
  std::string file = dir.write("secret", kSecret);
  setenv("EVENTS_KEYS_TEST_SECRET", kSecret, 1);
  auto result = config::load_string(
      "events:\n"
      "  endpoints:\n"
      "    - {name: a, url: 'http://127.0.0.1:1/a', secret_env: EVENTS_KEYS_TEST_SECRET}\n"
      "    - {name: b, url: 'http://127.0.0.1:1/b', secrets: [{secret_file: '" +
      file + "'}]}\n");
  unsetenv("EVENTS_KEYS_TEST_SECRET");
  ASSERT_TRUE(result.config) << dump(result);
  EXPECT_EQ(result.config->events.endpoints[0].endpoint.secrets[0], kSecret);
  EXPECT_EQ(result.config->events.endpoints[1].endpoint.secrets[0], kSecret);
}

TEST(LoadEventsKeys, AnUnknownTypeNamesItsKey) {
  auto result = config::load_string(
      "events:\n"
      "  endpoints:\n"
      "    - {url: 'http://127.0.0.1:1/a', types: [message.sent, message.opened]}\n");
  EXPECT_FALSE(result.config);
  const config::Error* error = find_error(result, "events.endpoints[0].types[1]");
  ASSERT_NE(error, nullptr) << dump(result);
  EXPECT_NE(error->message.find("message.opened"), std::string::npos) << error->message;
}

TEST(LoadEventsKeys, EndpointErrorsNameTheirKeys) {
  auto result = config::load_string(
      "events:\n"
      "  endpoints:\n"
      "    - {name: a, url: 'http://127.0.0.1:1/a', format: postmark}\n"
      "    - {name: a, url: 'ftp://nowhere'}\n"
      "    - {name: c, url: 'http://127.0.0.1:1/c', secret: 'not-a-whsec', types: []}\n"
      "    - {name: d}\n");
  EXPECT_FALSE(result.config);
  EXPECT_NE(find_error(result, "events.endpoints[0].format"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "events.endpoints[1].url"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "events.endpoints[1].name"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "events.endpoints[2].secret"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "events.endpoints[2].types"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "events.endpoints[3].url"), nullptr) << dump(result);
}

TEST(LoadEventsKeys, AnUnknownEventsKeyIsAnError) {
  auto result = config::load_string("events:\n  hooks: []\n");
  EXPECT_FALSE(result.config);
  EXPECT_NE(find_error(result, "events.hooks"), nullptr) << dump(result);
}

}  // namespace

namespace {

// relay.return_path_domain and relay.return_path_secrets (README "Bounces"): off by default,
// both or neither, the domain lower-cased and checked, each secret at least 16 bytes.
TEST(LoadReturnPathKeys, OffByDefault) {
  config::Config c;
  EXPECT_TRUE(c.relay.return_path_domain.empty());
  EXPECT_TRUE(c.relay.return_path_secrets.empty());
}

TEST(LoadReturnPathKeys, DomainAndSecretsAreRead) {
  auto result = config::load_string(
      "relay:\n"
      "  return_path_domain: Bounces.Example.COM\n"
      "  return_path_secrets: [rp-new-0123456789abcdef, {secret: rp-old-0123456789abcdef}]\n");
  ASSERT_TRUE(result.config) << dump(result);
  EXPECT_EQ(result.config->relay.return_path_domain, "bounces.example.com");
  EXPECT_EQ(result.config->relay.return_path_secrets,
            (std::vector<std::string>{"rp-new-0123456789abcdef", "rp-old-0123456789abcdef"}));
}

TEST(LoadReturnPathKeys, BadValuesNameTheKey) {
  struct Case {
    const char* yaml;
    const char* key;
  } cases[] = {
      {"relay: {return_path_domain: bounces.example.com}\n", "relay.return_path_domain"},
      {"relay: {return_path_secrets: [rp-new-0123456789abcdef]}\n", "relay.return_path_domain"},
      {"relay: {return_path_domain: 'not a domain', return_path_secrets: "
       "[rp-new-0123456789abcdef]}\n",
       "relay.return_path_domain"},
      {"relay: {return_path_domain: '[192.0.2.1]', return_path_secrets: "
       "[rp-new-0123456789abcdef]}\n",
       "relay.return_path_domain"},
      {"relay: {return_path_domain: b.example, return_path_secrets: [short]}\n",
       "relay.return_path_secrets[0]"},
      {"relay: {return_path_domain: b.example, return_path_secrets: []}\n",
       "relay.return_path_secrets"},
  };
  for (const Case& c : cases) {
    auto result = config::load_string(c.yaml);
    EXPECT_FALSE(result.config) << c.yaml;
    EXPECT_TRUE(find_error(result, c.key)) << c.yaml << dump(result);
  }
}

}  // namespace
