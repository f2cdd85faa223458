// The fast path of extract_reply_html (reply_html.cpp): a small scanner of HTML tags that finds
// the quote containers of the common clients (Gmail's gmail_quote, Apple Mail's and
// Thunderbird's blockquote type="cite", Yahoo's yahoo_quoted), which the parse removes whole,
// and where libxml2's parse would close each. libxml2 is then handed the document without their
// content (the bulk of a long thread), which it parses in a fraction of the time. The scanner
// proves each container's start is a real tag (not inside a comment, an attribute value, script
// or style) and its content strictly nested, and gives up (no skip) whenever it is unsure or at
// Outlook's reply header (divRplyFwdMsg): then the whole document is parsed, as before.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace delivery::reply {

struct Skip {
  size_t at;         // just after the '>' of the container's start tag
  size_t until;      // where its end tag begins ("</")
  std::string name;  // the container's element name, lower case
};

// The parts of `html` to hand to libxml2 instead of the whole: `html` without each [at, until).
// Empty when there is nothing to skip or the scanner is unsure.
std::vector<Skip> plan_skips(std::string_view html);

// `html` without the skipped ranges.
std::string without_skips(std::string_view html, const std::vector<Skip>& skips);

// For tests: whether extract_reply_html's result for `html` (valid UTF-8) comes from the fast
// path (a plan, each skip confirmed by the parse) rather than from a parse of the whole.
bool fast_path_taken(std::string_view html);

}  // namespace delivery::reply
