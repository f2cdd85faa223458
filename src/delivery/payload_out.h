// Internal to the bridge.v1 renderer (payload.cpp, payload_tree.cpp): the streaming JSON writer
// the document is written with, and the writers of its envelope, addresses, header fields and MIME
// tree.
#pragma once
// Not RAPIDJSON_SSE2/SSE42: in 1.1.0 their fast string scan lets 0x1A-0x1F through unescaped.
#include <rapidjson/document.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base64.h"
#include "delivery/payload_budget.h"
#include "mime/message.h"

namespace delivery::detail {

// The document being written. Every string must be valid UTF-8: mime promises it for its own,
// and the few from elsewhere (the id) are checked like them; what is invalid becomes U+FFFD. The
// check is ours, not the writer's: RapidJSON 1.1's validation reads past the end of a string
// that ends inside a multi-byte sequence.
class Out {
 public:
  // `capacity`: about the size of the text, so that the buffer is not grown and copied again and
  // again.
  explicit Out(size_t capacity) : writer_(stream_) { stream_.text.reserve(capacity); }

  void begin_object() { writer_.StartObject(); }
  void end_object() { writer_.EndObject(); }
  void begin_array() { writer_.StartArray(); }
  void end_array() { writer_.EndArray(); }
  void key(std::string_view name) { writer_.Key(name.data(), size(name)); }  // ASCII literals
  void null() { writer_.Null(); }
  void boolean(bool value) { writer_.Bool(value); }
  void number(uint64_t value) { writer_.Uint64(value); }
  void string(std::string_view value) {
    if (mime::is_valid_utf8(value)) {
      writer_.String(value.data(), size(value));
      return;
    }
    std::string valid = mime::valid_utf8(value);
    writer_.String(valid.data(), size(valid));
  }
  // Optional strings of the document are null rather than "" (openapi.yaml says which).
  void string_or_null(std::string_view value) { value.empty() ? null() : string(value); }
  // A string made from header fields: cut (at a character boundary) to what takes at most `cap`
  // bytes of JSON (see write_message).
  void text(std::string_view value) {
    if (value.size() > cap_ / 6) value = value.substr(0, budget::escaped_prefix(value, cap_));
    string(value);  // checked like every string
  }
  void text_or_null(std::string_view value) { value.empty() ? null() : text(value); }
  void texts(const std::vector<std::string>& values) {
    begin_array();
    for (const std::string& value : values) text(value);
    end_array();
  }
  void set_cap(size_t cap) { cap_ = cap; }
  void strings(const std::vector<std::string>& values) {
    begin_array();
    for (const std::string& value : values) string(value);
    end_array();
  }
  // A value of a document parsed with UTF-8 validation: its strings need no check of ours.
  void value(const rapidjson::Value& value) { value.Accept(writer_); }
  void member(const rapidjson::Value& name, const rapidjson::Value& value) {
    writer_.Key(name.GetString(), name.GetStringLength());
    value.Accept(writer_);
  }
  // The base64 of `bytes` (RFC 4648 4) as a string value, encoded straight into the output:
  // base64 never needs escaping (RFC 8259 7), and the writer's byte-by-byte copy of a 1 MB
  // attachment would cost more than the encoding. RawValue writes the separator and the opening
  // quote, so the writer's bookkeeping stays right.
  void base64(std::string_view bytes) {
    writer_.RawValue("\"", 1, rapidjson::kStringType);
    std::string& text = stream_.text;
    size_t at = text.size();
    text.resize(at + common::base64_encoded_size(bytes.size()) + 1);
    *common::base64_encode_to(bytes, text.data() + at) = '"';
  }

  // The document, once written; Out is done with it.
  std::string take_text() { return std::move(stream_.text); }

 private:
  static rapidjson::SizeType size(std::string_view text) {
    return static_cast<rapidjson::SizeType>(text.size());
  }

  // A RapidJSON output stream straight into the std::string the POST sends (no copy at the end).
  struct Stream {
    using Ch = char;
    void Put(char c) { text.push_back(c); }
    void Flush() {}
    std::string text;
  };

  Stream stream_;
  rapidjson::Writer<Stream> writer_;
  size_t cap_ = SIZE_MAX;
};

void write_address(Out& out, const mime::Address& address);
void write_addresses(Out& out, const std::vector<mime::Address>& addresses);
void write_headers(Out& out, const std::vector<mime::Header>& headers);
// The stored envelope with rcpt_to replaced by this endpoint's recipients (payload_tree.cpp).
void write_envelope(Out& out, std::string_view stored, const std::vector<std::string>& rcpt_to,
                    size_t size);
// IMAP numbering (RFC 3501 6.4.5) gives the root no number; as the single body part of a
// non-multipart message it is "1".
std::string_view part_number(const mime::Part& part);
// The fields a part and an attachment share, adjacent in both in key order.
void write_part_labels(Out& out, const mime::Part& part);

// The charsets the main bodies were decoded with (mime::decode_text's charset_used), by part.
struct DecodedCharsets {
  int text_part = -1, html_part = -1;
  std::string text, html;
  std::string_view of(int index) const {
    return index == text_part ? text : index == html_part ? std::string_view(html) : "";
  }
};
// The top-level body parts of a multipart message; a message that is not multipart (or whose
// boundary was never found) is its own single part "1".
void write_parts(Out& out, const mime::Message& message, const DecodedCharsets& decoded);

}  // namespace delivery::detail
