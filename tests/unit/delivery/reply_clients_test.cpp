// Reply extraction (src/delivery/reply_text.h) on messages written the way each mail client writes
// a reply (plain and HTML): Gmail, Outlook desktop, Outlook on the web / new Outlook, Apple Mail
// (iOS and macOS), Thunderbird, Yahoo, and attribution lines in French, German, Russian, Spanish,
// Italian, Dutch. Each has the exact text and signature a receiver should get; the agreement is
// counted and printed. Then bad input (invalid UTF-8, deep nesting, huge lines) and the throughput.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>

#include "delivery/reply_html_scan.h"
#include "delivery/reply_text.h"
#include "mime/message.h"

namespace delivery {
namespace {

struct Case {
  const char* name;
  bool html;
  std::string input;
  std::string text, signature;
  std::vector<std::string> html_keeps, html_drops;  // what the stripped HTML holds / lost
};

const std::string kQuote = "Can we meet on Tuesday?";

std::vector<Case> plain_cases() {
  return {
      {"gmail plain, wrapped attribution",
       false,
       "Thanks, that works for me.\n\nOn Mon, Dec 7, 2026 at 8:47 PM Johnathan Doe-Smithson "
       "<johnathan.doe@example.com>\nwrote:\n\n> Can we meet on Tuesday?\n>\n> --\n> John\n",
       "Thanks, that works for me.",
       "",
       {},
       {}},
      {"gmail plain, signature above the quote",
       false,
       "Thanks, that works for me.\r\n\r\n-- \r\nJane Roe\r\nSupport Lead\r\n\r\nOn Mon, Dec 7, "
       "2026 at 8:47 PM John Doe <john@example.com> wrote:\r\n\r\n> Can we meet on Tuesday?\r\n",
       "Thanks, that works for me.",
       "-- \nJane Roe\nSupport Lead",
       {},
       {}},
      {"outlook desktop plain, From/Sent block",
       false,
       "Yes, Tuesday at 10 works.\n\nRegards,\nJane\n\nFrom: John Doe <john@example.com>\nSent: "
       "Monday, December 7, 2026 8:47 PM\nTo: Jane Roe <jane@example.com>\nSubject: Meeting\n\n"
       "Can we meet on Tuesday?\n",
       "Yes, Tuesday at 10 works.\n\nRegards,\nJane",
       "",
       {},
       {}},
      {"outlook plain, -----Original Message-----",
       false,
       "Yes.\n\n-----Original Message-----\nFrom: John Doe [mailto:john@example.com]\nSent: "
       "Monday, December 7, 2026 8:47 PM\nTo: Jane Roe\nSubject: Meeting\n\nCan we meet?\n",
       "Yes.",
       "",
       {},
       {}},
      {"outlook on the web plain, underscores and Get Outlook",
       false,
       "Yes, Tuesday at 10 works.\n\nJane Roe\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n"
       "________________________________\nFrom: John Doe <john@example.com>\nSent: Monday, "
       "December 7, 2026 8:47:12 PM\nTo: Jane Roe <jane@example.com>\nSubject: Meeting\n\n"
       "Can we meet on Tuesday?\n",
       "Yes, Tuesday at 10 works.\n\nJane Roe",
       "Get Outlook for iOS<https://aka.ms/o0ukef>",
       {},
       {}},
      {"apple mail ios plain",
       false,
       "Sounds good!\n\nSent from my iPhone\n\n> On Dec 7, 2026, at 20:47, John Doe "
       "<john@example.com> wrote:\n> \n> Can we meet on Tuesday?\n",
       "Sounds good!",
       "Sent from my iPhone",
       {},
       {}},
      {"apple mail macos plain",
       false,
       "Sounds good, see you then.\n\nJane\n\n> On 7 Dec 2026, at 20:47, John Doe "
       "<john@example.com> wrote:\n> \n> Can we meet on Tuesday?\n",
       "Sounds good, see you then.\n\nJane",
       "",
       {},
       {}},
      {"thunderbird plain, bottom-posted",
       false,
       "On 07/12/2026 20:47, John Doe wrote:\n> Can we meet on Tuesday?\n\nTuesday works.\n\n-- "
       "\nJane Roe\n",
       "Tuesday works.",
       "-- \nJane Roe",
       {},
       {}},
      {"mail for windows",
       false,
       "Ok.\n\nSent from Mail for Windows 10\n\nFrom: John Doe\nSent: "
       "Monday, December 7, 2026 20:47\nTo: Jane Roe\nSubject: Meeting\n\nCan we meet?\n",
       "Ok.",
       "Sent from Mail for Windows 10",
       {},
       {}},
      {"french gmail",
       false,
       "Merci, mardi me convient.\n\nLe lun. 7 déc. 2026 à 20:47, Jean Dupont <jean@example.fr> "
       "a écrit :\n\n> Pouvons-nous nous voir mardi ?\n",
       "Merci, mardi me convient.",
       "",
       {},
       {}},
      {"french outlook and iphone",
       false,
       "D'accord.\n\nEnvoyé de mon iPhone\n\nDe : Jean Dupont <jean@example.fr>\nEnvoyé : lundi 7 "
       "décembre 2026 20:47\nÀ : Marie Curie <marie@example.fr>\nObjet : Réunion\n\nMardi ?\n",
       "D'accord.",
       "Envoyé de mon iPhone",
       {},
       {}},
      {"german thunderbird",
       false,
       "Am 07.12.26 um 20:47 schrieb Hans Müller:\n> Können wir uns am Dienstag treffen?\n\n"
       "Dienstag passt.\n\n-- \nGrüße\nAnna\n",
       "Dienstag passt.",
       "-- \nGrüße\nAnna",
       {},
       {}},
      {"german gmail, wrapped",
       false,
       "Gerne.\n\nAm Mo., 7. Dez. 2026 um 20:47 Uhr schrieb Hans Müller <\nhans@example.de>:\n\n> "
       "Treffen?\n",
       "Gerne.",
       "",
       {},
       {}},
      {"german outlook",
       false,
       "Passt.\n\nVon meinem iPhone gesendet\n\nVon: Hans Müller <hans@example.de>\nGesendet: "
       "Montag, 7. Dezember 2026 20:47\nAn: Anna Schmidt <anna@example.de>\nBetreff: Treffen\n\n"
       "Dienstag?\n",
       "Passt.",
       "Von meinem iPhone gesendet",
       {},
       {}},
      {"russian apple mail",
       false,
       "Да, подходит.\n\n7 дек. 2026 г., в 20:47, Иван Иванов <ivan@example.ru> написал(а):\n\n> "
       "Встретимся во вторник?\n",
       "Да, подходит.",
       "",
       {},
       {}},
      {"russian gmail, no verb",
       false,
       "Хорошо.\n\nпн, 7 дек. 2026 г. в 20:47, Иван Иванов <ivan@example.ru>:\n\n> Во вторник?\n",
       "Хорошо.",
       "",
       {},
       {}},
      {"russian thunderbird and outlook",
       false,
       "Согласен.\n\n07.12.2026 20:47, Иван Иванов пишет:\n> Во вторник?\n",
       "Согласен.",
       "",
       {},
       {}},
      {"russian outlook",
       false,
       "Да.\n\nОт: Иван Иванов <ivan@example.ru>\nОтправлено: 7 декабря 2026 г. 20:47\nКому: "
       "Анна\nТема: Встреча\n\nВо вторник?\n",
       "Да.",
       "",
       {},
       {}},
      {"spanish gmail and iphone",
       false,
       "Perfecto.\n\nEnviado desde mi iPhone\n\nEl lun, 7 dic 2026 a las 20:47, Juan Pérez "
       "(<juan@example.es>) escribió:\n\n> ¿Nos vemos el martes?\n",
       "Perfecto.",
       "Enviado desde mi iPhone",
       {},
       {}},
      {"italian gmail",
       false,
       "Va bene.\n\nIl giorno lun 7 dic 2026 alle ore 20:47 Mario Rossi <mario@example.it> ha "
       "scritto:\n\n> Martedì?\n",
       "Va bene.",
       "",
       {},
       {}},
      {"portuguese gmail",
       false,
       "Combinado.\n\nEm seg., 7 de dez. de 2026 às 20:47, João Silva <joao@example.com.br> "
       "escreveu:\n\n> Terça?\n",
       "Combinado.",
       "",
       {},
       {}},
      {"polish gmail",
       false,
       "Dobrze.\n\npon., 7 gru 2026 o 20:47 Jan Kowalski <jan@example.pl> napisał(a):\n\n> "
       "Wtorek?\n",
       "Dobrze.",
       "",
       {},
       {}},
      {"swedish gmail",
       false,
       "Bra.\n\nDen mån 7 dec. 2026 kl 20:47 skrev Sven Svensson <sven@example.se>:\n\n> "
       "Tisdag?\n",
       "Bra.",
       "",
       {},
       {}},
      {"japanese gmail, no verb",
       false,
       "了解です。\n\n2026年12月7日(月) 20:47 山田太郎 <taro@example.jp>:\n\n> 火曜日は？\n",
       "了解です。",
       "",
       {},
       {}},
      {"chinese gmail, fullwidth colon",
       false,
       "好的。\n\n张三 <zhang@example.cn> 于2026年12月7日周一 20:47写道：\n\n> 周二可以吗？\n",
       "好的。",
       "",
       {},
       {}},
      {"dutch gmail",
       false,
       "Prima.\n\nOp ma 7 dec 2026 om 20:47 schreef Jan Jansen <jan@example.nl>:\n\n> Dinsdag?\n",
       "Prima.",
       "",
       {},
       {}},
  };
}

std::vector<Case> html_cases() {
  return {
      {"gmail html",
       true,
       R"(<div dir="ltr">Thanks, that works for me.<div><br></div><div>Jane</div><div><br></div><span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature"><div dir="ltr">Jane Roe<div>Support Lead</div></div></div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Mon, Dec 7, 2026 at 8:47 PM John Doe &lt;<a href="mailto:john@example.com">john@example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div dir="ltr">Can we meet on Tuesday?</div></blockquote></div>)",
       "Thanks, that works for me.\n\nJane",
       "--\nJane Roe\nSupport Lead",
       {"Thanks, that works for me.", "gmail_signature"},
       {"gmail_quote", "wrote:", kQuote}},
      {"outlook desktop html (border-top From block)",
       true,
       R"(<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><style>p.MsoNormal{margin:0cm;}</style></head><body lang="EN-US"><div class="WordSection1"><p class="MsoNormal">Yes, Tuesday at 10 works.<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Jane<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> John Doe &lt;john@example.com&gt; <br><b>Sent:</b> Monday, December 7, 2026 8:47 PM<br><b>To:</b> Jane Roe &lt;jane@example.com&gt;<br><b>Subject:</b> Meeting<o:p></o:p></p></div></div><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Can we meet on Tuesday?<o:p></o:p></p></div></body></html>)",
       "Yes, Tuesday at 10 works.\n\nJane",
       "",
       {"<html", "<style>", "Yes, Tuesday at 10 works."},
       {"From:", "border-top", kQuote}},
      {"outlook on the web html (divRplyFwdMsg)",
       true,
       R"(<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body><div class="elementToProof" style="font-family: Aptos, sans-serif; font-size: 12pt;">Yes, Tuesday at 10 works.</div><div class="elementToProof"><br></div><div id="Signature"><div>Jane Roe</div></div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000"><b>From:</b> John Doe &lt;john@example.com&gt;<br><b>Sent:</b> Monday, December 7, 2026 8:47 PM<br><b>To:</b> Jane Roe &lt;jane@example.com&gt;<br><b>Subject:</b> Meeting</font><div>&nbsp;</div></div><div><div dir="ltr">Can we meet on Tuesday?</div></div></body></html>)",
       "Yes, Tuesday at 10 works.\n\nJane Roe",
       "",
       {"Yes, Tuesday at 10 works.", "Jane Roe"},
       {"<hr", "divRplyFwdMsg", "From:", kQuote}},
      {"apple mail ios html",
       true,
       R"(<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body dir="auto"><div dir="ltr">Sounds good!</div><div dir="ltr"><br></div><div dir="ltr">Sent from my iPhone</div><div dir="ltr"><br><blockquote type="cite">On Dec 7, 2026, at 20:47, John Doe &lt;john@example.com&gt; wrote:<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">Can we meet on Tuesday?</div></blockquote></body></html>)",
       "Sounds good!",
       "Sent from my iPhone",
       {"Sounds good!", "Sent from my iPhone"},
       {"blockquote", "wrote:", kQuote}},
      {"apple mail macos html",
       true,
       R"(<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">Sounds good, see you then.<div><br></div><div>Jane</div><div><br><div><div>On 7 Dec 2026, at 20:47, John Doe &lt;john@example.com&gt; wrote:</div><br class="Apple-interchange-newline"><blockquote type="cite"><div>Can we meet on Tuesday?</div></blockquote></div><br></div></body></html>)",
       "Sounds good, see you then.\n\nJane",
       "",
       {"Sounds good, see you then."},
       {"blockquote", "wrote:", "Apple-interchange-newline", kQuote}},
      {"thunderbird html",
       true,
       "<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv=\"Content-Type\" "
       "content=\"text/html; charset=UTF-8\">\n  </head>\n  <body>\n    <div "
       "class=\"moz-cite-prefix\">On 07/12/2026 20:47, John Doe wrote:<br>\n    </div>\n    "
       "<blockquote type=\"cite\" cite=\"mid:1234@example.com\">\n      <div>Can we meet on "
       "Tuesday?</div>\n    </blockquote>\n    <p>Tuesday works.</p>\n    <div "
       "class=\"moz-signature\">-- <br>\n      Jane Roe</div>\n  </body>\n</html>\n",
       "Tuesday works.",
       "--\nJane Roe",
       {"<p>Tuesday works.</p>", "moz-signature"},
       {"moz-cite-prefix", "blockquote", kQuote}},
      {"yahoo html",
       true,
       R"(<html><head></head><body><div class="ydp1a2b3c4dyahoo-style-wrap"><div dir="ltr" data-setdir="false">Tuesday is fine.</div></div><div id="ydp5e6f7a8byahoo_quoted_1234567890" class="ydp5e6f7a8byahoo_quoted"><div style="font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;font-size:13px;color:#26282a;"><div>On Monday, December 7, 2026 at 08:47:12 PM GMT+1, John Doe &lt;john@example.com&gt; wrote:</div><div><br></div><div><div dir="ltr">Can we meet on Tuesday?</div></div></div></div></body></html>)",
       "Tuesday is fine.",
       "",
       {"Tuesday is fine."},
       {"yahoo_quoted", "wrote:", kQuote}},
      {"outlook 2003 html (OutlookMessageHeader)",
       true,
       "<div><font face=Arial size=2>Sure.</font></div><div class=OutlookMessageHeader dir=ltr "
       "align=left><font face=Tahoma size=2>-----Original Message-----<br><b>From:</b> John Doe "
       "[mailto:john@example.com]<br><b>Sent:</b> Monday, December 07, 2026 8:47 PM<br><b>To:</b> "
       "Jane Roe<br><b>Subject:</b> Meeting<br></font><br></div><div>Can we meet on "
       "Tuesday?</div>",
       "Sure.",
       "",
       {"Sure."},
       {"Original", "From:", kQuote}},
      {"outlook html, -----Original Message----- as text",
       true,
       "<p>Sure.</p><p><span>-----Original Message-----</span><br>From: John Doe<br>Sent: Monday"
       "</p><p>Can we meet on Tuesday?</p>",
       "Sure.",
       "",
       {"<p>Sure.</p>"},
       {"Original", "From:", kQuote}},
      {"apple mail inline reply, attribution as a text run",
       true,
       "<div>Answers below.</div>On Dec 7, 2026, at 20:47, John Doe &lt;john@example.com&gt; "
       "wrote:<br><br><blockquote type=\"cite\">Question one?</blockquote>Yes.<blockquote "
       "type=\"cite\">Question two?</blockquote><div>No.</div>",
       "Answers below.\nYes.\nNo.",
       "",
       {"<div>Answers below.</div>", "Yes.", "<div>No.</div>"},
       {"wrote", "Question", "blockquote"}},
      {"a grey-bordered div that is no reply header",
       true,
       "<div style=\"border-top:solid #E1E1E1 1.0pt\">Totals: 42</div><p>after</p>",
       "Totals: 42\nafter",
       "",
       {"Totals: 42", "<p>after</p>"},
       {}},
      {"html fragment, entities",
       true,
       "<p>caf\xC3\xA9 &amp; &lt;b&gt; \xE2\x82\xAC</p>",
       "café & <b> €",
       "",
       {"<p>café &amp; &lt;b&gt; €</p>"},
       {"<html", "<body"}},
  };
}

// Prints each mismatch; returns whether the case agrees.
bool agrees(const Case& c) {
  Reply reply;
  std::string html;
  if (c.html) {
    HtmlReply r = extract_reply_html(c.input);
    reply = r.text;
    html = r.html;
  } else {
    reply = extract_reply_text(c.input);
  }
  bool ok = true;
  auto expect = [&](bool good, const std::string& what) {
    if (!good) ADD_FAILURE() << c.name << ": " << what;
    ok = ok && good;
  };
  expect(reply.text == c.text, "text [" + reply.text + "] != [" + c.text + "]");
  expect(reply.signature == c.signature,
         "signature [" + reply.signature + "] != [" + c.signature + "]");
  for (const auto& keep : c.html_keeps)
    expect(html.find(keep) != html.npos, "html lost " + keep + ": " + html);
  for (const auto& drop : c.html_drops)
    expect(html.find(drop) == html.npos, "html kept " + drop + ": " + html);
  return ok;
}

TEST(ReplyClients, EachClientsReplyGivesItsNewText) {
  int agreed = 0, total = 0;
  for (const auto& list : {plain_cases(), html_cases()})
    for (const auto& c : list) {
      ++total;
      agreed += agrees(c);
    }
  std::cout << "per-client replies: " << agreed << "/" << total << " agree\n";
  RecordProperty("agreement", std::to_string(agreed) + "/" + std::to_string(total));
}

// The fast path (extract_reply_html without text, for messages with a text body) skips only
// HTML that has no history: every client's HTML with history is seen as such, and what it skips
// comes back exactly as the parse would give it.
TEST(ReplyClients, FastPathSkipsOnlyHtmlWithoutHistory) {
  for (const auto& c : html_cases()) {
    HtmlReply full = extract_reply_html(c.input);
    HtmlReply fast = extract_reply_html(c.input, /*with_text=*/false);
    if (full.html != c.input) {
      EXPECT_TRUE(may_hold_history(c.input)) << c.name;
    }
    EXPECT_EQ(fast.html, full.html) << c.name;
  }
  std::string plain = "<div dir=\"ltr\"><p>Ship it on <b>Monday</b>: all set.</p></div>";
  EXPECT_FALSE(may_hold_history(plain));
  EXPECT_EQ(extract_reply_html(plain, false).html, plain);
  EXPECT_EQ(extract_reply_html(plain, false).text.text, "");
  for (const char* marked :
       {"<div class=\"GMAIL_QUOTE\">x</div>", "<blockquote type=cite>x</blockquote>",
        "<p>-----Original Message-----</p>", "<p>Begin forwarded message:</p>",
        "<div style=\"border:none;border-top:solid #E1E1E1 1.0pt\">From: a</div>", "<!-- c -->"})
    EXPECT_TRUE(may_hold_history(marked)) << marked;
}

// Every client's HTML gives the same with the fast path (reply_html_scan.h) as with a parse of
// the whole document; how many took it is printed.
TEST(ReplyClients, FastPathGivesWhatTheWholeParseGives) {
  int taken = 0, total = 0;
  for (const auto& c : html_cases()) {
    HtmlReply fast = parse_reply_html(c.input, true), whole = parse_reply_html(c.input, false);
    EXPECT_EQ(fast.html, whole.html) << c.name;
    EXPECT_EQ(fast.text.text, whole.text.text) << c.name;
    EXPECT_EQ(fast.text.signature, whole.text.signature) << c.name;
    ++total;
    taken += reply::fast_path_taken(c.input);
  }
  std::cout << "per-client HTML on the fast path: " << taken << "/" << total << "\n";
}

TEST(ReplyClients, TextWithoutHistoryIsLeftWhole) {
  std::string body = "Hello,\n\nOn Monday we ship.\nFrom: the team\n\nThanks";
  EXPECT_EQ(extract_reply_text(body).text, body);
  EXPECT_EQ(extract_reply_text("").text, "");
  EXPECT_EQ(extract_reply_html("").html, "");
  // Markers in running text: a "wrote:" line with no quote below and no date, a "--" line with
  // more than a signature's worth below it, "Sent from my" in a sentence.
  std::string prose = "Here is what the manager wrote:\n\nShip it.\n\n--\n";
  for (int i = 0; i < 20; ++i) prose += "point " + std::to_string(i) + "\n";
  prose += "Sent from my phone, as you know, works badly.";
  EXPECT_EQ(extract_reply_text(prose).text, prose);
  EXPECT_EQ(extract_reply_text(prose).signature, "");
  // Gmail's forward: the note above it is the new text.
  EXPECT_EQ(extract_reply_text("FYI, see below.\n\n---------- Forwarded message ---------\nFrom: "
                               "John <john@example.com>\nDate: Mon, Dec 7, 2026\n\nOld text\n")
                .text,
            "FYI, see below.");
  // A quote a reader wrote inline is dropped, the text on each side joined by one blank line.
  EXPECT_EQ(extract_reply_text("> a\nb\n\n\n> c\n\n\nd\n").text, "b\n\nd");
}

TEST(ReplyClients, BadInputGivesValidUtf8) {
  std::string bad = "caf\xE9 \xFF\xFE\n\n-- \nsig\xC3";
  Reply reply = extract_reply_text(bad);
  EXPECT_TRUE(mime::is_valid_utf8(reply.text));
  EXPECT_TRUE(mime::is_valid_utf8(reply.signature));
  EXPECT_EQ(reply.text, "caf\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD");
  HtmlReply html = extract_reply_html("<p>" + bad + "</p>");
  EXPECT_TRUE(mime::is_valid_utf8(html.html));
  EXPECT_TRUE(mime::is_valid_utf8(html.text.text));
}

// 100 000 nested elements: the parser's events are handled without recursion (ASan's stack would
// catch one) and the open elements cost a few bytes each.
TEST(ReplyClients, DeepNestingIsBounded) {
  std::string html;
  for (int i = 0; i < 100000; ++i) html += "<div>";
  html += "new text<blockquote type=\"cite\">old</blockquote>";
  HtmlReply reply = extract_reply_html(html);
  EXPECT_EQ(reply.text.text, "new text");
  EXPECT_EQ(reply.html.find("old"), std::string::npos);
  EXPECT_LE(reply.html.size(), 8 * html.size());
}

// An Outlook-bordered div waits for its text to show "From:": with 400 000 line breaks and text
// events in it, each look stays bounded (it once read all the text so far: quadratic, minutes).
TEST(ReplyClients, BorderedDivFullOfLineBreaksStaysLinear) {
  std::string html = "<div style=\"border-top:solid #E1E1E1 1.0pt\">";
  while (html.size() < 2'000'000) html += "<br> ";
  html += "</div><blockquote type=\"cite\">old</blockquote>";
  auto start = std::chrono::steady_clock::now();
  HtmlReply reply = extract_reply_html(html);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(reply.html.find("old"), std::string::npos);
}

// Throughput on a ~1 MB reply (reported, not asserted: CI runs under sanitizers).
TEST(ReplyClients, ThroughputReport) {
  std::string text, html = "<html><body>";
  while (text.size() < 1'000'000) {
    text +=
        "Thanks for the numbers, the second table looks right to me now.\n"
        "Can you send the final version on Friday?\n\n";
    html +=
        "<div dir=\"ltr\">Thanks for the numbers, the second table looks right to me now."
        "<div>Can you send the final version on Friday?</div><div><br></div></div>";
  }
  text += "-- \nJane\n\nOn Mon, Dec 7, 2026 at 8:47 PM John <john@example.com> wrote:\n";
  for (int i = 0; i < 2000; ++i) text += "> quoted history line of a typical length here\n";
  html +=
      "<div class=\"gmail_quote\"><blockquote class=\"gmail_quote\">old</blockquote></div>"
      "</body></html>";
  auto rate = [](size_t bytes, auto&& run) {
    auto start = std::chrono::steady_clock::now();
    int rounds = 0;
    do {
      run();
      ++rounds;
    } while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return bytes * rounds / seconds / 1e6;
  };
  double text_rate =
      rate(text.size(), [&] { EXPECT_FALSE(extract_reply_text(text).text.empty()); });
  double html_rate =
      rate(html.size(), [&] { EXPECT_FALSE(extract_reply_html(html).html.empty()); });
  std::cout << "extract_reply_text: " << text_rate << " MB/s on " << text.size() << " bytes\n"
            << "extract_reply_html: " << html_rate << " MB/s on " << html.size() << " bytes\n";
  RecordProperty("text_mb_per_s", std::to_string(text_rate));
  RecordProperty("html_mb_per_s", std::to_string(html_rate));
}

}  // namespace
}  // namespace delivery
