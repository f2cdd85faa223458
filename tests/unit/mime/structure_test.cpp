// Message structure: header splitting, nested multiparts and their IMAP numbers, message/rfc822
// recursion, boundary edge cases, main body and attachment selection, summaries and defects.
#include <gtest/gtest.h>

#include "mime/message.h"

namespace {

bool has(const std::vector<std::string>& defects, std::string_view d) {
  return std::find(defects.begin(), defects.end(), d) != defects.end();
}

std::string body_of(std::string_view raw, const mime::Part& p) {
  return std::string(raw.substr(p.body_begin, p.end - p.body_begin));
}

const std::string kNested =
    "From: =?UTF-8?B?0JDQu9C40YHQsA==?= <alice@sender.example>\r\n"
    "To: Bob <bob@bridge.example>, carol@bridge.example\r\n"
    "Subject: =?UTF-8?Q?Otch=C3=ABt?=\r\n"
    " part two\r\n"
    "Date: Thu, 27 Nov 2025 01:00:00 +0100\r\n"
    "Message-ID: <179573884599.8289@sender.example>\r\n"
    "References: <a@x> <b@y>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble text\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "plain body\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>html body</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream; name=data.bin\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''%D0%B4.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAw==\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner message\r\n"
    "Content-Type: multipart/mixed; boundary=b3\r\n"
    "\r\n"
    "--b3\r\n"
    "\r\n"
    "embedded text\r\n"
    "--b3\r\n"
    "Content-Type: image/png\r\n"
    "Content-ID: <img1@x>\r\n"
    "\r\n"
    "PNG\r\n"
    "--b3--\r\n"
    "--outer--   \r\n"
    "epilogue\r\n";

TEST(Structure, numbers_nested_parts_like_imap) {
  mime::Message m = mime::parse(kNested);
  std::vector<std::string> numbers, types;
  for (const auto& p : m.parts) {
    numbers.push_back(p.number);
    types.push_back(p.content_type);
  }
  EXPECT_EQ(numbers,
            (std::vector<std::string>{"", "1", "1.1", "1.2", "2", "3", "3.TEXT", "3.1", "3.2"}));
  EXPECT_EQ(types,
            (std::vector<std::string>{"multipart/mixed", "multipart/alternative", "text/plain",
                                      "text/html", "application/octet-stream", "message/rfc822",
                                      "multipart/mixed", "text/plain", "image/png"}));
  EXPECT_EQ(m.parts[6].parent, 5);
  EXPECT_EQ(m.parts[5].children, std::vector<int>{6});
  EXPECT_EQ(m.parts[8].depth, 3);
  EXPECT_TRUE(m.defects.empty()) << m.defects.front();
}

TEST(Structure, part_offsets_exclude_the_boundary_line_breaks) {
  mime::Message m = mime::parse(kNested);
  EXPECT_EQ(body_of(kNested, m.parts[2]), "plain body");
  EXPECT_EQ(body_of(kNested, m.parts[3]), "<p>html body</p>");
  EXPECT_EQ(body_of(kNested, m.parts[7]), "embedded text");
  EXPECT_EQ(mime::decode_body(kNested, m.parts[4]), std::string("\0\1\2\3", 4));
  const auto& root = m.parts[0];
  EXPECT_EQ(root.boundary, "outer");
  EXPECT_EQ(kNested.substr(root.preamble_begin, root.preamble_end - root.preamble_begin),
            "preamble text");
  EXPECT_EQ(kNested.substr(root.epilogue_begin, root.epilogue_end - root.epilogue_begin),
            "epilogue\r\n");
  EXPECT_EQ(m.parts[6].headers.front().value, "inner message");
}

TEST(Structure, fills_part_fields_from_mime_headers) {
  mime::Message m = mime::parse(kNested);
  EXPECT_EQ(m.parts[2].charset, "utf-8");
  EXPECT_EQ(m.parts[4].disposition, "attachment");
  EXPECT_EQ(m.parts[4].filename, "д.bin");
  EXPECT_EQ(m.parts[4].transfer_encoding, "base64");
  EXPECT_EQ(m.parts[8].content_id, "img1@x");
}

TEST(Summary, decodes_top_level_header_fields) {
  mime::Message m = mime::parse(kNested);
  EXPECT_EQ(m.subject, "Otchët part two");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].name, "Алиса");
  EXPECT_EQ(m.from[0].address, "alice@sender.example");
  ASSERT_EQ(m.to.size(), 2u);
  EXPECT_EQ(m.to[1].address, "carol@bridge.example");
  EXPECT_EQ(m.date, "2025-11-27T01:00:00+01:00");
  EXPECT_EQ(m.message_id, "179573884599.8289@sender.example");
  EXPECT_EQ(m.references, (std::vector<std::string>{"a@x", "b@y"}));
  EXPECT_EQ(m.parts[0].headers.size(), 8u);
  EXPECT_EQ(m.parts[0].headers[2].value, "Otchët part two");
}

TEST(Bodies, alternative_inside_mixed_gives_text_and_html_and_the_rest_are_attachments) {
  mime::Message m = mime::parse(kNested);
  EXPECT_EQ(m.text_part, 2);
  EXPECT_EQ(m.html_part, 3);
  EXPECT_EQ(m.attachments, (std::vector<int>{4, 5}));  // the embedded message counts as one
}

TEST(Bodies, related_uses_its_start_root_and_inline_images_are_attachments) {
  std::string raw =
      "Content-Type: multipart/related; boundary=r; start=\"<root@x>\"\r\n\r\n"
      "--r\r\nContent-Type: image/gif\r\nContent-ID: <img@x>\r\nContent-Disposition: "
      "inline\r\n\r\nGIF\r\n"
      "--r\r\nContent-Type: text/html\r\nContent-ID: <root@x>\r\n\r\n<img "
      "src=cid:img@x>\r\n--r--\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.html_part, 2);
  EXPECT_EQ(m.text_part, -1);
  EXPECT_EQ(m.attachments, std::vector<int>{1});
}

TEST(Bodies, mixed_takes_only_its_first_part_as_the_body) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
      "--m\r\n\r\nfirst\r\n--m\r\nContent-Type: text/plain\r\n\r\nsecond\r\n"
      "--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; "
      "filename=a.txt\r\n\r\nthird\r\n--m--\r\n";
  mime::Message m = mime::parse(raw);
  EXPECT_EQ(m.text_part, 1);
  EXPECT_EQ(m.html_part, -1);
  EXPECT_EQ(m.attachments, (std::vector<int>{2, 3}));
}

TEST(Bodies, a_single_part_message_is_its_own_text_body) {
  std::string raw =
      "Subject: hi\r\nContent-Type: text/html; "
      "charset=windows-1251\r\n\r\n\xcf\xf0\xe8\xe2\xe5\xf2";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(m.html_part, 0);
  EXPECT_TRUE(m.attachments.empty());
  EXPECT_EQ(mime::decode_text(raw, m.parts[0]), "Привет");
}

TEST(Bodies, an_attachment_first_part_gives_no_main_body) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
      "--m\r\nContent-Type: application/pdf\r\nContent-Disposition: "
      "attachment\r\n\r\n%PDF\r\n--m--\r\n";
  mime::Message m = mime::parse(raw);
  EXPECT_EQ(m.text_part, -1);
  EXPECT_EQ(m.attachments, std::vector<int>{1});
}

TEST(Rfc822, a_message_that_is_entirely_an_embedded_message_numbers_it_as_part_1) {
  std::string raw = "Content-Type: message/rfc822\r\n\r\nSubject: inside\r\n\r\nhello\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[1].number, "1.1");
  EXPECT_EQ(body_of(raw, m.parts[1]), "hello\r\n");
  EXPECT_EQ(m.text_part, 1);
}

TEST(Rfc822, digest_parts_default_to_message_rfc822) {
  std::string raw =
      "Content-Type: multipart/digest; boundary=d\r\n\r\n"
      "--d\r\n\r\nSubject: one\r\n\r\nbody one\r\n--d--\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].content_type, "message/rfc822");
  EXPECT_EQ(m.parts[2].number, "1.1");
  EXPECT_EQ(m.parts[2].headers.at(0).value, "one");
}

TEST(Boundaries, missing_close_runs_the_last_part_to_the_end) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\none\r\n--x\r\n\r\ntwo\r\nmore";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(body_of(raw, m.parts[2]), "two\r\nmore");
  EXPECT_TRUE(has(m.defects, "missing_closing_boundary"));
}

TEST(Boundaries, inner_boundary_that_prefixes_the_outer_one_is_not_confused) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=\"ab-outer\"\r\n\r\n"
      "--ab-outer\r\nContent-Type: multipart/mixed; boundary=ab\r\n\r\n"
      "--ab\r\n\r\ninner one\r\n"  // the inner multipart never closes
      "--ab-outer\r\n\r\nouter two\r\n--ab-outer--\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 4u);
  EXPECT_EQ(m.parts[2].number, "1.1");
  EXPECT_EQ(body_of(raw, m.parts[2]), "inner one");
  EXPECT_EQ(m.parts[3].number, "2");
  EXPECT_EQ(body_of(raw, m.parts[3]), "outer two");
  EXPECT_TRUE(has(m.defects, "missing_closing_boundary"));
}

TEST(Boundaries, a_longer_boundary_sharing_the_prefix_is_not_a_delimiter) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=ab\r\n\r\n"
      "--ab\r\n\r\nkeep --abc line\r\n--abc\r\n--ab--\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(body_of(raw, m.parts[1]), "keep --abc line\r\n--abc");
}

TEST(Boundaries, a_delimiter_inside_a_line_is_body_text_and_one_at_the_start_of_the_body_counts) {
  // The body starts right at "--b" (no preamble); mid-line "--b" and dashes are text.
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n\r\nsee x--b, -- and ---b here\r\n- --b\r\n--b--\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(body_of(raw, m.parts[1]), "see x--b, -- and ---b here\r\n- --b");
  EXPECT_FALSE(has(m.defects, "missing_closing_boundary"));
}

TEST(Boundaries, bare_lf_lines_work_and_are_reported_once) {
  std::string raw =
      "Content-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/plain\n\nlf "
      "body\n"
      "--x\nContent-Type: text/html\n\n<b>x</b>\n--x--\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(body_of(raw, m.parts[1]), "lf body");
  EXPECT_EQ(m.html_part, 2);
  EXPECT_EQ(std::count(m.defects.begin(), m.defects.end(), "bare_lf"), 1);
}

TEST(Boundaries, a_boundary_ending_in_spaces_matches_only_with_those_spaces) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=\"b:=?  \"\r\n\r\n"
      "--b:=?  \r\n\r\nText body\r\n--b:=? \r\nnot a delimiter: one space missing\r\n\r\n--b:=?  "
      "--\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[0].boundary, "b:=?  ");
  EXPECT_EQ(body_of(raw, m.parts[1]),
            "Text body\r\n--b:=? \r\nnot a delimiter: one space missing\r\n");
  EXPECT_TRUE(m.defects.empty());
}

TEST(Boundaries, a_boundary_whose_trailing_space_was_stripped_in_transit_still_splits) {
  // RFC 2046 5.1.1 (bcharsnospace): gateways may strip the trailing space from delimiter lines.
  std::string raw =
      "Content-Type: multipart/mixed; boundary=\"ab "
      "\"\r\n\r\n--ab\r\n\r\none\r\n--ab\r\n\r\ntwo\r\n--ab--\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(body_of(raw, m.parts[1]), "one");
  EXPECT_EQ(body_of(raw, m.parts[2]), "two");
  EXPECT_TRUE(has(m.defects, "boundary_trailing_space"));
}

TEST(Boundaries, a_boundary_after_the_type_without_semicolon_is_found) {
  std::string raw =
      "Content-Type: "
      "multipart/mixed\r\n\tboundary=\"x\"\r\n\r\n--x\r\n\r\none\r\n--x\r\n\r\ntwo\r\n--x--\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[0].content_type, "multipart/mixed");
  EXPECT_EQ(body_of(raw, m.parts[2]), "two");
}

TEST(Boundaries, multipart_without_boundary_is_one_leaf) {
  mime::Message m = mime::parse("Content-Type: multipart/mixed\r\n\r\nbody\r\n");
  EXPECT_EQ(m.parts.size(), 1u);
  EXPECT_TRUE(has(m.defects, "missing_boundary"));
}

TEST(Headers, keeps_repeats_unfolds_and_accepts_space_before_colon) {
  std::string raw = "Received: a\r\nReceived : b\r\n\tc\r\nX-Empty:\r\n\r\nbody";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts[0].headers.size(), 3u);
  EXPECT_EQ(m.parts[0].headers[1].name, "Received");
  EXPECT_EQ(m.parts[0].headers[1].value, "b\tc");
  EXPECT_EQ(m.parts[0].headers[2].value, "");
  EXPECT_EQ(body_of(raw, m.parts[0]), "body");
}

TEST(Headers, a_line_that_is_not_a_field_starts_the_body) {
  std::string raw = "Subject: x\r\nthis is body text\r\nmore\r\n";
  mime::Message m = mime::parse(raw);
  EXPECT_EQ(m.parts[0].headers.size(), 1u);
  EXPECT_EQ(body_of(raw, m.parts[0]), "this is body text\r\nmore\r\n");
  EXPECT_TRUE(has(m.defects, "missing_header_separator"));
}

TEST(Headers, invalid_date_is_nullopt_and_a_defect) {
  mime::Message m = mime::parse("Date: someday\r\n\r\n");
  EXPECT_EQ(m.date, std::nullopt);
  EXPECT_TRUE(has(m.defects, "invalid_date"));
}

TEST(Headers, defaults_apply_to_a_message_without_mime_headers) {
  mime::Message m = mime::parse("Subject: plain\r\n\r\nhello");
  EXPECT_EQ(m.parts[0].content_type, "text/plain");
  EXPECT_EQ(m.parts[0].transfer_encoding, "7bit");
  EXPECT_EQ(m.text_part, 0);
}

}  // namespace

// RFC 2046 5.1.1: a delimiter line is "--" boundary [ "--" ] *LWSP CRLF and nothing else. A nested
// multipart whose boundary begins with the outer one (enmime's "Enmime-Test-100" around
// "Enmime-Test-100_alt", and the same with "--alt", which looks like the outer close delimiter
// followed by text) keeps both alternatives, and the outer part after it stays an attachment.
TEST(Boundaries, a_nested_boundary_that_begins_with_the_outer_one_keeps_its_alternatives) {
  for (std::string inner : {"Enmime-Test-100_alt", "Enmime-Test-100--alt", "Enmime-Test-100-"}) {
    SCOPED_TRACE(inner);
    std::string raw =
        "Content-Type: multipart/mixed; boundary=\"Enmime-Test-100\"\r\n\r\n"
        "--Enmime-Test-100\r\n"
        "Content-Type: multipart/alternative; boundary=\"" +
        inner + "\"\r\n\r\n--" + inner + "\r\nContent-Type: text/plain\r\n\r\nplain\r\n--" + inner +
        "\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--" + inner +
        "--\r\n\r\n"
        "--Enmime-Test-100\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\npdf\r\n"
        "--Enmime-Test-100--\r\n";
    mime::Message m = mime::parse(raw);
    ASSERT_EQ(m.parts.size(), 5u);
    EXPECT_EQ(m.parts[1].content_type, "multipart/alternative");
    ASSERT_EQ(m.html_part, 3);
    EXPECT_EQ(body_of(raw, m.parts[3]), "<b>html</b>");
    EXPECT_EQ(body_of(raw, m.parts[2]), "plain");
    EXPECT_EQ(m.parts[4].filename, "a.pdf");
    EXPECT_EQ(body_of(raw, m.parts[4]), "pdf");
    EXPECT_TRUE(m.defects.empty()) << m.defects.front();
  }
}

TEST(Boundaries, a_close_delimiter_is_followed_only_by_padding_and_the_line_end) {
  // "--b--" + LWSP + CRLF closes; "--b--x" is body text (the next line's close counts).
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n\r\none\r\n--b--x\r\nstill one\r\n--b-- \t\r\nepilogue\r\n";
  mime::Message m = mime::parse(raw);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(body_of(raw, m.parts[1]), "one\r\n--b--x\r\nstill one");
  EXPECT_EQ(raw.substr(m.parts[0].epilogue_begin), "epilogue\r\n");
  EXPECT_FALSE(has(m.defects, "missing_closing_boundary"));
}
