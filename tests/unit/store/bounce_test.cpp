// Bounces in the Store on both backends (issue 14, README "Bounces"): the claim's recipient
// positions (the VERP return path names them), each recipient's status history (every attempt's
// outcome, every DSN), and record_bounce: the recipient `bounced`, its history, the
// message.bounced event rows and the suppression of a hard bounce, in one transaction.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::RecipientOutcome;
using store::RecipientResult;
using store::Status;

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

store::OutboundMessage make_outbound(std::vector<std::string> rcpt_to) {
  store::OutboundMessage message;
  message.id = common::uuid_v7();
  message.created_at_ms = now_ms();
  message.mail_from = "shop@example.com";
  message.rcpt_to = std::move(rcpt_to);
  message.message_id = message.id + "@bridge.test";
  message.data = "Subject: bounces\r\n\r\nHello\r\n";
  message.metadata_json = R"({"order":"B-9"})";
  message.api_key = "shop";
  message.response_json = R"({"id":")" + message.id + R"("})";
  return message;
}

RecipientResult result(const std::string& rcpt, RecipientOutcome outcome, int code,
                       const std::string& enhanced, const std::string& text, int64_t next = 0) {
  RecipientResult r;
  r.rcpt = rcpt;
  r.outcome = outcome;
  r.code = code;
  r.enhanced = enhanced;
  r.text = text;
  r.next_attempt_at_ms = next;
  return r;
}

STORE_TEST_BACKENDS(StoreBounces);

// Positions are the recipients' places in the envelope, not their places in the claim: a later
// claim of the second recipient alone says 1.
TEST_P(StoreBounces, claims_name_each_recipients_position_in_the_message) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org", "b@example.org", "c@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, Status::ok);
  auto jobs = s.db->claim_outbound(10, store_test::kFarFuture);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].rcpt_to, message.rcpt_to);
  EXPECT_EQ(jobs[0].positions, (std::vector<int>{0, 1, 2}));
  int64_t retry_at = now_ms() + 60000;
  s.db->finish_outbound(
      message.id,
      {result("a@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok"),
       result("b@example.org", RecipientOutcome::deferred, 450, "4.2.1", "busy", retry_at),
       result("c@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  auto again = s.db->claim_outbound(10, retry_at);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].rcpt_to, std::vector<std::string>{"b@example.org"});
  EXPECT_EQ(again[0].positions, std::vector<int>{1});
  EXPECT_EQ(again[0].attempts, std::vector<int>{2});
}

}  // namespace
