// Unit tests for src/common: UUIDv7, base64, units, timestamps, the RFC 5321 mailbox grammar,
// endpoint URLs.
#include <gtest/gtest.h>

#include <set>

#include "common/base64.h"
#include "common/ids.h"
#include "common/mailbox.h"
#include "common/time.h"
#include "common/units.h"
#include "common/url.h"

TEST(Uuid, v7_has_version_variant_and_sorts_in_creation_order) {
  std::string previous;
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {
    std::string id = common::uuid_v7();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '7');
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    EXPECT_LT(previous, id);
    EXPECT_TRUE(seen.insert(id).second);
    previous = id;
  }
}

TEST(Base64, round_trips_every_length) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    auto encoded = common::base64_encode(bytes);
    auto decoded = common::base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(n * 37));
  }
  EXPECT_EQ(common::base64_encode(std::string("\0test\0test", 10)), "AHRlc3QAdGVzdA==");
}

// A bit-by-bit encoder (RFC 4648 4) to compare the table-driven one with.
std::string reference_base64(const std::string& bytes) {
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t bits = bytes.size() * 8;
  for (size_t at = 0; at < bits; at += 6) {
    int value = 0;
    for (size_t k = at; k < at + 6; ++k) {
      int bit = k < bits ? (static_cast<unsigned char>(bytes[k / 8]) >> (7 - k % 8)) & 1 : 0;
      value = value * 2 + bit;
    }
    out += alphabet[value];
  }
  while (out.size() % 4 != 0) out += '=';
  return out;
}

TEST(Base64, encoding_matches_a_bitwise_encoder_for_every_length_and_pair) {
  std::string bytes;
  uint32_t state = 12345;
  for (int n = 0; n < 9000; ++n) {
    if (n < 300 || n % 97 == 0) {
      std::string encoded = common::base64_encode(bytes);
      ASSERT_EQ(encoded, reference_base64(bytes)) << n;
      ASSERT_EQ(encoded.size(), common::base64_encoded_size(bytes.size()));
      std::string buffer(encoded.size() + 1, '#');
      char* end = common::base64_encode_to(bytes, buffer.data());
      EXPECT_EQ(end, buffer.data() + encoded.size());
      EXPECT_EQ(buffer, encoded + "#");  // nothing written past the end
    }
    state = state * 1103515245u + 12345u;
    bytes.push_back(static_cast<char>(state >> 16));
  }
  std::string pairs;  // every 12-bit value in both halves of a 3-byte group
  for (uint32_t v = 0; v < 4096; ++v) {
    uint32_t group = (v << 12) | (4095 - v);
    pairs +=
        {static_cast<char>(group >> 16), static_cast<char>(group >> 8), static_cast<char>(group)};
  }
  EXPECT_EQ(common::base64_encode(pairs), reference_base64(pairs));
}

TEST(Base64, rejects_malformed_input) {
  EXPECT_FALSE(common::base64_decode("not-b64"));
  EXPECT_FALSE(common::base64_decode("="));
  EXPECT_FALSE(common::base64_decode("ab@%"));
  EXPECT_FALSE(common::base64_decode("QQ=A"));
  EXPECT_FALSE(common::base64_decode("Q==="));
  EXPECT_FALSE(common::base64_decode("QQ==QQ=="));
  EXPECT_FALSE(common::base64_decode("QUJD\r\n"));
  EXPECT_EQ(common::base64_decode("").value(), "");
}

TEST(Units, parses_durations_with_units) {
  using namespace std::chrono_literals;
  EXPECT_EQ(common::parse_duration("30s"), std::chrono::milliseconds(30s));
  EXPECT_EQ(common::parse_duration("5m"), std::chrono::milliseconds(5min));
  EXPECT_EQ(common::parse_duration("72h"), std::chrono::milliseconds(72h));
  EXPECT_EQ(common::parse_duration("7d"), std::chrono::milliseconds(7 * 24h));
  EXPECT_EQ(common::parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_FALSE(common::parse_duration("30"));
  EXPECT_FALSE(common::parse_duration("s"));
  EXPECT_FALSE(common::parse_duration("-5s"));
  EXPECT_FALSE(common::parse_duration("5 s"));
  EXPECT_FALSE(common::parse_duration("99999999999999999999d"));
}

TEST(Units, parses_sizes_binary_and_decimal) {
  EXPECT_EQ(common::parse_size("25MiB"), 25u << 20);
  EXPECT_EQ(common::parse_size("10MB"), 10'000'000u);
  EXPECT_EQ(common::parse_size("1024"), 1024u);
  EXPECT_EQ(common::parse_size("2KiB"), 2048u);
  EXPECT_FALSE(common::parse_size("MiB"));
  EXPECT_FALSE(common::parse_size("10 MiB"));
  EXPECT_FALSE(common::parse_size("10mib"));
  EXPECT_FALSE(common::parse_size("99999999999999GiB"));
}

TEST(Time, formats_rfc3339_and_rfc5322) {
  auto t = common::Clock::time_point(std::chrono::milliseconds(1795739723123));
  EXPECT_EQ(common::rfc3339_utc(t), "2026-11-27T00:35:23.123Z");
  EXPECT_EQ(common::rfc5322_date(t), "Fri, 27 Nov 2026 00:35:23 +0000");
}

TEST(Mailbox, validates_per_rfc_5321_and_6531) {
  for (const char* good :
       {"a@b", "first.last@example.com", "x+tag@sub.example.co", "\"a b\"@example.com",
        "\"a@b\"@example.com", "\"a\\\"b\"@example.com", "user@[192.0.2.1]", "user@[010.0.0.1]",
        "user@[IPv6:2001:db8::1]", "user@[ipv6:::ffff:192.0.2.1]", "иван@пример.рф",
        "\"иван\"@example.org", "o'brien@example.ie", "a@b-c.d"}) {
    EXPECT_TRUE(common::valid_mailbox(good)) << good;
  }
  for (const char* bad : {"",
                          "a",
                          "@b",
                          "a@",
                          "a..b@c",
                          ".a@c",
                          "a.@c",
                          "a b@c",
                          "a@b c",
                          "a@-b",
                          "a@b-",
                          "a@b..c",
                          "a@b.",
                          "a@.b",
                          "a@b@c",
                          "a@[300.1.1.1]",
                          "a@[1.2.3]",
                          "a@[1.2.3.4.5]",
                          "a@[x]",
                          "a@[tag:x]",
                          "a@[IPv6:2001:db8::g]",
                          "a@[IPv6:1.2.3.4]",
                          "a@[192.0.2.1",
                          "<a@b>",
                          "a@b\r\n",
                          "\"unterminated@b",
                          "\"a\"b@c",
                          "\"te\x01st\"@b",
                          "\"a\\\x01\"@b",
                          "\"a\x7f\"@b"}) {
    EXPECT_FALSE(common::valid_mailbox(bad)) << bad;
  }
  EXPECT_TRUE(common::valid_mailbox(std::string(64, 'l') + "@example.com"));
  EXPECT_FALSE(common::valid_mailbox(std::string(65, 'l') + "@example.com"));  // 4.5.3.1.1
  EXPECT_TRUE(common::valid_mailbox("a@" + std::string(63, 'd') + ".com"));
  EXPECT_FALSE(common::valid_mailbox("a@" + std::string(64, 'd') + ".com"));  // a label over 63
  std::string label = std::string(60, 'd') + ".";
  std::string domain = label + label + label + label + "example.com";  // 255 octets
  EXPECT_TRUE(common::valid_mailbox("a@" + domain));
  std::string long_domain = label + label + label + label + "examples.com";  // 256
  EXPECT_FALSE(common::valid_mailbox("a@" + long_domain));                   // 4.5.3.1.2
  EXPECT_TRUE(common::valid_mailbox("a@" + long_domain, {64, 300}));         // the caller's limits
  EXPECT_FALSE(common::valid_mailbox("abc@example.com", {2, 255}));
}

TEST(Mailbox, same_mailbox_ignores_the_case_of_the_domain_only) {
  EXPECT_TRUE(common::same_mailbox("b@example.com", "b@EXAMPLE.Com"));
  EXPECT_FALSE(common::same_mailbox("b@example.com", "B@example.com"));  // RFC 5321 2.4
  EXPECT_FALSE(common::same_mailbox("b@example.com", "b@example.org"));
  EXPECT_TRUE(common::same_mailbox("postmaster", "postmaster"));
  EXPECT_FALSE(common::same_mailbox("postmaster", "Postmaster"));
}

TEST(Mailbox, quoted_string_length_counts_both_quotes) {
  EXPECT_EQ(common::quoted_string_length("\"a b\"@c"), 5U);
  EXPECT_EQ(common::quoted_string_length("\"a\\\"\"@c"), 5U);  // "a\"" : an escaped quote inside
  EXPECT_EQ(common::quoted_string_length("\"open"), 0U);
  EXPECT_EQ(common::quoted_string_length("plain"), 0U);
}

TEST(EndpointUrl, splits_into_origin_and_path) {
  auto url = common::parse_endpoint_url("https://App.Internal/hooks/mail?token=s3cret#frag");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->origin, "https://app.internal:443");
  EXPECT_EQ(url->path, "/hooks/mail?token=s3cret");

  url = common::parse_endpoint_url("http://127.0.0.1:8080");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->origin, "http://127.0.0.1:8080");
  EXPECT_EQ(url->path, "/");

  url = common::parse_endpoint_url("HTTP://[::1]:9000/x");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->origin, "http://[::1]:9000");
  EXPECT_EQ(url->path, "/x");

  url = common::parse_endpoint_url("http://host?q=1");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->path, "/?q=1");

  for (const char* bad :
       {"ftp://host/", "host/path", "http://", "http://user:pw@host/", "http://host:0/",
        "http://host:99999/", "http://host:8x/", "http://[::1/", "http://[]/", "https://:443/"}) {
    EXPECT_FALSE(common::parse_endpoint_url(bad).has_value()) << bad;
  }
}
