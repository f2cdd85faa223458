// mime_build_samples DIR: builds one sample message per mime::build case into DIR/<name>.eml and
// writes DIR/expected.json saying what each must contain, for build_check.py to verify with
// Python's email package (an implementation independent of ours).
#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "mime/build.h"

namespace {

using mime::Attachment;
using mime::BuildRequest;
using nlohmann::json;

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < size; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

BuildRequest basic() {
  BuildRequest r;
  r.from = {"Shop", "shop@example.com"};
  r.to = {{"Bob", "bob@example.org"}};
  r.subject = "Your order";
  r.text = "plain body\r\n";
  r.date_ms = 1764202523123;
  r.message_id = "0193a0b2-1111-7000-8000-000000000001@bridge.test";
  return r;
}

json mailboxes(const std::vector<mime::Mailbox>& list) {
  json out = json::array();
  for (const auto& m : list) out.push_back({m.name, m.address});
  return out;
}

// What build_check.py compares; `shape` is the expected MIME tree, `long_fields` the header
// fields whose lines may exceed 78 (an unbreakable token).
json describe(const std::string& name, const BuildRequest& r, const std::string& shape,
              const std::string& subject, std::vector<std::string> long_fields = {}) {
  json attachments = json::array();
  for (const auto& a : r.attachments) {
    attachments.push_back(
        {{"filename", a.filename},
         {"content_type", a.content_type.empty() ? "application/octet-stream" : a.content_type},
         {"size", a.content.size()},
         {"sha256", sha256_hex(a.content)},
         {"content_id", a.content_id}});
  }
  json headers = json::array();
  for (const auto& [n, v] : r.headers) headers.push_back({n, v});
  return {{"file", name + ".eml"},
          {"subject", subject},
          {"from", mailboxes({r.from})},
          {"to", mailboxes(r.to)},
          {"cc", mailboxes(r.cc)},
          {"reply_to", mailboxes(r.reply_to)},
          {"bcc", mailboxes(r.bcc)},
          {"text", r.text},
          {"html", r.html},
          {"attachments", attachments},
          {"headers", headers},
          {"shape", shape},
          {"date_ms", r.date_ms},
          {"message_id", r.message_id},
          {"long_fields", long_fields}};
}

Attachment attachment(std::string name, std::string type, std::string content,
                      std::string cid = "") {
  return Attachment{std::move(name), std::move(type), std::move(content), std::move(cid)};
}

std::vector<std::pair<std::string, json>> samples(const std::string& dir) {
  std::vector<std::pair<std::string, json>> out;
  auto add = [&](const std::string& name, const BuildRequest& r, const std::string& shape,
                 std::vector<std::string> long_fields = {}, const char* subject = nullptr) {
    std::ofstream(dir + "/" + name + ".eml", std::ios::binary) << mime::build(r);
    out.emplace_back(name, describe(name, r, shape, subject ? subject : r.subject, long_fields));
  };
  BuildRequest r = basic();
  r.cc = {{"", "carol@example.org"}};
  r.bcc = {{"Hidden Person", "hidden@example.org"}};
  add("text_only", r, "plain");

  r = basic();
  r.text = "no final newline, bare\nLF and bare\rCR, and a =_ pair";
  add("text_line_ends", r, "plain");

  r = basic();
  r.subject =
      "Ваш заказ №42 отправлен — спасибо, что выбрали наш магазин! Доставка 🚚🚚 займёт 3 дня";
  r.from = {"Магазин «Рога и копыта»", "shop@example.com"};
  r.to = {{"Иван Петров", "ivan@example.org"}, {"Zoë 😀", "zoe@example.org"}};
  r.text = "Здравствуйте, Иван!\r\nВаш заказ отправлен.\r\n";
  add("non_ascii_headers", r, "plain");

  r = basic();
  r.html = "<p>html body</p>\r\n";
  add("alternative", r, "alternative(plain,html)");

  r = basic();
  r.html = "<p><img src=\"cid:logo@shop\"> Спасибо!</p>\r\n";
  r.attachments = {attachment("счёт.pdf", "application/pdf", random_bytes(5000, 1)),
                   attachment("logo.png", "image/png", random_bytes(700, 2), "logo@shop")};
  add("mixed_related_alternative", r, "mixed(related(alternative(plain,html),png),pdf)");

  r = basic();
  r.text.clear();
  r.html = "<img src=\"cid:a\"><img src=\"cid:b\">";
  r.attachments = {attachment("a.gif", "image/gif", random_bytes(100, 3), "a"),
                   attachment("b.gif", "image/gif", random_bytes(100, 4), "b")};
  add("related_html_only", r, "related(html,gif,gif)");

  r = basic();
  r.attachments = {attachment("a.gif", "image/gif", random_bytes(300, 5), "a")};
  add("inline_without_html", r, "mixed(plain,gif)");

  r = basic();
  r.text.clear();
  r.attachments = {attachment("data.bin", "", random_bytes(1000, 6))};
  add("single_attachment", r, "octet-stream");

  r = basic();
  r.text.clear();
  r.attachments = {attachment("one.txt", "text/plain", "hello\r\n"),
                   attachment("two.csv", "text/csv", "a,b\n1,2\n")};
  add("attachments_only", r, "mixed(plain,csv)");

  r = basic();
  std::string long_name;
  for (int i = 0; i < 12; ++i) long_name += "отчёт-";
  r.attachments = {attachment(long_name + "2025 \"final\".pdf", "application/pdf", "%PDF-1.4 tiny"),
                   attachment(std::string(90, 'a') + " long ascii name.txt", "text/plain", "x"),
                   attachment("quote\"and\\back.txt", "text/plain", "y")};
  add("filenames", r, "mixed(plain,pdf,plain,plain)");

  // Issue 11: short non-ASCII names with '"' and '\\' (one RFC 2231 value, a legacy name= of
  // encoded words inside a quoted-string).
  r = basic();
  r.attachments = {attachment("Rechnung \"März\".pdf", "application/pdf", "%PDF-1.4 tiny"),
                   attachment("a\\b \"ä\" \\\".txt", "text/plain", "z"),
                   attachment("\"\\\"\\ü", "text/plain", "w")};
  add("filenames_quotes", r, "mixed(plain,pdf,plain,plain)");

  r = basic();
  r.text =
      std::string(200, 'x') + "\r\nCafé crème, déjà vu — mostly ASCII.  \r\ntrailing tab\t\r\n";
  r.html = "<p>Привет, мир! Это письмо почти целиком по-русски, поэтому base64.</p>";
  add("body_encodings", r, "alternative(plain,html)");

  r = basic();
  r.to.clear();
  for (int i = 0; i < 40; ++i)
    r.to.push_back(
        {i % 3 ? "" : "Person " + std::to_string(i), "user" + std::to_string(i) + "@example.org"});
  r.cc = {{"Doe, John \"JD\" \\ Jr.", "john doe@example.org"},
          {"Q", "we\"ird\\@example.org"},
          {"A.B", "a..b@example.org"}};
  r.reply_to = {{"Very long ASCII display name that certainly needs quoting, because of the comma",
                 "r@example.org"}};
  add("recipients", r, "plain");

  r = basic();
  std::string url = "<https://example.com/unsubscribe?token=" + std::string(150, 'z') + ">";
  r.headers = {{"X-Campaign", "nov"},
               {"X-Note", "примечание к заказу"},
               {"List-Unsubscribe", url},
               {"X-Long",
                "many words that go on and on so that the line must be folded somewhere in the "
                "middle of it"}};
  add("extra_headers", r, "plain", {"List-Unsubscribe"});

  r = basic();
  std::string big_text;
  for (int i = 0; big_text.size() < 300000; ++i)
    big_text += "Line " + std::to_string(i) + " ünïcödé and ASCII text; " +
                std::string(i % 120, '-') + "\n";
  r.text = big_text;
  r.html = "<div>" + std::string(50000, 'w') + "</div>";
  r.attachments = {attachment("big.bin", "application/octet-stream", random_bytes(2000000, 7))};
  add("large", r, "mixed(alternative(plain,html),octet-stream)");

  r = basic();
  r.subject = "evil\r\nBcc: victim@example.org";
  add("subject_injection", r, "plain", {}, "evil  Bcc: victim@example.org");

  r = basic();
  r.subject = "=?utf-8?B?SGk=?= is not an encoded word here";
  add("subject_lookalike", r, "plain");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: mime_build_samples DIR\n";
    return 2;
  }
  json all = json::array();
  for (auto& [name, description] : samples(argv[1])) all.push_back(std::move(description));
  std::ofstream(std::string(argv[1]) + "/expected.json") << all.dump(1);
  return 0;
}
