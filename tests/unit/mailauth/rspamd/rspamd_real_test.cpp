// check_rspamd against a real rspamd (Debian's rspamd 3.4, started by tests/e2e/rspamd_server.py
// with a config of the test's own): GTUBE is rejected, a clean message passes with its score and
// symbols, the envelope reaches rspamd, a stopped rspamd is "unreachable", calls from many threads.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "mailauth/rspamd.h"
#include "rspamd_process.h"

namespace {

using spam_test::RspamdProcess;

// The GTUBE test string (rspamd answers it with action "reject", score = required score).
constexpr const char* kGtube =
    "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

std::string message(const std::string& body, const std::string& subject = "lunch") {
  return "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: " + subject +
         "\r\nMessage-ID: <t1@example.com>\r\nDate: Mon, 07 Dec 2026 17:00:00 +0000\r\n"
         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
         body + "\r\n";
}

mailauth::SpamRequest envelope(const std::string& text) {
  mailauth::SpamRequest request;
  request.message = text;
  request.client_ip = "192.0.2.1";
  request.helo = "mx.example.com";
  request.mail_from = "alice@example.com";
  request.hostname = "bridge.test";
  request.queue_id = "0c6b6a4e-0000-4000-8000-000000000001";
  request.rcpt_to = {"bob@example.org"};
  return request;
}

bool has_symbol(const mailauth::SpamVerdict& verdict, const std::string& name) {
  return std::any_of(verdict.symbols.begin(), verdict.symbols.end(),
                     [&](const mailauth::SpamSymbol& s) { return s.name == name; });
}

class RspamdReal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!spam_test::rspamd_installed())
      GTEST_SKIP() << "/usr/bin/rspamd is not installed (scripts/setup installs Debian's rspamd)";
    std::string error;
    ASSERT_TRUE(rspamd_.start(error)) << "rspamd did not start: " << error;
    options_.url = rspamd_.url();
    options_.timeout = std::chrono::seconds(20);  // a scan is milliseconds; generous for CI
  }
  RspamdProcess rspamd_;
  mailauth::RspamdOptions options_;
};

TEST_F(RspamdReal, GtubeIsRejected) {
  std::string text = message("Buy now.\r\n" + std::string(kGtube), "offer");
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(options_, envelope(text));
  ASSERT_EQ(verdict.status, "scanned") << verdict.reason;
  EXPECT_EQ(verdict.action, "reject");
  EXPECT_GT(verdict.required_score, 0);
  EXPECT_GE(verdict.score, verdict.required_score);
  EXPECT_TRUE(has_symbol(verdict, "GTUBE"));
  EXPECT_TRUE(verdict.reason.empty());
}

TEST_F(RspamdReal, GtubeFromAnAuthenticatedUserIsRejectedToo) {
  std::string text = message(kGtube, "offer");
  mailauth::SpamRequest request = envelope(text);
  request.user = "alice";
  request.client_ip = "127.0.0.1";
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(options_, request);
  ASSERT_EQ(verdict.status, "scanned") << verdict.reason;
  EXPECT_EQ(verdict.action, "reject");
}

TEST_F(RspamdReal, CleanMessagePassesWithScoreAndSymbols) {
  std::string text = message("Shall we have lunch tomorrow at noon?");
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(options_, envelope(text));
  ASSERT_EQ(verdict.status, "scanned") << verdict.reason;
  EXPECT_EQ(verdict.action, "no action");
  EXPECT_EQ(verdict.required_score, 15);  // the packaged actions.conf: reject = 15
  EXPECT_LT(verdict.score, verdict.required_score);
  EXPECT_FALSE(verdict.symbols.empty());
  // Symbols that only fire when the envelope arrived: From and Rcpt headers got through.
  EXPECT_TRUE(has_symbol(verdict, "FROM_EQ_ENVFROM"));
  EXPECT_TRUE(has_symbol(verdict, "TO_MATCH_ENVRCPT_ALL"));
  EXPECT_FALSE(has_symbol(verdict, "GTUBE"));
}

TEST_F(RspamdReal, StoppedRspamdIsUnreachable) {
  std::string text = message("Still there?");
  ASSERT_EQ(mailauth::check_rspamd(options_, envelope(text)).status, "scanned");
  rspamd_.stop();
  auto started = std::chrono::steady_clock::now();
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(options_, envelope(text));
  EXPECT_EQ(verdict.status, "unavailable");
  EXPECT_EQ(verdict.reason, "unreachable");
  EXPECT_TRUE(verdict.action.empty());
  EXPECT_TRUE(verdict.symbols.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, options_.timeout);  // refused, not waited
}

TEST_F(RspamdReal, CallsFromManyThreadsAtOnce) {
  std::string spam = message(kGtube, "offer");
  std::string ham = message("See you at the meeting.");
  constexpr int kThreads = 8, kCalls = 6;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        bool is_spam = (t + i) % 2 == 0;
        mailauth::SpamVerdict verdict =
            mailauth::check_rspamd(options_, envelope(is_spam ? spam : ham));
        std::string want = is_spam ? "reject" : "no action";
        if (verdict.status != "scanned" || verdict.action != want)
          failures[t] += verdict.status + "/" + verdict.reason + "/" + verdict.action + " ";
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

}  // namespace
