// payload_dump: renders .eml files as bridge.v1 documents, one compact JSON document per line,
// for the schema test (test_bridge_schema.py). Usage:
//   payload_dump [--crlf] [--raw] [--max-attachment-bytes N] FILE...
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "delivery/payload.h"

namespace {

std::string to_crlf(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 32);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) out += '\r';
    out += bytes[i];
  }
  return out;
}

std::string envelope_for(size_t size, bool tls) {
  nlohmann::json envelope = {
      {"mail_from", "sender@example.com"},
      {"rcpt_to", {"stored@example.com"}},
      {"params", {{"size", size}, {"body", "8BITMIME"}, {"smtputf8", false}}},
      {"helo", "client.example"},
      {"client", {{"ip", "127.0.0.1"}, {"port", 2525}}},
      {"tls", nullptr},
      {"auth", nullptr}};
  if (tls) envelope["tls"] = {{"version", "TLSv1.3"}, {"cipher", "TLS_AES_128_GCM_SHA256"}};
  return envelope.dump();
}

}  // namespace

int main(int argc, char** argv) {
  bool crlf = false;
  delivery::RenderOptions options;
  options.rcpt_to = {"rcpt@example.com"};
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--crlf") {
      crlf = true;
    } else if (arg == "--raw") {
      options.include_raw = true;
    } else if (arg == "--max-attachment-bytes" && i + 1 < argc) {
      options.max_attachment_bytes = std::stoull(argv[++i]);
    } else {
      files.push_back(arg);
    }
  }
  int status = 0;
  for (size_t n = 0; n < files.size(); ++n) {
    std::ifstream in(files[n], std::ios::binary);
    if (!in) {
      std::cerr << "payload_dump: cannot read " << files[n] << "\n";
      status = 1;
      continue;
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    std::string data = crlf ? to_crlf(bytes.str()) : bytes.str();
    std::string id = common::uuid_v7();
    std::string envelope = envelope_for(data.size(), n % 2 == 1);
    int64_t now = common::unix_ms(common::Clock::now());
    delivery::InboundView view{id, now, envelope, data};
    std::cout << delivery::render_bridge_v1_text(view, options) << "\n";
  }
  return status;
}
