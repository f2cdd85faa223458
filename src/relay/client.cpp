// The socket-free parts of the upstream client: reply parsing, capabilities, MAIL parameters,
// local refusals and dot-stuffing (protocol.h), and the client TLS context (TLS 1.2+, peer
// verification against the system store or a CA file). Nothing here throws on bad input.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cctype>

#include "relay/client.h"
#include "relay/protocol.h"

namespace relay {

namespace {
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool has_non_ascii(std::string_view text) {
  for (unsigned char c : text)
    if (c >= 0x80) return true;
  return false;
}

Reply local(int code, std::string enhanced, std::string text) {
  return Reply{code, std::move(enhanced), std::move(text)};
}
}  // namespace

// RFC 3463 / provider practice: 421 (closing), 454 (TLS/auth temporarily unavailable) and
// X.7.x on a transient reply (policy: rate limits, "try again later").
bool Reply::throttling() const {
  return code == 421 || code == 454 || (code / 100 == 4 && enhanced.rfind("4.7.", 0) == 0);
}

// RFC 5321 4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ]
// CRLF
ReplyParser::Status ReplyParser::add_line(std::string_view line) {
  if (line.size() > kMaxReplyLine || texts_.size() >= kMaxReplyLines) return Status::bad;
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
    return Status::bad;
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (code < 200 || code > 599 || line[1] > '5') return Status::bad;  // RFC 5321 4.2.1
  if (!texts_.empty() && code != code_) return Status::bad;           // RFC 5321 4.2.1 (same code)
  code_ = code;
  char separator = line.size() > 3 ? line[3] : ' ';
  if (separator != ' ' && separator != '-') return Status::bad;
  for (unsigned char c : line.substr(3))
    if (c < 0x20 && c != '\t') return Status::bad;
  texts_.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
  return separator == '-' ? Status::more : Status::done;
}

Reply ReplyParser::reply() const {
  Reply reply;
  reply.code = code_;
  reply.enhanced = texts_.empty() ? "" : enhanced_code_of(texts_.front(), code_);
  for (const std::string& text : texts_) {
    std::string_view part = text;
    // RFC 3463 / RFC 2034: each line repeats the enhanced code; keep it once.
    if (!reply.enhanced.empty() && enhanced_code_of(part, code_) == reply.enhanced)
      part.remove_prefix(std::min(part.size(), reply.enhanced.size() + 1));
    if (!reply.text.empty()) reply.text += "; ";
    reply.text += part;
  }
  return reply;
}

void ReplyParser::clear() {
  code_ = 0;
  texts_.clear();
}

std::string enhanced_code_of(std::string_view text, int code) {
  // status-code = class "." subject "." detail, class matching the reply's (RFC 3463 2)
  if (text.size() < 5 || text[0] != static_cast<char>('0' + code / 100) || text[1] != '.')
    return "";
  size_t i = 2, digits = 0;
  while (i < text.size() && is_digit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0 || i >= text.size() || text[i] != '.') return "";
  size_t start = ++i;
  while (i < text.size() && is_digit(text[i]) && i - start < 3) ++i;
  if (i == start || (i < text.size() && text[i] != ' ')) return "";
  return std::string(text.substr(0, i));
}

Capabilities parse_capabilities(const std::vector<std::string>& texts) {
  Capabilities caps;
  caps.esmtp = true;
  for (size_t i = 1; i < texts.size(); ++i) {  // texts[0] is the server's greeting name
    std::string line = upper(texts[i]);
    std::string keyword = line.substr(0, line.find(' '));
    std::string rest = line.size() > keyword.size() ? line.substr(keyword.size() + 1) : "";
    if (keyword == "PIPELINING")
      caps.pipelining = true;  // RFC 2920
    else if (keyword == "STARTTLS")
      caps.starttls = true;  // RFC 3207
    else if (keyword == "SMTPUTF8")
      caps.smtputf8 = true;  // RFC 6531
    else if (keyword == "8BITMIME")
      caps.eightbitmime = true;    // RFC 6152
    else if (keyword == "SIZE") {  // RFC 1870 4
      caps.size_announced = true;
      caps.size = 0;
      for (char c : rest) {
        if (!is_digit(c) || caps.size > UINT64_MAX / 20) break;
        caps.size = caps.size * 10 + static_cast<uint64_t>(c - '0');
      }
    } else if (keyword == "AUTH") {  // RFC 4954 3
      size_t pos = 0;
      while (pos < rest.size()) {
        size_t end = rest.find(' ', pos);
        if (end == std::string::npos) end = rest.size();
        if (end > pos) caps.auth.push_back(rest.substr(pos, end - pos));
        pos = end + 1;
      }
    }
  }
  return caps;
}

std::string dot_stuff(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 64 + 8);
  bool line_start = true;
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (c == '\r' || c == '\n') {  // RFC 5321 2.3.8: no bare CR or LF on the wire
      out += "\r\n";
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out += '.';  // RFC 5321 4.5.2
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

Needs message_needs(const Envelope& envelope, std::string_view data) {
  Needs needs;
  needs.smtputf8 = has_non_ascii(envelope.mail_from);
  for (const std::string& rcpt : envelope.rcpt_to) needs.smtputf8 |= has_non_ascii(rcpt);
  size_t header_end = data.find("\r\n\r\n");
  std::string_view header =
      header_end == std::string_view::npos ? data : data.substr(0, header_end);
  needs.smtputf8 |= has_non_ascii(header);  // RFC 6532 UTF-8 headers need SMTPUTF8 too
  needs.eightbitmime = needs.smtputf8 || has_non_ascii(data);
  return needs;
}

std::optional<Reply> local_refusal(const Capabilities& caps, const Needs& needs, size_t size) {
  if (caps.size > 0 && size > caps.size)  // RFC 1870 6.1
    return local(552, "5.3.4",
                 "message is " + std::to_string(size) + " bytes; the upstream accepts at most " +
                     std::to_string(caps.size) + " (SIZE, RFC 1870); nothing sent");
  if (needs.smtputf8 && !caps.smtputf8)  // RFC 6531 3.7.5
    return local(553, "5.6.7",
                 "the message needs SMTPUTF8 (non-ASCII address or header) and the upstream "
                 "does not offer it; nothing sent");
  if (needs.eightbitmime && !caps.eightbitmime)  // RFC 6152 3 (we do not downgrade)
    return local(554, "5.6.3",
                 "the message has 8-bit data and the upstream does not offer 8BITMIME; "
                 "nothing sent");
  return std::nullopt;
}

std::string mail_command(const Envelope& envelope, const Capabilities& caps, const Needs& needs,
                         size_t size) {
  std::string command = "MAIL FROM:<" + envelope.mail_from + ">";
  if (caps.esmtp && caps.size_announced) command += " SIZE=" + std::to_string(size);  // RFC 1870 6
  if (needs.eightbitmime && caps.eightbitmime) command += " BODY=8BITMIME";           // RFC 6152 2
  if (needs.smtputf8 && caps.smtputf8) command += " SMTPUTF8";  // RFC 6531 3.4
  return command + "\r\n";
}

std::shared_ptr<asio::ssl::context> make_client_tls(bool verify, const std::string& ca_file,
                                                    std::string& error) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);  // RFC 8996
  if (!verify) {
    context->set_verify_mode(asio::ssl::verify_none);
    return context;
  }
  asio::error_code ec;
  if (ca_file.empty())
    context->set_default_verify_paths(ec);
  else
    context->load_verify_file(ca_file, ec);
  if (ec) {
    error = "cannot load CA file '" + (ca_file.empty() ? std::string("system store") : ca_file) +
            "': " + ec.message();
    ERR_clear_error();
    return nullptr;
  }
  context->set_verify_mode(asio::ssl::verify_peer);
  return context;
}

}  // namespace relay
