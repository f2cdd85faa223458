// The line-level markers of reply extraction (reply_text.cpp, reply_html.cpp): attribution lines,
// Outlook header fields, "-----Original Message-----" lines, separators and mobile sign-offs, in
// the languages mail clients write them. Each test looks at one line (or a few joined) and is
// hand-written: no regular expression, so the cost is linear in the line and bounded.
#pragma once
#include <string_view>

namespace delivery::reply {

// ASCII whitespace (and CR) trimmed at both ends / at the end only.
std::string_view trim(std::string_view s);
std::string_view rtrim(std::string_view s);
bool is_blank(std::string_view line);

// A quoted line: '>' in the first column (RFC 3676 4.5 quote depth; most clients quote so).
inline bool is_quote_line(std::string_view line) {
  return !line.empty() && line[0] == '>';
}

// An attribution line ("On <date>, <name> wrote:", "Le … a écrit :", "Am … schrieb …:",
// "… написал(а):"...), possibly made of a few wrapped lines joined by a space. `strong`: it also
// begins with the language's "On" word or a date (a digit), or holds a digit beside an address,
// so it marks history even when no '>' line follows; `weak` ("John wrote:", Gmail's verb-less
// "<date>, <name> <addr>:") only does when quoted lines follow it.
enum class Attribution { none, weak, strong };
Attribution attribution(std::string_view joined);
// Whether a line may begin an attribution wrapped over several lines (a prefix word or a digit
// first).
bool may_begin_attribution(std::string_view line);
// The longest attribution considered, joined (longer lines are text).
inline constexpr size_t kMaxAttribution = 400;

// An Outlook-style header field label at the start of a line ("From:", "*Sent:*", "De :", "Von:",
// "От:"...), as Outlook writes the original message's header block into a reply.
enum class Field { none, from, sent, to, cc, subject };
Field header_field(std::string_view line);

// "-----Original Message-----", "---------- Forwarded message ---------", their translations,
// and Apple Mail's "Begin forwarded message:": everything below is history.
bool is_original_message(std::string_view line);

// A line of only '-', '_' or '=' (at least 5): a separator before a history block.
bool is_separator(std::string_view line);

// A mobile or webmail sign-off: "Sent from my iPhone", "Get Outlook for Android", "Sent from Mail
// for Windows", "Envoyé de mon iPhone", "Von meinem iPhone gesendet"...
bool is_mobile_signoff(std::string_view line);

}  // namespace delivery::reply
