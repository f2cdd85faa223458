// format: postmark (README "Payload formats"): the JSON of Postmark's inbound webhook, written from
// its public documentation ("Inbound webhook", "Parse an email"): From, FromName, FromFull, To,
// ToFull, Cc, CcFull, Bcc, BccFull, OriginalRecipient, Subject, MessageID, ReplyTo, MailboxHash,
// Date, TextBody, HtmlBody, StrippedTextReply, Tag, MessageStream, Headers, Attachments. Streamed
// into one string; the text made from the message is capped as formats.h says.
#include <vector>

#include "common/base64.h"
#include "delivery/format_common.h"
#include "delivery/formats.h"

namespace delivery {
namespace {

using formats::Cap;
using formats::Carried;
using formats::Source;

class Json {
 public:
  Json(std::string& out, const Cap& cap) : out_(out), cap_(cap) {}
  // `"name":` after a comma when needed.
  void key(std::string_view name) {
    comma();
    out_ += '"';
    out_ += name;
    out_ += "\":";
    fresh_ = true;
  }
  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  // A string made from the message: capped.
  void text(std::string_view s) {
    comma();
    formats::append_json_string(out_, cap_(s));
  }
  // A string whose pieces were capped already (the joined address lists).
  void whole(std::string_view s) {
    comma();
    formats::append_json_string(out_, s);
  }
  void number(uint64_t n) {
    comma();
    out_ += std::to_string(n);
  }
  void boolean(bool b) {
    comma();
    out_ += b ? "true" : "false";
  }
  void base64(std::string_view bytes) {
    comma();
    out_ += '"';
    size_t at = out_.size();
    out_.resize(at + common::base64_encoded_size(bytes.size()));
    common::base64_encode_to(bytes, out_.data() + at);
    out_ += '"';
  }

 private:
  void comma() {
    if (!fresh_) out_ += ',';
    fresh_ = false;
  }
  void open(char c) {
    comma();
    out_ += c;
    fresh_ = true;
  }
  void close(char c) {
    out_ += c;
    fresh_ = false;
  }

  std::string& out_;
  const Cap& cap_;
  bool fresh_ = true;  // no comma before the next value
};

// {"Email","Name","MailboxHash"}: Postmark's recipient object.
void write_full(Json& json, const mime::Address& address) {
  json.begin_object();
  json.key("Email");
  json.text(address.address);
  json.key("Name");
  json.text(address.name);
  json.key("MailboxHash");
  json.text(formats::mailbox_hash(address.address));
  json.end_object();
}

// "To": the list as one string of `"Name" <address>` joined by ", " (Postmark's example);
// "ToFull": the objects.
void write_list(Json& json, const Cap& cap, std::string_view name,
                const std::vector<mime::Address>& list) {
  std::string joined;
  for (const mime::Address& address : list) {
    if (!joined.empty()) joined += ", ";
    joined += formats::display_address(cap(address.name), cap(address.address));
  }
  json.key(name);
  json.whole(joined);
  json.key(std::string(name) + "Full");
  json.begin_array();
  for (const mime::Address& address : list) write_full(json, address);
  json.end_array();
}

// The JSON bytes of every string write_postmark makes from the message or the envelope, so that
// one cap brings them within the pool (formats.h).
std::vector<size_t> costs(const Source& source, const RenderOptions& options, const Cap& measure) {
  std::vector<size_t> out;
  auto add = [&](std::string_view s) { out.push_back(measure.cost(s)); };
  const mime::Message& m = source.parsed;
  for (const auto* list : {&m.from, &m.to, &m.cc, &m.bcc, &m.reply_to}) {
    for (const mime::Address& a : *list) {
      for (int i = 0; i < 2; ++i) add(a.name);  // the display string escapes it: up to twice
      for (int i = 0; i < 2; ++i) add(a.address);
      add(a.name);
      add(formats::mailbox_hash(a.address));
    }
  }
  for (const std::string& rcpt : options.rcpt_to) add(rcpt);
  add(m.subject);
  add(source.header("Date"));
  add(source.text);
  add(source.html);
  add(source.reply.text);
  for (const mime::Header& h : source.top()) {
    add(h.name);
    add(h.value);
  }
  for (int index : source.attachments) {
    const mime::Part& part = m.parts[index];
    add(part.filename);
    add(part.content_type);
    add(part.content_id);
  }
  return out;
}

void write_headers(Json& json, const std::vector<mime::Header>& headers) {
  json.begin_array();
  for (const mime::Header& h : headers) {
    json.begin_object();
    json.key("Name");
    json.text(h.name);
    json.key("Value");
    json.text(h.value);
    json.end_object();
  }
  json.end_array();
}

void write_attachment(Json& json, const Source& source, int index, const RenderOptions& options) {
  const mime::Part& part = source.parsed.parts[index];
  Carried carried = formats::carry(source, index, options);
  json.begin_object();
  json.key("Name");
  json.text(part.filename);
  json.key("Content");
  json.base64(carried.bytes);  // "" when omitted (see README)
  json.key("ContentType");
  json.text(part.content_type);
  json.key("ContentLength");
  json.number(carried.size);
  json.key("ContentID");
  json.text(part.content_id);
  if (carried.omitted) {  // not Postmark's: an attachment the route does not inline
    json.key("Omitted");
    json.boolean(true);
    if (!carried.url.empty()) {
      json.key("ContentURL");
      json.text(carried.url);
    }
  }
  json.end_object();
}

// The bodies and the reply are released once written: a hostile body (latin-1 bytes and control
// characters: 1.5 × its size as UTF-8, 4 × that as JSON) would otherwise be held thrice at the
// peak (measured: peak RSS grew by 6.2 × the message's size, 4.7 × with the release).
void release(std::string& s) {
  std::string().swap(s);
}

void write_postmark(Json& json, Source& source, const RenderOptions& options, const Cap& cap) {
  const mime::Message& m = source.parsed;
  static const mime::Address nobody;
  const mime::Address& from = m.from.empty() ? nobody : m.from.front();
  std::string_view original;
  if (!options.rcpt_to.empty()) original = options.rcpt_to.front();
  json.begin_object();
  json.key("FromName");
  json.text(from.name);
  json.key("MessageStream");
  json.text("inbound");
  json.key("From");
  json.text(from.address);
  json.key("FromFull");
  write_full(json, from);
  write_list(json, cap, "To", m.to);
  write_list(json, cap, "Cc", m.cc);
  write_list(json, cap, "Bcc", m.bcc);
  json.key("OriginalRecipient");
  json.text(original);
  json.key("Subject");
  json.text(m.subject);
  json.key("MessageID");  // Postmark's own id of the message: ours (the Message-ID is in Headers)
  json.text(source.id);
  json.key("ReplyTo");
  std::string reply_to;
  for (const mime::Address& a : m.reply_to) {
    if (!reply_to.empty()) reply_to += ", ";
    reply_to += formats::display_address(cap(a.name), cap(a.address));
  }
  json.whole(reply_to);
  json.key("MailboxHash");
  json.text(formats::mailbox_hash(original));
  json.key("Date");  // as the sender wrote it (Postmark: "based on the format provided by the
  json.text(source.header("Date"));  // message's sending mailserver")
  json.key("TextBody");
  json.text(source.text);
  release(source.text);
  json.key("HtmlBody");
  json.text(source.html);
  release(source.html);
  json.key("StrippedTextReply");
  json.text(source.reply.text);
  release(source.reply.text);
  json.key("Tag");
  json.text("");
  json.key("Headers");
  write_headers(json, source.top());
  json.key("Attachments");
  json.begin_array();
  for (int index : source.attachments) write_attachment(json, source, index, options);
  json.end_array();
  json.end_object();
}

}  // namespace

FormatBody render_postmark(const InboundView& message, const RenderOptions& options) {
  Source source = formats::read_source(message, options, /*stripped_html=*/false);
  std::vector<size_t> text = costs(source, options, Cap(SIZE_MAX, true));
  Cap cap = formats::text_cap(text, message.data.size(), /*json=*/true);
  formats::plan_links(source, options, formats::capped_total(text, message.data.size()),
                      /*base64=*/true);
  // Allocated once at the bound (pages never written are never resident): growing by doubling
  // would hold two buffers at the peak.
  size_t base64 = 0;
  for (int index : source.attachments)
    base64 += common::base64_encoded_size(source.parsed.parts[index].body_size());
  FormatBody out;
  out.content_type = "application/json; charset=utf-8";
  out.body.reserve(max_format_size(message.data.size(), base64, message.envelope_json.size(),
                                   options.rcpt_to.size()));
  Json json(out.body, cap);
  write_postmark(json, source, options, cap);
  return out;
}

}  // namespace delivery
