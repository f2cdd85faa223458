// mime_dump FILE [--crlf]: parses one message file with mime::parse and prints the JSON view of
// message_json.h. --crlf first turns every bare LF into CRLF (what SMTP delivers). Exit 0 on
// success, 2 on usage or I/O errors, 3 when a string of the parse is not valid UTF-8.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "corpus_support.h"
#include "message_json.h"
#include "mime/message.h"

int main(int argc, char** argv) {
  std::string path;
  bool crlf = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--crlf")
      crlf = true;
    else if (path.empty())
      path = arg;
    else {
      path.clear();
      break;
    }
  }
  if (path.empty()) {
    std::cerr << "usage: mime_dump FILE [--crlf]\n";
    return 2;
  }
  const auto bytes = corpus::read_file(path);
  if (!bytes) {
    std::cerr << "mime_dump: cannot read " << path << "\n";
    return 2;
  }
  const std::string raw = crlf ? corpus::to_crlf(*bytes) : *bytes;
  const mime::Message message = mime::parse(raw);
  const auto invalid = corpus::invalid_utf8_fields(raw, message);
  const nlohmann::json out = corpus::message_to_json(raw, message);
  std::cout << out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  for (const auto& field : invalid) std::cerr << "mime_dump: invalid UTF-8 in " << field << "\n";
  return invalid.empty() ? 0 : 3;
}
