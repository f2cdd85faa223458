// Tests of the payload keys of issue 15: routes[].attachments / attachment_url_threshold /
// extract_reply, endpoints[].format / max_payload_bytes / signing_key, a postmark URL's
// user:password@ moved out of the URL, and api.links (needed by whatever makes links).
#include <gtest/gtest.h>

#include "common/endpoint_name.h"
#include "config/config.h"
#include "test_support.h"

using config_test::dump;
using config_test::find_error;

namespace {

const char* kLinks =
    "api:\n"
    "  links: {base_url: 'https://bridge.example/', secrets: ['0123456789abcdef0123'], ttl: 2h}\n";

TEST(LoadPayloadKeys, Defaults) {
  config::Config c;
  EXPECT_EQ(c.routes[0].attachments, config::AttachmentMode::inline_content);
  EXPECT_EQ(c.routes[0].attachment_url_threshold, 0u);
  EXPECT_TRUE(c.routes[0].extract_reply);
  EXPECT_EQ(c.api.links.base_url, "");
  EXPECT_EQ(c.api.links.ttl, std::chrono::hours(24));
  config::Endpoint endpoint;
  EXPECT_EQ(endpoint.format, config::PayloadFormat::bridge_v1);
  EXPECT_EQ(endpoint.max_payload_bytes, 0u);
}

TEST(LoadPayloadKeys, EveryKeyIsRead) {
  auto result = config::load_string(
      std::string(kLinks) +
      "routes:\n"
      "  - match: '*'\n"
      "    attachments: url\n"
      "    attachment_url_threshold: 1MiB\n"
      "    extract_reply: false\n"
      "    endpoints:\n"
      "      - {url: 'https://in%40box:p%3Ass@pm.example/hook', format: postmark}\n"
      "      - {url: 'https://mg.example/hook', format: mailgun, signing_key: key-1,\n"
      "         max_payload_bytes: 5MiB}\n");
  ASSERT_TRUE(result.config) << dump(result);
  const config::Config& c = *result.config;
  EXPECT_EQ(c.api.links.base_url, "https://bridge.example");  // the trailing / is dropped
  EXPECT_EQ(c.api.links.secrets, std::vector<std::string>{"0123456789abcdef0123"});
  EXPECT_EQ(c.api.links.ttl, std::chrono::hours(2));
  const config::Route& route = c.routes[0];
  EXPECT_EQ(route.attachments, config::AttachmentMode::url);
  EXPECT_EQ(route.attachment_url_threshold, config::kMiB);
  EXPECT_FALSE(route.extract_reply);
  EXPECT_EQ(route.endpoints[0].format, config::PayloadFormat::postmark);
  EXPECT_EQ(route.endpoints[0].url, "https://pm.example/hook");
  EXPECT_EQ(route.endpoints[0].basic_auth, "in@box:p:ss");
  // Named after the URL without its userinfo.
  EXPECT_EQ(route.endpoints[0].name, *common::default_endpoint_name("https://pm.example/hook"));
  EXPECT_EQ(route.endpoints[1].format, config::PayloadFormat::mailgun);
  EXPECT_EQ(route.endpoints[1].signing_key, "key-1");
  EXPECT_EQ(route.endpoints[1].max_payload_bytes, 5 * config::kMiB);
}

TEST(LoadPayloadKeys, BasicAuthFromASecretInsteadOfTheUrl) {
  config_test::TempDir dir;
  std::string file = dir.write("pm-auth", "inbox:s3cret");
  auto result = config::load_string(
      "routes:\n"
      "  - match: '*'\n"
      "    endpoints: [{url: 'https://pm.example/hook', format: postmark, basic_auth_file: '" +
      file + "'}]\n");
  ASSERT_TRUE(result.config) << dump(result);
  EXPECT_EQ(result.config->routes[0].endpoints[0].basic_auth, "inbox:s3cret");
  auto both = config::load_string(
      "routes:\n"
      "  - match: '*'\n"
      "    endpoints: [{url: 'https://u:p@pm.example/', format: postmark, basic_auth: 'a:b'}]\n");
  EXPECT_NE(find_error(both, "routes[0].endpoints[0].url"), nullptr) << dump(both);
  auto other = config::load_string(
      "routes:\n"
      "  - match: '*'\n"
      "    endpoints: [{url: 'https://a.example/', basic_auth: 'a:b'}]\n");
  EXPECT_NE(find_error(other, "routes[0].endpoints[0].basic_auth"), nullptr) << dump(other);
}

TEST(LoadPayloadKeys, UserinfoOnlyForPostmarkAndNeverEchoed) {
  auto result = config::load_string(
      "routes:\n"
      "  - match: '*'\n"
      "    endpoints: [{url: 'https://user:secret-pw@app.example/hook'}]\n");
  ASSERT_FALSE(result.config);
  const config::Error* error = find_error(result, "routes[0].endpoints[0].url");
  ASSERT_NE(error, nullptr) << dump(result);
  EXPECT_EQ(error->message.find("secret-pw"), std::string::npos) << error->message;
}

TEST(LoadPayloadKeys, BadValuesNameTheirKey) {
  auto result = config::load_string(
      "api:\n"
      "  links: {base_url: 'https://b.example/x?y=1', secrets: [short], ttl: 0s}\n"
      "routes:\n"
      "  - match: '*'\n"
      "    attachments: links\n"
      "    endpoints:\n"
      "      - {url: 'https://a.example/', format: mailgun}\n"
      "      - {url: 'https://b.example/', format: json}\n"
      "      - {url: 'https://c.example/', signing_key: k}\n"
      "      - {url: 'https://:pw@d.example/', format: postmark}\n");
  ASSERT_FALSE(result.config);
  for (const char* key :
       {"api.links.base_url", "api.links.secrets[0]", "api.links.ttl", "routes[0].attachments",
        "routes[0].endpoints[0].signing_key", "routes[0].endpoints[1].format",
        "routes[0].endpoints[2].signing_key", "routes[0].endpoints[3].url"})
    EXPECT_NE(find_error(result, key), nullptr) << key << "\n" << dump(result);
}

TEST(LoadPayloadKeys, LinksAreNeededByUrlModeAndPayloadCaps) {
  auto result = config::load_string(
      "routes:\n"
      "  - match: '*@a.example'\n"
      "    attachments: url\n"
      "  - match: '*'\n"
      "    endpoints: [{url: 'https://b.example/', max_payload_bytes: 1MiB}]\n");
  ASSERT_FALSE(result.config);
  EXPECT_NE(find_error(result, "routes[0].attachments"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "routes[1].endpoints[0].max_payload_bytes"), nullptr)
      << dump(result);
}

TEST(LoadPayloadKeys, SharedEndpointNeedsTheSamePayloadSettings) {
  auto result = config::load_string(std::string(kLinks) +
                                    "routes:\n"
                                    "  - match: '*@a.example'\n"
                                    "    endpoints: [{url: 'https://h.example/'}]\n"
                                    "  - match: '*'\n"
                                    "    attachments: url\n"
                                    "    endpoints: [{url: 'https://h.example/'}]\n");
  ASSERT_FALSE(result.config);
  EXPECT_NE(find_error(result, "routes[1].endpoints[0].url"), nullptr) << dump(result);
}

}  // namespace
