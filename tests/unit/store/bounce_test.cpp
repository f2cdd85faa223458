// Bounces in the Store on both backends (issue 14, README "Bounces"): the claim's recipient
// positions (the VERP return path names them), each recipient's status history (every attempt's
// outcome, every DSN), and record_bounce: the recipient `bounced`, its history, the
// message.bounced event rows and the suppression of a hard bounce, in one transaction.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::EventRow;
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

// A store whose "all" events endpoint takes every type and "bounces" only message.bounced.
struct Opened : store_test::OpenedStore {
  explicit Opened(store_test::Backend backend) : OpenedStore(backend) {
    options.event_endpoints = {{"all",
                                {"message.queued", "message.sent", "message.deferred",
                                 "message.failed", "message.bounced"}},
                               {"bounces", {"message.bounced"}}};
    reopen();
  }
  // Enqueues the message, claims it and records `results` for it.
  void relay(const store::OutboundMessage& message, const std::vector<RecipientResult>& results) {
    ASSERT_EQ(db->enqueue_outbound_wait(message).status, Status::ok);
    auto jobs = db->claim_outbound(10, store_test::kFarFuture);
    ASSERT_EQ(jobs.size(), 1u);
    ASSERT_EQ(jobs[0].id, message.id);
    if (!results.empty()) db->finish_outbound(message.id, results);
  }
  int64_t count(const std::string& table) const {
    return sql_int("SELECT count(*) FROM " + table).value_or(-1);
  }
};

// What a Postfix DSN for an unknown user says (RFC 3464 2.2, 2.3).
store::Bounce hard_bounce(const std::string& message_id, int position) {
  store::Bounce bounce;
  bounce.message_id = message_id;
  bounce.position = position;
  bounce.at_ms = now_ms();
  bounce.inbound_id = common::uuid_v7();
  bounce.action = "failed";
  bounce.status = "5.1.1";
  bounce.code = 550;
  bounce.diagnostic = "smtp; 550 5.1.1 <gone.user@example.org>: Recipient address rejected";
  bounce.remote_mta = "dns; mx.example.org";
  bounce.reporting_mta = "dns; mail.example.net";
  bounce.final_recipient = "gone.user@example.org";
  return bounce;
}

std::vector<EventRow> of_type(const std::vector<EventRow>& rows, const std::string& type) {
  std::vector<EventRow> out;
  for (const EventRow& row : rows)
    if (row.type == type) out.push_back(row);
  return out;
}

TEST_P(StoreBounces, a_hard_bounce_after_sent_bounces_the_recipient_reports_and_suppresses_it) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"ok@example.org", "Gone.User@Example.org"});
  s.relay(message, {result("ok@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok"),
                    result("Gone.User@Example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  store::Bounce bounce = hard_bounce(message.id, 1);
  store::BounceRecorded recorded = s.db->record_bounce(bounce);
  EXPECT_EQ(recorded.status, Status::ok);
  EXPECT_TRUE(recorded.matched);
  EXPECT_EQ(recorded.rcpt, "Gone.User@Example.org");
  EXPECT_TRUE(recorded.suppressed);

  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->recipients.size(), 2u);
  const auto& row = found->recipients[1];
  EXPECT_EQ(row.state, "bounced");
  EXPECT_EQ(row.last_code, 550);
  EXPECT_EQ(row.last_enhanced, "5.1.1");
  EXPECT_EQ(row.last_text, bounce.diagnostic);
  EXPECT_EQ(history_of(row), (std::vector<std::string>{
                                 "sent 250 2.0.0 Ok ",
                                 "bounced 550 5.1.1 " + bounce.diagnostic + " " + bounce.inbound_id,
                             }));
  EXPECT_EQ(row.history[1].at_ms, bounce.at_ms);
  EXPECT_EQ(found->recipients[0].state, "sent");  // the other recipient is untouched
  EXPECT_EQ(history_of(found->recipients[0]), std::vector<std::string>{"sent 250 2.0.0 Ok "});

  auto suppressions = s.db->list_suppressions("", 10);
  ASSERT_EQ(suppressions.size(), 1u);
  EXPECT_EQ(suppressions[0].address, "gone.user@example.org");
  EXPECT_EQ(suppressions[0].reason, "bounce");
  EXPECT_EQ(suppressions[0].status, "5.1.1");
  EXPECT_EQ(suppressions[0].diagnostic, bounce.diagnostic);
  EXPECT_EQ(suppressions[0].message_id, message.id);
  EXPECT_EQ(suppressions[0].rcpt, "Gone.User@Example.org");

  std::vector<EventRow> events = of_type(s.db->find_events(message.id), "message.bounced");
  ASSERT_EQ(events.size(), 2u);  // "all" and "bounces"
  EXPECT_EQ(events[0].endpoint + " " + events[1].endpoint, "all bounces");
  EXPECT_EQ(events[0].rcpt, "Gone.User@Example.org");
  EXPECT_EQ(events[0].state, "queued");
  nlohmann::json event = nlohmann::json::parse(events[0].payload);
  EXPECT_EQ(event["id"], events[0].id);
  EXPECT_EQ(event["type"], "message.bounced");
  const nlohmann::json& data = event["data"];
  EXPECT_EQ(data["message_id"], message.id);
  EXPECT_EQ(data["api_key"], "shop");
  EXPECT_EQ(data["metadata"], nlohmann::json({{"order", "B-9"}}));
  EXPECT_EQ(data["recipient"], "Gone.User@Example.org");
  EXPECT_EQ(data["bounce"], nlohmann::json({{"action", "failed"},
                                            {"status", "5.1.1"},
                                            {"code", 550},
                                            {"diagnostic_code", bounce.diagnostic},
                                            {"remote_mta", "dns; mx.example.org"},
                                            {"reporting_mta", "dns; mail.example.net"},
                                            {"final_recipient", "gone.user@example.org"},
                                            {"dsn_id", bounce.inbound_id}}));

  // The next send to the address is not relayed.
  auto next = make_outbound({"GONE.user@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(next).status, Status::ok);
  auto stored = s.db->find_outbound(next.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->recipients[0].state, "suppressed");

  // bounced is a state of its own in the stats, and final like failed for retention.
  int64_t bounced = -1;
  for (const auto& [state, count] : s.db->outbound_stats().by_state)
    if (state == "bounced") bounced = static_cast<int64_t>(count);
  EXPECT_EQ(bounced, 1);
  EXPECT_EQ(s.db->prune(now_ms() + 1000, now_ms() + 1000), 2u);
  EXPECT_FALSE(s.db->find_outbound(message.id).has_value());
}

TEST_P(StoreBounces, a_delayed_dsn_only_adds_to_the_history) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"slow@example.org"});
  s.relay(message, {result("slow@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  int64_t events = s.count("event_deliveries");
  store::Bounce bounce = hard_bounce(message.id, 0);
  bounce.action = "delayed";
  bounce.status = "4.4.7";
  bounce.code = 0;
  bounce.diagnostic = "";
  store::BounceRecorded recorded = s.db->record_bounce(bounce);
  EXPECT_EQ(recorded.status, Status::ok);
  EXPECT_TRUE(recorded.matched);
  EXPECT_FALSE(recorded.suppressed);
  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->recipients[0].state, "sent");
  EXPECT_EQ(found->recipients[0].last_code, 250);
  EXPECT_EQ(
      history_of(found->recipients[0]),
      (std::vector<std::string>{"sent 250 2.0.0 Ok ", "delayed 0 4.4.7  " + bounce.inbound_id}));
  EXPECT_EQ(s.count("event_deliveries"), events);
  EXPECT_EQ(s.count("suppressions"), 0);
}

TEST_P(StoreBounces, a_failed_dsn_with_a_4xx_status_bounces_without_suppressing) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"full@example.org"});
  s.relay(message, {result("full@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  store::Bounce bounce = hard_bounce(message.id, 0);
  bounce.status = "4.2.2";  // mailbox full, given up on by the remote MTA
  bounce.code = 0;
  bounce.diagnostic = "";
  bounce.remote_mta = "";
  bounce.reporting_mta = "";
  bounce.final_recipient = "";
  store::BounceRecorded recorded = s.db->record_bounce(bounce);
  EXPECT_EQ(recorded.status, Status::ok);
  EXPECT_TRUE(recorded.matched);
  EXPECT_FALSE(recorded.suppressed);
  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->recipients[0].state, "bounced");
  EXPECT_EQ(found->recipients[0].last_code, 0);
  EXPECT_EQ(found->recipients[0].last_enhanced, "4.2.2");
  EXPECT_EQ(s.count("suppressions"), 0);
  std::vector<EventRow> events = of_type(s.db->find_events(message.id), "message.bounced");
  ASSERT_EQ(events.size(), 2u);
  nlohmann::json data = nlohmann::json::parse(events[0].payload)["data"]["bounce"];
  EXPECT_EQ(data, nlohmann::json({{"action", "failed"},
                                  {"status", "4.2.2"},
                                  {"code", nullptr},
                                  {"diagnostic_code", nullptr},
                                  {"remote_mta", nullptr},
                                  {"reporting_mta", nullptr},
                                  {"final_recipient", nullptr},
                                  {"dsn_id", bounce.inbound_id}}));
}

TEST_P(StoreBounces, a_dsn_for_an_unknown_message_or_position_matches_nothing_and_writes_nothing) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"a@example.org"});
  s.relay(message, {result("a@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  store::Bounce delivered = hard_bounce(message.id, 0);  // the right position matches
  delivered.action = "delivered";
  delivered.status = "2.0.0";
  ASSERT_TRUE(s.db->record_bounce(delivered).matched);
  int64_t history = s.count("outbound_history");
  int64_t events = s.count("event_deliveries");
  for (const store::Bounce& bounce :
       {hard_bounce(common::uuid_v7(), 0), hard_bounce(message.id, 1)}) {
    store::BounceRecorded recorded = s.db->record_bounce(bounce);
    EXPECT_EQ(recorded.status, Status::ok);
    EXPECT_FALSE(recorded.matched);
    EXPECT_FALSE(recorded.suppressed);
    EXPECT_EQ(recorded.rcpt, "");
  }
  EXPECT_EQ(s.count("outbound_history"), history);
  EXPECT_EQ(s.count("event_deliveries"), events);
  EXPECT_EQ(s.count("suppressions"), 0);
  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->recipients[0].state, "sent");
  EXPECT_EQ(found->recipients[0].history.size(), 2u);  // sent, delivered
}

// A DSN for a recipient whose attempt is still running: its state is the attempt's to set.
TEST_P(StoreBounces, a_recipient_in_flight_keeps_its_state_and_the_rest_is_recorded) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"busy@example.org"});
  s.relay(message, {});
  store::BounceRecorded recorded = s.db->record_bounce(hard_bounce(message.id, 0));
  EXPECT_EQ(recorded.status, Status::ok);
  EXPECT_TRUE(recorded.matched);
  EXPECT_TRUE(recorded.suppressed);
  auto found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->recipients[0].state, "in_flight");
  EXPECT_EQ(found->recipients[0].last_code, 0);
  ASSERT_EQ(found->recipients[0].history.size(), 1u);
  EXPECT_EQ(found->recipients[0].history[0].state, "bounced");
  EXPECT_EQ(of_type(s.db->find_events(message.id), "message.bounced").size(), 2u);
  EXPECT_EQ(s.count("suppressions"), 1);
  // The attempt's outcome still lands.
  s.db->finish_outbound(message.id,
                        {result("busy@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  found = s.db->find_outbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->recipients[0].state, "sent");
  ASSERT_EQ(found->recipients[0].history.size(), 2u);
  EXPECT_EQ(found->recipients[0].history[1].state, "sent");
}

}  // namespace

namespace {

// Replay (POST /v1/messages/{id}/events/redeliver): every event row of the message goes back to
// queued, due now, attempts kept; an unknown message is not found.
TEST_P(StoreBounces, redeliver_events_queues_every_event_row_of_the_message_again) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_outbound({"ok@example.org"});
  s.relay(message, {result("ok@example.org", RecipientOutcome::sent, 250, "2.0.0", "Ok")});
  std::vector<EventRow> claimed = s.db->claim_events(10, store_test::kFarFuture);
  ASSERT_FALSE(claimed.empty());
  for (const EventRow& row : claimed)
    s.db->finish_event(row.id, store::DeliveryOutcome::dead, 0, "HTTP 410", row.attempts);
  size_t rows = s.db->find_events(message.id).size();
  store::Redelivery replay = s.db->redeliver_events(message.id, now_ms());
  EXPECT_TRUE(replay.found);
  EXPECT_EQ(replay.deliveries, rows);
  EXPECT_EQ(replay.requeued, rows);  // the dead ones and those waiting behind them
  for (const EventRow& row : s.db->find_events(message.id)) {
    EXPECT_EQ(row.state, "queued") << row.type;
    EXPECT_GE(row.attempts, 0);
  }
  EXPECT_FALSE(s.db->redeliver_events(common::uuid_v7(), now_ms()).found);
}

// route_inbound (the bounce consumer's DSN that matched nothing): rows added to a stored
// message, queued, claimable, under the endpoint names given.
TEST_P(StoreBounces, route_inbound_adds_queued_rows_to_a_stored_message) {
  Opened s(GetParam());
  ASSERT_NE(s.db, nullptr);
  store::InboundMessage message;
  message.id = common::uuid_v7();
  message.received_at_ms = now_ms();
  message.rcpt_to = {"bounces+x@b.example"};
  message.envelope_json = "{}";
  message.data = "Subject: out of office\r\n\r\naway\r\n";
  message.deliveries.push_back({"internal bounces", {"bounces+x@b.example"}});
  ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);
  ASSERT_EQ(s.db->route_inbound(message.id, {{"hooks", {"bounces+x@b.example"}}}, now_ms()),
            Status::ok);
  auto found = s.db->find_inbound(message.id);
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->deliveries.size(), 2u);
  bool routed = false;
  for (const store::DeliveryRow& row : found->deliveries) {
    if (row.endpoint != "hooks") continue;
    routed = true;
    EXPECT_EQ(row.state, "queued");
    EXPECT_EQ(row.rcpt_to, std::vector<std::string>{"bounces+x@b.example"});
  }
  EXPECT_TRUE(routed);
  EXPECT_EQ(s.db->claim_deliveries(10, store_test::kFarFuture).size(), 2u);
}

}  // namespace
