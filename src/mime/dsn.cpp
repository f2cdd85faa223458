// mime::parse_dsn: finds the multipart/report (RFC 6522) of a delivery status notification with
// mime::parse, then reads its message/delivery-status body (RFC 3464 2.1: groups of header-style
// fields separated by blank lines) in one pass, with every value bounded (dsn.h).
#include "mime/dsn.h"

#include <array>
#include <cstring>

#include "mime/internal.h"
#include "mime/message.h"

namespace mime {
namespace {

using detail::iequals;
using detail::is_wsp;
using detail::trim;

// The fields read from a delivery-status body (RFC 3464 2.2 per-message, 2.3 per-recipient).
enum Field : size_t {
  kReportingMta,
  kArrivalDate,
  kEnvelopeId,
  kFinalRecipient,
  kOriginalRecipient,
  kAction,
  kStatus,
  kRemoteMta,
  kDiagnosticCode,
  kLastAttemptDate,
  kWillRetryUntil,
  kFieldCount,
  kOtherField = kFieldCount,
};

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {"reporting-mta",
                                                                   "arrival-date",
                                                                   "original-envelope-id",
                                                                   "final-recipient",
                                                                   "original-recipient",
                                                                   "action",
                                                                   "status",
                                                                   "remote-mta",
                                                                   "diagnostic-code",
                                                                   "last-attempt-date",
                                                                   "will-retry-until"};

size_t field_of(std::string_view name) {
  for (size_t i = 0; i < kFieldCount; ++i)
    if (iequals(name, kFieldNames[i])) return i;
  return kOtherField;
}

// The value as the caller sees it: trimmed, valid UTF-8 (bad bytes → U+FFFD), within the cap.
std::string clean(std::string_view value) {
  return detail::sanitize_utf8(trim(value), kDsnMaxFieldValue);
}

// RFC 5322 3.2.2 comments removed (nested, with quoted-pairs); quoted strings kept as written.
std::string strip_comments(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && (quoted || depth > 0) && i + 1 < s.size()) {
      if (depth == 0) out.append(s.substr(i, 2));
      ++i;
    } else if (quoted) {
      out += c;
      if (c == '"') quoted = false;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out += c;
      if (c == '"') quoted = true;
    }
  }
  return out;
}

std::string_view first_word(std::string_view s) {
  s = trim(s);
  size_t end = 0;
  while (end < s.size() && !detail::is_space(s[end]) && s[end] != ';') ++end;
  return s.substr(0, end);
}

// RFC 3464 2.3.3: one of five words; "" for anything else.
std::string parse_action(std::string_view value) {
  std::string word = detail::to_lower(first_word(strip_comments(value)));
  for (std::string_view known : {"failed", "delayed", "delivered", "relayed", "expanded"})
    if (word == known) return word;
  return "";
}

bool digits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// RFC 3464 2.3.4 / RFC 3463 2: class "." subject "." detail, class 2, 4 or 5, subject and detail
// 1 to 3 digits; the comment after it dropped. "" when the value is not one.
std::string parse_status(std::string_view value) {
  std::string text = strip_comments(value);
  std::string_view code = first_word(text);
  size_t dot1 = code.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : code.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return "";
  std::string_view klass = code.substr(0, dot1);
  std::string_view subject = code.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view detail = code.substr(dot2 + 1);
  if (klass != "2" && klass != "4" && klass != "5") return "";
  if (!digits(subject, 1, 3) || !digits(detail, 1, 3)) return "";
  return std::string(code);
}

// RFC 3464 2.3.6: "smtp; 550 5.1.1 ..." → 550 (a reply code of RFC 5321 4.2: 2xx to 5xx, followed
// by a space, '-' or the end); 0 for other diagnostic types and values.
int smtp_code(std::string_view value) {
  size_t semi = value.find(';');
  if (semi == std::string_view::npos) return 0;
  if (!iequals(trim(strip_comments(value.substr(0, semi))), "smtp")) return 0;
  std::string_view rest = value.substr(semi + 1);
  while (!rest.empty() && is_wsp(rest.front())) rest.remove_prefix(1);
  if (rest.size() < 3 || !digits(rest.substr(0, 3), 3, 3)) return 0;
  if (rest.size() > 3 && rest[3] != ' ' && rest[3] != '-' && rest[3] != '\t') return 0;
  int code = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
  return code >= 200 && code < 600 ? code : 0;
}

void append_code_point(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// RFC 6533 3 (utf-8-addr-xtext, utf-8-addr-unitext): "\x{HHHH}" stands for one Unicode scalar
// value; an escape that is not one (surrogate, above U+10FFFF, bad digits) stays as written.
std::string decode_unicode_escapes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 3, "\\x{") == 0) {
      size_t close = s.find('}', i + 3);
      size_t n = close == std::string_view::npos ? 0 : close - (i + 3);
      uint32_t cp = 0;
      bool ok = n >= 1 && n <= 6;
      for (size_t k = 0; ok && k < n; ++k) {
        int v = detail::hex_value(s[i + 3 + k]);
        ok = v >= 0;
        cp = cp * 16 + static_cast<uint32_t>(v);
      }
      if (ok && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF)) {
        append_code_point(out, cp);
        i = close;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool upper_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

// RFC 3461 4 xtext: "+HH" (two upper-case hex digits) stands for one byte. Decoded only when the
// whole value is xtext and the bytes are UTF-8: a '+' of a plain address ("user+tag@x") is not
// one, so such a value stays as written.
std::string decode_xtext(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '+') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !upper_hex(s[i + 1]) || !upper_hex(s[i + 2])) return std::string(s);
    out += static_cast<char>(detail::hex_value(s[i + 1]) * 16 + detail::hex_value(s[i + 2]));
    i += 2;
  }
  return detail::is_valid_utf8(out) ? out : std::string(s);
}

bool address_type_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// RFC 3464 2.3.1/2.3.2: address-type ";" generic-address. The type is dropped (returned in
// `*type`, lower-case); the address trimmed and its < > removed. Without a type (no ';', or text
// before it that is no atom), the whole value is the address.
std::string parse_address(std::string_view value, bool xtext, std::string* type) {
  std::string_view address = trim(value);
  type->clear();
  if (size_t semi = address.find(';'); semi != std::string_view::npos) {
    std::string head = strip_comments(address.substr(0, semi));
    std::string_view name = trim(head);
    bool atom = !name.empty();
    for (char c : name) atom = atom && address_type_char(c);
    if (atom) {
      *type = detail::to_lower(name);
      address = trim(address.substr(semi + 1));
    }
  }
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>')
    address = trim(address.substr(1, address.size() - 2));
  if (*type == "utf-8") return clean(decode_unicode_escapes(address));
  if (xtext) return clean(decode_xtext(address));
  return clean(address);
}

// One group of fields being read: the raw (unfolded, capped) value of each known field.
struct Group {
  std::array<std::string, kFieldCount> values;
  std::array<bool, kFieldCount> seen{};
  bool any = false;  // a field line was read (known or not)

  void clear() {
    for (auto& v : values) v.clear();
    seen.fill(false);
    any = false;
  }
  const std::string& operator[](Field f) const { return values[f]; }
};

void append_capped(std::string& out, std::string_view s) {
  size_t room = kDsnMaxFieldValue - std::min(out.size(), kDsnMaxFieldValue);
  out.append(s.substr(0, std::min(room, s.size())));
}

// The delivery-status body, line by line, once (RFC 3464 2.1).
class StatusReader {
 public:
  explicit StatusReader(Dsn& dsn) : dsn_(dsn) {}

  void read(std::string_view body) {
    size_t pos = 0;
    while (pos < body.size() && dsn_.recipients.size() < kDsnMaxRecipients) {
      const void* nl = std::memchr(body.data() + pos, '\n', body.size() - pos);
      size_t lf = nl == nullptr ? body.size() : static_cast<const char*>(nl) - body.data();
      std::string_view line = body.substr(pos, lf - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      pos = lf + 1;
      take_line(line);
    }
    end_group();
  }

 private:
  void take_line(std::string_view line) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) {  // blank: the group ends
      end_group();
      return;
    }
    if (is_wsp(line.front())) {  // RFC 5322 2.2.3 folding: unfolded by dropping the line break
      if (target_ != nullptr) append_capped(*target_, line);
      return;
    }
    target_ = nullptr;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;  // not a field: skipped
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);  // RFC 5322 4.5
    group_.any = true;
    size_t field = field_of(name);
    if (field == kOtherField || group_.seen[field]) return;  // a repeat keeps the first value
    group_.seen[field] = true;
    target_ = &group_.values[field];
    append_capped(*target_, line.substr(colon + 1));
  }

  void end_group() {
    target_ = nullptr;
    if (!group_.any) return;
    bool first = groups_++ == 0;
    bool names_recipient = group_.seen[kFinalRecipient] || group_.seen[kOriginalRecipient];
    if (first) {  // RFC 3464 2.2: the per-message fields
      dsn_.reporting_mta = clean(group_[kReportingMta]);
      dsn_.arrival_date = clean(group_[kArrivalDate]);
      dsn_.envelope_id = clean(group_[kEnvelopeId]);
    }
    if (names_recipient && dsn_.recipients.size() < kDsnMaxRecipients) add_recipient();
    group_.clear();
  }

  void add_recipient() {
    DsnRecipient r;
    std::string original_type;
    r.final_recipient = parse_address(group_[kFinalRecipient], false, &r.final_recipient_type);
    r.original_recipient = parse_address(group_[kOriginalRecipient], true, &original_type);
    if (r.final_recipient.empty() && r.original_recipient.empty()) return;
    r.action = parse_action(group_[kAction]);
    r.status = parse_status(group_[kStatus]);
    r.remote_mta = clean(group_[kRemoteMta]);
    r.diagnostic_code = clean(group_[kDiagnosticCode]);
    r.diagnostic_smtp_code = smtp_code(r.diagnostic_code);
    r.last_attempt_date = clean(group_[kLastAttemptDate]);
    r.will_retry_until = clean(group_[kWillRetryUntil]);
    dsn_.recipients.push_back(std::move(r));
  }

  Dsn& dsn_;
  Group group_;
  std::string* target_ = nullptr;  // the value a continuation line extends; null: none or unknown
  size_t groups_ = 0;
};

// A leaf part's content without its transfer encoding: a view into `raw` when it has none, else
// the decoded bytes kept in `storage`.
std::string_view part_body(std::string_view raw, const Part& part, std::string& storage) {
  if (part.transfer_encoding == "base64" || part.transfer_encoding == "quoted-printable") {
    storage = decode_body(raw, part);
    return storage;
  }
  size_t begin = std::min(part.body_begin, raw.size());
  size_t end = std::min(std::max(part.end, begin), raw.size());
  return raw.substr(begin, end - begin);
}

// The first multipart/report in document order that is not inside an attached message.
int find_report(const Message& m) {
  std::vector<bool> inside_message(m.parts.size(), false);
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const Part& p = m.parts[i];
    if (p.parent > 0 && (inside_message[p.parent] || m.parts[p.parent].is_message()))
      inside_message[i] = true;
    if (!inside_message[i] && p.content_type == "multipart/report") return static_cast<int>(i);
  }
  return -1;
}

bool is_status_part(const Part& p) {
  return p.content_type == "message/delivery-status" ||
         p.content_type == "message/global-delivery-status";
}

bool is_returned_part(const Part& p) {
  return p.content_type == "text/rfc822-headers" || p.content_type == "message/global-headers" ||
         p.is_message();
}

std::string first_message_id(std::string_view value) {
  std::vector<std::string> ids = parse_message_ids(value);
  return ids.empty() ? std::string() : detail::sanitize_utf8(ids.front(), kDsnMaxFieldValue);
}

// RFC 3464 2.1 / RFC 6522: the returned message, or its header only, names the message bounced.
std::string original_message_id(const Message& m, std::string_view raw, const Part& part) {
  if (part.is_message() && !part.children.empty()) {  // parsed by mime::parse already
    for (const Header& h : m.parts[part.children.front()].headers)
      if (iequals(h.name, "message-id")) return first_message_id(h.value);
    return "";
  }
  std::string storage;
  std::string_view body = part_body(raw, part, storage);
  detail::HeaderBlock block = detail::split_header(body, Limits{}.max_header_fields, nullptr);
  for (const detail::RawField& f : block.fields) {
    if (!iequals(trim(f.name), "message-id")) continue;
    std::string unfolded;
    return first_message_id(detail::unfolded(f.value, unfolded));
  }
  return "";
}

}  // namespace

std::optional<Dsn> parse_dsn(std::string_view message) {
  Message m = parse(message);
  int report = find_report(m);
  if (report < 0) return std::nullopt;
  const Part& top = m.parts[report];
  auto type = top.params.find("report-type");
  if (type == top.params.end()) return std::nullopt;
  std::string_view report_type = trim(type->second);
  if (!iequals(report_type, "delivery-status") && !iequals(report_type, "global-delivery-status"))
    return std::nullopt;

  const Part* status = nullptr;
  const Part* returned = nullptr;
  for (int c : top.children) {
    const Part& p = m.parts[c];
    if (status == nullptr && is_status_part(p))
      status = &p;
    else if (returned == nullptr && is_returned_part(p))
      returned = &p;
  }
  if (status == nullptr) return std::nullopt;

  Dsn dsn;
  std::string storage;
  StatusReader(dsn).read(part_body(message, *status, storage));
  if (dsn.recipients.empty()) return std::nullopt;
  if (returned != nullptr) dsn.original_message_id = original_message_id(m, message, *returned);
  return dsn;
}

}  // namespace mime
