// The DATA reader and content checker against SMTP smuggling (SMTP-CASES 1), dot-stuffing and
// line/size limits (SMTP-CASES 3, 4). Every vector is also fed byte by byte and split at every
// position, and must give the same stored bytes, verdict and consumed count.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "smtp/data_reader.h"

namespace smtp {
namespace {

using namespace std::string_literals;

struct ReadResult {
  std::string message;
  Verdict verdict = Verdict::ok;
  uint64_t size = 0;
  size_t consumed = 0;
  bool done = false;
};

// Feeds `chunks` in order, stopping once the reader is done, like a session would.
ReadResult read_chunks(const std::vector<std::string_view>& chunks, const ContentLimits& limits) {
  DataReader reader(limits);
  ReadResult result;
  for (auto chunk : chunks) {
    if (reader.done()) break;
    size_t used = reader.feed(chunk);
    EXPECT_TRUE(used == chunk.size() || reader.done()) << "partial consumption without end of data";
    result.consumed += used;
  }
  result.message = reader.message();
  result.verdict = reader.verdict();
  result.size = reader.size();
  result.done = reader.done();
  return result;
}

void expect_same(const ReadResult& a, const ReadResult& b, const std::string& how) {
  EXPECT_EQ(a.message, b.message) << how;
  EXPECT_EQ(a.verdict, b.verdict) << how;
  EXPECT_EQ(a.size, b.size) << how;
  EXPECT_EQ(a.consumed, b.consumed) << how;
  EXPECT_EQ(a.done, b.done) << how;
}

// Reads `wire` in one piece, then checks that every split point and byte-by-byte feeding agree.
ReadResult read(std::string_view wire, const ContentLimits& limits = {}) {
  ReadResult whole = read_chunks({wire}, limits);
  for (size_t split = 0; split <= wire.size(); ++split) {
    expect_same(read_chunks({wire.substr(0, split), wire.substr(split)}, limits), whole,
                "split at " + std::to_string(split));
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < wire.size(); ++i) bytes.push_back(wire.substr(i, 1));
  expect_same(read_chunks(bytes, limits), whole, "byte by byte");
  return whole;
}

ContentLimits accept_bare() {
  ContentLimits limits;
  limits.reject_bare_line_ends = false;
  return limits;
}

ContentLimits sized(uint64_t max_size, size_t max_line = 1000) {
  ContentLimits limits;
  limits.max_size = max_size;
  limits.max_line = max_line;
  return limits;
}

// --- SMTP smuggling (SMTP-CASES 1) -----------------------------------------------------------

const std::string kPrefix = "Subject: smuggling test\r\n\r\nHello";
const std::string kSmuggled =
    "mail FROM:<smuggled@example.com>\r\nrcpt TO:<b@example.com>\r\ndata\r\n"
    "From: smuggled@example.com\r\n\r\nSMUGGLING WORKS\r\n";
const std::string kAfter = "QUIT\r\n";

struct FakeEnd {
  const char* name;
  std::string wire;    // the fake end-of-data sequence as sent
  std::string stored;  // what it becomes in the message
  bool has_bare_line_end;
};

// SEC inbound (7) + outbound (2) lists and HB's named variants; stored bytes follow RFC 5321
// 4.5.2 (only a dot right after CR LF is stuffing).
const std::vector<FakeEnd> kFakeEnds{
    {"lflf", "\n.\n", "\n.\n", true},
    {"lfcr", "\n.\r", "\n.\r", true},
    {"crlf", "\r.\n", "\r.\n", true},
    {"crcr", "\r.\r", "\r.\r", true},
    {"lfcrlf", "\n.\r\n", "\n.\r\n", true},
    {"crcrlf", "\r.\r\n", "\r.\r\n", true},
    {"nullbefore", "\r\n\x00.\r\n"s, "\r\n\x00.\r\n"s, false},
    {"sec_crlf_dot_crcrlf", "\r\n.\r\r\n", "\r\n\r\r\n", true},
    {"sec_crcrlf_dot_crcrlf", "\r\r\n.\r\r\n", "\r\r\n\r\r\n", true},
    {"crlflf", "\r\n.\n", "\r\n\n", true},
    {"crlfcr", "\r\n.\r", "\r\n\r", true},
    {"nullafter", "\r\n.\x00\r\n"s, "\r\n\x00\r\n"s, false},
};

TEST(DataReaderSmuggling, fake_end_of_data_sequences_never_end_data) {
  for (const auto& fake : kFakeEnds) {
    const std::string wire = kPrefix + fake.wire + kSmuggled + ".\r\n" + kAfter;
    ReadResult result = read(wire, accept_bare());
    EXPECT_TRUE(result.done) << fake.name;
    EXPECT_EQ(result.consumed, wire.size() - kAfter.size()) << fake.name;
    EXPECT_EQ(result.message, kPrefix + fake.stored + kSmuggled) << fake.name;
    EXPECT_EQ(result.verdict, Verdict::ok) << fake.name;
  }
}

TEST(DataReaderSmuggling, fake_end_of_data_with_bare_line_end_is_rejected_after_real_end) {
  for (const auto& fake : kFakeEnds) {
    const std::string wire = kPrefix + fake.wire + kSmuggled + ".\r\n" + kAfter;
    ReadResult result = read(wire);
    EXPECT_TRUE(result.done) << fake.name;
    EXPECT_EQ(result.consumed, wire.size() - kAfter.size()) << fake.name;
    EXPECT_EQ(result.verdict, fake.has_bare_line_end ? Verdict::bare_line_end : Verdict::ok)
        << fake.name;
  }
}

TEST(DataReaderSmuggling, fake_end_at_end_of_input_leaves_data_open) {
  // HB: the tool sends body + fake and waits; the server must still be reading data.
  for (const auto& fake : kFakeEnds) {
    ReadResult result = read("hello" + fake.wire, accept_bare());
    EXPECT_FALSE(result.done) << fake.name;
  }
}

TEST(DataReaderSmuggling, aiosmtpd_vector_is_one_message_containing_no_smuggling) {
  const std::string wire =
      "From: Anne Person <anne@example.com>\r\nTo: Bart Person <bart@example.com>\r\n"
      "Subject: A test\r\nMessage-ID: <ant>\r\n\r\nTesting\n.\r\nNO SMUGGLING\n\r\n.\r\n";
  ReadResult accepted = read(wire, accept_bare());
  EXPECT_TRUE(accepted.done);
  EXPECT_EQ(accepted.consumed, wire.size());
  EXPECT_EQ(accepted.message, wire.substr(0, wire.size() - 3));
  EXPECT_NE(accepted.message.find("NO SMUGGLING"), std::string::npos);
  EXPECT_EQ(accepted.verdict, Verdict::ok);

  ReadResult strict = read(wire);
  EXPECT_TRUE(strict.done);
  EXPECT_EQ(strict.consumed, wire.size());
  EXPECT_EQ(strict.verdict, Verdict::bare_line_end);
}

TEST(DataReaderSmuggling, go_smtp_crlf_dot_lf_is_data) {  // TestServer_smtpSmuggling
  ReadResult result =
      read("Hey\r\nThis line ends in a dot:\r\n.\nFinal dot comes after.\r\n.\r\n", accept_bare());
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.message, "Hey\r\nThis line ends in a dot:\r\n\nFinal dot comes after.\r\n");
}

TEST(DataReaderSmuggling, go_smtp_lf_dot_crlf_is_data) {  // TestServer_smtpSmuggling
  ReadResult result =
      read("Hey\r\nThis line ends in a dot:\n.\r\nFinal dot comes after.\r\n.\r\n", accept_bare());
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.message, "Hey\r\nThis line ends in a dot:\n.\r\nFinal dot comes after.\r\n");
}

TEST(DataReaderSmuggling, bare_lf_dot_never_ends_data) {  // GO TestServer_LFDotLF
  const std::string wire =
      "From: root@nsa.gov\r\n\r\nhey\r\n\n.\nthis is going to break your server\r\n.\r\n";
  ReadResult result = read(wire, accept_bare());
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.consumed, wire.size());
  EXPECT_EQ(result.message,
            "From: root@nsa.gov\r\n\r\nhey\r\n\n.\nthis is going to break your server\r\n");
}

TEST(DataReaderSmuggling, exim_bare_dot_lf_then_commands_stay_in_one_message) {  // EX 0900
  const std::string body = "Subject: test of smuggled smtp\r\n\r\nbody text\r\n";
  const std::string smuggled =
      "mail from:<smuggler@y>\r\nrcpt to:<CALLER@test.ex>\r\nbdat 86 last\r\n"
      "Subject: send me all your money!\r\n\r\nAll your base are belong to us.  Send "
      "Bitcoins.\r\nQUIT\r\n";
  const std::string wire = body + ".\n" + smuggled + ".\r\n" + "QUIT\r\n";
  ReadResult result = read(wire, accept_bare());
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.consumed, wire.size() - 6);
  EXPECT_EQ(result.message, body + "\n" + smuggled);
  EXPECT_EQ(read(wire).verdict, Verdict::bare_line_end);
}

TEST(DataReaderSmuggling, exim_bare_lf_inside_header_is_rejected_or_kept_verbatim) {  // EX 0460
  const std::string wire =
      "Subject: contains >\n< bare lf\r\nFrom: x@y\nBheader: some text\r\n\r\nbody\r\n.\r\n";
  EXPECT_EQ(read(wire).verdict, Verdict::bare_line_end);
  ReadResult kept = read(wire, accept_bare());
  EXPECT_EQ(kept.message, wire.substr(0, wire.size() - 3));
}

TEST(DataReaderSmuggling, pipelined_second_transaction_after_real_end_is_not_consumed) {  // HB
  const std::string first = "Subject: one\r\n\r\nfirst\r\n.\r\n";
  const std::string rest =
      "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nsecond\r\n.\r\n";
  ReadResult result = read(first + rest);
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.consumed, first.size());
  EXPECT_EQ(result.message, "Subject: one\r\n\r\nfirst\r\n");
  EXPECT_EQ(result.verdict, Verdict::ok);
}

// --- Dot-stuffing and the end of data (RFC 5321 4.5.2) -----------------------------------------

TEST(DataReader, immediate_terminator_is_an_empty_message) {
  ReadResult result = read(".\r\n");
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.consumed, 3u);
  EXPECT_EQ(result.message, "");
  EXPECT_EQ(result.size, 0u);
}

TEST(DataReader, stored_message_keeps_final_crlf) {
  ReadResult result = read("line\r\n.\r\n");
  EXPECT_EQ(result.message, "line\r\n");
  EXPECT_EQ(result.size, 6u);
}

TEST(DataReader, aiosmtpd_escaped_dot_line_is_unstuffed) {  // AIO test_dots_escaped
  EXPECT_EQ(read("Test\r\n..\r\nmail\r\n.\r\n").message, "Test\r\n.\r\nmail\r\n");
}

TEST(DataReader, leading_dot_is_removed_from_every_line_per_rfc) {
  // nodemailer's stream test keeps ".test3" (it only unescapes ".."); RFC 5321 4.5.2 deletes the
  // first character of any line that starts with a period, which is what this server does.
  EXPECT_EQ(read("test1\r\n..test2\r\n.test3\r\n.\r\n").message, "test1\r\n.test2\r\ntest3\r\n");
}

TEST(DataReader, stuffed_dot_at_stream_start) {
  EXPECT_EQ(read("..\r\n.\r\n").message, ".\r\n");
  EXPECT_EQ(read(".hidden\r\n.\r\n").message, "hidden\r\n");
}

TEST(DataReader, dot_cr_without_lf_is_stuffing) {
  EXPECT_EQ(read("a\r\n.\rX\r\n.\r\n", accept_bare()).message, "a\r\n\rX\r\n");
  EXPECT_EQ(read("a\r\n.\r\r\n.\r\n", accept_bare()).message, "a\r\n\r\r\n");
}

TEST(DataReader, dots_inside_lines_are_kept) {
  EXPECT_EQ(read("a.b\r\nx.\r\n. \r\n.\r\n").message, "a.b\r\nx.\r\n \r\n");
}

TEST(DataReader, no_bytes_are_consumed_after_done) {
  DataReader reader{ContentLimits{}};
  EXPECT_EQ(reader.feed(".\r\nQUIT\r\n"), 3u);
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.feed("QUIT\r\n"), 0u);
}

TEST(DataReader, empty_feed_consumes_nothing) {
  DataReader reader{ContentLimits{}};
  EXPECT_EQ(reader.feed(""), 0u);
  EXPECT_FALSE(reader.done());
}

TEST(DataReader, nul_bytes_are_data) {
  ReadResult result = read(
      "a\x00"
      "b\r\n\x00\r\n.\r\n"s);
  EXPECT_EQ(result.message,
            "a\x00"
            "b\r\n\x00\r\n"s);
  EXPECT_EQ(result.verdict, Verdict::ok);
}

TEST(DataReader, bare_cr_in_a_line_is_a_bare_line_end) {
  EXPECT_EQ(read("a\rb\r\n.\r\n").verdict, Verdict::bare_line_end);
  EXPECT_EQ(read("a\r\r\n.\r\n").verdict, Verdict::bare_line_end);
  EXPECT_EQ(read("a\rb\r\n.\r\n", accept_bare()).verdict, Verdict::ok);
}

// --- Line and size limits (SMTP-CASES 3) -------------------------------------------------------

TEST(DataReaderLimits, aiosmtpd_data_line_too_long) {
  const std::string line(5555, 'a');
  ReadResult result = read(line + "\r\n" + line + "\r\n" + line + "\r\n.\r\n");
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.verdict, Verdict::line_too_long);
}

TEST(DataReaderLimits, too_long_line_is_reported_only_after_the_terminator) {  // AIO delay_error
  DataReader reader{ContentLimits{}};
  const std::string line = std::string(1004, 'a') + "\r\n";
  EXPECT_EQ(reader.feed(line), line.size());
  EXPECT_FALSE(reader.done());  // no reply yet
  EXPECT_EQ(reader.feed("\r\n.\r\n"), 5u);
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.verdict(), Verdict::line_too_long);
  EXPECT_EQ(read(line + "\r\n.\r\n").verdict, Verdict::line_too_long);
}

TEST(DataReaderLimits, line_of_998_bytes_is_allowed_999_is_not) {  // RFC 5321 4.5.3.1.6
  EXPECT_EQ(read(std::string(998, 'a') + "\r\n.\r\n").verdict, Verdict::ok);
  EXPECT_EQ(read(std::string(999, 'a') + "\r\n.\r\n").verdict, Verdict::line_too_long);
  // The stuffed dot does not count.
  EXPECT_EQ(read("." + std::string(998, 'a') + "\r\n.\r\n").verdict, Verdict::ok);
  EXPECT_EQ(read(std::string(998, 'a') + "\r\n" + std::string(998, 'b') + "\r\n.\r\n").verdict,
            Verdict::ok);
}

TEST(DataReaderLimits, too_much_mail_data_is_reported_after_terminator) {  // AIO, limit 20
  DataReader reader{sized(20)};
  const std::string body = std::string(23, 'a') + "\r\n";
  EXPECT_EQ(reader.feed(body), body.size());
  EXPECT_FALSE(reader.done());
  EXPECT_EQ(reader.feed("\r\n.\r\n"), 5u);
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.verdict(), Verdict::too_big);
  EXPECT_EQ(reader.size(), 27u);
  EXPECT_TRUE(reader.message().empty());  // not kept once too big
}

TEST(DataReaderLimits, go_too_long_message) {  // TestServer_tooLongMessage, MaxMessageBytes 50
  const std::string line = std::string(41, 'x') + "\r\n";
  ReadResult result = read(line + line + line + ".\r\n", sized(50));
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.verdict, Verdict::too_big);
  EXPECT_EQ(result.size, 129u);
}

TEST(DataReaderLimits, size_equal_to_limit_is_allowed) {
  EXPECT_EQ(read("12345678\r\n.\r\n", sized(10)).verdict, Verdict::ok);
  EXPECT_EQ(read("12345678\r\n.\r\n", sized(10)).message, "12345678\r\n");
  EXPECT_EQ(read("123456789\r\n.\r\n", sized(10)).verdict, Verdict::too_big);
}

TEST(DataReaderLimits, too_big_then_too_long_lines_reports_too_big) {  // AIO ordering
  // 10-byte lines fit max_line 10; the size passes 20 before the long line starts.
  const std::string wire = "12345678\r\n12345678\r\n1\r\n" + std::string(50, 'a') + "\r\n.\r\n";
  EXPECT_EQ(read(wire, sized(20, 10)).verdict, Verdict::too_big);
}

TEST(DataReaderLimits, too_long_lines_then_too_big_reports_line_too_long) {  // AIO ordering
  const std::string wire = std::string(50, 'a') + "\r\n" + std::string(50, 'b') + "\r\n.\r\n";
  EXPECT_EQ(read(wire, sized(20, 10)).verdict, Verdict::line_too_long);
}

TEST(DataReaderLimits, first_violation_inside_one_line_wins) {
  const std::string wire = std::string(30, 'a') + "\r\n.\r\n";
  EXPECT_EQ(read(wire, sized(20, 10)).verdict, Verdict::line_too_long);  // byte 9 before byte 21
  EXPECT_EQ(read(wire, sized(5, 10)).verdict, Verdict::too_big);         // byte 6 before byte 9
}

TEST(DataReaderLimits, bare_line_end_before_long_line_wins_and_vice_versa) {
  EXPECT_EQ(read("a\nb" + std::string(50, 'c') + "\r\n.\r\n", sized(1000, 10)).verdict,
            Verdict::bare_line_end);
  EXPECT_EQ(read(std::string(50, 'c') + "\rx\r\n.\r\n", sized(1000, 10)).verdict,
            Verdict::line_too_long);
}

// --- ContentChecker directly (BDAT, SMTP-CASES 4) ----------------------------------------------

Verdict check(const std::vector<std::string_view>& chunks, const ContentLimits& limits = {}) {
  ContentChecker checker(limits);
  for (auto chunk : chunks) checker.feed(chunk);
  checker.finish();
  return checker.verdict();
}

TEST(ContentChecker, go_chunking_two_chunks_are_fine) {
  ContentChecker checker{ContentLimits{}};
  checker.feed("Hey <3\r\n");
  checker.feed("Hey :3\r\n");
  checker.finish();
  EXPECT_EQ(checker.verdict(), Verdict::ok);
  EXPECT_EQ(checker.size(), 16u);
}

TEST(ContentChecker, go_chunking_too_long_message) {  // limit 50: 30 + 96 bytes
  const std::string first(30, 'a'), second(96, 'b');
  EXPECT_EQ(check({first, second}, sized(50)), Verdict::too_big);
}

TEST(ContentChecker, exim_bdat_with_bare_lf_header_is_rejected) {  // EX 0900
  EXPECT_EQ(check({"To: Susan@random.com\nFrom: Sam@random.com\r\n\r\nbody\r\n"}),
            Verdict::bare_line_end);
}

TEST(ContentChecker, body_not_ending_in_crlf_is_accepted) {  // EX 0900 bdat 98 last
  EXPECT_EQ(check({"Subject: x\r\n\r\n", "1234567890"}), Verdict::ok);
}

TEST(ContentChecker, trailing_cr_at_message_end_is_bare) {
  EXPECT_EQ(check({"Subject: x\r\n\r\nbody\r"}), Verdict::bare_line_end);
  EXPECT_EQ(check({"Subject: x\r\n\r\nbody\r", "\n"}), Verdict::ok);
}

TEST(ContentChecker, binarymime_checks_only_size) {
  ContentLimits binary;
  binary.check_lines = false;
  binary.max_size = 100;
  EXPECT_EQ(check({"\x00\n\r\x01"s + std::string(5000, 'z').substr(0, 90)}, binary), Verdict::ok);
  EXPECT_EQ(check({std::string(101, '\n')}, binary), Verdict::too_big);
}

TEST(ContentChecker, any_split_gives_the_same_verdict) {
  const std::vector<std::pair<std::string, Verdict>> cases{
      {"ok line\r\nsecond\r\n", Verdict::ok},
      {"a\r\nb\nc\r\n", Verdict::bare_line_end},
      {"a\r\rb\r\n", Verdict::bare_line_end},
      {std::string(12, 'x') + "\r\n", Verdict::line_too_long},
      {"1234567890\r\n", Verdict::ok},
  };
  for (const auto& [text, verdict] : cases) {
    const std::string_view view(text);
    for (size_t split = 0; split <= text.size(); ++split) {
      EXPECT_EQ(check({view.substr(0, split), view.substr(split)}, sized(1000, 12)), verdict)
          << "split at " << split << " of " << text;
    }
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < view.size(); ++i) bytes.push_back(view.substr(i, 1));
    EXPECT_EQ(check(bytes, sized(1000, 12)), verdict) << "byte by byte: " << text;
  }
}

}  // namespace
}  // namespace smtp
