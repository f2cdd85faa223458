// Issue 11, bounded amplification of bridge.v1: the root's header is written once (as
// message.headers), every hostile shape stays within 2 × the message's size + the attachments'
// base64 + kStructureAllowance, caps and cuts are defects, ordinary strings are never cut, and a
// main body that would grow too much is delivered as an attachment instead of being cut.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/base64.h"
#include "delivery/payload.h"
#include "delivery/payload_budget.h"
#include "payload_test_util.h"

namespace delivery {
namespace {

using nlohmann::json;
using test::crlf;
using test::expect_valid_utf8;

const std::string kEnvelope = R"({"mail_from":"m@evil.example","rcpt_to":["v@x.example"]})";

std::string repeat(std::string_view piece, size_t times) {
  std::string out;
  out.reserve(piece.size() * times);
  for (size_t i = 0; i < times; ++i) out += piece;
  return out;
}

// Renders and checks the budget: the document (its exact size) ≤ 2 × the message + the base64 of
// its attachments + kStructureAllowance + the envelope.
json render_within_budget(const std::string& data, size_t* size = nullptr) {
  InboundView view{"01936d2e-8c1a-7b7e-9c2a-5b1e2f3a4b5c", 0, kEnvelope, data};
  std::string text = render_bridge_v1_text(view, {{"v@x.example"}, false, 10u << 20});
  json doc = json::parse(text);
  expect_valid_utf8(doc);
  size_t base64 = 0;
  for (const json& a : doc["message"]["attachments"])
    if (a.contains("content")) base64 += a["content"].get_ref<const std::string&>().size();
  EXPECT_LE(text.size(), 2 * data.size() + base64 + kStructureAllowance + kEnvelope.size() + 256)
      << "document of " << text.size() << " bytes for a message of " << data.size();
  if (size != nullptr) *size = text.size();
  return doc;
}

bool has_defect(const json& doc, const std::string& defect) {
  const json& defects = doc["message"]["defects"];
  return std::find(defects.begin(), defects.end(), defect) != defects.end();
}

TEST(PayloadAmplification, the_roots_header_is_message_headers_and_not_repeated_in_parts) {
  json m = render_within_budget(crlf("Subject: once\nX-A: 1\n\nbody\n"))["message"];
  ASSERT_EQ(m["headers"].size(), 2u);
  ASSERT_EQ(m["parts"].size(), 1u);
  EXPECT_EQ(m["parts"][0]["part"], "1");
  EXPECT_EQ(m["parts"][0]["headers"], json::array());
  // A message whose body is one embedded message: the root entry has none, the embedded its own.
  m = render_within_budget(
      crlf("Subject: outer\nContent-Type: message/rfc822\n\nSubject: inner\n\nx\n"))["message"];
  ASSERT_EQ(m["parts"].size(), 1u);
  EXPECT_EQ(m["parts"][0]["headers"], json::array());
  EXPECT_EQ(m["parts"][0]["parts"][0]["headers"][0]["value"], "inner");
  // A multipart root is not an entry of parts; its children keep their headers.
  m =
      render_within_budget(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nX-C: 2\n\nc\n"
                                "--b--\n"))["message"];
  ASSERT_EQ(m["parts"].size(), 1u);
  EXPECT_EQ(m["parts"][0]["headers"][0]["value"], "2");
}

TEST(PayloadAmplification, the_folded_address_list_of_the_issue_is_capped_and_bounded) {
  // 1.35 MB of "a,a,a,..." folded at ~900 columns: was a 20.2 MB document.
  std::string data =
      "Subject: list\r\nTo: " + repeat(repeat("a,", 450) + "\r\n ", 1500) + "a\r\n\r\nbody\r\n";
  size_t size = 0;
  json doc = render_within_budget(data, &size);
  EXPECT_LT(size, data.size() + (1 << 20));
  EXPECT_EQ(doc["message"]["to"].size(), 1000u);
  EXPECT_TRUE(has_defect(doc, "too_many_addresses"));
  EXPECT_EQ(doc["message"]["subject"], "list");
  EXPECT_EQ(doc["message"]["text"], "body\r\n");  // the body is whole
}

TEST(PayloadAmplification, tscii_words_and_control_characters_in_a_subject_stay_bounded) {
  std::string word = "=?tscii?B?" + common::base64_encode(std::string(45, '\x82')) + "?=";
  std::string tscii = "Subject: " + repeat(word + "\r\n ", 15000) + "end\r\n\r\nbody\r\n";
  json doc = render_within_budget(tscii);
  EXPECT_TRUE(has_defect(doc, "header_text_truncated"));
  EXPECT_EQ(doc["message"]["text"], "body\r\n");
  // 1 MB of 0x01: "\u0001" is 6 bytes of JSON each (was 18 x the input).
  std::string controls = "Subject: " + std::string(1 << 20, '\x01') + "\r\n\r\nbody\r\n";
  doc = render_within_budget(controls);
  EXPECT_TRUE(has_defect(doc, "header_text_truncated"));
  const std::string& subject = doc["message"]["subject"].get_ref<const std::string&>();
  EXPECT_GT(subject.size(), 1000u);
  EXPECT_TRUE(subject == std::string(subject.size(), '\x01'));  // a prefix, nothing else
}

TEST(PayloadAmplification, only_the_longest_strings_are_cut_and_ordinary_mail_never) {
  std::string data =
      "Subject: hello\r\nFrom: Ann <ann@example.com>\r\nX-Quotes: " + std::string(2 << 20, '"') +
      "\r\n\r\nbody\r\n";
  json doc = render_within_budget(data);
  EXPECT_TRUE(has_defect(doc, "header_text_truncated"));
  const json& m = doc["message"];
  EXPECT_EQ(m["subject"], "hello");
  EXPECT_EQ(m["from"][0]["name"], "Ann");
  EXPECT_EQ(m["headers"][0]["value"], "hello");
  const std::string& quotes = m["headers"][2]["value"].get_ref<const std::string&>();
  EXPECT_LT(quotes.size(), std::size_t{2} << 20);
  EXPECT_GT(quotes.size(), std::size_t{1} << 18);
  // Ordinary mail with quotes and controls in its headers is written whole.
  doc = render_within_budget(crlf("Subject: \"quoted\" \\ \t tab\nX-B: \x01\x02\n\nbody\n"));
  EXPECT_FALSE(has_defect(doc, "header_text_truncated"));
  EXPECT_EQ(doc["message"]["subject"], "\"quoted\" \\ \t tab");
}

TEST(PayloadAmplification, a_body_that_grows_too_much_is_an_attachment_not_cut_text) {
  // TSCII: 0x82 is 12 UTF-8 bytes. 300 KB would be 3.6 MB of text.
  std::string body = repeat(std::string(76, '\x82') + "\r\n", 4000);
  std::string data = "Content-Type: text/plain; charset=tscii\r\n\r\n" + body;
  json doc = render_within_budget(data);
  const json& m = doc["message"];
  EXPECT_TRUE(m["text"].is_null());
  EXPECT_TRUE(has_defect(doc, "body_not_inlined"));
  ASSERT_EQ(m["attachments"].size(), 1u);
  EXPECT_EQ(m["attachments"][0]["part"], "1");
  EXPECT_EQ(common::base64_decode(m["attachments"][0]["content"].get<std::string>()), body);
  // A short one (within the 64 KiB slack) is text as before.
  doc = render_within_budget("Content-Type: text/plain; charset=tscii\r\n\r\n" +
                             std::string(1000, '\x82'));
  EXPECT_EQ(doc["message"]["text"].get_ref<const std::string&>().size(), 12000u);
  EXPECT_FALSE(has_defect(doc, "body_not_inlined"));
}

TEST(PayloadAmplification, part_field_and_nesting_caps_are_defects_within_the_budget) {
  std::string parts = "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
                      repeat("--b\r\nContent-ID: <x>\r\n\r\n", 20000);
  json doc = render_within_budget(parts);
  EXPECT_TRUE(has_defect(doc, "too_many_parts"));
  EXPECT_EQ(doc["message"]["parts"].size(), 999u);  // the root and 999 children
  std::string fields = repeat("X:\r\n", 20000) + "\r\nbody\r\n";
  doc = render_within_budget(fields);
  EXPECT_TRUE(has_defect(doc, "too_many_header_fields"));
  std::string deep;
  for (int i = 0; i < 5000; ++i)
    deep += "Content-Type: multipart/mixed; boundary=n" + std::to_string(i) + "\r\n\r\n--n" +
            std::to_string(i) + "\r\n";
  doc = render_within_budget(deep);
  EXPECT_TRUE(has_defect(doc, "max_depth_exceeded"));
  // The per-field caps, all in one message.
  std::string params;
  for (int i = 0; i < 100; ++i) params += "; p" + std::to_string(i) + "=v";
  doc = render_within_budget("Subject: " + repeat("=?utf-8?q?a?= ", 1100) +
                             "\r\nFrom: " + repeat("w ", 20000) +
                             "<a@b.example>\r\nReferences: " + repeat("<r@x> ", 1100) +
                             "\r\nContent-Type: text/plain" + params + "\r\n\r\nbody\r\n");
  for (const char* defect :
       {"too_many_encoded_words", "too_many_tokens", "too_many_message_ids", "too_many_parameters"})
    EXPECT_TRUE(has_defect(doc, defect)) << defect;
  EXPECT_EQ(doc["message"]["references"].size(), 1000u);
  EXPECT_EQ(doc["message"]["text"], "body\r\n");
}

TEST(PayloadBudget, escaped_sizes_prefixes_and_the_water_level) {
  EXPECT_EQ(budget::escaped_size("a\"\\\n\x01\x7f\xc3\xa9"), 1u + 2 + 2 + 2 + 6 + 1 + 2);
  std::string all;  // every byte value, at every offset of the 8-byte words
  for (int i = 0; i < 3 * 256; ++i) all += static_cast<char>(i * 7 % 256);
  size_t naive = 0;
  for (unsigned char c : all) naive += budget::escaped_byte(c);
  for (size_t skip = 0; skip < 9; ++skip)
    EXPECT_EQ(budget::escaped_size(std::string_view(all).substr(skip)),
              naive - budget::escaped_size(std::string_view(all).substr(0, skip)));
  EXPECT_EQ(budget::escaped_prefix("\xc3\xa9\xc3\xa9", 3), 2u);  // never inside a character
  EXPECT_EQ(budget::escaped_prefix("ab\x01", 7), 2u);
  EXPECT_EQ(budget::escaped_prefix("ab\x01", 8), 3u);
  EXPECT_EQ(budget::water_level({1, 2, 3}, 6), SIZE_MAX);
  EXPECT_EQ(budget::water_level({1, 2, 100}, 23), 20u);  // 1 + 2 + 20
  EXPECT_EQ(budget::water_level({50, 100}, 60), 30u);
  EXPECT_EQ(budget::water_level({50, 100}, 0), 0u);
}

}  // namespace
}  // namespace delivery
