// Parsing one SMTP command line (RFC 5321 4.1) into a verb and its argument text. Purely
// syntactic: which verbs are allowed when is the session's command table's business.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "common/utf8.h"
#include "smtp/reply.h"

namespace smtp {

enum class Verb {
  ehlo,
  helo,
  mail,
  rcpt,
  data,
  bdat,
  rset,
  noop,
  quit,
  vrfy,
  expn,
  help,
  starttls,
  auth,
  obsolete,  // SEND, SOML, SAML, TURN, ETRN: 502
  unknown,   // well-formed but not a command we know: 500
};

struct Command {
  Verb verb = Verb::unknown;
  std::string name;  // the verb as sent, upper-cased ("EHLO")
  std::string args;  // text after the single space following the verb, trailing spaces trimmed
};

struct CommandParse {
  std::optional<Command> command;  // set on success
  Reply error;                     // set when command is empty
};

// `line` is one command line without its line ending. Rejected (500 5.5.2 bad syntax): an empty
// line, a verb that is not 1..16 letters, a verb followed by anything but one space
// ("EHLO  x"), control characters (bare CR, NUL, BEL, ...) and DEL anywhere, invalid UTF-8.
// Trailing spaces are allowed ("RSET    "). A verb of letters we do not know ("XXXX") is a
// Command with Verb::unknown (the session answers 500 5.5.2 command not recognized).
CommandParse parse_command(std::string_view line);

// "GET", "POST", "HEAD", "PUT", "CONNECT", ... followed by " /" or " http": a HTTP request line
// sent to the SMTP port (answered 421 and closed).
bool looks_like_http(std::string_view line);

using common::valid_utf8;  // RFC 3629 well-formedness (common/utf8.h)

}  // namespace smtp
