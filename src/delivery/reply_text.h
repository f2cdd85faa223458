// The new text of a reply without its quoted history, attribution lines and signature (issue 15,
// CONTRACTS.md 1 `message.reply`): what receivers post into ticket threads (Postmark's
// StrippedTextReply, Mailgun's stripped-text / stripped-signature / stripped-html). Pure, bounded:
// time and memory linear in the input.
#pragma once
#include <string>
#include <string_view>

namespace delivery {

struct Reply {
  std::string text;       // the visible new text, UTF-8, trimmed; "" when nothing is new
  std::string signature;  // the signature removed from it ("-- " block, mobile sign-off); ""
  // Nothing was taken out of the plain-text body: no quoted line, attribution, history block or
  // signature. `text` is then the body less only what tidying drops: CRs of line ends,
  // whitespace at line ends (a whitespace-only line becomes empty) and blank lines at its start
  // and end (for an HTML body: of the text extract_reply_html made of it).
  bool whole = false;
};

struct TextOptions {
  // false: a body with nothing to take out gives `whole` and an empty `text`, no copy of it (the
  // caller has the body and uses it instead: bridge.v1's null reply.text).
  bool copy_whole = true;
  // true: the caller vouches that the text is valid UTF-8 (mime::decode_text's output): it is
  // not checked again.
  bool valid_utf8 = false;
};

// A plain-text body (UTF-8, CRLF or LF line ends). The results end lines with LF; `text` has no
// blank line at either end and no trailing whitespace on a line (a first line keeps its
// indentation); `signature` keeps its lines as written ("-- " keeps its space). Bytes that are
// not UTF-8 come out as U+FFFD.
Reply extract_reply_text(std::string_view text, TextOptions options = {});

struct HtmlReply {
  std::string html;  // the HTML without its quoted history (gmail_quote, divRplyFwdMsg, cites):
                     // the input as it came when there was none, else written again from the
                     // parse (a fragment stays a fragment; attributes quoted, text escaped)
  Reply text;        // the text of that HTML, stripped like a plain body
  bool stripped = false;  // whether anything was taken out (else `html` is the input)
};

// An HTML body (UTF-8). Without `with_text` (the caller has a text body to take the reply's text
// from), an HTML that shows none of the marks of quoted history (may_hold_history) is given back
// as it came without being parsed, and `text` is empty.
HtmlReply extract_reply_html(std::string_view html, bool with_text = true);

// extract_reply_html(html), with its fast path (reply_html_scan.h: libxml2 is not handed the
// content of the history containers it can prove are taken out whole) or without (the whole
// document is parsed). Both give the same; tests and the fuzz target compare them.
HtmlReply parse_reply_html(std::string_view html, bool fast_path);

// False only when the HTML has none of what extract_reply_html removes: no tag naming a quote
// container (gmail_quote, cite, divRplyFwdMsg, border-top…) and no text line of
// "-----Original Message-----" or a forward introduction. One pass over the tags and the text.
bool may_hold_history(std::string_view html);

}  // namespace delivery
