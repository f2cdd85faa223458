// Tests that every kind of bad configuration is refused with an error naming the dotted key and
// the 1-based line where it was written, that all errors are collected, and that nothing throws.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "config/config.h"
#include "test_support.h"

using config_test::dump;
using config_test::find_error;
using config_test::TempDir;

namespace {

// Loads `yaml`, expects it refused with an error for `key` on `line`; returns its message.
std::string expect_error(const std::string& yaml, const std::string& key, int line) {
  config::LoadResult result = config::load_string(yaml);
  EXPECT_FALSE(result.config) << yaml;
  const config::Error* error = find_error(result, key);
  if (error == nullptr) {
    ADD_FAILURE() << "no error for key '" << key << "' in:\n" << yaml << "got:\n" << dump(result);
    return "";
  }
  EXPECT_EQ(error->line, line) << key << ": " << dump(result);
  return error->message;
}

TEST(LoadErrors, UnknownKeysAnywhere) {
  EXPECT_EQ(
      expect_error("smtp:\n  limits:\n    max_recipientz: 5\n", "smtp.limits.max_recipientz", 3),
      "unknown key");
  expect_error("log: {level: info}\nsmpt: {}\n", "smpt", 2);
  expect_error(
      "routes:\n  - match: \"*\"\n    endpoints:\n      - url: http://x/\n        secrte: a\n",
      "routes[0].endpoints[0].secrte", 5);
  expect_error("relay:\n  upstream: {host: h, tsl: none}\n", "relay.upstream.tsl", 2);
  expect_error("relay:\n  timeouts: {greting: 1m}\n", "relay.timeouts.greting", 2);
  expect_error("api:\n  keys:\n    - name: a\n      key: b\n      role: admin\n",
               "api.keys[0].role", 5);
}

TEST(LoadErrors, DuplicateKey) {
  EXPECT_EQ(expect_error("log:\n  level: info\n  level: debug\n", "log.level", 3), "duplicate key");
}

TEST(LoadErrors, WrongTypes) {
  expect_error("smtp:\n  require_tls: maybe\n", "smtp.require_tls", 2);
  expect_error("smtp:\n  limits:\n    max_recipients: many\n", "smtp.limits.max_recipients", 3);
  expect_error("smtp:\n  limits: [1, 2]\n", "smtp.limits", 2);
  expect_error("smtp:\n  hostname: [a, b]\n", "smtp.hostname", 2);
  expect_error("smtp:\n  listen: {a: b}\n", "smtp.listen", 2);
  expect_error("routes: {match: x}\n", "routes", 1);
  expect_error("delivery:\n  workers: 1.5\n", "delivery.workers", 2);
  expect_error("[1, 2]\n", "", 1);
}

TEST(LoadErrors, NegativeAndZeroWhereNonsensical) {
  EXPECT_NE(
      expect_error("smtp:\n  limits:\n    max_recipients: -1\n", "smtp.limits.max_recipients", 3)
          .find("negative"),
      std::string::npos);
  expect_error("smtp:\n  limits:\n    max_recipients: 0\n", "smtp.limits.max_recipients", 3);
  expect_error("smtp:\n  limits:\n    max_connections: 0\n", "smtp.limits.max_connections", 3);
  expect_error("smtp:\n  limits:\n    max_message_size: 0\n", "smtp.limits.max_message_size", 3);
  expect_error("smtp:\n  limits:\n    command_timeout: 0s\n", "smtp.limits.command_timeout", 3);
  // RFC 5321 4.5.3.1.4 / 4.5.3.1.6 minimums
  expect_error("smtp:\n  limits:\n    max_command_line: 100\n", "smtp.limits.max_command_line", 3);
  expect_error("smtp:\n  limits:\n    max_line_length: 999\n", "smtp.limits.max_line_length", 3);
  expect_error("delivery:\n  workers: 0\n", "delivery.workers", 2);
  expect_error("relay:\n  upstream:\n    port: 0\n", "relay.upstream.port", 3);
  expect_error("relay:\n  upstream:\n    port: 65536\n", "relay.upstream.port", 3);
  expect_error("relay:\n  connections: 0\n", "relay.connections", 2);
  expect_error("smtp:\n  limits:\n    max_errors: 99999999999\n", "smtp.limits.max_errors", 3);
}

TEST(LoadErrors, BadSizesAndDurations) {
  expect_error("smtp:\n  limits:\n    max_message_size: 25 potatoes\n",
               "smtp.limits.max_message_size", 3);
  expect_error("smtp:\n  limits:\n    max_message_size: -5\n", "smtp.limits.max_message_size", 3);
  // A duration always carries its unit.
  expect_error("smtp:\n  greet_delay: 5\n", "smtp.greet_delay", 2);
  expect_error("smtp:\n  drain_timeout: soon\n", "smtp.drain_timeout", 2);
  expect_error("delivery:\n  retry:\n    initial: soon\n", "delivery.retry.initial", 3);
  expect_error("delivery:\n  retry:\n    initial: 1h\n    max_interval: 1m\n",
               "delivery.retry.max_interval", 4);
  expect_error("store:\n  retention: {delivered: 0s}\n", "store.retention.delivered", 2);
  expect_error("memory:\n  budget: lots\n", "memory.budget", 2);
  expect_error("memory:\n  limit: 1GiB\n", "memory.limit", 2);
}

TEST(LoadErrors, BadAddresses) {
  expect_error("smtp:\n  listen: [\"0.0.0.0:2525\", \"0.0.0.0\"]\n", "smtp.listen[1]", 2);
  expect_error("smtp:\n  listen:\n    - \"0.0.0.0:2525\"\n    - \"0.0.0.0:70000\"\n",
               "smtp.listen[1]", 4);
  expect_error("api:\n  listen: \":8080\"\n", "api.listen", 2);
  expect_error("admin: {listen: localhost}\n", "admin.listen", 1);
}

TEST(LoadErrors, BadChoices) {
  expect_error("smtp:\n  bare_lf: fix\n", "smtp.bare_lf", 2);
  expect_error("store:\n  backend: redis\n", "store.backend", 2);
  expect_error("relay:\n  upstream: {tls: opportunistic}\n", "relay.upstream.tls", 2);
  expect_error("relay:\n  auth:\n    mechanism: ntlm\n", "relay.auth.mechanism", 3);
  expect_error("log:\n  level: verbose\n", "log.level", 2);
}

TEST(LoadErrors, BadRoutes) {
  expect_error("routes:\n  - match: []\n", "routes[0].match", 2);
  expect_error("routes:\n  - match: [\"\"]\n", "routes[0].match[0]", 2);
  expect_error("routes:\n  - include_raw: true\n", "routes[0].match", 2);
  expect_error("routes:\n  - match: [\"a@b.example\", \"nodomain\"]\n", "routes[0].match[1]", 2);
  expect_error("routes:\n  - match: [\"sup*@b.example\"]\n", "routes[0].match[0]", 2);
  expect_error("routes:\n  - match: [\"*@*.example\"]\n", "routes[0].match[0]", 2);
  expect_error("routes:\n  - match: \"*\"\n    endpoints:\n      - url: ftp://x/\n",
               "routes[0].endpoints[0].url", 4);
  expect_error("routes:\n  - match: \"*\"\n    endpoints:\n      - timeout: 1s\n",
               "routes[0].endpoints[0].url", 4);
  expect_error(
      "routes:\n  - match: \"*\"\n    endpoints:\n      - url: http://x/\n"
      "        headers: {\"Bad Name\": v}\n",
      "routes[0].endpoints[0].headers.Bad Name", 5);
  expect_error(
      "routes:\n  - match: \"*\"\n    endpoints:\n      - url: http://x/\n"
      "        secret: a\n        secrets: [b]\n",
      "routes[0].endpoints[0]", 4);
}

TEST(LoadErrors, EndpointUrlsTheDispatcherCouldNotPostTo) {
  for (const char* url : {"https://user:pw@x.example/", "http://x.example:99999/",
                          "http://x.example:0/", "http://[::1/", "https://:443/", "http://"}) {
    std::string yaml =
        std::string("routes:\n  - match: \"*\"\n    endpoints:\n      - url: \"") + url + "\"\n";
    std::string message = expect_error(yaml, "routes[0].endpoints[0].url", 4);
    EXPECT_NE(message.find("http:// or https://"), std::string::npos) << url << ": " << message;
  }
}

TEST(LoadErrors, WebhookSecretsMustBeWhsecBase64AndAreNeverEchoed) {
  const std::string head = "routes:\n  - match: \"*\"\n    endpoints:\n      - url: http://x/\n";
  std::string message = expect_error(head + "        secret: whsec_not-base64!\n",
                                     "routes[0].endpoints[0].secret", 5);
  EXPECT_NE(message.find("not base64"), std::string::npos) << message;
  EXPECT_EQ(message.find("not-base64!"), std::string::npos) << "the secret is echoed: " << message;
  message = expect_error(head + "        secret: plain-shared-secret\n",
                         "routes[0].endpoints[0].secret", 5);
  EXPECT_NE(message.find("whsec_"), std::string::npos) << message;
  EXPECT_EQ(message.find("plain-shared-secret"), std::string::npos) << message;
  expect_error(head + "        secret: whsec_\n", "routes[0].endpoints[0].secret", 5);
  // In a rotation list, the bad one is named by its index.
  expect_error(head + "        secrets: [whsec_bmV3, whsec_old]\n",
               "routes[0].endpoints[0].secrets[1]", 5);
  TempDir dir;
  std::string file = dir.write("hook", "whsec_no good\n");
  expect_error(head + "        secret_file: " + file + "\n", "routes[0].endpoints[0].secret_file",
               5);
}

TEST(LoadErrors, OneUrlHasOneSetOfSettings) {
  // The same endpoint serving two routes, with the same settings, is fine.
  config::LoadResult same = config::load_string(
      "routes:\n  - match: \"*@a.example\"\n    endpoints: [{url: http://x/, secret: whsec_bmV3}]\n"
      "  - match: \"*@b.example\"\n    endpoints: [{url: http://x/, secret: whsec_bmV3}]\n");
  EXPECT_TRUE(same.config) << dump(same);
  // Other secrets, headers or route settings under the same URL: the second is refused.
  std::string message = expect_error(
      "routes:\n  - match: \"*@a.example\"\n    endpoints: [{url: http://x/, secret: whsec_bmV3}]\n"
      "  - match: \"*@b.example\"\n    endpoints:\n      - url: http://y/\n"
      "      - url: http://x/\n        secret: whsec_b2xk\n",
      "routes[1].endpoints[1].url", 7);
  EXPECT_NE(message.find("routes[0].endpoints[0]"), std::string::npos) << message;
  expect_error(
      "routes:\n  - match: \"*@a.example\"\n    endpoints: [{url: http://x/}]\n"
      "  - match: \"*@b.example\"\n    include_raw: true\n    endpoints:\n"
      "      - url: http://x/\n",
      "routes[1].endpoints[0].url", 7);
  expect_error(
      "routes:\n  - match: \"*\"\n    endpoints:\n      - url: http://x/\n      - url: http://x/\n",
      "routes[0].endpoints[1].url", 5);
  // Entries without a URL are not compared (and a scalar entry is not indexed into).
  config::LoadResult broken = config::load_string(
      "routes:\n  - match: \"*\"\n    endpoints: [http://x/, http://x/, {timeout: 1s}, {}]\n");
  EXPECT_FALSE(broken.config);
  EXPECT_EQ(find_error(broken, "routes[0].endpoints[1].url"), nullptr) << dump(broken);
}

TEST(LoadErrors, TlsFilesMustComeInPairsAndBeNeededFirst) {
  TempDir dir;
  std::string cert = dir.write("c.pem", "x");
  expect_error("smtp:\n  tls:\n    cert_file: " + cert + "\n", "smtp.tls.key_file", 3);
  expect_error("smtp:\n  tls:\n    key_file: " + cert + "\n", "smtp.tls.cert_file", 3);
  expect_error("smtp:\n  tls_listen: [\"0.0.0.0:4650\"]\n", "smtp.tls_listen", 2);
  expect_error("smtp:\n  require_tls: true\n", "smtp.require_tls", 2);
  expect_error("smtp:\n  tls: {cert_file: " + cert + ", key_file: " + dir.path() + "/none.pem}\n",
               "smtp.tls.key_file", 2);
}

TEST(LoadErrors, EndpointCaFileMustBeReadableAtLoad) {
  TempDir dir;
  std::string missing = dir.path() + "/none.pem";
  std::string message = expect_error(
      "routes:\n  - match: \"*\"\n    endpoints:\n      - url: https://x.example/\n"
      "      - url: https://y.example/\n        ca_file: " +
          missing + "\n",
      "routes[0].endpoints[1].ca_file", 6);
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  expect_error(
      "routes:\n  - match: \"*\"\n    endpoints:\n      - url: https://x.example/\n"
      "        ca_file: [a, b]\n",
      "routes[0].endpoints[0].ca_file", 5);
}

TEST(LoadErrors, UnreadableSecretFileNamesKeyAndLine) {
  TempDir dir;
  std::string message = expect_error(
      "smtp:\n  auth:\n    users:\n      - username: app\n"
      "        password_file: " +
          dir.path() + "/missing\n",
      "smtp.auth.users[0].password_file", 5);
  EXPECT_NE(message.find("missing"), std::string::npos);
  expect_error("api:\n  keys: [{name: a, key_file: " + dir.path() + "}]\n",  // a directory
               "api.keys[0].key_file", 2);
  std::string empty = dir.write("empty", "\n");
  expect_error("api:\n  keys:\n    - name: a\n      key_file: " + empty + "\n",
               "api.keys[0].key_file", 4);
}

TEST(LoadErrors, UnsetEnvironmentVariable) {
  unsetenv("CONFIG_TEST_SURELY_UNSET");
  std::string message = expect_error(
      "relay:\n  auth:\n    username: u\n"
      "    password_env: CONFIG_TEST_SURELY_UNSET\n",
      "relay.auth.password_env", 4);
  EXPECT_NE(message.find("CONFIG_TEST_SURELY_UNSET"), std::string::npos);
}

TEST(LoadErrors, ExactlyOneSecretSource) {
  expect_error(
      "smtp:\n  auth:\n    users:\n      - username: a\n        password: x\n"
      "        password_env: HOME\n",
      "smtp.auth.users[0]", 4);
  expect_error("smtp:\n  auth:\n    users:\n      - username: a\n", "smtp.auth.users[0].password",
               4);
  expect_error("api:\n  keys:\n    - name: a\n", "api.keys[0].key", 3);
  expect_error("api:\n  keys:\n    - key: a\n", "api.keys[0].name", 3);
  expect_error("relay:\n  auth:\n    password: x\n", "relay.auth.username", 3);
}

TEST(LoadErrors, AuthRequiredWithoutUsers) {
  expect_error("smtp:\n  auth:\n    required: true\n", "smtp.auth.required", 3);
}

TEST(LoadErrors, CollectsAllErrorsNotJustTheFirst) {
  config::LoadResult result = config::load_string(
      "smtp:\n"                           // 1
      "  listen: [\"nowhere\"]\n"         // 2
      "  limits:\n"                       // 3
      "    max_recipients: 0\n"           // 4
      "    max_recipientz: 5\n"           // 5
      "routes:\n"                         // 6
      "  - match: []\n"                   // 7
      "store: {backend: mysql}\n"         // 8
      "relay: {upstream: {port: 0}}\n");  // 9
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 6u) << dump(result);
  const std::pair<const char*, int> expected[] = {{"smtp.listen[0]", 2},
                                                  {"smtp.limits.max_recipients", 4},
                                                  {"smtp.limits.max_recipientz", 5},
                                                  {"routes[0].match", 7},
                                                  {"store.backend", 8},
                                                  {"relay.upstream.port", 9}};
  for (const auto& [key, line] : expected) {
    const config::Error* error = find_error(result, key);
    ASSERT_NE(error, nullptr) << key << "\n" << dump(result);
    EXPECT_EQ(error->line, line) << key;
  }
}

TEST(LoadErrors, YamlSyntaxErrorsCarryTheLineAndNeverThrow) {
  config::LoadResult result;
  EXPECT_NO_THROW(result = config::load_string("smtp:\n  listen: [\"a:1\"\nlog: {level: info}\n"));
  EXPECT_FALSE(result.config);
  ASSERT_FALSE(result.errors.empty());
  EXPECT_GE(result.errors[0].line, 2);

  EXPECT_NO_THROW(result = config::load_string("smtp:\n  hostname: mx\n\tlisten: x\n"));
  EXPECT_FALSE(result.config);
  ASSERT_FALSE(result.errors.empty());
  EXPECT_EQ(result.errors[0].line, 3) << dump(result);

  EXPECT_NO_THROW(result = config::load_string("routes: [*undefined_alias]\n"));
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 1);
}

TEST(LoadErrors, OnlyOneDocument) {
  expect_error("log: {level: info}\n---\nlog: {level: debug}\n", "", 3);
  expect_error("---\n---\n", "", 2);
}

// yaml-cpp 0.7's LoadAll never returns on these (yaml-cpp issue 1040: a token the parser cannot
// place is never consumed, each call yields another empty document) and grows past gigabytes;
// found by tests/fuzz/fuzz_config.cpp. They must be refused like any other invalid YAML.
TEST(LoadErrors, InputTheParserCannotGetPastIsRefusedNotLoopedOn) {
  EXPECT_EQ(expect_error(",", "", 1), "invalid YAML: unexpected ',' at column 1");
  EXPECT_EQ(expect_error("log: {level: info}\n...\n, smtp: {}\n", "", 3),
            "invalid YAML: unexpected ',' at column 1");
  expect_error(std::string("&e\x03: ,.0.74"), "", 1);
  expect_error(std::string(",\xd7\xd3\xd3\n---\nlog: 2\n"), "", 1);
}

}  // namespace
