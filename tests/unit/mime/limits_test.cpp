// Issue 11, memory proportional to input: each cap of mime::Limits, when exceeded, is a recorded
// defect (never a crash, never a cut body), and decoded header text stays bounded by its input
// whatever the charset (glibc's TSCII makes 12 UTF-8 bytes of the byte 0x82).
#include <gtest/gtest.h>

#include <algorithm>

#include "common/base64.h"
#include "mime/message.h"

namespace {

bool has_defect(const mime::Message& m, std::string_view defect) {
  return std::find(m.defects.begin(), m.defects.end(), defect) != m.defects.end();
}

std::string repeat(std::string_view piece, size_t times) {
  std::string out;
  out.reserve(piece.size() * times);
  for (size_t i = 0; i < times; ++i) out += piece;
  return out;
}

// Every decoded string of the message, in bytes.
size_t text_size(const mime::Message& m) {
  size_t n = m.subject.size();
  for (const auto* list : {&m.from, &m.to, &m.cc, &m.bcc, &m.reply_to})
    for (const auto& a : *list) n += a.name.size() + a.address.size() + a.group.size();
  for (const auto& id : m.references) n += id.size();
  for (const auto& id : m.in_reply_to) n += id.size();
  for (const auto& p : m.parts) {
    for (const auto& h : p.headers) n += h.name.size() + h.value.size();
    for (const auto& [k, v] : p.params) n += k.size() + v.size();
    n += p.filename.size() + p.description.size() + p.content_id.size();
  }
  return n;
}

TEST(Limits, an_address_list_of_a_million_entries_keeps_max_addresses_and_says_so) {
  // The shape of issue 11: "a,a,a,..." folded at ~900 columns, 1.35 MB.
  std::string line = repeat("a,", 450);
  std::string raw = "To: " + repeat(line + "\r\n ", 1500) + "a\r\nSubject: x\r\n\r\nbody\r\n";
  mime::Message m = mime::parse(raw);
  EXPECT_EQ(m.to.size(), mime::Limits{}.max_addresses);
  EXPECT_TRUE(has_defect(m, "too_many_addresses"));
  EXPECT_EQ(m.subject, "x");
  // Repeated fields are joined within the same cap.
  mime::Limits limits;
  limits.max_addresses = 3;
  m = mime::parse("Cc: a@x, b@x\r\nCc: c@x, d@x\r\n\r\n", limits);
  ASSERT_EQ(m.cc.size(), 3u);
  EXPECT_EQ(m.cc[2].address, "c@x");
  EXPECT_TRUE(has_defect(m, "too_many_addresses"));
  EXPECT_FALSE(has_defect(mime::parse("To: a@x, b@x, c@x\r\n\r\n", limits), "too_many_addresses"));
}

TEST(Limits, tokens_per_field_are_capped) {
  mime::Limits limits;
  limits.max_header_tokens = 100;
  mime::Message m = mime::parse("From: " + repeat("w ", 500) + "<a@b.test>\r\n\r\n", limits);
  EXPECT_TRUE(has_defect(m, "too_many_tokens"));
  EXPECT_LE(m.from.size(), 1u);
  m = mime::parse("Content-Type: text/plain; " + repeat("n*1=v; ", 500) + "\r\n\r\nbody", limits);
  EXPECT_TRUE(has_defect(m, "too_many_tokens"));
  EXPECT_FALSE(has_defect(mime::parse("From: A B <a@b.test>\r\n\r\n", limits), "too_many_tokens"));
}

TEST(Limits, parameters_per_field_are_capped) {
  std::string params;
  for (int i = 0; i < 500; ++i) params += "; p" + std::to_string(i) + "=v";
  mime::Message m = mime::parse("Content-Type: text/plain" + params + "; charset=latin1\r\n\r\nx");
  EXPECT_EQ(m.parts[0].params.size(), mime::Limits{}.max_parameters);
  EXPECT_TRUE(has_defect(m, "too_many_parameters"));
}

TEST(Limits, header_fields_per_message_are_capped_across_parts) {
  mime::Limits limits;
  limits.max_message_header_fields = 50;
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int part = 0; part < 4; ++part) raw += "--b\r\n" + repeat("X-A: 1\r\n", 20) + "\r\nbody\r\n";
  raw += "--b--\r\n";
  mime::Message m = mime::parse(raw, limits);
  size_t fields = 0;
  for (const auto& p : m.parts) fields += p.headers.size();
  EXPECT_EQ(fields, 50u);
  EXPECT_TRUE(has_defect(m, "too_many_header_fields"));
  EXPECT_EQ(m.parts.size(), 5u);  // the parts themselves are all there
  EXPECT_EQ(m.parts.back().end, raw.size() - std::string_view("\r\n--b--\r\n").size());
}

TEST(Limits, encoded_words_per_value_are_capped_and_the_rest_stays_as_written) {
  mime::Limits limits;
  limits.max_encoded_words = 10;
  mime::Message m = mime::parse("Subject: " + repeat("=?utf-8?q?a?= ", 12) + "\r\n\r\n", limits);
  EXPECT_EQ(m.subject, repeat("a", 10) + " =?utf-8?q?a?= =?utf-8?q?a?=");
  EXPECT_TRUE(has_defect(m, "too_many_encoded_words"));
}

TEST(Limits, message_ids_per_list_are_capped) {
  mime::Message m = mime::parse("References: " + repeat("<a@b> ", 3000) + "\r\n\r\n");
  EXPECT_EQ(m.references.size(), mime::Limits{}.max_addresses);
  EXPECT_TRUE(has_defect(m, "too_many_message_ids"));
}

TEST(Limits, tscii_encoded_words_are_cut_at_header_expansion_times_the_input) {
  // 0x82 is 12 UTF-8 bytes in glibc's TSCII: unbounded, a Subject would grow 9 times.
  std::string words;
  for (int i = 0; i < 2000; ++i)
    words += "=?tscii?B?" + common::base64_encode(std::string(45, '\x82')) + "?= ";
  std::string value = words.substr(0, words.size() - 1);
  mime::Message m = mime::parse("Subject: " + value + "\r\n\r\n");
  // The field budget: its raw size (name, colon and value) times the expansion, plus 256.
  const size_t bound = (value.size() + 9) * mime::Limits{}.header_expansion + 256;
  EXPECT_LE(m.subject.size(), bound);
  EXPECT_GT(m.subject.size(), value.size());  // decoded as far as allowed
  EXPECT_LE(m.parts[0].headers[0].value.size(), bound);
  EXPECT_TRUE(mime::is_valid_utf8(m.subject));
  EXPECT_TRUE(has_defect(m, "header_text_truncated"));
  // The same through RFC 2231 (filename*=tscii''%82...) and through a TSCII text body.
  std::string name = "attachment; filename*=tscii''" + repeat("%82", 3000);
  m = mime::parse("Content-Disposition: " + name + "\r\n\r\nx");
  EXPECT_LE(m.parts[0].filename.size(), name.size() * 2 + 256);
  EXPECT_TRUE(has_defect(m, "header_text_truncated"));
  std::string raw = "Content-Type: text/plain; charset=tscii\r\n\r\n" + repeat("\x82", 10000);
  m = mime::parse(raw);
  bool cut = false;
  std::string text = mime::decode_text(raw, m.parts[0], nullptr, 15000, &cut);
  EXPECT_TRUE(cut);
  EXPECT_LE(text.size(), 15000u);
  EXPECT_GE(text.size(), 15000u - 12);
  EXPECT_TRUE(mime::is_valid_utf8(text));
  cut = false;
  EXPECT_EQ(mime::decode_text(raw, m.parts[0], nullptr, 120000, &cut).size(), 120000u);
  EXPECT_FALSE(cut);
}

TEST(Limits, control_bytes_and_latin1_headers_are_kept_within_the_expansion) {
  // 0x01 is kept (bridge.v1 counts its JSON escape); undeclared 8-bit bytes are windows-1252.
  std::string raw = "Subject: " + std::string(100000, '\x01') +
                    "\r\nX-L: " + std::string(100000, '\xe9') + "\r\n\r\n";
  mime::Message m = mime::parse(raw);
  EXPECT_TRUE(m.subject == std::string(100000, '\x01'));
  EXPECT_TRUE(m.parts[0].headers[1].value == repeat("\u00e9", 100000));  // 2 bytes: within 2x
  EXPECT_FALSE(has_defect(m, "header_text_truncated"));
  // 0x80 is U+20AC, 3 bytes: cut at 2 x the field + 256.
  m = mime::parse("X-L: " + std::string(100000, '\x80') + "\r\n\r\n");
  const std::string& value = m.parts[0].headers[0].value;
  const size_t bound = 2 * (3 + 100001) + 256;  // name and value as raw bytes
  EXPECT_LE(value.size(), bound);
  EXPECT_GE(value.size(), bound - 3 - 2);  // less the name, cut before a whole character
  EXPECT_TRUE(value == repeat("\u20ac", value.size() / 3));
  EXPECT_TRUE(has_defect(m, "header_text_truncated"));
}

TEST(Limits, all_decoded_text_of_a_message_stays_within_its_size_plus_the_allowance) {
  mime::Limits limits;
  limits.text_allowance = 1000;
  std::string raw;
  for (int i = 0; i < 50; ++i) raw += "X-L: " + std::string(1000, '\xe9') + "\r\n";  // 2 bytes
  raw += "Subject: end\r\n\r\nbody";
  mime::Message m = mime::parse(raw, limits);
  EXPECT_LE(text_size(m), raw.size() + 1000);
  EXPECT_TRUE(has_defect(m, "header_text_truncated"));
  for (const auto& h : m.parts[0].headers) EXPECT_TRUE(mime::is_valid_utf8(h.value));
  // Without the cap the same message decodes whole.
  m = mime::parse(raw);
  EXPECT_EQ(m.parts[0].headers[0].value.size(), 2000u);
  EXPECT_EQ(m.subject, "end");
}

TEST(Limits, labels_longer_than_their_rfc_allows_are_defects_not_copies) {
  mime::Message m = mime::parse(
      "Content-Type: text/" + std::string(300, 'x') + "; charset=" + std::string(100, 'c') +
      "\r\nContent-Transfer-Encoding: " + std::string(100, 'q') +
      "\r\nContent-Disposition: " + std::string(100, 'd') + "\r\n\r\nbody");
  const mime::Part& p = m.parts[0];
  EXPECT_EQ(p.content_type, "text/plain");
  EXPECT_EQ(p.charset, "");
  EXPECT_EQ(p.transfer_encoding, "7bit");
  EXPECT_EQ(p.disposition, "");
  for (const char* d : {"invalid_content_type", "unknown_charset", "invalid_transfer_encoding",
                        "invalid_disposition"})
    EXPECT_TRUE(has_defect(m, d)) << d;
}

TEST(Limits, many_parts_and_deep_nesting_stop_at_their_caps_with_the_body_kept) {
  std::string raw = "Content-Type: multipart/mixed; boundary=x\r\n\r\n" + repeat("--x\r\n", 3000);
  mime::Message m = mime::parse(raw);
  EXPECT_EQ(m.parts.size(), mime::Limits{}.max_parts);
  EXPECT_TRUE(has_defect(m, "too_many_parts"));
  EXPECT_EQ(m.parts.back().end, raw.size());
}

}  // namespace
