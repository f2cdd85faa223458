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

// "state code enhanced text inbound_id" per entry, oldest first.
std::vector<std::string> history_of(const store::OutboundRecipientRow& row) {
  std::vector<std::string> out;
  for (const store::RecipientHistory& h : row.history) {
    out.push_back(h.state + " " + std::to_string(h.code) + " " + h.enhanced + " " + h.text + " " +
                  h.inbound_id);
  }
  return out;
}

TEST_P(StoreBounces, each_attempts_outcome_is_kept_in_the_recipients_history_oldest_first) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org", "b@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, Status::ok);
  int64_t before = now_ms();
  ASSERT_EQ(s.db->claim_outbound(10, store_test::kFarFuture).size(), 1u);
  int64_t retry_at = now_ms() + 60000;
  s.db->finish_outbound(message.id, {result("a@example.org", RecipientOutcome::deferred, 451,
                                            "4.3.0", "try later", retry_at)});
  ASSERT_EQ(s.db->claim_outbound(10, retry_at).size(), 1u);
  s.db->finish_outbound(message.id, {result("a@example.org", RecipientOutcome::sent, 250, "2.0.0",
                                            "Ok: queued as 7F3A")});
  // A late finish for a row no longer in flight adds nothing.
  s.db->finish_outbound(message.id,
                        {result("a@example.org", RecipientOutcome::failed, 554, "", "late")});
  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->recipients.size(), 2u);
  EXPECT_EQ(history_of(found->recipients[0]),
            (std::vector<std::string>{"deferred 451 4.3.0 try later ",
                                      "sent 250 2.0.0 Ok: queued as 7F3A "}));
  ASSERT_EQ(found->recipients[0].history.size(), 2u);
  EXPECT_GE(found->recipients[0].history[0].at_ms, before);
  EXPECT_LE(found->recipients[0].history[0].at_ms, found->recipients[0].history[1].at_ms);
  EXPECT_TRUE(found->recipients[1].history.empty());  // still in flight: no outcome yet
  // Retention deletes the history with its message.
  s.db->finish_outbound(message.id,
                        {result("b@example.org", RecipientOutcome::failed, 550, "5.1.1", "no")});
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM outbound_history"), 3);
  EXPECT_EQ(s.db->prune(now_ms() + 1000, now_ms() + 1000), 1u);
  EXPECT_EQ(s.sql_int("SELECT count(*) FROM outbound_history"), 0);
}

// A store of the previous schema version (before the history) opens migrated: its rows are kept,
// with an empty history, and outcomes from then on are recorded.
TEST_P(StoreBounces, a_database_of_the_previous_schema_keeps_its_rows_with_an_empty_history) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org", "b@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(message).status, Status::ok);
  ASSERT_EQ(s.db->claim_outbound(10, store_test::kFarFuture).size(), 1u);
  s.db->finish_outbound(message.id,
                        {result("a@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  s.db->close();
  s.db.reset();
  ASSERT_TRUE(s.sql_exec("DROP TABLE outbound_history"));
  ASSERT_TRUE(s.sql_exec(s.database.postgres() ? "DELETE FROM schema_versions WHERE version = 5"
                                               : "PRAGMA user_version = 10"));
  std::string error;
  s.db = s.database.open(s.options, error);
  ASSERT_NE(s.db, nullptr) << error;
  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->recipients.size(), 2u);
  EXPECT_EQ(found->recipients[0].state, "sent");
  EXPECT_EQ(found->recipients[0].last_text, "Ok");
  EXPECT_TRUE(found->recipients[0].history.empty());
  EXPECT_EQ(found->recipients[1].state, "queued");  // was in flight: queued again at open
  ASSERT_EQ(s.db->claim_outbound(10, store_test::kFarFuture).size(), 1u);
  s.db->finish_outbound(message.id,
                        {result("b@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(history_of(found->recipients[1]), std::vector<std::string>{"sent 250 2.0.0 Ok "});
}

}  // namespace
