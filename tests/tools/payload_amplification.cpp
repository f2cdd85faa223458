// payload_amplification SHAPE BYTES [--check]: builds one hostile message of about BYTES bytes
// (issue 11: the shapes that made bridge.v1 documents and memory grow far beyond the input),
// parses and renders it once (delivery::render_bridge_v1_text) and prints the message size, the
// document size, the attachments' base64, the defects and the process's peak RSS (VmHWM) before
// and after. With --check, exits 1 unless the budget holds: document ≤ 2 × size + base64 of the
// attachments + kStructureAllowance + envelope, and peak RSS growth ≤ 4 × size + 16 MiB (not
// checked under AddressSanitizer, whose shadow memory is no measure). One shape per process, so
// that each peak is its own.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "common/base64.h"
#include "delivery/payload.h"

namespace {

size_t vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoul(line.substr(6));
  return 0;
}

// Appends `piece` until `out` holds `bytes`, folding (CRLF SP) before a piece that would pass
// ~900 columns, as the issue's To: list was.
void fill_folded(std::string& out, std::string_view piece, size_t bytes) {
  size_t column = 0;
  while (out.size() < bytes) {
    if (column + piece.size() > 900) {
      out += "\r\n ";
      column = 1;
    }
    out += piece;
    column += piece.size();
  }
}

std::string tscii_word() {
  // 0x82 is 12 UTF-8 bytes in glibc's TSCII: 45 bytes in 60 base64 characters are 540 bytes.
  return "=?tscii?B?" + common::base64_encode(std::string(45, '\x82')) + "?= ";
}

std::string make(const std::string& shape, size_t bytes) {
  std::string m;
  m.reserve(bytes + 4096);
  m += "From: Mallory <mallory@evil.example>\r\nMessage-ID: <" + shape + "@evil.example>\r\n";
  if (shape == "addresses") {
    m += "Subject: addresses\r\nTo: ";
    fill_folded(m, "a,", bytes);
    m += "a\r\n\r\nbody\r\n";
  } else if (shape == "tscii_subject") {
    m += "Subject: ";
    fill_folded(m, tscii_word(), bytes);
    m += "\r\n\r\nbody\r\n";
  } else if (shape == "tscii_filename") {
    std::string name;
    fill_folded(name, tscii_word(), bytes / 2);
    m += "Subject: file\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
         "Content-Type: application/octet-stream; name=\"" +
         name + "\"\r\nContent-Disposition: attachment; filename=\"" + name +
         "\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n";
  } else if (shape == "control_subject") {
    m += "Subject: ";
    m.append(bytes, '\x01');
    m += "\r\n\r\nbody\r\n";
  } else if (shape == "quoted_filename") {
    std::string name(bytes / 2, '"');
    m += "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; "
         "name*=utf-8''" +
         std::string(bytes / 6, 0) + "\r\n";
    m.resize(m.size() - bytes / 6 - 2);
    for (size_t i = 0; i < bytes / 6; ++i) m += "%22";
    m += "\r\nContent-Disposition: attachment; filename*=utf-8''";
    for (size_t i = 0; i < bytes / 6; ++i) m += "%5C";
    m += "\r\n\r\nx\r\n--b--\r\n";
  } else if (shape == "tscii_body") {
    m += "Subject: body\r\nContent-Type: text/plain; charset=tscii\r\n"
         "Content-Transfer-Encoding: 8bit\r\n\r\n";
    while (m.size() < bytes) {
      m.append(76, '\x82');
      m += "\r\n";
    }
  } else if (shape == "latin1_body" || shape == "short_lines_body" || shape == "utf8_body") {
    // Bodies a real mailer could send: 8-bit Latin-1 (2 UTF-8 bytes each), lines of one digit
    // ("\r\n" is 4 bytes of JSON), UTF-8 prose with quotes.
    m += "Subject: body\r\nContent-Type: text/plain; charset=" +
         std::string(shape == "latin1_body" ? "iso-8859-1" : "utf-8") +
         "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
    std::string line = shape == "latin1_body"        ? std::string(76, '\xe9') + "\r\n"
                       : shape == "short_lines_body" ? std::string("1\r\n")
                                                     : std::string("\"Grüße\", said the \\ b\r\n");
    while (m.size() < bytes) m += line;
  } else if (shape == "many_parts") {
    m += "Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
    while (m.size() < bytes) m += "--b\r\nContent-ID: <x>\r\n\r\n";
  } else if (shape == "deep_nesting") {
    m += "Subject: deep\r\n";
    for (int i = 0; m.size() < bytes; ++i)
      m += "Content-Type: multipart/mixed; boundary=n" + std::to_string(i) + "\r\n\r\n--n" +
           std::to_string(i) + "\r\n";
    m += "\r\nleaf\r\n";
  } else if (shape == "many_fields") {
    m += "Subject: fields\r\n";
    while (m.size() < bytes) m += "X:\r\n";
    m += "\r\nbody\r\n";
  } else if (shape == "references") {
    m += "Subject: refs\r\nReferences: ";
    fill_folded(m, "<a> ", bytes);
    m += "\r\n\r\nbody\r\n";
  } else {
    return "";
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: payload_amplification SHAPE BYTES [--check]\n");
    return 2;
  }
  std::string shape = argv[1];
  size_t target = std::stoul(argv[2]);
  bool check = argc > 3 && std::strcmp(argv[3], "--check") == 0;
  size_t baseline_kib = vm_hwm_kib();
  std::string data = make(shape, target);
  if (data.empty()) {
    std::fprintf(stderr, "unknown shape %s\n", shape.c_str());
    return 2;
  }
  const std::string envelope = R"({"mail_from":"mallory@evil.example","rcpt_to":["v@x.example"]})";
  delivery::InboundView view{"01900000-0000-7000-8000-000000000000", 1795737600000, envelope, data};
  delivery::RenderOptions options{{"v@x.example"}, false, 10u << 20};
  std::string body = delivery::render_bridge_v1_text(view, options);
  size_t peak_kib = vm_hwm_kib();

  nlohmann::json doc = nlohmann::json::parse(body);
  size_t base64 = 0;
  for (const auto& a : doc["message"]["attachments"])
    if (a.contains("content")) base64 += a["content"].get_ref<const std::string&>().size();
  size_t size = data.size();
  size_t body_bound = 2 * size + base64 + delivery::kStructureAllowance + envelope.size() + 256;
  size_t rss_bound_kib = (4 * size + (16 << 20)) / 1024;
  size_t growth_kib = peak_kib - baseline_kib;
  std::printf(
      "%-16s size %10zu  body %10zu (%.2fx, bound %zu)  base64 %zu  peak RSS %zu KiB "
      "(+%zu KiB over %zu, bound +%zu)  defects %s\n",
      shape.c_str(), size, body.size(), double(body.size()) / double(size), body_bound, base64,
      peak_kib, growth_kib, baseline_kib, rss_bound_kib, doc["message"]["defects"].dump().c_str());
  if (!check) return 0;
  bool ok = body.size() <= body_bound;
#if defined(__SANITIZE_ADDRESS__)
  std::printf("(AddressSanitizer: peak RSS not checked)\n");
#else
  ok = ok && growth_kib <= rss_bound_kib;
#endif
  if (!ok) std::printf("FAILED: over budget\n");
  return ok ? 0 : 1;
}
