// Validation of the send API's bodies: every field is checked and every problem reported with its
// JSON path, so a client fixes a request in one round. Header injection is closed here: no CR or
// LF reaches a header name or value, and fields the builder writes cannot be overridden.
#include "api/send_request.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "common/base64.h"
#include "common/mailbox.h"

namespace api {
namespace {

using Json = nlohmann::ordered_json;  // keeps `headers` in the order the client wrote them

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  return out;
}

bool has_any(std::string_view text, std::string_view bytes) {
  return text.find_first_of(bytes) != std::string_view::npos;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 32 || u == 127;
  });
}

// A running list of what is wrong, each under its JSON path.
struct Errors {
  std::vector<FieldError>& list;
  void add(std::string field, std::string message) {
    list.push_back({std::move(field), std::move(message)});
  }
};

std::string at(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// Lists unknown members of `object` as errors ("is not a known field").
void refuse_unknown(const Json& object, std::initializer_list<std::string_view> known,
                    const std::string& prefix, Errors& errors) {
  for (const auto& [name, value] : object.items()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      errors.add(prefix + name, "is not a known field");
    }
  }
}

// An optional string member: absent or null → "", else it must be a string.
std::string optional_string(const Json& object, const char* name, const std::string& path,
                            Errors& errors) {
  auto found = object.find(name);
  if (found == object.end() || found->is_null()) return {};
  if (!found->is_string()) {
    errors.add(path, "must be a string");
    return {};
  }
  return found->get<std::string>();
}

bool check_address(const std::string& address, const std::string& path, Errors& errors) {
  if (address.empty()) {
    errors.add(path, "is required");
    return false;
  }
  if (!common::valid_mailbox(address)) {
    errors.add(path, "is not a valid email address (RFC 5321 4.1.2)");
    return false;
  }
  return true;
}

void check_display_name(const std::string& name, const std::string& path, Errors& errors) {
  if (has_control(name)) errors.add(path, "must not contain control characters (CR, LF, ...)");
}

// "a@b", "Name <a@b>" or {name, address}.
mime::Mailbox parse_mailbox(const Json& value, const std::string& path, Errors& errors) {
  if (value.is_string()) {
    mime::Mailbox mailbox = split_mailbox(value.get<std::string>());
    check_display_name(mailbox.name, path, errors);
    check_address(mailbox.address, path, errors);
    return mailbox;
  }
  if (!value.is_object()) {
    errors.add(path, "must be an address: \"a@b\", \"Name <a@b>\" or {\"name\", \"address\"}");
    return {};
  }
  refuse_unknown(value, {"name", "address"}, path + ".", errors);
  mime::Mailbox mailbox;
  mailbox.name = optional_string(value, "name", path + ".name", errors);
  mailbox.address = optional_string(value, "address", path + ".address", errors);
  check_display_name(mailbox.name, path + ".name", errors);
  check_address(mailbox.address, path + ".address", errors);
  return mailbox;
}

std::vector<mime::Mailbox> parse_mailboxes(const Json& root, const char* name, Errors& errors) {
  std::vector<mime::Mailbox> list;
  auto found = root.find(name);
  if (found == root.end() || found->is_null()) return list;
  if (!found->is_array()) {
    errors.add(name, "must be an array of addresses");
    return list;
  }
  for (size_t i = 0; i < found->size(); ++i) {
    list.push_back(parse_mailbox((*found)[i], at(name, i), errors));
  }
  return list;
}

// Base64 as clients write it: line breaks and spaces (MIME style) are dropped first, then the
// text must be strict RFC 4648 4 base64.
std::optional<std::string> decode_base64_lenient(const std::string& text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact.push_back(c);
  }
  return common::base64_decode(compact);
}

mime::Attachment parse_attachment(const Json& value, const std::string& path, Errors& errors,
                                  size_t& content_bytes) {
  mime::Attachment attachment;
  if (!value.is_object()) {
    errors.add(path, "must be an object {filename, content_type, content, content_id}");
    return attachment;
  }
  refuse_unknown(value, {"filename", "content_type", "content", "content_id"}, path + ".", errors);
  attachment.filename = optional_string(value, "filename", path + ".filename", errors);
  if (has_control(attachment.filename)) {
    errors.add(path + ".filename", "must not contain control characters (CR, LF, ...)");
  }
  attachment.content_type = optional_string(value, "content_type", path + ".content_type", errors);
  if (!attachment.content_type.empty() && !valid_content_type(attachment.content_type)) {
    errors.add(path + ".content_type", "must be type/subtype without parameters (RFC 2045 5.1)");
  }
  attachment.content_id = optional_string(value, "content_id", path + ".content_id", errors);
  auto content_id = value.find("content_id");
  if (content_id != value.end() && content_id->is_string() &&
      !valid_content_id(attachment.content_id)) {
    errors.add(path + ".content_id",
               "must be an id without < > or spaces, like \"logo\" or "
               "\"logo@example.com\" (RFC 2045 7)");
  }
  auto content = value.find("content");
  if (content == value.end() || content->is_null()) {
    errors.add(path + ".content", "is required");
  } else if (!content->is_string()) {
    errors.add(path + ".content", "must be a base64 string");
  } else if (auto bytes = decode_base64_lenient(content->get<std::string>())) {
    content_bytes += bytes->size();
    attachment.content = std::move(*bytes);
  } else {
    errors.add(path + ".content", "is not valid base64 (RFC 4648 4)");
  }
  return attachment;
}

std::vector<mime::Attachment> parse_attachments(const Json& root, Errors& errors,
                                                size_t& content_bytes) {
  std::vector<mime::Attachment> list;
  auto found = root.find("attachments");
  if (found == root.end() || found->is_null()) return list;
  if (!found->is_array()) {
    errors.add("attachments", "must be an array of attachments");
    return list;
  }
  std::set<std::string> content_ids;
  for (size_t i = 0; i < found->size(); ++i) {
    list.push_back(parse_attachment((*found)[i], at("attachments", i), errors, content_bytes));
    const std::string& id = list.back().content_id;
    if (!id.empty() && !content_ids.insert(lowered(id)).second) {
      errors.add(at("attachments", i) + ".content_id", "repeats another attachment's content_id");
    }
  }
  return list;
}

// headers: {"X-Name": "value"}; RFC 5322 2.2: a field is name ":" value CRLF, so neither may
// hold CR or LF (header injection), and the name is ftext only.
std::vector<std::pair<std::string, std::string>> parse_headers(const Json& root, Errors& errors) {
  std::vector<std::pair<std::string, std::string>> list;
  auto found = root.find("headers");
  if (found == root.end() || found->is_null()) return list;
  if (!found->is_object()) {
    errors.add("headers", "must be an object of header names to string values");
    return list;
  }
  for (const auto& [name, value] : found->items()) {
    std::string path = "headers." + name;
    if (!valid_field_name(name)) {
      errors.add(path,
                 "is not a valid header field name (RFC 5322 3.6.8: printable ASCII, no "
                 "colon, no space, no CR or LF)");
      continue;
    }
    if (reserved_field_name(name)) {
      errors.add(path, "is set by the bridge (or by a field of the request) and cannot be given");
      continue;
    }
    if (!value.is_string()) {
      errors.add(path, "must be a string");
      continue;
    }
    std::string text = value.get<std::string>();
    if (has_any(text, std::string_view("\r\n\0", 3))) {
      errors.add(path, "must not contain CR, LF or NUL (RFC 5322 2.2)");
    } else if (name.size() + 2 + text.size() > kMaxLineOctets) {
      errors.add(path, "is longer than one header line may be (RFC 5322 2.1.1)");
    } else {
      list.emplace_back(name, std::move(text));
    }
  }
  return list;
}

std::map<std::string, std::string> parse_metadata(const Json& root, Errors& errors) {
  std::map<std::string, std::string> metadata;
  auto found = root.find("metadata");
  if (found == root.end() || found->is_null()) return metadata;
  if (!found->is_object()) {
    errors.add("metadata", "must be an object of string values");
    return metadata;
  }
  for (const auto& [name, value] : found->items()) {
    if (value.is_string()) {
      metadata[name] = value.get<std::string>();
    } else {
      errors.add("metadata." + name, "must be a string");
    }
  }
  return metadata;
}

// Adds each address once, comparing case-insensitively; the first spelling is kept.
void add_recipients(const std::vector<mime::Mailbox>& list, std::vector<std::string>& rcpt_to,
                    std::set<std::string>& seen) {
  for (const mime::Mailbox& mailbox : list) {
    if (!mailbox.address.empty() && seen.insert(lowered(mailbox.address)).second) {
      rcpt_to.push_back(mailbox.address);
    }
  }
}

// The document as an object, or an error naming "body".
std::optional<Json> parse_object(std::string_view body, Errors& errors) {
  Json root = Json::parse(body, nullptr, false);
  if (root.is_discarded()) {
    errors.add("body", "is not valid JSON (RFC 8259) in UTF-8");
    return std::nullopt;
  }
  if (!root.is_object()) {
    errors.add("body", "must be a JSON object");
    return std::nullopt;
  }
  return root;
}

void parse_texts(const Json& root, SendRequest& request, Errors& errors) {
  mime::BuildRequest& message = request.message;
  message.subject = optional_string(root, "subject", "subject", errors);
  if (has_any(message.subject, std::string_view("\r\n\0", 3))) {
    errors.add("subject", "must not contain CR, LF or NUL (RFC 5322 2.2)");
  }
  message.text = optional_string(root, "text", "text", errors);
  message.html = optional_string(root, "html", "html", errors);
  request.content_bytes += message.text.size() + message.html.size();
}

// One send request's object (the body of POST /v1/messages, or one item of a batch).
void parse_send_object(const Json* root, Parsed<SendRequest>& parsed) {
  Errors errors{parsed.errors};
  refuse_unknown(*root,
                 {"from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "attachments",
                  "headers", "metadata"},
                 "", errors);
  SendRequest& request = parsed.value;
  mime::BuildRequest& message = request.message;
  auto from = root->find("from");
  if (from == root->end() || from->is_null()) {
    errors.add("from", "is required");
  } else {
    message.from = parse_mailbox(*from, "from", errors);
  }
  message.to = parse_mailboxes(*root, "to", errors);
  message.cc = parse_mailboxes(*root, "cc", errors);
  message.bcc = parse_mailboxes(*root, "bcc", errors);
  message.reply_to = parse_mailboxes(*root, "reply_to", errors);
  parse_texts(*root, request, errors);
  message.attachments = parse_attachments(*root, errors, request.content_bytes);
  message.headers = parse_headers(*root, errors);
  request.metadata = parse_metadata(*root, errors);

  if (message.to.empty() && message.cc.empty() && message.bcc.empty()) {
    errors.add("to", "at least one recipient is needed in to, cc or bcc");
  }
  if (message.text.empty() && message.html.empty() && message.attachments.empty()) {
    errors.add("text", "the message needs text, html or an attachment");
  }
  std::set<std::string> seen;
  add_recipients(message.to, request.rcpt_to, seen);
  add_recipients(message.cc, request.rcpt_to, seen);
  add_recipients(message.bcc, request.rcpt_to, seen);
  if (request.rcpt_to.size() > kMaxSendRecipients) {
    errors.add("to", "too many recipients: at most " + std::to_string(kMaxSendRecipients) +
                         " in to, cc and bcc together");
  }
  request.mail_from = message.from.address;
}

}  // namespace

Parsed<SendRequest> parse_send_request(std::string_view body) {
  Parsed<SendRequest> parsed;
  Errors errors{parsed.errors};
  std::optional<Json> root = parse_object(body, errors);
  if (root) parse_send_object(&*root, parsed);
  return parsed;
}

std::vector<Parsed<SendRequest>> parse_send_batch(std::string_view body, size_t max_items,
                                                  BatchProblem& problem) {
  std::vector<Parsed<SendRequest>> items;
  Errors errors{problem.errors};
  std::optional<Json> root = parse_object(body, errors);
  if (!root) return items;
  refuse_unknown(*root, {"messages"}, "", errors);
  auto messages = root->find("messages");
  if (messages == root->end() || !messages->is_array()) {
    errors.add("messages", "is required: an array of send requests (as POST /v1/messages takes)");
  } else if (messages->empty()) {
    errors.add("messages", "must hold at least one send request");
  } else if (messages->size() > max_items) {
    problem.too_many = true;
    errors.add("messages", "holds " + std::to_string(messages->size()) +
                               " send requests; at most " + std::to_string(max_items));
  }
  if (!problem.errors.empty()) return items;
  items.resize(messages->size());
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& item = (*messages)[i];
    std::string prefix = at("messages", i);
    if (!item.is_object()) {
      items[i].errors.push_back({prefix, "must be a JSON object (a send request)"});
      continue;
    }
    parse_send_object(&item, items[i]);
    // The same field names a single POST /v1/messages gives, under the item's index.
    for (FieldError& error : items[i].errors) error.field = prefix + "." + error.field;
    (*messages)[i] = nullptr;  // the item's tree is no longer needed: its memory goes now
  }
  return items;
}

Parsed<RawSendRequest> parse_raw_send_request(std::string_view body) {
  Parsed<RawSendRequest> parsed;
  Errors errors{parsed.errors};
  std::optional<Json> root = parse_object(body, errors);
  if (!root) return parsed;
  refuse_unknown(*root, {"envelope", "raw"}, "", errors);
  RawSendRequest& request = parsed.value;
  auto envelope = root->find("envelope");
  if (envelope == root->end() || !envelope->is_object()) {
    errors.add("envelope", "is required: {\"mail_from\", \"rcpt_to\": [...]}");
  } else {
    refuse_unknown(*envelope, {"mail_from", "rcpt_to"}, "envelope.", errors);
    auto mail_from = envelope->find("mail_from");
    if (mail_from == envelope->end() || !mail_from->is_string()) {
      errors.add("envelope.mail_from", "is required: an address, or \"\" for the null path");
    } else {
      request.mail_from = mail_from->get<std::string>();
      // RFC 5321 4.5.5: "" stands for the null reverse-path <>.
      if (!request.mail_from.empty())
        check_address(request.mail_from, "envelope.mail_from", errors);
    }
    auto rcpt_to = envelope->find("rcpt_to");
    if (rcpt_to == envelope->end() || !rcpt_to->is_array() || rcpt_to->empty()) {
      errors.add("envelope.rcpt_to", "is required: a non-empty array of addresses");
    } else {
      std::set<std::string> seen;
      for (size_t i = 0; i < rcpt_to->size(); ++i) {
        std::string path = at("envelope.rcpt_to", i);
        const Json& item = (*rcpt_to)[i];
        if (!item.is_string()) {
          errors.add(path, "must be an address string \"a@b\"");
        } else if (check_address(item.get<std::string>(), path, errors) &&
                   seen.insert(lowered(item.get<std::string>())).second) {
          request.rcpt_to.push_back(item.get<std::string>());
        }
      }
      if (request.rcpt_to.size() > kMaxSendRecipients) {
        errors.add("envelope.rcpt_to",
                   "too many recipients: at most " + std::to_string(kMaxSendRecipients));
      }
    }
  }
  auto raw = root->find("raw");
  if (raw == root->end() || !raw->is_string()) {
    errors.add("raw", "is required: the message bytes in base64");
    return parsed;
  }
  std::optional<std::string> bytes = decode_base64_lenient(raw->get<std::string>());
  if (!bytes) {
    errors.add("raw", "is not valid base64 (RFC 4648 4)");
    return parsed;
  }
  request.data = normalise_line_ends(*bytes);
  size_t colon = request.data.find(':');
  size_t first_end = request.data.find("\r\n");
  if (colon == std::string::npos || colon > first_end ||
      !valid_field_name(std::string_view(request.data).substr(0, colon))) {
    errors.add("raw", "does not start with a header field (RFC 5322 2.2)");
  } else if (request.data.find("\r\n\r\n") == std::string::npos) {
    errors.add("raw", "has no empty line between the header and the body (RFC 5322 2.1)");
  }
  request.message_id = find_message_id(request.data);
  return parsed;
}

}  // namespace api
