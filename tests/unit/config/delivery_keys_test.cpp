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

TEST(EndpointNames, default_to_host_port_and_a_digest_of_path_and_query_never_the_path) {
  auto loaded = config::load_string(
      "routes:\n"
      "  - match: '*'\n"
      "    endpoints:\n"
      "      - url: HTTPS://Hooks.Example:443/\n"
      "      - url: http://127.0.0.1:8080/hook/s3cret?token=abc\n"
      "      - url: http://[::1]:9000/h\n"
      "      - url: http://10.0.0.1/x\n"
      "        name: orders\n");
  ASSERT_TRUE(loaded.config) << loaded.errors.at(0).to_string();
  const auto& endpoints = loaded.config->routes.at(0).endpoints;
  EXPECT_EQ(endpoints.at(0).name, "hooks.example");
  EXPECT_EQ(endpoints.at(1).name.rfind("127.0.0.1:8080/", 0), 0u) << endpoints.at(1).name;
  EXPECT_EQ(endpoints.at(1).name.size(), std::string("127.0.0.1:8080/").size() + 8);
  EXPECT_EQ(endpoints.at(1).name.find("s3cret"), std::string::npos);
  EXPECT_EQ(endpoints.at(2).name.rfind("[::1]:9000/", 0), 0u) << endpoints.at(2).name;
  EXPECT_EQ(endpoints.at(3).name, "orders");
}

TEST(EndpointNames, a_trailing_slash_or_https_keeps_the_derived_name_another_path_does_not) {
  auto name_of = [](const std::string& url) {
    auto loaded =
        config::load_string("routes:\n  - match: '*'\n    endpoints: [{url: '" + url + "'}]\n");
    return loaded.config ? loaded.config->routes.at(0).endpoints.at(0).name : "<error>";
  };
  EXPECT_EQ(name_of("http://h.example/a/b"), name_of("http://h.example/a/b/"));
  EXPECT_EQ(name_of("http://h.example/a/b"), name_of("https://h.example/a/b"));
  EXPECT_NE(name_of("http://h.example/a/b"), name_of("http://h.example/a/c"));
  EXPECT_NE(name_of("http://h.example/a?t=1"), name_of("http://h.example/a?t=2"));
  EXPECT_NE(name_of("http://h.example/a"), name_of("http://h.example:8080/a"));
}

TEST(EndpointNames, one_name_has_one_url_and_one_url_one_name) {
  // The result outlives the error found in it.
  config::LoadResult loaded = config::load_string(
      "routes:\n"
      "  - match: '*@a.example'\n"
      "    endpoints: [{name: orders, url: 'http://x/1'}]\n"
      "  - match: '*@b.example'\n"
      "    endpoints: [{name: orders, url: 'http://x/2'}]\n");
  const config::Error* error = find_error(loaded, "routes[1].endpoints[0].name");
  ASSERT_NE(error, nullptr);
  EXPECT_NE(error->message.find("one name has one url"), std::string::npos) << error->message;
  EXPECT_NE(find_error(config::load_string("routes:\n"
                                           "  - match: '*'\n"
                                           "    endpoints:\n"
                                           "      - {name: a, url: 'http://x/1'}\n"
                                           "      - {name: b, url: 'http://x/1'}\n"),
                       "routes[0].endpoints[1].url"),
            nullptr);
  EXPECT_NE(find_error(config::load_string("routes:\n  - match: '*'\n    endpoints:\n"
                                           "      - {name: 'a b', url: 'http://x/1'}\n"),
                       "routes[0].endpoints[0].name"),
            nullptr);
  // Several routes may share a named endpoint with the same settings.
  EXPECT_TRUE(config::load_string("routes:\n"
                                  "  - match: '*@a.example'\n"
                                  "    endpoints: [{name: orders, url: 'http://x/1'}]\n"
                                  "  - match: '*@b.example'\n"
                                  "    endpoints: [{name: orders, url: 'http://x/1'}]\n")
                  .config);
}

}  // namespace
