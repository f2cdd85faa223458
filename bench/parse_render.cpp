// bench_parse_render: throughput of mime::parse and of the whole bridge.v1 rendering
// (delivery::render_bridge_v1_text, which parses too) on one core, in MB/s of message bytes, for
// attachment-heavy and text-heavy messages built here (or files given as arguments). Not a test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/base64.h"
#include "delivery/payload.h"
#include "mime/message.h"

namespace {

struct Sample {
  std::string name;
  std::string data;
};

std::string random_bytes(size_t size, std::mt19937_64& random) {
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

// Base64 in 76-character lines (RFC 2045 6.8).
std::string base64_lines(const std::string& bytes) {
  std::string encoded = common::base64_encode(bytes);
  std::string out;
  out.reserve(encoded.size() + encoded.size() / 76 * 2 + 2);
  for (size_t i = 0; i < encoded.size(); i += 76) out.append(encoded, i, 76).append("\r\n");
  return out;
}

std::string prose(size_t size, std::mt19937_64& random) {
  static const char* const kWords[] = {"mail",   "bridge", "queue", "webhook", "durable",
                                       "commit", "smtp",   "déjà",  "naïve",   "Grüße"};
  std::string out;
  size_t line = 0;
  while (out.size() < size) {
    const char* word = kWords[random() % 10];
    out += word;
    line += std::string_view(word).size() + 1;
    if (line > 66) {
      out += "\r\n";
      line = 0;
    } else {
      out += ' ';
    }
  }
  return out + "\r\n";
}

// Quoted-printable (RFC 2045 6.7) of UTF-8 text: non-ASCII and '=' escaped, soft breaks at 76.
std::string quoted_printable(const std::string& text) {
  std::string out;
  size_t column = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      out += "\r\n";
      column = 0;
      ++i;
      continue;
    }
    std::string piece;
    if (c >= 0x80 || c == '=') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "=%02X", c);
      piece = hex;
    } else {
      piece.assign(1, static_cast<char>(c));
    }
    if (column + piece.size() > 75) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  }
  return out;
}

std::string header(const std::string& subject, const std::string& type) {
  return "Received: from client.example (localhost [127.0.0.1])\r\n\tby bench.example; "
         "Fri, 27 Nov 2026 00:00:00 +0000\r\n"
         "From: Bench Sender <sender@example.com>\r\nTo: Bench Receiver <receiver@example.com>\r\n"
         "Subject: " +
         subject +
         "\r\nDate: Fri, 27 Nov 2026 00:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n"
         "MIME-Version: 1.0\r\nContent-Type: " +
         type + "\r\n\r\n";
}

std::string alternative(const std::string& text) {
  std::string html = "<html><body><pre>" + text + "</pre></body></html>\r\n";
  return "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
         quoted_printable(text) +
         "--inner\r\nContent-Type: text/html; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
         quoted_printable(html) + "--inner--\r\n";
}

// A text/html alternative and `count` base64 attachments of `size` bytes each.
Sample attachments(const std::string& name, size_t count, size_t size, std::mt19937_64& random) {
  std::string out = header(name, "multipart/mixed; boundary=\"outer\"");
  out += "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n";
  out += alternative(prose(2000, random));
  for (size_t i = 0; i < count; ++i) {
    std::string file = "data" + std::to_string(i) + ".bin";
    out += "--outer\r\nContent-Type: application/octet-stream; name=\"" + file +
           "\"\r\nContent-Disposition: attachment; filename=\"" + file +
           "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    out += base64_lines(random_bytes(size, random));
  }
  out += "--outer--\r\n";
  return {name, out};
}

// Mostly text: a large quoted-printable text/plain + text/html alternative, no attachment.
Sample text_heavy(size_t size, std::mt19937_64& random) {
  std::string out = header("text-heavy", "multipart/alternative; boundary=\"inner\"");
  out += alternative(prose(size / 2, random));
  return {"text-heavy (QP text+html)", out};
}

// A reply in a long thread, as mail clients send it: a few new lines, a signature, an
// attribution line and the quoted history ("> " lines in the text, Gmail's gmail_quote in the
// HTML), text + HTML alternatives in quoted-printable.
Sample reply_thread(size_t quoted, std::mt19937_64& random) {
  std::string history = prose(quoted, random);
  std::string text =
      "Thanks, that works for us. Shipping on Monday.\r\n\r\n-- \r\nAlice\r\n\r\n"
      "On Fri, 27 Nov 2026 at 09:14, Bob <bob@example.com> wrote:\r\n";
  std::string html =
      "<div dir=\"ltr\">Thanks, that works for us. Shipping on Monday.<br></div>"
      "<br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On Fri, "
      "27 Nov 2026 at 09:14, Bob &lt;bob@example.com&gt; wrote:<br></div>"
      "<blockquote class=\"gmail_quote\">";
  size_t start = 0;
  while (start < history.size()) {
    size_t end = history.find("\r\n", start);
    if (end == std::string::npos) end = history.size();
    text += "> " + history.substr(start, end - start) + "\r\n";
    html += history.substr(start, end - start) + "<br>";
    start = end + 2;
  }
  html += "</blockquote></div>";
  std::string out = header("reply-thread", "multipart/alternative; boundary=\"inner\"");
  out +=
      "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
      quoted_printable(text) +
      "--inner\r\nContent-Type: text/html; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
      quoted_printable(html) + "--inner--\r\n";
  return {"reply thread (QP text+html, quoted)", out};
}

template <typename Work>
double megabytes_per_second(const std::string& data, Work work) {
  using Clock = std::chrono::steady_clock;
  size_t rounds = 0;
  auto started = Clock::now();
  double seconds = 0;
  while (seconds < 2.0 || rounds < 3) {
    work();
    ++rounds;
    seconds = std::chrono::duration<double>(Clock::now() - started).count();
  }
  return static_cast<double>(data.size()) * static_cast<double>(rounds) / seconds / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::mt19937_64 random(42);
  std::vector<Sample> samples;
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      samples.push_back({argv[i], bytes.str()});
    }
  } else {
    samples.push_back(attachments("attachment-heavy (1 x 1 MB base64)", 1, 1 << 20, random));
    samples.push_back(attachments("attachment-heavy (10 x 100 KB base64)", 10, 100 << 10, random));
    samples.push_back(text_heavy(1 << 20, random));
    samples.push_back(reply_thread(64 << 10, random));
  }
  // BENCH_DUMP_DIR: write the built-in samples there as .eml files (to look at or feed elsewhere).
  if (const char* dir = std::getenv("BENCH_DUMP_DIR")) {
    for (size_t i = 0; i < samples.size(); ++i)
      std::ofstream(std::string(dir) + "/sample" + std::to_string(i) + ".eml", std::ios::binary)
          << samples[i].data;
  }
  const std::string envelope =
      R"({"mail_from":"sender@example.com","rcpt_to":["receiver@example.com"],"helo":"client.example"})";
  size_t sink = 0;
  // parse+render with message.reply extracted (the default) and without (routes[].extract_reply:
  // false); issue 15's target: with >= 80 % of without.
  std::printf("%-40s %10s %11s %13s %13s %7s %11s\n", "message", "bytes", "parse MB/s",
              "render MB/s", "no-reply MB/s", "ratio", "json bytes");
  for (const Sample& sample : samples) {
    delivery::InboundView view{"01900000-0000-7000-8000-000000000000", 1795737600000, envelope,
                               sample.data};
    delivery::RenderOptions options{{"receiver@example.com"}, false, 10u << 20};
    delivery::RenderOptions no_reply = options;
    no_reply.extract_reply = false;
    size_t json_size = delivery::render_bridge_v1_text(view, options).size();
    double parse =
        megabytes_per_second(sample.data, [&] { sink += mime::parse(sample.data).parts.size(); });
    double render = megabytes_per_second(
        sample.data, [&] { sink += delivery::render_bridge_v1_text(view, options).size(); });
    double without = megabytes_per_second(
        sample.data, [&] { sink += delivery::render_bridge_v1_text(view, no_reply).size(); });
    std::printf("%-40s %10zu %11.1f %13.1f %13.1f %6.0f%% %11zu\n", sample.name.c_str(),
                sample.data.size(), parse, render, without, 100 * render / without, json_size);
  }
  return sink == 0 ? 1 : 0;
}
