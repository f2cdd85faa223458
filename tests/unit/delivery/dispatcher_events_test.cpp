// The dispatcher and delivery events (issue 14): an event row is POSTed with the Standard
// Webhooks headers signed with its events endpoint's secret and its stored JSON byte for byte;
// 406/410 makes it a dead letter and lets the message's next event go; 503 with Retry-After is
// retried after it; both are counted in the smtp_bridge_event_* families.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dispatcher_fixture.h"

namespace {

using namespace std::chrono_literals;
using dispatcher_test::DispatcherTest;
using dispatcher_test::kSecret;
using dispatcher_test::Received;
using dispatcher_test::Receiver;
using dispatcher_test::wait_until;

class EventDispatcherTest : public DispatcherTest {
 protected:
  // One events endpoint "crm" on `port` taking every type; the store writes its rows.
  void add_events_endpoint(int port) {
    config::EventEndpoint endpoint;
    endpoint.endpoint = config::Endpoint{"http://127.0.0.1:" + std::to_string(port) + "/events",
                                         {kSecret},
                                         5s,
                                         {{"X-Tenant", "acme"}}};
    endpoint.endpoint.name = "crm";
    cfg_.events.endpoints.push_back(endpoint);
    store::Options options;
    options.event_endpoints = {{"crm", endpoint.types}};
    open_store(options);
  }
  // A sent message whose one recipient failed: message.queued then message.failed.
  std::string send_and_fail() {
    store::OutboundMessage message;
    message.id = common::uuid_v7();
    message.created_at_ms = dispatcher_test::now_ms();
    message.mail_from = "shop@example.com";
    message.rcpt_to = {"gone@example.org"};
    message.data = "Subject: x\r\n\r\nbody\r\n";
    message.api_key = "shop";
    message.response_json = "{}";
    EXPECT_EQ(store_->enqueue_outbound_wait(message).status, store::Status::ok);
    EXPECT_EQ(store_->claim_outbound(1, dispatcher_test::now_ms()).size(), 1u);
    store::RecipientResult failed;
    failed.rcpt = "gone@example.org";
    failed.outcome = store::RecipientOutcome::failed;
    failed.code = 550;
    failed.text = "no such user";
    store_->finish_outbound(message.id, {failed});
    return message.id;
  }
  std::string state_of(const std::string& id, size_t index) {
    auto rows = store_->find_events(id);
    return index < rows.size() ? rows[index].state : "";
  }
};

TEST_F(EventDispatcherTest, posts_each_event_signed_with_its_stored_json_in_order) {
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 204; });
  ASSERT_TRUE(receiver.start());
  add_events_endpoint(receiver.port());
  std::string id = send_and_fail();
  start();
  ASSERT_TRUE(wait_until([&] { return state_of(id, 1) == "delivered"; }));
  auto rows = store_->find_events(id);
  std::vector<Received> requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Received& request = requests[i];
    EXPECT_EQ(request.path, "/events");
    EXPECT_EQ(request.body, rows[i].payload);  // queued first, then failed
    EXPECT_EQ(request.header("webhook-id"), rows[i].id);
    EXPECT_EQ(request.header("webhook-attempt"), "1");
    EXPECT_EQ(request.header("X-Tenant"), "acme");
    EXPECT_EQ(request.header("webhook-signature"),
              dispatcher_test::expected_signature(
                  kSecret, rows[i].id, request.header("webhook-timestamp"), request.body));
  }
  EXPECT_EQ(nlohmann::json::parse(requests[0].body)["type"], "message.queued");
  EXPECT_EQ(nlohmann::json::parse(requests[1].body)["type"], "message.failed");
  std::string metrics = registry_.render();
  EXPECT_NE(
      metrics.find(R"(smtp_bridge_event_attempts_total{endpoint="crm",outcome="delivered"} 2)"),
      std::string::npos)
      << metrics;
}

TEST_F(EventDispatcherTest, gone_is_a_dead_letter_and_retry_after_is_honoured) {
  Receiver receiver([](size_t index, const Received&, httplib::Response& response) {
    if (index == 0) {
      response.status = 410;  // the queued event: dead at once
    } else if (index == 1) {
      response.status = 503;  // the failed event: again after Retry-After
      response.set_header("Retry-After", "1");
    } else {
      response.status = 200;
    }
  });
  ASSERT_TRUE(receiver.start());
  add_events_endpoint(receiver.port());
  std::string id = send_and_fail();
  start();
  ASSERT_TRUE(wait_until([&] { return state_of(id, 1) == "delivered"; }));
  EXPECT_EQ(state_of(id, 0), "dead");
  std::vector<Received> requests = receiver.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].header("webhook-attempt"), "2");
  EXPECT_GE(requests[2].at - requests[1].at, 900ms);  // Retry-After: 1 (second granularity)
  std::string metrics = registry_.render();
  EXPECT_NE(metrics.find(R"(smtp_bridge_event_dead_letters_total{endpoint="crm"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find(R"(smtp_bridge_event_attempts_total{endpoint="crm",outcome="deferred"} 1)"),
      std::string::npos)
      << metrics;
}

}  // namespace
