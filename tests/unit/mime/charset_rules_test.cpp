// Issue 15: which charset a body is read in. Labels as the WHATWG Encoding Standard maps them
// (https://encoding.spec.whatwg.org/#names-and-labels), a byte order mark first, an HTML part's
// own <meta charset> (WHATWG prescan), valid UTF-8, uchardet as the last resort, and the
// charset applied reported through `charset_used`.
#include <gtest/gtest.h>
#include <iconv.h>

#include <chrono>

#include "mime/message.h"

namespace {

bool has(const std::vector<std::string>& defects, std::string_view d) {
  return std::find(defects.begin(), defects.end(), d) != defects.end();
}

// `text` (UTF-8) encoded in `charset` by glibc: the test's bytes come from the other direction.
std::string encode(std::string_view text, const char* charset) {
  iconv_t cd = iconv_open(charset, "UTF-8");
  EXPECT_NE(cd, reinterpret_cast<iconv_t>(-1)) << charset;
  std::string out(text.size() * 4 + 16, '\0');
  char* in = const_cast<char*>(text.data());
  size_t in_left = text.size(), out_left = out.size();
  char* o = out.data();
  EXPECT_NE(iconv(cd, &in, &in_left, &o, &out_left), static_cast<size_t>(-1)) << charset;
  iconv_close(cd);
  out.resize(o - out.data());
  return out;
}

struct Decoded {
  std::string text, used;
  std::vector<std::string> defects;
};

Decoded convert(std::string_view bytes, std::string_view charset) {
  Decoded d;
  d.text = mime::to_utf8(bytes, charset, &d.defects, &d.used);
  return d;
}

// A text part with a raw message of its own: header, then `body` as it is (8bit).
Decoded part_text(const std::string& content_type, const std::string& body) {
  std::string raw = "Content-Type: " + content_type + "\r\n\r\n" + body;
  mime::Message m = mime::parse(raw);
  Decoded d;
  d.text = mime::decode_text(raw, m.parts[0], &d.defects, SIZE_MAX, nullptr, &d.used);
  return d;
}

TEST(CharsetLabels, latin1_and_ascii_labels_mean_windows_1252) {
  for (const char* label : {"iso-8859-1", "ISO_8859-1:1987", "latin1", "l1", "us-ascii", "ascii",
                            "cp819", " Windows-1252 "}) {
    Decoded d = convert("5 \x80 \x93ok\x94 \x81", label);
    EXPECT_EQ(d.text, "5 € \u201cok\u201d \u0081") << label;  // 0x81: the C1 control
    EXPECT_EQ(d.used, "windows-1252") << label;
    EXPECT_TRUE(d.defects.empty()) << label;
  }
}

TEST(CharsetLabels, other_labels_follow_the_table) {
  struct Case {
    const char* label;
    std::string bytes;
    const char* text;
    const char* used;
  };
  const Case cases[] = {
      {"iso-8859-9", "\x80\x9f\xfd", "€Ÿı", "windows-1254"},       // latin5 → windows-1254
      {"cp1250", "\x81\x8a", "\u0081Š", "windows-1250"},           // undefined → C1, as WHATWG
      {"iso-8859-11", "\x80\xa1\x81", "€ก\u0081", "windows-874"},  // tis-620 family
      {"gb2312", "\x81\x40\xd6\xd0", "丂中", "gbk"},               // GBK beyond GB 2312
      {"ks_c_5601-1987", "\x81\x41\xc7\xd1", "갂한", "euc-kr"},    // UHC beyond EUC-KR
      {"x-sjis", "\x87\x40\x82\xa0", "①あ", "shift_jis"},          // Windows-31J
      {"big5-hkscs", "\xa4\xa4\xa4\xe5", "中文", "big5"},
      {"x-user-defined", "a\x80\xff", "a\uf780\uf7ff", "x-user-defined"},
      {"unicode-1-1-utf-8", "\xe2\x82\xac", "€", "utf-8"},
      {"koi8-ru", "\xa4\xae\xbe", "єўЎ", "koi8-u"},  // the index of KOI8-RU
      {"utf-7", "+AKM-1", "£1", "utf-7"},  // no WHATWG label: glibc's decoder, named as written
  };
  for (const Case& c : cases) {
    Decoded d = convert(c.bytes, c.label);
    EXPECT_EQ(d.text, c.text) << c.label;
    EXPECT_EQ(d.used, c.used) << c.label;
  }
}

TEST(CharsetLabels, header_text_uses_the_same_table_without_guessing) {
  // RFC 2047 words and RFC 2231 values: the label as WHATWG reads it, never a detected charset.
  EXPECT_EQ(mime::decode_unstructured("=?iso-8859-1?q?5_=80_=93ok=94?="), "5 € \u201cok\u201d");
  EXPECT_EQ(mime::decode_unstructured("=?ks_c_5601-1987?b?gUE=?="), "갂");
  mime::ContentType ct =
      mime::parse_content_type("text/plain; name*=iso-8859-9''%80%DD.txt; charset=latin1");
  EXPECT_EQ(ct.params["name"], "€İ.txt");
}

TEST(CharsetLabels, a_byte_order_mark_wins_over_the_label) {
  Decoded utf8 = convert(
      "\xef\xbb\xbf"
      "Gr\xc3\xbc\xc3\x9f"
      "e",
      "iso-8859-1");
  EXPECT_EQ(utf8.text, "Grüße");
  EXPECT_EQ(utf8.used, "utf-8");
  Decoded be = convert(std::string("\xfe\xff\x04\x1f\x04\x40", 6), "utf-16le");
  EXPECT_EQ(be.text, "Пр");
  EXPECT_EQ(be.used, "utf-16be");
  Decoded le = convert(std::string("A\0B\0", 4), "utf-16");  // WHATWG: "utf-16" is LE
  EXPECT_EQ(le.text, "AB");
  EXPECT_EQ(le.used, "utf-16le");
}

TEST(CharsetMeta, an_html_part_without_charset_takes_its_meta) {
  std::string russian = encode("Ваш заказ готов", "CP1251");
  Decoded d = part_text("text/html",
                        "<!DOCTYPE html><html><head><META CHARSET='windows-1251'></head><body>" +
                            russian + "</body></html>");
  EXPECT_NE(d.text.find("Ваш заказ готов"), std::string::npos) << d.text;
  EXPECT_EQ(d.used, "windows-1251");
  EXPECT_FALSE(has(d.defects, "charset_detected"));

  Decoded pragma =
      part_text("text/html; charset=\"x-bogus\"",
                "<html><head><title>t</title><meta http-equiv=\"Content-Type\" "
                "content=\"text/html; charset=iso-8859-2\"></head><body>\xb1\xe6</body></html>");
  EXPECT_NE(pragma.text.find("ąć"), std::string::npos) << pragma.text;
  EXPECT_EQ(pragma.used, "iso-8859-2");
  EXPECT_TRUE(has(pragma.defects, "unknown_charset"));
}

TEST(CharsetMeta, meta_that_the_prescan_must_not_take) {
  std::string body =
      "caf\xe9 cr\xe8me br\xfbl\xe9"
      "e, na\xefve fa\xe7"
      "ade";
  // In a comment; after the first 1024 bytes; content= without http-equiv; a text/plain part;
  // a declared charset.
  Decoded comment = part_text("text/html", "<!-- <meta charset=koi8-r> --><p>" + body);
  Decoded late =
      part_text("text/html", "<p>" + std::string(1100, 'x') + "<meta charset=koi8-r>" + body);
  Decoded no_pragma = part_text("text/html", "<meta content='text/html; charset=koi8-r'>" + body);
  Decoded plain = part_text("text/plain", "<meta charset=koi8-r>" + body);
  Decoded declared = part_text("text/html; charset=windows-1252", "<meta charset=koi8-r>" + body);
  for (const Decoded* d : {&comment, &late, &no_pragma, &plain, &declared}) {
    EXPECT_NE(d->used, "koi8-r");
    EXPECT_NE(d->text.find("café crème brûlée, naïve façade"), std::string::npos) << d->text;
  }
  EXPECT_EQ(declared.used, "windows-1252");
}

TEST(CharsetDetection, undeclared_text_that_is_not_utf8_is_detected) {
  struct Case {
    std::string text;
    const char* glibc;
    const char* used;
  };
  const Case cases[] = {
      {"中文電子郵件測試，請回覆。謝謝您的合作與支持，祝您有美好的一天。", "BIG5", "big5"},
      {"中文电子邮件测试，请回复。谢谢您的合作与支持，祝您有美好的一天。", "GB18030", "gb18030"},
      {"日本語のメールです。よろしくお願いします。明日の会議は十時からです。", "SHIFT_JIS",
       "shift_jis"},
      {"Здравствуйте, ваш заказ готов к отправке. Спасибо за покупку!", "CP1251", "windows-1251"},
      {"Здравствуйте, ваш заказ готов к отправке. Спасибо за покупку!", "KOI8-R", "koi8-r"},
  };
  for (const Case& c : cases) {
    Decoded d = part_text("text/plain", encode(c.text, c.glibc));
    EXPECT_EQ(d.text, c.text) << c.glibc;
    EXPECT_EQ(d.used, c.used) << c.glibc;
    EXPECT_TRUE(has(d.defects, "charset_detected")) << c.glibc;
  }
  // Valid UTF-8 and plain ASCII need no guess.
  Decoded utf8 = part_text("text/plain", "Grüße aus Köln");
  EXPECT_EQ(utf8.used, "utf-8");
  EXPECT_TRUE(utf8.defects.empty());
  EXPECT_EQ(part_text("text/plain", "just ascii").used, "utf-8");
}

TEST(CharsetDetection, a_label_the_bytes_show_wrong_gives_way) {
  // UTF-8 labelled latin-1: valid UTF-8 with 8-bit bytes is UTF-8.
  Decoded utf8 = convert(
      "Gr\xc3\xbc\xc3\x9f"
      "e aus K\xc3\xb6ln",
      "iso-8859-1");
  EXPECT_EQ(utf8.text, "Grüße aus Köln");
  EXPECT_EQ(utf8.used, "utf-8");
  EXPECT_TRUE(has(utf8.defects, "charset_mismatch"));
  // windows-1252 labelled UTF-8: every 8-bit byte is invalid in UTF-8, the detector reads it.
  std::string german =
      "Liebe Grüße aus Köln, wir wünschen Ihnen schöne Feiertage und für das nächste Jahr "
      "viel Glück, Gesundheit und Erfolg. Herzliche Grüße, Jürgen Müller";
  Decoded latin = convert(encode(german, "CP1252"), "utf-8");
  EXPECT_EQ(latin.text, german);
  EXPECT_EQ(latin.used, "windows-1252");
  EXPECT_TRUE(has(latin.defects, "charset_mismatch"));
  EXPECT_TRUE(has(latin.defects, "charset_detected"));
  // Shift_JIS labelled iso-2022-jp (7-bit): the detector again.
  std::string japanese = "日本語のメールです。よろしくお願いします。明日の会議は十時からです。";
  Decoded sjis = convert(encode(japanese, "SHIFT_JIS"), "iso-2022-jp");
  EXPECT_EQ(sjis.text, japanese);
  EXPECT_EQ(sjis.used, "shift_jis");
}

TEST(CharsetDetection, a_wrong_label_with_no_better_guess_keeps_one_copy_of_the_text) {
  // Whatever the detector makes of bytes invalid in the label, the text comes out once.
  for (const char* label : {"utf-8", "iso-2022-jp", "euc-jp", "utf-7"}) {
    for (std::string bytes :
         {"begin \xff\xfe\xfd\xfc end", "begin \x80\x81 end", "begin \xc3 \xa9\xe2\x82 end"}) {
      Decoded d = convert(bytes, label);
      EXPECT_EQ(d.text.rfind("begin ", 0), 0u) << label << ": " << d.text;
      EXPECT_EQ(d.text.find("begin", 1), std::string::npos) << label << ": " << d.text;
      EXPECT_EQ(d.text.find(" end"), d.text.size() - 4) << label << ": " << d.text;
      EXPECT_FALSE(d.used.empty());
    }
  }
  // 7-bit bytes invalid in UTF-7: the detector sees ASCII, which is no better guess.
  Decoded d = convert("begin +\x01 end", "utf-7");
  EXPECT_EQ(d.text, "begin \uFFFD end");
  EXPECT_EQ(d.used, "utf-7");
  EXPECT_TRUE(has(d.defects, "invalid_charset_bytes"));
}

TEST(CharsetDetection, too_little_to_guess_from_stays_windows_1252_or_the_label) {
  // Fewer than 8 bytes >= 0x80: uchardet guesses ibm852 for "na\xefve", windows-1250 for
  // "\xe9t\xe9"; windows-1252 (undeclared) and the label (declared) stand instead.
  Decoded naive = convert("na\xefve, \xe9t\xe9, caf\xe9", "");
  EXPECT_EQ(naive.text, "naïve, été, café");
  EXPECT_EQ(naive.used, "windows-1252");
  EXPECT_FALSE(has(naive.defects, "charset_detected"));
  Decoded garbage = convert("caf\xc3 \xff\xfe \xed\xa0\x80 ok", "utf-8");
  EXPECT_EQ(garbage.text.substr(0, 6), "caf\uFFFD");
  EXPECT_EQ(garbage.used, "utf-8");
  EXPECT_TRUE(has(garbage.defects, "invalid_utf8"));
  EXPECT_FALSE(has(garbage.defects, "charset_mismatch"));
}

TEST(CharsetDetection, detection_reads_a_bounded_prefix_and_stays_linear) {
  // 16 MiB of undeclared windows-1251 text: one guess over 64 KiB, one conversion.
  std::string line = encode("Здравствуйте, ваш заказ готов к отправке.\r\n", "CP1251");
  std::string body;
  while (body.size() < (16u << 20)) body += line;
  auto start = std::chrono::steady_clock::now();
  Decoded d = convert(body, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(d.used, "windows-1251");
  EXPECT_EQ(d.text.substr(0, 24), "Здравствуйте");
}

}  // namespace
