// Tests of the configuration's defaults (CONTRACTS.md 4) and its pure helpers: error text,
// parse_host_port, match_route, default_hostname.
#include <gtest/gtest.h>

#include "config/config.h"
#include "test_support.h"

using namespace std::chrono_literals;

namespace {

config::Route route(std::vector<std::string> match) {
  config::Route r;
  r.match = std::move(match);
  return r;
}

TEST(ConfigDefaults, EqualTheContract) {
  config::Config c;
  EXPECT_EQ(c.smtp.listen, std::vector<std::string>{"0.0.0.0:2525"});
  EXPECT_TRUE(c.smtp.tls_listen.empty());
  EXPECT_FALSE(c.smtp.tls.enabled());
  EXPECT_FALSE(c.smtp.require_tls);
  EXPECT_TRUE(c.smtp.auth.users.empty());
  EXPECT_FALSE(c.smtp.auth.required);
  EXPECT_EQ(c.smtp.limits.max_message_size, 25u * 1024 * 1024);
  EXPECT_EQ(c.smtp.limits.max_recipients, 100u);
  EXPECT_EQ(c.smtp.limits.max_connections, 1000u);
  EXPECT_EQ(c.smtp.limits.max_connections_per_ip, 50u);
  EXPECT_EQ(c.smtp.limits.command_timeout, 5min);
  EXPECT_EQ(c.smtp.limits.data_timeout, 3min);
  EXPECT_EQ(c.smtp.limits.max_errors, 10u);
  EXPECT_EQ(c.smtp.limits.max_command_line, 512u);
  EXPECT_EQ(c.smtp.limits.max_line_length, 1000u);
  EXPECT_EQ(c.smtp.limits.max_buffered_bytes, 256u * 1024 * 1024);
  EXPECT_EQ(c.smtp.bare_lf, config::BareLf::reject);
  EXPECT_EQ(c.smtp.greet_delay, 0ms);
  EXPECT_EQ(c.smtp.drain_timeout, 20s);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].match, std::vector<std::string>{"*"});
  EXPECT_TRUE(c.routes[0].endpoints.empty());
  EXPECT_FALSE(c.routes[0].include_raw);
  EXPECT_EQ(c.routes[0].max_attachment_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(c.delivery.workers, 16u);
  EXPECT_EQ(c.delivery.retry.initial, 10s);
  EXPECT_EQ(c.delivery.retry.max_interval, 1h);
  EXPECT_EQ(c.delivery.retry.max_age, 72h);
  EXPECT_EQ(c.store.backend, "sqlite");
  EXPECT_EQ(c.store.path, "./var/smtp-bridge.db");
  EXPECT_EQ(c.store.retention_delivered, 24h);
  EXPECT_EQ(c.store.retention_dead, 168h);
  EXPECT_EQ(c.api.listen, "0.0.0.0:8080");
  EXPECT_TRUE(c.api.keys.empty());
  EXPECT_TRUE(c.relay.host.empty());
  EXPECT_EQ(c.relay.port, 587u);
  EXPECT_EQ(c.relay.tls, config::UpstreamTls::starttls);
  EXPECT_TRUE(c.relay.verify);
  EXPECT_EQ(c.relay.mechanism, "auto");
  EXPECT_EQ(c.relay.connections, 4u);
  EXPECT_EQ(c.relay.retry.initial, 30s);
  EXPECT_EQ(c.admin.listen, "0.0.0.0:8081");
  EXPECT_EQ(c.log.level, "info");
  // The embedded default accepts every recipient (no file = catch-all into the store).
  EXPECT_EQ(config::match_route(c.routes, "anyone@anywhere.example"), 0u);
}

TEST(ErrorText, NamesLineAndKey) {
  EXPECT_EQ((config::Error{"smtp.limits.max_recipients", 12, "must be at least 1"}).to_string(),
            "line 12: smtp.limits.max_recipients: must be at least 1");
  EXPECT_EQ((config::Error{"smtp.listen", 0, "bad"}).to_string(), "smtp.listen: bad");
  EXPECT_EQ((config::Error{"", 3, "invalid YAML"}).to_string(), "line 3: invalid YAML");
  EXPECT_EQ((config::Error{"", 0, "cannot read"}).to_string(), "cannot read");
}

TEST(DefaultHostname, IsNotEmpty) {
  std::string name = config::default_hostname();
  EXPECT_FALSE(name.empty());
  EXPECT_EQ(name.find_first_of(" \r\n"), std::string::npos);
}

TEST(ParseHostPort, AcceptsHostAndPort) {
  auto any = config::parse_host_port("0.0.0.0:2525");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->host, "0.0.0.0");
  EXPECT_EQ(any->port, 2525);
  auto ephemeral = config::parse_host_port("127.0.0.1:0");
  ASSERT_TRUE(ephemeral);
  EXPECT_EQ(ephemeral->host, "127.0.0.1");
  EXPECT_EQ(ephemeral->port, 0);
  auto v6 = config::parse_host_port("[::1]:25");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 25);
  auto name = config::parse_host_port("localhost:8080");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "localhost");
  EXPECT_EQ(name->port, 8080);
  auto highest = config::parse_host_port("localhost:65535");
  ASSERT_TRUE(highest);
  EXPECT_EQ(highest->port, 65535);
}

TEST(ParseHostPort, RejectsMalformed) {
  for (const char* text : {"localhost", "localhost:", ":25", "0.0.0.0:65536", "0.0.0.0:99999999",
                           "host:-1", "host:+25", "host:2x5", "::1:25", "[::1]", "[::1]25", "[]:25",
                           "[::1:25", "", "a b:25", "host:25 "}) {
    EXPECT_FALSE(config::parse_host_port(text)) << text;
  }
}

TEST(MatchRoute, CatchAllAcceptsEverything) {
  std::vector<config::Route> routes{route({"*"})};
  EXPECT_EQ(config::match_route(routes, "a@b.example"), 0u);
  EXPECT_EQ(config::match_route(routes, "postmaster"), 0u);
}

TEST(MatchRoute, DomainWildcardMatchesOnlyThatDomain) {
  std::vector<config::Route> routes{route({"*@help.example.com"})};
  EXPECT_EQ(config::match_route(routes, "anyone@help.example.com"), 0u);
  EXPECT_EQ(config::match_route(routes, "Anyone@HELP.Example.COM"), 0u);
  EXPECT_FALSE(config::match_route(routes, "anyone@example.com"));
  EXPECT_FALSE(config::match_route(routes, "anyone@sub.help.example.com"));
  EXPECT_FALSE(config::match_route(routes, "anyone@help.example.com.evil"));
  EXPECT_FALSE(config::match_route(routes, "help.example.com"));
  EXPECT_FALSE(config::match_route(routes, "@help.example.com"));
}

TEST(MatchRoute, ExactAddressIsCaseInsensitive) {
  std::vector<config::Route> routes{route({"support@example.com"})};
  EXPECT_EQ(config::match_route(routes, "support@example.com"), 0u);
  EXPECT_EQ(config::match_route(routes, "SUPPORT@Example.Com"), 0u);
  EXPECT_FALSE(config::match_route(routes, "sales@example.com"));
  EXPECT_FALSE(config::match_route(routes, "support@example.com.evil"));
  EXPECT_FALSE(config::match_route(routes, "xsupport@example.com"));
}

TEST(MatchRoute, FirstMatchingRouteWins) {
  std::vector<config::Route> routes{route({"vip@example.com"}),
                                    route({"nobody@other.example", "*@example.com"}), route({"*"})};
  EXPECT_EQ(config::match_route(routes, "vip@example.com"), 0u);
  EXPECT_EQ(config::match_route(routes, "joe@example.com"), 1u);
  EXPECT_EQ(config::match_route(routes, "joe@elsewhere.example"), 2u);
}

TEST(MatchRoute, NoRoutesAcceptNothing) {
  std::vector<config::Route> none;
  EXPECT_FALSE(config::match_route(none, "a@b.example"));
  std::vector<config::Route> empty_match{route({})};
  EXPECT_FALSE(config::match_route(empty_match, "a@b.example"));
}

}  // namespace
