// The bounce consumer behind the dispatcher (delivery/bounces.h, README "Bounces"), against a real
// SQLite store: a DSN stored with a delivery to common::kBounceEndpoint is not POSTed but recorded
// on the outbound recipient its return path names (bounced, history, suppression, and the row
// delivered); an auto-reply or a DSN for a pruned message is a dead letter with the reason; a
// delayed report is history only.
#include <gtest/gtest.h>

#include "common/ids.h"
#include "common/return_path.h"
#include "dispatcher_fixture.h"

namespace {

using namespace std::chrono_literals;
using dispatcher_test::DispatcherTest;
using dispatcher_test::wait_until;

const std::string kDomain = "bounces.bridge.test";
const std::string kSecret = "rp-secret-0123456789abcdef";

std::string dsn(const std::string& to, const std::string& rcpt, const std::string& action,
                const std::string& status) {
  return "From: MAILER-DAEMON@mx.example.org\r\nTo: " + to +
         "\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
         "--B\r\nContent-Type: text/plain\r\n\r\nIt bounced.\r\n"
         "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
         "Reporting-MTA: dns; mx.example.org\r\n\r\n"
         "Final-Recipient: rfc822; " +
         rcpt + "\r\nAction: " + action + "\r\nStatus: " + status +
         "\r\nRemote-MTA: dns; mail.example.org\r\n"
         "Diagnostic-Code: smtp; 550 5.1.1 <" +
         rcpt + ">: User unknown\r\n\r\n--B--\r\n";
}

class BounceConsumerTest : public DispatcherTest {
 protected:
  void SetUp() override {
    DispatcherTest::SetUp();
    cfg_.relay.return_path_domain = kDomain;
    cfg_.relay.return_path_secrets = {kSecret};
  }
  // An outbound message to `rcpts`, every recipient sent; returns its id.
  std::string sent(const std::vector<std::string>& rcpts) {
    store::OutboundMessage message;
    message.id = common::uuid_v7();
    message.created_at_ms = dispatcher_test::now_ms();
    message.mail_from = "shop@example.com";
    message.rcpt_to = rcpts;
    message.data = "Subject: x\r\n\r\nbody\r\n";
    message.response_json = "{}";
    EXPECT_EQ(store_->enqueue_outbound_wait(message).status, store::Status::ok);
    auto jobs = store_->claim_outbound(1, dispatcher_test::now_ms());
    EXPECT_EQ(jobs.size(), 1u);
    std::vector<store::RecipientResult> results;
    for (const std::string& rcpt : rcpts) {
      store::RecipientResult ok;
      ok.rcpt = rcpt;
      ok.outcome = store::RecipientOutcome::sent;
      ok.code = 250;
      ok.text = "Ok: queued as Q1";
      results.push_back(ok);
    }
    store_->finish_outbound(message.id, results);
    return message.id;
  }
  // Stores `data` as received for `return_path`, with its delivery to the bounce consumer.
  std::string receive(const std::string& return_path, std::string data) {
    store::InboundMessage message;
    message.id = common::uuid_v7();
    message.received_at_ms = dispatcher_test::now_ms();
    message.rcpt_to = {return_path};
    message.envelope_json = R"({"mail_from":null,"rcpt_to":[]})";
    message.data = std::move(data);
    message.deliveries.push_back({std::string(common::kBounceEndpoint), {return_path}});
    EXPECT_EQ(store_->enqueue_inbound_wait(message), store::Status::ok);
    return message.id;
  }
  std::string state(const std::string& inbound_id) {
    return row(inbound_id, std::string(common::kBounceEndpoint)).state;
  }
};

TEST_F(BounceConsumerTest, AFailedDsnBouncesTheRecipientAndSuppressesIt) {
  std::string id = sent({"ok@example.org", "gone@example.org"});
  std::string path = common::return_path(kDomain, kSecret, id, 1);
  std::string inbound = receive(path, dsn(path, "gone@example.org", "failed", "5.1.1"));
  start();
  ASSERT_TRUE(wait_until([&] { return state(inbound) == "delivered"; }, 10s)) << state(inbound);
  auto stored = store_->find_outbound(id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->recipients[0].state, "sent");
  const store::OutboundRecipientRow& gone = stored->recipients[1];
  EXPECT_EQ(gone.state, "bounced");
  EXPECT_EQ(gone.last_code, 550);
  EXPECT_EQ(gone.last_enhanced, "5.1.1");
  ASSERT_EQ(gone.history.size(), 2u);
  EXPECT_EQ(gone.history[0].state, "sent");
  EXPECT_EQ(gone.history[1].state, "bounced");
  EXPECT_EQ(gone.history[1].inbound_id, inbound);
  EXPECT_EQ(store_->suppressed({"Gone@Example.org"}), std::vector<std::string>{"Gone@Example.org"});
}

TEST_F(BounceConsumerTest, ADelayedDsnIsHistoryOnly) {
  std::string id = sent({"slow@example.org"});
  std::string path = common::return_path(kDomain, kSecret, id, 0);
  std::string inbound = receive(path, dsn(path, "slow@example.org", "delayed", "4.4.1"));
  start();
  ASSERT_TRUE(wait_until([&] { return state(inbound) == "delivered"; }, 10s));
  auto stored = store_->find_outbound(id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->recipients[0].state, "sent");
  ASSERT_EQ(stored->recipients[0].history.size(), 2u);
  EXPECT_EQ(stored->recipients[0].history[1].state, "delayed");
  EXPECT_TRUE(store_->suppressed({"slow@example.org"}).empty());
}

TEST_F(BounceConsumerTest, AnAutoReplyIsADeadLetterAndRecordsNothing) {
  std::string id = sent({"away@example.org"});
  std::string path = common::return_path(kDomain, kSecret, id, 0);
  std::string inbound =
      receive(path, "From: away@example.org\r\nSubject: Out of office\r\n\r\nAway.\r\n");
  start();
  ASSERT_TRUE(wait_until([&] { return state(inbound) == "dead"; }, 10s)) << state(inbound);
  EXPECT_NE(last_error(inbound).find("not a delivery status notification"), std::string::npos);
  auto stored = store_->find_outbound(id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->recipients[0].history.size(), 1u);
}

TEST_F(BounceConsumerTest, AnAutoReplyIsRoutedLikeAnyMessageWhenARouteTakesIt) {
  dispatcher_test::Receiver receiver([](size_t, const dispatcher_test::Received&,
                                        httplib::Response& response) { response.status = 204; });
  ASSERT_TRUE(receiver.start());
  add_endpoint(receiver.port());
  std::string id = sent({"away@example.org"});
  std::string path = common::return_path(kDomain, kSecret, id, 0);
  std::string inbound =
      receive(path, "From: away@example.org\r\nSubject: Out of office\r\n\r\nAway.\r\n");
  start();
  ASSERT_TRUE(wait_until([&] { return receiver.count() >= 1; }, 10s));
  EXPECT_NE(receiver.requests()[0].body.find("Out of office"), std::string::npos);
  ASSERT_TRUE(wait_until([&] { return state(inbound) == "delivered"; }, 10s)) << state(inbound);
  EXPECT_EQ(store_->find_outbound(id)->recipients[0].history.size(), 1u);
}

TEST_F(BounceConsumerTest, ADsnForAMessageNotHeldIsADeadLetter) {
  std::string path = common::return_path(kDomain, kSecret, common::uuid_v7(), 0);
  std::string inbound = receive(path, dsn(path, "gone@example.org", "failed", "5.1.1"));
  start();
  ASSERT_TRUE(wait_until([&] { return state(inbound) == "dead"; }, 10s)) << state(inbound);
  EXPECT_TRUE(store_->suppressed({"gone@example.org"}).empty());
}

}  // namespace
