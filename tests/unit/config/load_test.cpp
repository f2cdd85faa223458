// Tests that valid configurations load into the values a user wrote: the full example of
// CONTRACTS.md 4, empty documents, secrets from files and env, sizes, durations, routes.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "config/config.h"
#include "test_support.h"

using namespace std::chrono_literals;
using config_test::dump;
using config_test::find_error;
using config_test::TempDir;

namespace {

// CONTRACTS.md 4, verbatim.
const char* const kContractExample = R"yaml(smtp:
  listen: ["0.0.0.0:2525"]          # plain + STARTTLS
  tls_listen: []                    # implicit TLS (SMTPS), e.g. ["0.0.0.0:4650"]
  hostname: mx.example.com          # greeting, Received header; default: the host name
  tls: {cert_file: /tls/tls.crt, key_file: /tls/tls.key}   # enables STARTTLS and tls_listen
  require_tls: false
  auth:                             # SMTP AUTH for clients (submission); off when no users
    users: [{username: app, password_file: /secrets/smtp-app}]
    required: false
  limits: {max_message_size: 25MiB, max_recipients: 100, max_connections: 1000,
           max_connections_per_ip: 50, command_timeout: 5m, data_timeout: 3m, max_errors: 10}
  bare_lf: reject                   # reject | accept
  greet_delay: 0s                   # > 0: pause before the greeting; early talkers get 421
routes:                             # first match wins per recipient; no match → 550 5.1.1
  - match: ["support@example.com", "*@help.example.com"]   # "*" alone = catch-all
    endpoints:
      - url: https://app.internal/hooks/mail
        secret_file: /secrets/hook-secret   # whsec_…; no secret → unsigned
        timeout: 30s
        headers: {X-Tenant: acme}
    include_raw: false
    max_attachment_bytes: 10MiB
delivery: {workers: 16, retry: {initial: 10s, max_interval: 1h, max_age: 72h}}
store:
  backend: sqlite
  path: ./var/smtp-bridge.db
  retention: {delivered: 24h, dead: 7d}
api:
  listen: "0.0.0.0:8080"
  keys: [{name: shop, key_file: /secrets/api-key-shop}]   # Bearer tokens
relay:
  upstream: {host: smtp.provider.example, port: 587, tls: starttls, verify: true, ca_file: null}
  auth: {mechanism: auto, username: apikey, password_file: /secrets/upstream-password}
  hostname: bridge.example.com
  connections: 4
  retry: {initial: 30s, max_interval: 1h, max_age: 72h}
admin: {listen: "0.0.0.0:8081"}
log: {level: info}
)yaml";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

config::Config load_ok(const std::string& yaml) {
  config::LoadResult result = config::load_string(yaml);
  EXPECT_TRUE(result.errors.empty()) << dump(result);
  EXPECT_TRUE(result.config.has_value());
  return result.config.value_or(config::Config{});
}

TEST(LoadExample, ContractExampleLoadsWithEveryValue) {
  TempDir dir;
  dir.write("tls/tls.crt", "-----BEGIN CERTIFICATE-----\n");
  dir.write("tls/tls.key", "-----BEGIN PRIVATE KEY-----\n");
  dir.write("secrets/smtp-app", "app-password\n");
  dir.write("secrets/hook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
  dir.write("secrets/api-key-shop", "shop-key-123");
  dir.write("secrets/upstream-password", "upstream-pw\n");
  std::string yaml = replace_all(kContractExample, "/secrets/", dir.path() + "/secrets/");
  yaml = replace_all(yaml, "/tls/", dir.path() + "/tls/");
  config::Config c = load_ok(yaml);

  EXPECT_EQ(c.smtp.listen, std::vector<std::string>{"0.0.0.0:2525"});
  EXPECT_TRUE(c.smtp.tls_listen.empty());
  EXPECT_EQ(c.smtp.hostname, "mx.example.com");
  EXPECT_EQ(c.smtp.tls.cert_file, dir.path() + "/tls/tls.crt");
  EXPECT_EQ(c.smtp.tls.key_file, dir.path() + "/tls/tls.key");
  ASSERT_EQ(c.smtp.auth.users.size(), 1u);
  EXPECT_EQ(c.smtp.auth.users[0].username, "app");
  EXPECT_EQ(c.smtp.auth.users[0].password, "app-password");
  EXPECT_EQ(c.smtp.limits.max_message_size, 25 * config::kMiB);
  EXPECT_EQ(c.smtp.limits.command_timeout, 5min);
  EXPECT_EQ(c.smtp.limits.data_timeout, 3min);
  EXPECT_EQ(c.smtp.bare_lf, config::BareLf::reject);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].match,
            (std::vector<std::string>{"support@example.com", "*@help.example.com"}));
  ASSERT_EQ(c.routes[0].endpoints.size(), 1u);
  const config::Endpoint& endpoint = c.routes[0].endpoints[0];
  EXPECT_EQ(endpoint.url, "https://app.internal/hooks/mail");
  EXPECT_EQ(endpoint.secrets, std::vector<std::string>{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
  EXPECT_EQ(endpoint.timeout, 30s);
  EXPECT_EQ(endpoint.headers, (std::map<std::string, std::string>{{"X-Tenant", "acme"}}));
  EXPECT_EQ(c.routes[0].max_attachment_bytes, 10 * config::kMiB);
  EXPECT_EQ(c.delivery.workers, 16u);
  EXPECT_EQ(c.delivery.retry.max_age, 72h);
  EXPECT_EQ(c.store.retention_dead, 7 * 24h);
  ASSERT_EQ(c.api.keys.size(), 1u);
  EXPECT_EQ(c.api.keys[0].name, "shop");
  EXPECT_EQ(c.api.keys[0].key, "shop-key-123");
  EXPECT_EQ(c.relay.host, "smtp.provider.example");
  EXPECT_EQ(c.relay.port, 587u);
  EXPECT_EQ(c.relay.tls, config::UpstreamTls::starttls);
  EXPECT_TRUE(c.relay.verify);
  EXPECT_TRUE(c.relay.ca_file.empty());
  EXPECT_EQ(c.relay.username, "apikey");
  EXPECT_EQ(c.relay.password, "upstream-pw");
  EXPECT_EQ(c.relay.password_file, dir.path() + "/secrets/upstream-password");  // re-read later
  EXPECT_EQ(c.relay.hostname, "bridge.example.com");
  EXPECT_EQ(c.relay.retry.initial, 30s);
  EXPECT_EQ(c.admin.listen, "0.0.0.0:8081");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(config::match_route(c.routes, "joe@help.example.com"), 0u);
  EXPECT_FALSE(config::match_route(c.routes, "joe@example.com"));
}

TEST(LoadExample, LoadFileReadsTheSameConfiguration) {
  TempDir dir;
  std::string path =
      dir.write("bridge.yaml", "smtp: {hostname: mx.test, listen: \"127.0.0.1:0\"}\n");
  config::LoadResult result = config::load_file(path);
  ASSERT_TRUE(result.config) << dump(result);
  EXPECT_EQ(result.config->smtp.hostname, "mx.test");
  EXPECT_EQ(result.config->smtp.listen, std::vector<std::string>{"127.0.0.1:0"});
}

TEST(LoadExample, MissingFileIsOneErrorWithoutKeyOrLine) {
  TempDir dir;
  config::LoadResult result = config::load_file(dir.path() + "/absent.yaml");
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].key, "");
  EXPECT_EQ(result.errors[0].line, 0);
  EXPECT_NE(result.errors[0].message.find("absent.yaml"), std::string::npos);
}

TEST(LoadDefaults, EmptyDocumentsAreAllDefaults) {
  for (const char* yaml : {"", "{}", "# only a comment\n", "---\n", "smtp:\nroutes:\n"}) {
    config::Config c = load_ok(yaml);
    config::Config defaults;
    EXPECT_EQ(c.smtp.listen, defaults.smtp.listen) << yaml;
    EXPECT_EQ(c.smtp.limits.max_message_size, defaults.smtp.limits.max_message_size) << yaml;
    ASSERT_EQ(c.routes.size(), 1u) << yaml;
    EXPECT_EQ(c.routes[0].match, std::vector<std::string>{"*"}) << yaml;
    EXPECT_EQ(c.store.path, defaults.store.path) << yaml;
    EXPECT_EQ(c.api.listen, defaults.api.listen) << yaml;
    EXPECT_TRUE(c.smtp.hostname.empty()) << yaml;
  }
}

TEST(LoadRoutes, PresentListReplacesTheCatchAll) {
  config::Config c = load_ok("routes:\n  - match: [\"*@a.example\"]\n  - match: b@b.example\n");
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].match, std::vector<std::string>{"*@a.example"});
  EXPECT_EQ(c.routes[1].match, std::vector<std::string>{"b@b.example"});
  EXPECT_FALSE(config::match_route(c.routes, "x@c.example"));
  EXPECT_EQ(config::match_route(c.routes, "B@B.EXAMPLE"), 1u);
}

TEST(LoadRoutes, EmptyListAcceptsNoRecipient) {
  config::Config c = load_ok("routes: []\n");
  EXPECT_TRUE(c.routes.empty());
  EXPECT_FALSE(config::match_route(c.routes, "a@b.example"));
}

TEST(LoadRoutes, EndpointSecretsListAndInlineSecret) {
  TempDir dir;
  std::string file = dir.write("old", "whsec_b2xk\n");
  setenv("CONFIG_TEST_WHSEC", "whsec_ZW52", 1);
  config::Config c = load_ok(
      "routes:\n"
      "  - match: \"*\"\n"
      "    include_raw: true\n"
      "    max_attachment_bytes: 1048576\n"
      "    endpoints:\n"
      "      - url: http://127.0.0.1:9/a\n"
      "        secrets: [whsec_bmV3, {secret_file: " +
      file +
      "},"
      " {secret_env: CONFIG_TEST_WHSEC}]\n"
      "      - url: HTTPS://b.example/\n"
      "        secret: whsec_aW5saW5l\n"
      "        timeout: 250ms\n"
      "      - url: https://c.example/\n");
  unsetenv("CONFIG_TEST_WHSEC");
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_TRUE(c.routes[0].include_raw);
  EXPECT_EQ(c.routes[0].max_attachment_bytes, 1048576u);
  ASSERT_EQ(c.routes[0].endpoints.size(), 3u);
  EXPECT_EQ(c.routes[0].endpoints[0].secrets,
            (std::vector<std::string>{"whsec_bmV3", "whsec_b2xk", "whsec_ZW52"}));
  EXPECT_EQ(c.routes[0].endpoints[1].secrets, std::vector<std::string>{"whsec_aW5saW5l"});
  EXPECT_EQ(c.routes[0].endpoints[1].timeout, 250ms);
  EXPECT_TRUE(c.routes[0].endpoints[2].secrets.empty());
  EXPECT_EQ(c.routes[0].endpoints[2].timeout, 30s);
}

TEST(LoadRoutes, EndpointCaFileIsKeptAndDefaultsToTheSystemStore) {
  TempDir dir;
  std::string bundle = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  config::Config c = load_ok(
      "routes:\n"
      "  - match: \"*\"\n"
      "    endpoints:\n"
      "      - url: https://127.0.0.1:8443/a\n"
      "        ca_file: " +
      bundle +
      "\n"
      "      - url: https://b.example/\n");
  ASSERT_EQ(c.routes.size(), 1u);
  ASSERT_EQ(c.routes[0].endpoints.size(), 2u);
  EXPECT_EQ(c.routes[0].endpoints[0].ca_file, bundle);
  EXPECT_EQ(c.routes[0].endpoints[1].ca_file, "");
  EXPECT_EQ(config::Endpoint{}.ca_file, "");
}

TEST(LoadSecrets, FileStripsExactlyOneTrailingNewline) {
  TempDir dir;
  std::string one = dir.write("one", "pw1\n");
  std::string two = dir.write("two", "pw2\n\n");
  std::string crlf = dir.write("crlf", "pw3\r\n");
  std::string none = dir.write("none", "pw 4");
  config::Config c = load_ok(
      "smtp:\n  auth:\n    users:\n"
      "      - {username: a, password_file: " +
      one +
      "}\n"
      "      - {username: b, password_file: " +
      two +
      "}\n"
      "      - {username: c, password_file: " +
      crlf +
      "}\n"
      "      - {username: d, password_file: " +
      none +
      "}\n"
      "      - {username: e, password: inline}\n");
  ASSERT_EQ(c.smtp.auth.users.size(), 5u);
  EXPECT_EQ(c.smtp.auth.users[0].password, "pw1");
  EXPECT_EQ(c.smtp.auth.users[1].password, "pw2\n");
  EXPECT_EQ(c.smtp.auth.users[2].password, "pw3");
  EXPECT_EQ(c.smtp.auth.users[3].password, "pw 4");
  EXPECT_EQ(c.smtp.auth.users[4].password, "inline");
}

TEST(LoadSecrets, EnvironmentVariables) {
  setenv("CONFIG_TEST_API_KEY", "key-from-env", 1);
  setenv("CONFIG_TEST_RELAY_PW", "relay-from-env", 1);
  config::Config c = load_ok(
      "api:\n  keys:\n    - {name: ci, key_env: CONFIG_TEST_API_KEY}\n"
      "relay:\n  upstream: {host: 127.0.0.1, port: 2587, tls: none}\n"
      "  auth: {mechanism: plain, username: u, password_env: CONFIG_TEST_RELAY_PW}\n");
  unsetenv("CONFIG_TEST_API_KEY");
  unsetenv("CONFIG_TEST_RELAY_PW");
  ASSERT_EQ(c.api.keys.size(), 1u);
  EXPECT_EQ(c.api.keys[0].key, "key-from-env");
  EXPECT_EQ(c.relay.password, "relay-from-env");
  EXPECT_EQ(c.relay.mechanism, "plain");
  EXPECT_EQ(c.relay.tls, config::UpstreamTls::none);
  EXPECT_EQ(c.relay.port, 2587u);
}

TEST(LoadUnits, SizesAcceptUnitsAndPlainIntegers) {
  config::Config c = load_ok(
      "smtp:\n  limits:\n    max_message_size: 10MB\n"
      "    max_buffered_bytes: 1GiB\n"
      "store: {max_size: 2048}\n"
      "routes: [{match: \"*\", max_attachment_bytes: 512KiB}]\n");
  EXPECT_EQ(c.smtp.limits.max_message_size, 10'000'000u);
  EXPECT_EQ(c.smtp.limits.max_buffered_bytes, uint64_t(1) << 30);
  EXPECT_EQ(c.store.max_size, 2048u);
  EXPECT_EQ(c.routes[0].max_attachment_bytes, 512u * 1024);
}

TEST(LoadUnits, MemoryBudgetIsASizeAndZeroMeansAuto) {
  EXPECT_EQ(load_ok("memory: {budget: 384MiB}\n").memory.budget, 384u * 1024 * 1024);
  EXPECT_EQ(load_ok("memory: {budget: 0}\n").memory.budget, 0u);
  EXPECT_EQ(load_ok("log: {level: info}\n").memory.budget, 0u);
}

TEST(LoadUnits, DurationsInEveryUnit) {
  config::Config c = load_ok(
      "smtp:\n  greet_delay: 1500ms\n  drain_timeout: 45s\n"
      "  limits: {command_timeout: 90s, data_timeout: 2m}\n"
      "delivery: {retry: {initial: 1s, max_interval: 2h, max_age: 3d}}\n"
      "store: {commit_delay: 5ms, retention: {delivered: 12h, dead: 30d}}\n");
  EXPECT_EQ(c.smtp.greet_delay, 1500ms);
  EXPECT_EQ(c.smtp.drain_timeout, 45s);
  EXPECT_EQ(c.smtp.limits.command_timeout, 90s);
  EXPECT_EQ(c.smtp.limits.data_timeout, 2min);
  EXPECT_EQ(c.delivery.retry.initial, 1s);
  EXPECT_EQ(c.delivery.retry.max_interval, 2h);
  EXPECT_EQ(c.delivery.retry.max_age, 72h);
  EXPECT_EQ(c.store.commit_delay, 5ms);
  EXPECT_EQ(c.store.retention_delivered, 12h);
  EXPECT_EQ(c.store.retention_dead, 30 * 24h);
}

TEST(LoadSmtp, EnumsFlagsAndListeners) {
  TempDir dir;
  std::string cert = dir.write("c.pem", "x");
  std::string key = dir.write("k.pem", "x");
  config::Config c = load_ok(
      "smtp:\n  listen: [\"127.0.0.1:0\", \"[::1]:2525\"]\n"
      "  tls_listen: \"127.0.0.1:4650\"\n"
      "  tls: {cert_file: " +
      cert + ", key_file: " + key +
      "}\n"
      "  require_tls: true\n  bare_lf: accept\n  io_threads: 2\n"
      "  auth: {required: true, allow_plaintext: true,"
      " users: [{username: u, password: p}]}\n"
      "  limits: {max_recipients: 5, max_command_line: 2048,"
      " max_line_length: 1000, max_errors: 3}\n"
      "log: {level: debug}\n");
  EXPECT_EQ(c.smtp.listen, (std::vector<std::string>{"127.0.0.1:0", "[::1]:2525"}));
  EXPECT_EQ(c.smtp.tls_listen, std::vector<std::string>{"127.0.0.1:4650"});
  EXPECT_TRUE(c.smtp.tls.enabled());
  EXPECT_TRUE(c.smtp.require_tls);
  EXPECT_EQ(c.smtp.bare_lf, config::BareLf::accept);
  EXPECT_EQ(c.smtp.io_threads, 2u);
  EXPECT_TRUE(c.smtp.auth.required);
  EXPECT_TRUE(c.smtp.auth.allow_plaintext);
  EXPECT_EQ(c.smtp.limits.max_recipients, 5u);
  EXPECT_EQ(c.smtp.limits.max_command_line, 2048u);
  EXPECT_EQ(c.smtp.limits.max_errors, 3u);
  EXPECT_EQ(c.log.level, "debug");
}

}  // namespace

TEST(LoadRelay, TimeoutsDefaultToRfc5321AndCanBeSet) {
  config::Config defaults = load_ok("");
  EXPECT_EQ(defaults.relay.timeouts.greeting, 5min);   // RFC 5321 4.5.3.2.1
  EXPECT_EQ(defaults.relay.timeouts.data_end, 10min);  // RFC 5321 4.5.3.2.6
  EXPECT_TRUE(defaults.relay.password_file.empty());
  config::Config c = load_ok(
      "relay:\n  upstream: {host: smtp.example}\n"
      "  timeouts: {connect: 5s, command: 1m, data_end: 20m}\n"
      "  auth: {mechanism: xoauth2, username: u, password: t}\n");
  EXPECT_EQ(c.relay.timeouts.connect, 5s);
  EXPECT_EQ(c.relay.timeouts.command, 1min);
  EXPECT_EQ(c.relay.timeouts.data_end, 20min);
  EXPECT_EQ(c.relay.timeouts.data_block, 3min);  // untouched keys keep their default
  EXPECT_TRUE(c.relay.password_file.empty());    // an inline secret has no file to re-read
}
