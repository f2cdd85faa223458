// The fast path of HTML reply extraction (src/delivery/reply_html_scan.h): libxml2 is handed the
// document without the content of the history containers the scanner proves are taken out whole.
// Each case compares its result with the parse of the whole document, and checks whether the
// fast path was taken: for each common client's quote container it is, and it falls back to the
// whole parse where the mark is not a tag (in a comment, an attribute value, a script), where the
// container's content is not strictly nested, where the parse keeps the container, and at
// Outlook's reply header.
#include <gtest/gtest.h>

#include <string>

#include "delivery/reply_html_scan.h"
#include "delivery/reply_text.h"

namespace delivery {
namespace {

// A long quoted history with nested elements, as clients quote a thread.
std::string history() {
  std::string h;
  for (int i = 0; i < 200; ++i)
    h += "<div dir=\"ltr\">Old line " + std::to_string(i) +
         " of the thread<br></div><p style=\"margin:0\">Second &amp; <b>bold</b> <img "
         "src=\"cid:x\"> part</p>\r\n";
  return h;
}

// The fast result and the whole parse's are the same; returns whether the fast path was taken.
bool same_as_whole_parse(const std::string& html) {
  HtmlReply fast = parse_reply_html(html, /*fast_path=*/true);
  HtmlReply whole = parse_reply_html(html, /*fast_path=*/false);
  EXPECT_EQ(fast.html, whole.html) << html.substr(0, 300);
  EXPECT_EQ(fast.text.text, whole.text.text) << html.substr(0, 300);
  EXPECT_EQ(fast.text.signature, whole.text.signature) << html.substr(0, 300);
  EXPECT_EQ(fast.stripped, whole.stripped) << html.substr(0, 300);
  EXPECT_EQ(extract_reply_html(html).html, whole.html);
  return reply::fast_path_taken(html);
}

TEST(ReplyFastPath, EachClientsQuoteIsSkipped) {
  const std::string old = history();
  const std::string cases[] = {
      // Gmail: the attribution inside gmail_quote, a text after the quote.
      "<div dir=\"ltr\">Ship it Monday.<br></div><br><div class=\"gmail_quote "
      "gmail_quote_container\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, Dec 7, 2026 at "
      "8:47 PM John &lt;john@example.com&gt; wrote:<br></div><blockquote class=\"gmail_quote\" "
      "style=\"margin:0px 0px 0px 0.8ex\">" +
          old + "</blockquote></div><div>after the quote</div>\r\n",
      // Apple Mail: a whole document, the attribution before a blockquote type=cite.
      "<html><head><meta http-equiv=\"content-type\" content=\"text/html; "
      "charset=utf-8\"></head><body dir=\"auto\"><div>Yes.</div><div><br><blockquote "
      "type=\"cite\">On 7 Dec 2026, at 20:47, John &lt;john@example.com&gt; "
      "wrote:<br><br></blockquote></div><blockquote type=\"cite\"><div dir=\"ltr\">" +
          old + "</div></blockquote></body></html>",
      // Thunderbird: moz-cite-prefix, then the cite.
      "<!DOCTYPE html>\n<html><head>\n<style>p { margin: 0 } b > i { color: red "
      "}</style></head><body>\n"
      "<p>Sounds good.</p>\n<div class=\"moz-cite-prefix\">On 12/7/26 8:47 PM, John "
      "wrote:<br></div>\n<blockquote type=\"cite\" cite=\"mid:x@example.com\">" +
          old + "</blockquote>\n<!-- trailer --></body>\n</html>\n",
      // Yahoo: its prefixed class.
      "<div class=\"ydp1a2b3c4dyahoo-style-wrap\">Fine by me.</div><div "
      "id=\"ydp5e6f7a8byahoo_quoted_1234\" class=\"ydp5e6f7a8byahoo_quoted\">" +
          old + "</div>",
      // Nested quotes, a comment and attributes with '>' inside the history.
      "<p>Top</p><blockquote type=\"cite\">a<blockquote type=\"cite\" title=\"x > y\">b<!-- "
      "</blockquote> -->" +
          old + "</blockquote>c</blockquote><p>below</p>",
      // Not at the top level: inside a table cell.
      "<table><tr><td><p>New</p><div class=\"gmail_quote\">" + old +
          "</div></td><td>next cell</td></tr></table>",
  };
  for (const std::string& html : cases) {
    EXPECT_TRUE(same_as_whole_parse(html)) << "not taken: " << html.substr(0, 200);
    EXPECT_EQ(parse_reply_html(html, true).html.find("Old line"), std::string::npos);
  }
}

TEST(ReplyFastPath, WhereTheScannerIsUnsureTheWholeDocumentIsParsed) {
  const std::string old = history();
  const std::string cases[] = {
      // The mark in a comment: not a tag.
      "<p>New</p><!-- <div class=\"gmail_quote\"> -->" + old,
      // In an attribute value holding '>' and '<'.
      "<p title='a > <div class=\"gmail_quote\">'>New</p>" + old,
      // In a script's text, then a script holding an end tag before its own.
      "<script>var q = '<div class=\"gmail_quote\">';</script><p>New</p>" + old,
      "<script>document.write('</div>')</script><div class=\"gmail_quote\">" + old + "</div>",
      "<style>/* </b> */</style><div class=\"gmail_quote\">" + old + "</div>",
      // The container's content is not strictly nested: libxml2's recovery decides.
      "<div class=\"gmail_quote\"><p>unclosed paragraph" + old + "</div><p>after</p>",
      "<table><tr><td><div class=\"gmail_quote\">old<td>x</div></td></tr></table>tail",
      "<blockquote type=\"cite\"><b><i>crossed</b></i>" + old + "</blockquote>after",
      // A container the parse would end early (a <p> ends at a <div>): never skipped.
      "<p class=\"gmail_quote\">quoted<div>not in the quote</div></p>" + old,
      // The document's own tags inside the history (a forwarded page).
      "<div>New</div><div class=\"gmail_quote\"><html><body>" + old +
          "</body></html></div><div>after</div>",
      // Outlook's reply header: everything after it is history, parsed whole (fuzz_reply found
      // libxml2 closing the elements open before it otherwise than at the end of a cut input).
      "<html><body><div>Agreed.</div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">"
      "<div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri\"><b>From:</b> John<br>"
      "<b>Sent:</b> Monday</font></div><div>" +
          old + "</div></body></html>",
      // A DOCTYPE with quotes in the history: libxml2 ends it at its first '>' (fuzz_reply).
      "<div class=\"gmail_quote\">a<!DOCTYPE x \"b></div>" + old + "<div>c\"></div><p>after</p>",
      // An element name longer than the scanner reads (libxml2 has its own rules past 100).
      "<div class=\"gmail_quote\"><" + std::string(120, 'x') + ">" + old + "</" +
          std::string(120, 'x') + "></div><p>after</p>",
      // Never closed.
      "<div>New</div><div class=\"gmail_quote\">" + old,
      // A '<' that is no tag, "<?", CDATA, a NUL byte before the mark.
      "<p>1 < 2</p><div class=\"gmail_quote\">" + old + "</div>",
      "<?xml version=\"1.0\"?><div class=\"gmail_quote\">" + old + "</div>",
      "<p>a<![CDATA[x]]></p><div class=\"gmail_quote\">" + old + "</div>",
      std::string("<p>a\0b</p><div class=\"gmail_quote\">", 36) + old + "</div>",
  };
  for (const std::string& html : cases)
    EXPECT_FALSE(same_as_whole_parse(html)) << "taken: " << html.substr(0, 200);
}

// A tag that shows a mark but that the parse keeps (no quote class; "cite" in a link): the skip
// is not confirmed, so the whole document is parsed and nothing is lost.
TEST(ReplyFastPath, AContainerTheParseKeepsIsNotSkipped) {
  const std::string old = history();
  for (const std::string& html :
       {"<div title=\"gmail_quote\">kept " + old + "</div>",
        "<div data-x=\"https://cite.example\">kept " + old + "</div><blockquote>b</blockquote>",
        "<div class=\"gmail_quote_like\">kept " + old + "</div>"}) {
    EXPECT_FALSE(same_as_whole_parse(html)) << html.substr(0, 100);
    EXPECT_NE(extract_reply_html(html).html.find("Old line 199"), std::string::npos);
  }
}

// may_hold_history's one-pass search (16 bytes at a time with SSE2): every mark, in upper or
// lower case, at every position relative to a 16-byte block and at the very end; plain text
// without marks is not flagged.
TEST(ReplyFastPath, HistoryMarksAreFoundAnywhereInAnyCase) {
  const std::string filler = "Plain text, no marks: mail bridge queue webhook durable <b>x</b> ";
  EXPECT_FALSE(may_hold_history(filler + filler + filler));
  for (std::string mark :
       {"quote", "gmail_", "moz-", "rplyfwd", "reference-message", "zwchr", "outlookmessageheader",
        "border-top", "--", "forwarded message", "weitergeleiteten", "réexpédié", "reenviado",
        "inoltrato", "doorgestuurd", "переадресованного"}) {
    std::string upper = mark;
    for (char& c : upper)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    for (size_t at = 0; at < 40; ++at) {
      std::string head = filler.substr(0, at);
      EXPECT_TRUE(may_hold_history(head + mark + filler)) << mark << " at " << at;
      EXPECT_TRUE(may_hold_history(head + upper + filler)) << upper << " at " << at;
      EXPECT_TRUE(may_hold_history(filler + head + mark)) << mark << " at the end";
    }
    std::string broken = mark;
    broken.insert(broken.size() / 2, 1, '#');  // no longer the mark ("--" stays one, split)
    if (mark != "--") {
      EXPECT_FALSE(may_hold_history(filler + broken + filler)) << broken;
    }
  }
}

}  // namespace
}  // namespace delivery
