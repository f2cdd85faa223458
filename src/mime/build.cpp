// mime::build: the structure of an outgoing message. Top header (Date, Message-ID, MIME-Version,
// addresses, Subject, extra fields; never Bcc), then mixed ⊃ related ⊃ alternative, each level
// only when needed, and per leaf the transfer encoding that keeps lines short (RFC 2045 6).
#include "mime/build.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <random>

#include "common/base64.h"
#include "common/time.h"
#include "mime/build_internal.h"

namespace mime {
namespace {

using build_detail::HeaderWriter;

struct Node {
  enum class Kind { kText, kAttachment, kMultipart } kind = Kind::kText;
  std::string_view subtype;                // "plain" / "html", or the multipart subtype
  std::string_view text;                   // kText
  const Attachment* attachment = nullptr;  // kAttachment
  std::vector<Node> children;              // kMultipart
};

Node text_node(std::string_view subtype, std::string_view text) {
  Node node;
  node.subtype = subtype;
  node.text = text;
  return node;
}
Node attachment_node(const Attachment& attachment) {
  Node node;
  node.kind = Node::Kind::kAttachment;
  node.attachment = &attachment;
  return node;
}
Node multipart_node(std::string_view subtype, std::vector<Node> children) {
  Node node;
  node.kind = Node::Kind::kMultipart;
  node.subtype = subtype;
  node.children = std::move(children);
  return node;
}

// CONTRACTS.md 2: alternative (text, html), related (that, inline parts by content_id) when there
// is html to refer to them, mixed (that, other attachments); one level only where needed.
Node structure(const BuildRequest& request) {
  std::vector<Node> bodies;
  if (!request.text.empty()) bodies.push_back(text_node("plain", request.text));
  if (!request.html.empty()) bodies.push_back(text_node("html", request.html));
  std::vector<Node> inline_parts, attached;
  for (const auto& attachment : request.attachments) {
    bool is_inline = !attachment.content_id.empty() && !request.html.empty();
    (is_inline ? inline_parts : attached).push_back(attachment_node(attachment));
  }
  std::vector<Node> content;
  if (bodies.size() == 2) {
    content.push_back(multipart_node("alternative", std::move(bodies)));  // RFC 2046 5.1.4
  } else if (bodies.size() == 1) {
    content.push_back(std::move(bodies.front()));
  }
  if (!inline_parts.empty()) {  // RFC 2387: the first part is the root the others serve
    inline_parts.insert(inline_parts.begin(), std::move(content.front()));
    content.front() = multipart_node("related", std::move(inline_parts));
  }
  for (auto& part : attached) content.push_back(std::move(part));
  if (content.empty()) content.push_back(text_node("plain", ""));
  if (content.size() == 1) return std::move(content.front());
  return multipart_node("mixed", std::move(content));  // RFC 2046 5.1.3
}

enum class Encoding { k7bit, kQuotedPrintable, kBase64 };

// RFC 2045 6: 7bit when every line is short ASCII without controls; else whichever of
// quoted-printable and base64 is shorter. Bodies holding "=_" avoid 7bit, so that no boundary
// ("=_sb_...", which neither encoding can produce) can ever occur in a body.
Encoding choose_text_encoding(std::string_view crlf_text) {
  size_t special = 0, line = 0, longest = 0;
  bool equals_underscore = false;
  for (size_t i = 0; i < crlf_text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(crlf_text[i]);
    if (c == '\r' || c == '\n') {
      longest = std::max(longest, line);
      line = 0;
      continue;
    }
    ++line;
    if (c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f) ++special;
    if (c == '=' && i + 1 < crlf_text.size() && crlf_text[i + 1] == '_') equals_underscore = true;
  }
  longest = std::max(longest, line);
  if (special == 0 && longest <= build_detail::kMaxLine && !equals_underscore)
    return Encoding::k7bit;
  size_t quoted_size = crlf_text.size() + 2 * special + crlf_text.size() / 70;
  size_t base64_size = common::base64_encoded_size(crlf_text.size());
  return quoted_size <= base64_size ? Encoding::kQuotedPrintable : Encoding::kBase64;
}

std::string_view encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::k7bit:
      return "7bit";
    case Encoding::kQuotedPrintable:
      return "quoted-printable";
    case Encoding::kBase64:
      return "base64";
  }
  return "base64";
}

void write_field(std::string& out, std::string_view name, std::string_view value) {
  HeaderWriter writer(out, name);
  writer.piece(value, " ");
  writer.finish();
}

// RFC 2045 5.1: type "/" subtype tokens; anything else is sent as application/octet-stream.
std::string attachment_type(std::string_view declared) {
  auto token = [](std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
      if (c <= 0x20 || c >= 0x7f ||
          std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) !=
              std::string_view::npos)
        return false;
    return true;
  };
  size_t slash = declared.find('/');
  if (slash == std::string_view::npos || !token(declared.substr(0, slash)) ||
      !token(declared.substr(slash + 1)))
    return "application/octet-stream";
  return std::string(declared);
}

// A leaf's header and body; `root` = the message itself, whose body must end with CRLF.
void write_text(std::string& out, const Node& node, bool root) {
  std::string text = build_detail::normalize_line_ends(node.text);
  bool ends_with_break = text.size() >= 2 && text.compare(text.size() - 2, 2, "\r\n") == 0;
  Encoding encoding = choose_text_encoding(text);
  // A root 7bit body gets its final CRLF from the message; quoted-printable can end in a soft
  // break instead, so the decoded text stays exactly what was asked for.
  if (root && encoding == Encoding::k7bit && !ends_with_break && !text.empty())
    encoding = Encoding::kQuotedPrintable;
  HeaderWriter type(out, "Content-Type");
  type.piece("text/" + std::string(node.subtype), " ");
  type.piece(";", "");
  type.piece("charset=utf-8", " ");
  type.finish();
  write_field(out, "Content-Transfer-Encoding", encoding_name(encoding));
  out += "\r\n";
  if (encoding == Encoding::k7bit) {
    out += text;
  } else if (encoding == Encoding::kQuotedPrintable) {
    build_detail::append_quoted_printable(out, text, root && !ends_with_break);
  } else {
    build_detail::append_base64_lines(out, text);
    if (root) out += "\r\n";
  }
}

void write_attachment(std::string& out, const Attachment& attachment, bool root) {
  bool is_inline = !attachment.content_id.empty();
  HeaderWriter type(out, "Content-Type");
  type.piece(attachment_type(attachment.content_type), " ");
  if (!attachment.filename.empty()) build_detail::write_legacy_name(type, attachment.filename);
  type.finish();
  write_field(out, "Content-Transfer-Encoding", "base64");
  HeaderWriter disposition(out, "Content-Disposition");  // RFC 2183
  disposition.piece(is_inline ? "inline" : "attachment", " ");
  if (!attachment.filename.empty())
    build_detail::write_parameter(disposition, "filename", attachment.filename);
  disposition.finish();
  // RFC 2392: the cid: URL of the html refers to this msg-id.
  if (is_inline)
    write_field(out, "Content-ID",
                "<" + build_detail::without_line_breaks(attachment.content_id) + ">");
  out += "\r\n";
  build_detail::append_base64_lines(out, attachment.content);
  if (root) out += "\r\n";
}

struct Boundaries {
  std::string base;  // "=_sb_<16 hex>": "=_" is what quoted-printable and base64 never write
  int next = 0;
};

std::string new_boundary_base() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t value = generator();
  std::string base = "=_sb_";
  for (int i = 0; i < 16; ++i) base += kHex[(value >> (i * 4)) & 15];
  return base;
}

void write_node(std::string& out, const Node& node, Boundaries& boundaries, bool root) {
  if (node.kind == Node::Kind::kText) return write_text(out, node, root);
  if (node.kind == Node::Kind::kAttachment) return write_attachment(out, *node.attachment, root);
  std::string boundary = boundaries.base + "_" + std::to_string(boundaries.next++);
  HeaderWriter type(out, "Content-Type");
  type.piece("multipart/" + std::string(node.subtype), " ");
  if (node.subtype == "related") {  // RFC 2387 3.1: type = the root part's content type
    const Node& first = node.children.front();
    std::string root_type = first.kind == Node::Kind::kMultipart ? "multipart/" : "text/";
    type.piece(";", "");
    type.piece("type=\"" + root_type + std::string(first.subtype) + "\"", " ");
  }
  type.piece(";", "");
  type.piece("boundary=\"" + boundary + "\"", " ");  // RFC 2046 5.1.1; "=" needs the quotes
  type.finish();
  out += "\r\n";
  for (const auto& child : node.children) {
    out += "--";
    out += boundary;
    out += "\r\n";
    write_node(out, child, boundaries, false);
    out += "\r\n";  // RFC 2046 5.1.1: this CRLF belongs to the next delimiter
  }
  out += "--";
  out += boundary;
  out += "--";
  if (root) out += "\r\n";
}

void write_addresses(std::string& out, std::string_view name, const std::vector<Mailbox>& list) {
  if (list.empty()) return;
  HeaderWriter writer(out, name);
  for (size_t i = 0; i < list.size(); ++i)  // RFC 5322 3.6.3; folded between (and within) mailboxes
    build_detail::write_mailbox(writer, list[i].name, list[i].address, i + 1 == list.size());
  writer.finish();
}

// RFC 5322 2.2 ftext: printable ASCII except ":".
bool is_field_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c <= 0x20 || c >= 0x7f || c == ':') return false;
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

void write_top_header(std::string& out, const BuildRequest& request) {
  auto date = common::Clock::time_point(std::chrono::milliseconds(request.date_ms));
  write_field(out, "Date", common::rfc5322_date(date));  // RFC 5322 3.6.1, 3.3
  write_field(out, "Message-ID",
              "<" + build_detail::without_line_breaks(request.message_id) + ">");  // RFC 5322 3.6.4
  write_field(out, "MIME-Version", "1.0");                                         // RFC 2045 4
  write_addresses(out, "From", {request.from});
  write_addresses(out, "To", request.to);
  write_addresses(out, "Cc", request.cc);
  write_addresses(out, "Reply-To", request.reply_to);
  // RFC 5322 3.6.3: Bcc recipients get the message through the envelope only.
  if (!request.subject.empty()) {
    HeaderWriter subject(out, "Subject");
    build_detail::write_unstructured(subject, request.subject, true);
    subject.finish();
  }
  for (const auto& [name, value] : request.headers) {
    if (!is_field_name(name) || iequals(name, "Bcc")) continue;  // defensive: the API checked
    HeaderWriter field(out, name);
    build_detail::write_unstructured(field, value, false);
    field.finish();
  }
}

size_t estimated_size(const BuildRequest& request) {
  size_t size =
      4096 + request.subject.size() * 3 + request.text.size() * 3 / 2 + request.html.size() * 3 / 2;
  for (const auto& list : {&request.to, &request.cc, &request.reply_to})
    for (const auto& mailbox : *list) size += mailbox.name.size() * 2 + mailbox.address.size() + 32;
  for (const auto& [name, value] : request.headers) size += name.size() + value.size() * 2 + 8;
  for (const auto& attachment : request.attachments)
    size += common::base64_encoded_size(attachment.content.size()) * 78 / 76 +
            attachment.filename.size() * 6 + 512;
  return size;
}

}  // namespace

std::string build(const BuildRequest& request) {
  std::string out;
  out.reserve(estimated_size(request));
  write_top_header(out, request);
  Node root = structure(request);
  Boundaries boundaries{new_boundary_base()};
  write_node(out, root, boundaries, true);
  return out;
}

}  // namespace mime
