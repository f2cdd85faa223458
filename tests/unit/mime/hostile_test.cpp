// Hostile input: deep nesting, never-closing boundaries, garbage base64, invalid charsets, huge
// header lines, NUL bytes. Each must finish quickly without crashing, stay within the limits and
// give valid UTF-8 everywhere.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "mime/message.h"

namespace {

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

void expect_all_utf8(const mime::Message& m, std::string_view raw) {
  EXPECT_TRUE(valid_utf8(m.subject));
  for (const auto& p : m.parts) {
    for (const auto& h : p.headers) {
      EXPECT_TRUE(valid_utf8(h.name));
      EXPECT_TRUE(valid_utf8(h.value));
    }
    EXPECT_TRUE(valid_utf8(p.filename));
    EXPECT_TRUE(valid_utf8(p.content_type));
    EXPECT_LE(p.body_begin, p.end);
    EXPECT_LE(p.end, raw.size());
  }
  for (const auto& a : m.from) EXPECT_TRUE(valid_utf8(a.name) && valid_utf8(a.address));
}

// RelWithDebInfo runs these in milliseconds; the bound is generous for ASan debug builds.
constexpr auto kBudget = std::chrono::seconds(5);

TEST(Hostile, ten_thousand_deep_nesting_stops_at_max_depth) {
  std::string raw;
  for (int i = 0; i < 10000; ++i)
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  raw += "\r\nleaf\r\n";
  auto start = std::chrono::steady_clock::now();
  mime::Message m = mime::parse(raw);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kBudget);
  EXPECT_EQ(m.parts.size(), mime::Limits{}.max_depth + 1);
  EXPECT_TRUE(std::find(m.defects.begin(), m.defects.end(), "max_depth_exceeded") !=
              m.defects.end());
  expect_all_utf8(m, raw);
}

TEST(Hostile, ten_thousand_nested_rfc822_messages_stop_at_max_depth) {
  std::string raw;
  for (int i = 0; i < 10000; ++i) raw += "Content-Type: message/rfc822\r\n\r\n";
  raw += "hello";
  mime::Limits limits;
  limits.max_depth = 20;
  mime::Message m = mime::parse(raw, limits);
  EXPECT_EQ(m.parts.size(), 21u);
  EXPECT_EQ(m.parts[2].number, "1.1.1");
}

TEST(Hostile, a_boundary_that_never_closes_and_many_parts_are_bounded) {
  std::string raw = "Content-Type: multipart/mixed; boundary=x\r\n\r\n";
  for (int i = 0; i < 20000; ++i) raw += "--x\r\n\r\np\r\n";
  mime::Message m = mime::parse(raw);
  EXPECT_EQ(m.parts.size(), mime::Limits{}.max_parts);
  EXPECT_TRUE(std::find(m.defects.begin(), m.defects.end(), "too_many_parts") != m.defects.end());
  EXPECT_TRUE(std::find(m.defects.begin(), m.defects.end(), "missing_closing_boundary") !=
              m.defects.end());
  EXPECT_EQ(m.parts.back().end, raw.size());  // the rest stays in the last body
}

TEST(Hostile, garbage_base64_of_several_megabytes_decodes_fast) {
  // 8 MB (not 50) keeps the test quick under ASan; the bench covers larger inputs.
  std::string garbage(8 << 20, '\0');
  std::mt19937 rng(42);
  for (auto& c : garbage) c = static_cast<char>(rng());
  std::string raw =
      "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Transfer-Encoding: "
      "base64\r\n"
      "Content-Type: text/plain; charset=x-nonsense\r\n\r\n" +
      garbage + "\r\n--z--\r\n";
  auto start = std::chrono::steady_clock::now();
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 2u);
  std::vector<std::string> defects;
  std::string text = mime::decode_text(raw, m.parts[1], &defects);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kBudget);
  EXPECT_TRUE(valid_utf8(text));
  EXPECT_TRUE(std::find(defects.begin(), defects.end(), "invalid_base64") != defects.end());
  EXPECT_TRUE(std::find(defects.begin(), defects.end(), "unknown_charset") != defects.end());
}

TEST(Hostile, megabyte_header_lines_and_many_unclosed_encoded_words_stay_linear) {
  std::string subject;
  while (subject.size() < (1 << 20)) subject += "=?a?q?x_";  // never closed by "?="
  std::string raw =
      "Subject: " + subject + "\r\nX-Long: " + std::string(1 << 20, 'x') + "\r\n\r\nbody";
  auto start = std::chrono::steady_clock::now();
  mime::Message m = mime::parse(raw);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kBudget);
  EXPECT_EQ(m.subject.size(), subject.size());
  EXPECT_EQ(m.parts[0].headers.size(), 2u);
}

TEST(Hostile, long_dash_runs_against_a_dash_boundary_stay_linear) {
  std::string boundary(2000, '-');
  std::string raw = "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n" +
                    std::string(4 << 20, '-') + "\r\n";
  auto start = std::chrono::steady_clock::now();
  mime::Message m = mime::parse(raw);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kBudget);
  EXPECT_GE(m.parts.size(), 1u);
}

TEST(Hostile, nul_bytes_invalid_utf8_and_bad_charsets_give_valid_utf8) {
  static const char kRaw[] =
      "From: \xff\xfe <a\0b@x>\r\nSubject: =?utf-8?B?/w==?= \xc3\r\nContent-Type: text/plain;"
      " charset=\"\xff\"; name*0*=bogus'%FF%00\r\n\r\n\0\0\xff";
  std::string raw(kRaw, sizeof kRaw - 1);  // NUL bytes included
  mime::Message m = mime::parse(raw);
  expect_all_utf8(m, raw);
  EXPECT_TRUE(valid_utf8(mime::decode_text(raw, m.parts[0])));
}

TEST(Hostile, random_bytes_never_crash) {
  std::mt19937 rng(7);
  const std::string alphabet = "-\r\n:;=?\"<>()@ abcBQ\t\\/*'%\xff\xc3";
  for (int round = 0; round < 300; ++round) {
    std::string raw = "Content-Type: multipart/mixed; boundary=a\r\n\r\n";
    size_t n = rng() % 2000;
    for (size_t i = 0; i < n; ++i)
      raw += (rng() % 4 == 0) ? std::string("--a\r\n")
                              : std::string(1, alphabet[rng() % alphabet.size()]);
    mime::Message m = mime::parse(raw);
    expect_all_utf8(m, raw);
    for (const auto& p : m.parts) {
      if (p.children.empty()) {
        EXPECT_TRUE(valid_utf8(mime::decode_text(raw, p)));
      }
    }
  }
}

}  // namespace
