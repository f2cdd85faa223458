// Transfer decoding (base64, quoted-printable) that survives bad input, and charset conversion to
// UTF-8 with iconv, including stateful and multi-byte charsets and the undeclared fallback.
#include <gtest/gtest.h>

#include "mime/message.h"

namespace {

mime::Part leaf(size_t size, std::string encoding) {
  mime::Part p;
  p.body_begin = 0;
  p.end = size;
  p.transfer_encoding = std::move(encoding);
  return p;
}

std::string decode(std::string_view body, const std::string& encoding,
                   std::vector<std::string>* defects) {
  return mime::decode_body(body, leaf(body.size(), encoding), defects);
}

bool has(const std::vector<std::string>& defects, std::string_view d) {
  return std::find(defects.begin(), defects.end(), d) != defects.end();
}

TEST(Base64, decodes_lines_with_crlf_and_padding) {
  std::vector<std::string> defects;
  EXPECT_EQ(decode("SGVsbG8s\r\nIHdvcmxk\r\nIQ==\r\n", "base64", &defects), "Hello, world!");
  EXPECT_TRUE(defects.empty());
}

TEST(Base64, tolerates_missing_padding_and_skips_invalid_characters) {
  std::vector<std::string> defects;
  EXPECT_EQ(decode("SGVsbG8", "base64", &defects), "Hello");
  EXPECT_TRUE(has(defects, "base64_missing_padding"));
  defects.clear();
  EXPECT_EQ(decode("SGV*sb!G8=", "base64", &defects), "Hello");
  EXPECT_TRUE(has(defects, "invalid_base64"));
}

TEST(Base64, continues_after_padding_in_the_middle) {
  EXPECT_EQ(decode("SGk=\r\nSGk=", "base64", nullptr), "HiHi");
}

// Issue 15: a body declared base64 that is plainly text (white space between words, which an
// encoder never writes: RFC 2045 6.8) keeps its bytes, with a defect, instead of becoming garbage.
TEST(Base64, plain_text_declared_base64_keeps_its_bytes_with_a_defect) {
  for (std::string text : {"This is plain text, not base64 at all.\r\n", "Hello world",
                           "Dear customer\r\n\r\nYour order has shipped\r\n"}) {
    std::vector<std::string> defects;
    EXPECT_EQ(decode(text, "base64", &defects), text);
    EXPECT_TRUE(has(defects, "base64_not_encoded")) << text;
    EXPECT_FALSE(has(defects, "invalid_base64")) << text;
  }
  std::string raw = "Caf\xe9 cr\xe8me, 5 \x80\r\n";
  mime::Part p = leaf(raw.size(), "base64");
  p.charset = "windows-1252";
  EXPECT_EQ(mime::decode_text(raw, p), "Café crème, 5 €\r\n");
}

TEST(Base64, real_base64_with_stray_characters_or_spaces_is_still_decoded) {
  std::string decoded;
  for (int i = 0; i < 570; ++i) decoded += static_cast<char>(i * 37 % 256);
  std::vector<std::string> lines;  // 57 bytes each → 76 characters
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t at = 0; at < decoded.size(); at += 57) {
    std::string l;
    for (size_t q = at; q < at + 57; q += 3) {
      uint32_t v =
          (uint8_t(decoded[q]) << 16) | (uint8_t(decoded[q + 1]) << 8) | uint8_t(decoded[q + 2]);
      for (int k = 3; k >= 0; --k) l += kAlphabet[(v >> (6 * k)) & 63];
    }
    lines.push_back(l);
  }
  std::string joined_by_spaces, stray_space, indented;
  for (const auto& l : lines) {
    joined_by_spaces += l + " ";  // a gateway that unfolded the lines into one
    stray_space += l.substr(0, 30) + " " + l.substr(30) + "\r\n";
    indented += "  " + l + " \r\n";  // leading and trailing white space is no gap
  }
  for (const std::string& body : {joined_by_spaces, stray_space, indented}) {
    std::vector<std::string> defects;
    EXPECT_EQ(decode(body, "base64", &defects), decoded);
    EXPECT_FALSE(has(defects, "base64_not_encoded"));
  }
  std::vector<std::string> defects;
  EXPECT_EQ(decode("SGVs*bG8s\r\nIHd!vcmxk\r\nIQ==\r\n", "base64", &defects), "Hello, world!");
  EXPECT_TRUE(has(defects, "invalid_base64"));
  EXPECT_FALSE(has(defects, "base64_not_encoded"));
}

TEST(QuotedPrintable, decodes_soft_breaks_lowercase_hex_and_keeps_bad_escapes) {
  std::vector<std::string> defects;
  EXPECT_EQ(
      decode("caf=c3=a9 =\r\nau lait=3D=\r\n\r\nnext=ZZ line  \r\n", "quoted-printable", &defects),
      "café au lait=\r\nnext=ZZ line\r\n");
  EXPECT_TRUE(has(defects, "invalid_quoted_printable"));
}

TEST(QuotedPrintable, handles_bare_lf_soft_breaks_and_white_space_after_the_equals) {
  EXPECT_EQ(decode("a=  \nb\nc=", "quoted-printable", nullptr), "ab\nc");
}

TEST(TransferEncoding, unknown_encodings_pass_bytes_through) {
  EXPECT_EQ(decode("x-uue stuff", "x-uuencode", nullptr), "x-uue stuff");
  EXPECT_EQ(decode("raw\r\n", "8bit", nullptr), "raw\r\n");
}

TEST(Charsets, converts_single_byte_charsets) {
  EXPECT_EQ(mime::to_utf8("\xcf\xf0\xe8\xe2\xe5\xf2", "windows-1251"), "Привет");
  EXPECT_EQ(mime::to_utf8("\xf0\xd2\xc9\xd7\xc5\xd4", "KOI8-R"), "Привет");
  EXPECT_EQ(mime::to_utf8("caf\xe9", "iso-8859-1"), "café");
  EXPECT_EQ(mime::to_utf8("caf\xe9", "latin1"), "café");
  EXPECT_EQ(mime::to_utf8("\xa4", "iso-8859-15"), "€");
}

TEST(Charsets, converts_multi_byte_and_stateful_charsets) {
  EXPECT_EQ(mime::to_utf8("\x1b$B$3$s$K$A$O\x1b(B", "iso-2022-jp"), "こんにちは");
  EXPECT_EQ(mime::to_utf8("\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd", "shift_jis"), "こんにちは");
  EXPECT_EQ(mime::to_utf8("\xd6\xd0\xce\xc4", "gb2312"), "中文");
  EXPECT_EQ(mime::to_utf8("\xd6\xd0\xce\xc4", "gb18030"), "中文");
  EXPECT_EQ(mime::to_utf8("\xa4\xa4\xa4\xe5", "big5"), "中文");
  EXPECT_EQ(
      mime::to_utf8(std::string("\xff\xfe\x1f\x04\x40\x04\x38\x04\x32\x04\x35\x04\x42\x04", 14),
                    "utf-16"),
      "Привет");
}

TEST(Charsets, invalid_bytes_become_replacement_characters) {
  // One stray byte in UTF-8 text (a quarter or less of its 8-bit bytes: the label stands).
  std::vector<std::string> defects;
  EXPECT_EQ(mime::to_utf8("Gr\xc3\xbc\xc3\x9f"
                          "e \xff"
                          "b",
                          "utf-8", &defects),
            "Grüße \xEF\xBF\xBD"
            "b");
  EXPECT_TRUE(has(defects, "invalid_utf8"));
  defects.clear();
  // A truncated UTF-16 code unit at the end.
  EXPECT_EQ(mime::to_utf8(std::string("\xff\xfe\x41\x00\x42", 5), "utf-16", &defects),
            "A\xEF\xBF\xBD");
  EXPECT_TRUE(has(defects, "invalid_charset_bytes"));
}

TEST(Charsets, unknown_charset_is_a_defect_and_falls_back) {
  std::vector<std::string> defects;
  EXPECT_EQ(mime::to_utf8("plain caf\xe9", "x-unknown", &defects), "plain café");
  EXPECT_TRUE(has(defects, "unknown_charset"));
}

TEST(Charsets, undeclared_bytes_are_utf8_when_valid_else_windows_1252) {
  std::vector<std::string> defects;
  EXPECT_EQ(mime::to_utf8("Отчёт", "", &defects), "Отчёт");
  EXPECT_EQ(mime::to_utf8("caf\xe9", "us-ascii", &defects), "café");
  EXPECT_EQ(mime::to_utf8("\xe2\x82\xac", "utf8", &defects), "€");
  EXPECT_TRUE(defects.empty());
  // Not UTF-8: detected (charset_rules_test.cpp has the rules), windows-1252 here.
  EXPECT_EQ(mime::to_utf8("\x93quoted\x94 \x80", "", &defects), "\u201cquoted\u201d \u20ac");
}

TEST(Charsets, decode_text_applies_transfer_encoding_then_charset) {
  std::string raw = "=F0=D2=C9=D7=C5=D4";
  mime::Part p = leaf(raw.size(), "quoted-printable");
  p.charset = "koi8-r";
  EXPECT_EQ(mime::decode_text(raw, p), "Привет");
}

}  // namespace
