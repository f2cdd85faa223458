// Unit tests of the drop-in formats (delivery/formats.h, README "Payload formats"): the fields of
// Postmark's inbound JSON and of Mailgun's forward() form for a multipart message with non-ASCII
// headers, an inline image and an attachment; attachments over the route's limits; Mailgun's
// signature against a value computed with Python's hmac; the boundary drawn again when the content
// holds it; and, for hostile input, valid UTF-8 and the size bound of formats.h.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/base64.h"
#include "common/part_link.h"
#include "delivery/formats.h"
#include "delivery/reply_text.h"
#include "payload_test_util.h"

namespace delivery {
namespace {

using nlohmann::json;
using test::crlf;
using test::expect_valid_utf8;

constexpr const char* kId = "01936d2e-8c1a-7b7e-9c2a-5b1e2f3a4b5c";
const std::string kEnvelope =
    R"({"mail_from":"bounces@sender.example","rcpt_to":["support+T1234@bridge.example","b@bridge.example"],)"
    R"("params":{"size":1,"body":"8BITMIME","smtputf8":false},"helo":"h","client":{"ip":"192.0.2.1","port":1}})";
const std::string kImage = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
const std::string kImageBase64 = "iVBORw0KGgoAAAANSUhEUg==";
const std::string kPdf = "%PDF-1.4 fake";

std::string message() {
  return crlf(
      "Received: from client.sender.example by bridge.example; Fri, 27 Nov 2026 00:15:23 +0000\n"
      "From: =?UTF-8?B?0JDQu9C40YHQsA==?= <alice@sender.example>\n"
      "To: Support <support+T1234@bridge.example>, \"Carol \\\"C\\\"\" <carol@bridge.example>\n"
      "Cc: dave@bridge.example\n"
      "Reply-To: replies@sender.example\n"
      "Subject: =?UTF-8?Q?R=C3=A9ponse_=E2=9C=93?=\n"
      "Date: Thu, 27 Nov 2025 00:00:00 +0000\n"
      "Message-ID: <abc@sender.example>\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\n"
      "\n"
      "--outer\n"
      "Content-Type: multipart/related; boundary=\"rel\"\n"
      "\n"
      "--rel\n"
      "Content-Type: multipart/alternative; boundary=\"alt\"\n"
      "\n"
      "--alt\n"
      "Content-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: quoted-printable\n"
      "\n"
      "Gr=C3=BC=C3=9Fe, the fix works.\n"
      "--alt\n"
      "Content-Type: text/html; charset=utf-8\n"
      "\n"
      "<p>Gr\xC3\xBC\xC3\x9F"
      "e, the fix works.<img src=\"cid:logo@x\"></p>\n"
      "--alt--\n"
      "--rel\n"
      "Content-Type: image/png\n"
      "Content-Disposition: inline; filename=\"logo.png\"\n"
      "Content-ID: <logo@x>\n"
      "Content-Transfer-Encoding: base64\n"
      "\n" +
      kImageBase64 +
      "\n"
      "--rel--\n"
      "--outer\n"
      "Content-Type: application/pdf\n"
      "Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\n"
      "\n" +
      kPdf +
      "\n"
      "--outer--\n");
}

RenderOptions options() {
  RenderOptions o;
  o.rcpt_to = {"support+T1234@bridge.example", "b@bridge.example"};
  return o;
}

InboundView view(const std::string& data) {
  return InboundView{kId, 1795738523123, kEnvelope, data};
}

json postmark(const std::string& data, const RenderOptions& o = options()) {
  FormatBody out = render_postmark(view(data), o);
  EXPECT_EQ(out.content_type, "application/json; charset=utf-8");
  json doc = json::parse(out.body);  // throws on invalid JSON or UTF-8
  expect_valid_utf8(doc);
  return doc;
}

TEST(Postmark, FieldsOfAMultipartMessageAsTheInboundWebhookDocumentsThem) {
  std::string data = message();
  json doc = postmark(data);
  EXPECT_EQ(doc["From"], "alice@sender.example");
  EXPECT_EQ(doc["FromName"], "Алиса");
  EXPECT_EQ(doc["FromFull"],
            (json{{"Email", "alice@sender.example"}, {"Name", "Алиса"}, {"MailboxHash", ""}}));
  EXPECT_EQ(doc["To"],
            "\"Support\" <support+T1234@bridge.example>, \"Carol \\\"C\\\"\" "
            "<carol@bridge.example>");
  ASSERT_EQ(doc["ToFull"].size(), 2u);
  EXPECT_EQ(doc["ToFull"][0], (json{{"Email", "support+T1234@bridge.example"},
                                    {"Name", "Support"},
                                    {"MailboxHash", "T1234"}}));
  EXPECT_EQ(doc["ToFull"][1]["Name"], "Carol \"C\"");
  EXPECT_EQ(doc["Cc"], "dave@bridge.example");
  EXPECT_EQ(doc["CcFull"][0]["Email"], "dave@bridge.example");
  EXPECT_EQ(doc["Bcc"], "");
  EXPECT_EQ(doc["BccFull"], json::array());
  // The envelope recipient (the first of this delivery), and its +hash.
  EXPECT_EQ(doc["OriginalRecipient"], "support+T1234@bridge.example");
  EXPECT_EQ(doc["MailboxHash"], "T1234");
  EXPECT_EQ(doc["Subject"], "Réponse ✓");
  EXPECT_EQ(doc["MessageID"], kId);
  EXPECT_EQ(doc["ReplyTo"], "replies@sender.example");
  EXPECT_EQ(doc["Date"], "Thu, 27 Nov 2025 00:00:00 +0000");
  EXPECT_EQ(doc["TextBody"], "Grüße, the fix works.");
  EXPECT_EQ(doc["HtmlBody"], "<p>Grüße, the fix works.<img src=\"cid:logo@x\"></p>");
  EXPECT_EQ(doc["StrippedTextReply"], extract_reply_text("Grüße, the fix works.").text);
  EXPECT_EQ(doc["Tag"], "");
  EXPECT_EQ(doc["MessageStream"], "inbound");
  bool message_id = false;
  for (const json& h : doc["Headers"])
    message_id |= h["Name"] == "Message-ID" && h["Value"] == "<abc@sender.example>";
  EXPECT_TRUE(message_id) << doc["Headers"].dump();

  ASSERT_EQ(doc["Attachments"].size(), 2u);
  const json& logo = doc["Attachments"][0];
  EXPECT_EQ(logo["Name"], "logo.png");
  EXPECT_EQ(common::base64_decode(logo["Content"].get<std::string>()), kImage);
  EXPECT_EQ(logo["ContentType"], "image/png");
  EXPECT_EQ(logo["ContentLength"], kImage.size());
  EXPECT_EQ(logo["ContentID"], "logo@x");
  EXPECT_FALSE(logo.contains("Omitted"));
  const json& pdf = doc["Attachments"][1];
  EXPECT_EQ(pdf["Name"], "Résumé.pdf");
  EXPECT_EQ(common::base64_decode(pdf["Content"].get<std::string>()), kPdf);
  EXPECT_EQ(pdf["ContentLength"], kPdf.size());
  EXPECT_EQ(pdf["ContentID"], "");
}

TEST(Postmark, AttachmentsOverTheRouteLimitHaveNoContentButTheirSizeAndASignedLink) {
  RenderOptions o = options();
  o.max_attachment_bytes = 15;  // the 16-byte image is over, the 13-byte PDF is not
  json doc = postmark(message(), o);
  const json& logo = doc["Attachments"][0];
  EXPECT_EQ(logo["Content"], "");
  EXPECT_EQ(logo["ContentLength"], kImage.size());
  EXPECT_EQ(logo["Omitted"], true);
  EXPECT_FALSE(logo.contains("ContentURL"));  // no api.links
  EXPECT_FALSE(doc["Attachments"][1].contains("Omitted"));

  o.links = {"https://bridge.example", "link-secret", 1795740000};
  doc = postmark(message(), o);
  std::string url = doc["Attachments"][0]["ContentURL"];
  EXPECT_EQ(url,
            common::part_link("https://bridge.example", "link-secret", kId, "1.2", 1795740000));
}

TEST(Postmark, WithoutReplyExtractionStrippedTextReplyIsEmpty) {
  RenderOptions o = options();
  o.extract_reply = false;
  EXPECT_EQ(postmark(message(), o)["StrippedTextReply"], "");
}

TEST(Postmark, AnHtmlOnlyMessageTakesItsReplyFromTheHtmlText) {
  std::string data = crlf(
      "From: a@x.example\nSubject: s\nContent-Type: text/html; charset=utf-8\n\n<p>Only "
      "html</p>\n");
  json doc = postmark(data);
  EXPECT_EQ(doc["TextBody"], "");
  EXPECT_EQ(doc["HtmlBody"], "<p>Only html</p>\r\n");
  EXPECT_EQ(doc["StrippedTextReply"], extract_reply_html("<p>Only html</p>\r\n").text.text);
}

// Strings that need escaping and bytes that are not UTF-8 still give valid JSON.
TEST(Postmark, ControlCharactersAndInvalidUtf8StayValidJson) {
  std::string data =
      "From: \"A\x01\\\"\" <a@x.example>\r\nSubject: \xff\xfe bad \x02\r\nX-T: \t\r\n"
      "\r\nbody \xc3\x28 \x7f \x1b\r\n";
  json doc = postmark(data);
  EXPECT_EQ(doc["FromName"], "A\x01\"");
}

// The Mailgun form, parsed back: fields by name (repeats kept), files with their name and type.
struct FormPart {
  std::string name, filename, content_type, value;
};

std::vector<FormPart> parse_form(const FormatBody& out) {
  const std::string prefix = "multipart/form-data; boundary=";
  EXPECT_EQ(out.content_type.substr(0, prefix.size()), prefix);
  std::string delimiter = "--" + out.content_type.substr(prefix.size());
  std::vector<FormPart> parts;
  size_t at = out.body.find(delimiter);
  EXPECT_EQ(at, 0u);
  while (at != std::string::npos) {
    size_t start = at + delimiter.size();
    if (out.body.compare(start, 4, "--\r\n") == 0) {
      EXPECT_EQ(start + 4, out.body.size()) << "bytes after the close delimiter";
      break;
    }
    size_t next = out.body.find("\r\n" + delimiter, start);
    if (next == std::string::npos) {
      ADD_FAILURE() << "no closing delimiter";
      break;
    }
    std::string part = out.body.substr(start + 2, next - start - 2);
    size_t blank = part.find("\r\n\r\n");
    std::string head = part.substr(0, blank), value = part.substr(blank + 4);
    FormPart p;
    p.value = value;
    auto param = [&head](const std::string& key) {
      size_t k = head.find("; " + key + "=\"");
      if (k == std::string::npos) return std::string();
      size_t b = k + key.size() + 4;
      return head.substr(b, head.find('"', b) - b);
    };
    p.name = param("name");
    p.filename = param("filename");
    size_t ct = head.find("Content-Type: ");
    if (ct != std::string::npos)
      p.content_type = head.substr(ct + 14, head.find('\r', ct) - ct - 14);
    parts.push_back(p);
    at = next + 2;
  }
  return parts;
}

std::map<std::string, FormPart> by_name(const std::vector<FormPart>& parts) {
  std::map<std::string, FormPart> out;
  for (const FormPart& p : parts) {
    EXPECT_TRUE(out.emplace(p.name, p).second) << "field repeated: " << p.name;
    EXPECT_TRUE(test::is_valid_utf8(p.filename)) << p.name;
    if (p.filename.empty()) {
      EXPECT_TRUE(test::is_valid_utf8(p.value)) << p.name;
    }
  }
  return out;
}

const std::string kKey = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
const std::string kToken = "0123456789abcdef0123456789abcdef0123456789abcdef01";

MailgunOptions signing() {
  return {kKey, 1700000000, kToken, {}};
}

TEST(Mailgun, SignatureIsTheHexHmacOfTimestampAndTokenAsMailgunDocumentsIt) {
  // hmac.new(key, b"1700000000" + token, hashlib.sha256).hexdigest() in Python.
  EXPECT_EQ(mailgun_signature(kKey, 1700000000, kToken),
            "30f3565e495aef6c97507ee9e6c4e95485f15ee5c60e65bcdcea22c43318355b");
  EXPECT_EQ(mailgun_token().size(), 50u);
  EXPECT_NE(mailgun_token(), mailgun_token());
}

TEST(Mailgun, FieldsAndFilesOfTheForwardAction) {
  std::string data = message();
  auto form = by_name(parse_form(render_mailgun(view(data), options(), signing())));
  EXPECT_EQ(form["recipient"].value, "support+T1234@bridge.example, b@bridge.example");
  EXPECT_EQ(form["sender"].value, "bounces@sender.example");
  EXPECT_EQ(form["from"].value, "Алиса <alice@sender.example>");
  EXPECT_EQ(form["subject"].value, "Réponse ✓");
  EXPECT_EQ(form["body-plain"].value, "Grüße, the fix works.");
  EXPECT_EQ(form["stripped-text"].value, extract_reply_text("Grüße, the fix works.").text);
  ASSERT_TRUE(form.count("stripped-signature"));
  EXPECT_EQ(form["body-html"].value, "<p>Grüße, the fix works.<img src=\"cid:logo@x\"></p>");
  EXPECT_EQ(form["stripped-html"].value, extract_reply_html(form["body-html"].value).html);
  EXPECT_EQ(form["attachment-count"].value, "2");
  EXPECT_EQ(form["attachment-1"].filename, "logo.png");
  EXPECT_EQ(form["attachment-1"].content_type, "image/png");
  EXPECT_EQ(form["attachment-1"].value, kImage);
  EXPECT_EQ(form["attachment-2"].filename, "Résumé.pdf");
  EXPECT_EQ(form["attachment-2"].content_type, "application/pdf");
  EXPECT_EQ(form["attachment-2"].value, kPdf);
  EXPECT_EQ(json::parse(form["content-id-map"].value), (json{{"<logo@x>", "attachment-1"}}));
  json headers = json::parse(form["message-headers"].value);
  ASSERT_TRUE(headers.is_array());
  EXPECT_EQ(headers[0][0], "Received");
  EXPECT_TRUE(std::find(headers.begin(), headers.end(),
                        json::array({"Message-ID", "<abc@sender.example>"})) != headers.end());
  EXPECT_EQ(form["timestamp"].value, "1700000000");
  EXPECT_EQ(form["token"].value, kToken);
  EXPECT_EQ(form["signature"].value, mailgun_signature(kKey, 1700000000, kToken));
  EXPECT_FALSE(form.count("omitted-attachments"));
}

TEST(Mailgun, WithoutReplyExtractionTheStrippedFieldsAreLeftOut) {
  RenderOptions o = options();
  o.extract_reply = false;
  auto form = by_name(parse_form(render_mailgun(view(message()), o, signing())));
  EXPECT_FALSE(form.count("stripped-text"));
  EXPECT_FALSE(form.count("stripped-signature"));
  EXPECT_FALSE(form.count("stripped-html"));
  EXPECT_TRUE(form.count("body-plain"));
}

TEST(Mailgun, AttachmentsOverTheRouteLimitAreListedNotSent) {
  RenderOptions o = options();
  o.max_attachment_bytes = 15;
  o.links = {"https://bridge.example", "link-secret", 1795740000};
  auto form = by_name(parse_form(render_mailgun(view(message()), o, signing())));
  EXPECT_EQ(form["attachment-count"].value, "1");
  EXPECT_EQ(form["attachment-1"].filename, "Résumé.pdf");
  EXPECT_FALSE(form.count("attachment-2"));
  EXPECT_EQ(json::parse(form["content-id-map"].value), json::object());
  json omitted = json::parse(form["omitted-attachments"].value);
  ASSERT_EQ(omitted.size(), 1u);
  EXPECT_EQ(omitted[0]["name"], "logo.png");
  EXPECT_EQ(omitted[0]["size"], kImage.size());
  EXPECT_EQ(omitted[0]["content-id"], "logo@x");
  EXPECT_EQ(omitted[0]["url"],
            common::part_link("https://bridge.example", "link-secret", kId, "1.2", 1795740000));
}

// A boundary that occurs in the content is drawn again (RFC 2046 5.1.1: it must not).
TEST(Mailgun, ABoundaryFoundInTheContentIsDrawnAgain) {
  std::string data = crlf("From: a@x.example\nSubject: s\n\nsee smtp-bridge-collide here\n");
  std::vector<std::string> draws = {"collide", "fresh"};
  size_t next = 0;
  MailgunOptions m = signing();
  m.boundary = [&] { return draws[std::min(next++, draws.size() - 1)]; };
  FormatBody out = render_mailgun(view(data), options(), m);
  EXPECT_EQ(out.content_type, "multipart/form-data; boundary=smtp-bridge-fresh");
  EXPECT_EQ(next, 2u);
  auto form = by_name(parse_form(out));
  EXPECT_EQ(form["body-plain"].value, "see smtp-bridge-collide here\r\n");
  // A file name's quote and line breaks cannot end its parameter or the part header.
  data = crlf(
      "From: a@x.example\nContent-Type: application/x\n"
      "Content-Disposition: attachment; filename*=utf-8''a%22%0D%0Ab.bin\n\nx\n");
  form = by_name(parse_form(render_mailgun(view(data), options(), signing())));
  EXPECT_EQ(form["attachment-1"].filename, "a%22%0D%0Ab.bin");
}

// formats.h's bound, whatever the input: control characters (6 bytes of JSON each) in a huge
// header, a header written several times, a body of quotes.
TEST(Formats, HostileMessagesStayWithinTheBound) {
  std::vector<std::string> messages;
  messages.push_back("Subject: " + std::string(2000000, '\x01') + "\r\nFrom: " +
                     std::string(200000, '\x02') + " <a@x>\r\n\r\n" + std::string(100000, '"'));
  std::string list = "To: ";
  for (int i = 0; i < 900; ++i) list += "\"\x01\x01\x01\x01\x01\x01\x01\x01\" <a+\x01\x01@x>, ";
  messages.push_back(list + "\r\n\r\nb");
  messages.push_back(crlf("Content-Type: text/plain; charset=tscii\n\n") +
                     std::string(50000, '\xa6'));
  messages.push_back(std::string("\0\0\0", 3));
  for (const std::string& data : messages) {
    RenderOptions o = options();
    FormatBody p = render_postmark(view(data), o);
    json doc = json::parse(p.body);
    expect_valid_utf8(doc);
    size_t base64 = 0;
    for (const json& a : doc["Attachments"]) base64 += a["Content"].get<std::string>().size();
    EXPECT_LE(p.body.size(), max_format_size(data.size(), base64, kEnvelope.size(), 2));
    FormatBody m = render_mailgun(view(data), o, signing());
    size_t files = 0;
    for (const FormPart& part : parse_form(m))
      if (!part.filename.empty()) files += part.value.size();
    EXPECT_LE(m.body.size(), max_format_size(data.size(), files, kEnvelope.size(), 2));
  }
}

// endpoints[].max_payload_bytes: attachments go by link (largest first) until the document fits;
// only with api.links, which make the links.
TEST(Formats, MaxPayloadBytesSendsAttachmentsByLinkWhenLinksAreSet) {
  RenderOptions o = options();
  o.max_payload_bytes = 1;
  json doc = postmark(message(), o);
  EXPECT_FALSE(doc["Attachments"][0].contains("Omitted")) << "no api.links: nothing to link to";
  o.links = {"https://bridge.example", "link-secret", 1795740000};
  doc = postmark(message(), o);
  for (const json& a : doc["Attachments"]) {
    EXPECT_EQ(a["Omitted"], true);
    EXPECT_EQ(a["Content"], "");
    EXPECT_TRUE(a.contains("ContentURL"));
  }
  auto form = by_name(parse_form(render_mailgun(view(message()), o, signing())));
  EXPECT_EQ(form["attachment-count"].value, "0");
  EXPECT_EQ(json::parse(form["omitted-attachments"].value).size(), 2u);
  o.max_payload_bytes = 10 << 20;
  doc = postmark(message(), o);
  for (const json& a : doc["Attachments"]) EXPECT_FALSE(a.contains("Omitted"));
}

}  // namespace
}  // namespace delivery
