// format: mailgun (README "Payload formats"): the multipart/form-data POST of Mailgun's forward()
// route action, written from its public documentation ("Receiving messages via HTTP through a
// forward() action", "Securing webhooks"): recipient, sender, from, subject, body-plain,
// stripped-text, stripped-signature, body-html, stripped-html, attachment-count, attachment-N
// (files), message-headers, content-id-map, timestamp, token, signature. RFC 7578 form data
// with a random boundary that is checked against every value.
#include <vector>

#include "delivery/format_common.h"
#include "delivery/formats.h"

namespace delivery {
namespace {

using formats::Cap;
using formats::Carried;
using formats::Source;

// RFC 7578 4.2 leaves a file name as UTF-8 in the quoted string; '"', CR and LF are
// percent-encoded as the HTML standard's form encoding does.
std::string quoted_filename(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '"') {
      out += "%22";
    } else if (c == '\r') {
      out += "%0D";
    } else if (c == '\n') {
      out += "%0A";
    } else {
      out += c;
    }
  }
  return out;
}

// A media type safe in a part header: the parser's lower-case type/subtype, unless odd.
std::string_view media_type(std::string_view type) {
  for (char c : type)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f ||
        c == ';' || c == '"')
      return "application/octet-stream";
  return type.empty() ? "application/octet-stream" : type;
}

class Form {
 public:
  Form(std::string& out, std::string_view boundary) : out_(out), boundary_(boundary) {}
  // False when the value holds the boundary: the form is written again with another.
  bool field(std::string_view name, std::string_view value) {
    if (!fits(value)) return false;
    open(name);
    out_ += "\r\n\r\n";
    append(value);
    return true;
  }
  bool file(std::string_view name, std::string_view filename, std::string_view type,
            std::string_view bytes) {
    if (!fits(bytes)) return false;
    open(name);
    out_ += "; filename=\"";
    out_ += quoted_filename(filename);
    out_ += "\"\r\nContent-Type: ";
    out_ += media_type(type);
    out_ += "\r\n\r\n";
    out_.append(bytes);
    out_ += "\r\n";
    return true;
  }
  void finish() {
    out_ += "--";
    out_ += boundary_;
    out_ += "--\r\n";
  }

 private:
  bool fits(std::string_view value) const {
    return value.find(boundary_) == std::string_view::npos;
  }
  void open(std::string_view name) {
    out_ += "--";
    out_ += boundary_;
    out_ += "\r\nContent-Disposition: form-data; name=\"";
    out_ += name;  // our own ASCII names
    out_ += '"';
  }
  void append(std::string_view text) {
    std::string storage;
    out_.append(formats::valid_text(text, storage));
    out_ += "\r\n";
  }

  std::string& out_;
  std::string_view boundary_;
};

// The bytes of every string the form makes from the message or the envelope (as JSON-escaped
// text: a bound for the fields written as they are too), for the one cap of formats.h.
std::vector<size_t> costs(const Source& source, const RenderOptions& options, const Cap& measure) {
  std::vector<size_t> out;
  auto add = [&](std::string_view s) { out.push_back(measure.cost(s)); };
  for (const std::string& rcpt : options.rcpt_to) add(rcpt);
  add(source.mail_from);
  add(source.header("From"));
  add(source.parsed.subject);
  add(source.text);
  add(source.reply.text);
  add(source.reply.signature);
  add(source.html);
  add(source.stripped_html);
  for (const mime::Header& h : source.top()) {
    add(h.name);
    add(h.value);
  }
  for (int index : source.attachments) {
    const mime::Part& part = source.parsed.parts[index];
    for (int i = 0; i < 2; ++i) add(part.filename);  // percent-encoding: up to 3 bytes of 1
    add(part.content_type);
    add(part.content_id);
    add(part.filename);  // omitted-attachments
  }
  return out;
}

std::string json_string(std::string_view s) {
  std::string out;
  formats::append_json_string(out, s);
  return out;
}

// The text fields: envelope, header summaries, bodies, stripped reply, message-headers.
bool write_texts(Form& form, const Source& source, const RenderOptions& options, const Cap& cap) {
  std::string recipients;
  for (const std::string& rcpt : options.rcpt_to) {
    if (!recipients.empty()) recipients += ", ";
    recipients += cap(rcpt);
  }
  bool ok = form.field("recipient", recipients) && form.field("sender", cap(source.mail_from)) &&
            form.field("from", cap(source.header("From"))) &&
            form.field("subject", cap(source.parsed.subject)) &&
            form.field("body-plain", cap(source.text));
  if (ok && source.has_reply)  // Mailgun leaves the stripped-* fields out when it did not strip
    ok = form.field("stripped-text", cap(source.reply.text)) &&
         form.field("stripped-signature", cap(source.reply.signature));
  if (ok && source.has_html) ok = form.field("body-html", cap(source.html));
  if (ok && source.has_html && source.has_reply)
    ok = form.field("stripped-html", cap(source.stripped_html));
  std::string headers = "[";
  for (const mime::Header& h : source.top()) {
    if (headers.size() > 1) headers += ", ";
    headers += '[';
    formats::append_json_string(headers, cap(h.name));
    headers += ", ";
    formats::append_json_string(headers, cap(h.value));
    headers += ']';
  }
  headers += ']';
  return ok && form.field("message-headers", headers);
}

// Files numbered from 1 in document order, content-id-map, and the attachments not carried.
bool write_files(Form& form, const Source& source, const RenderOptions& options, const Cap& cap) {
  std::string cid_map = "{", omitted = "[";
  size_t count = 0;
  for (int index : source.attachments) {
    const mime::Part& part = source.parsed.parts[index];
    Carried carried = formats::carry(source, index, options);
    if (carried.omitted) {
      if (omitted.size() > 1) omitted += ", ";
      omitted += "{\"name\": " + json_string(cap(part.filename)) +
                 ", \"content-type\": " + json_string(cap(part.content_type)) +
                 ", \"size\": " + std::to_string(carried.size) +
                 ", \"content-id\": " + json_string(cap(part.content_id)) +
                 ", \"url\": " + (carried.url.empty() ? "null" : json_string(carried.url)) + "}";
      continue;
    }
    std::string name = "attachment-" + std::to_string(++count);
    if (!form.file(name, cap(part.filename), part.content_type, carried.bytes)) return false;
    if (!part.content_id.empty()) {
      if (cid_map.size() > 1) cid_map += ", ";
      cid_map += json_string("<" + std::string(cap(part.content_id)) + ">") + ": \"" + name + "\"";
    }
  }
  cid_map += '}';
  omitted += ']';
  return form.field("attachment-count", std::to_string(count)) &&
         form.field("content-id-map", cid_map) &&
         (omitted.size() == 2 || form.field("omitted-attachments", omitted));
}

// The whole form with `boundary`; false when a value holds it.
bool write_form(std::string& out, std::string_view boundary, const Source& source,
                const RenderOptions& options, const MailgunOptions& mailgun, const Cap& cap) {
  Form form(out, boundary);
  bool ok = write_texts(form, source, options, cap) && write_files(form, source, options, cap) &&
            form.field("timestamp", std::to_string(mailgun.timestamp)) &&
            form.field("token", mailgun.token) &&
            form.field("signature",
                       mailgun_signature(mailgun.signing_key, mailgun.timestamp, mailgun.token));
  if (ok) form.finish();
  return ok;
}

}  // namespace

FormatBody render_mailgun(const InboundView& message, const RenderOptions& options,
                          const MailgunOptions& mailgun) {
  Source source = formats::read_source(message, options, /*stripped_html=*/true);
  std::vector<size_t> text = costs(source, options, Cap(SIZE_MAX, true));
  Cap cap = formats::text_cap(text, message.data.size(), /*json=*/true);
  formats::plan_links(source, options, formats::capped_total(text, message.data.size()),
                      /*base64=*/false);
  size_t files = 0;
  for (int index : source.attachments) files += source.parsed.parts[index].body_size();
  size_t bound = max_format_size(message.data.size(), files, message.envelope_json.size(),
                                 options.rcpt_to.size());
  FormatBody out;
  // A boundary found in a value (never by chance: 128 random bits) is drawn again; a given
  // source that keeps colliding is left for random_hex after a few draws.
  for (int attempt = 0;; ++attempt) {
    std::string boundary =
        "smtp-bridge-" + (mailgun.boundary && attempt < 8 ? mailgun.boundary() : random_hex(32));
    out.body.clear();
    out.body.reserve(bound);
    if (write_form(out.body, boundary, source, options, mailgun, cap)) {
      out.content_type = "multipart/form-data; boundary=" + boundary;
      return out;
    }
  }
}

}  // namespace delivery
