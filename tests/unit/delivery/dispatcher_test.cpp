// delivery::Dispatcher end to end inside one process: a real SQLite store in a temp folder, real
// HTTP receivers on 127.0.0.1, short retry settings. Asserts what receivers depend on: headers,
// signatures, retries with a stable webhook-id, Retry-After, dead letters, isolation of endpoints.
#include "delivery/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>

#include "common/ids.h"
#include "common/time.h"
#include "common/version.h"
#include "config/config.h"
#include "dispatcher_fixture.h"
#include "dispatcher_test_support.h"
#include "obs/metrics.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using namespace std::chrono_literals;
using dispatcher_test::DispatcherTest;
using dispatcher_test::kSecret;
using dispatcher_test::now_ms;
using dispatcher_test::Received;
using dispatcher_test::Receiver;
using dispatcher_test::wait_until;

TEST_F(DispatcherTest, delivers_2xx_with_standard_webhooks_headers_and_a_valid_signature) {
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 204; });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  start();
  std::string id = send({url});
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "delivered"); }));

  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  const Received& got = requests[0];
  store::DeliveryRow delivered = row(id, url);
  EXPECT_EQ(delivered.attempts, 1);
  EXPECT_EQ(got.path, "/hook?token=s3cret");
  EXPECT_EQ(got.header("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(got.header("User-Agent"), std::string("smtp-bridge/") + common::kVersion);
  EXPECT_EQ(got.header("webhook-id"), delivered.id);
  EXPECT_EQ(got.header("webhook-attempt"), "1");
  EXPECT_EQ(got.header("X-Tenant"), "acme");
  int64_t timestamp = std::stoll(got.header("webhook-timestamp"));
  EXPECT_NEAR(static_cast<double>(timestamp), now_ms() / 1000.0, 30);
  EXPECT_EQ(got.header("webhook-signature"),
            dispatcher_test::expected_signature(kSecret, delivered.id,
                                                got.header("webhook-timestamp"), got.body));

  auto document = nlohmann::json::parse(got.body, nullptr, false);
  ASSERT_TRUE(document.is_object()) << got.body;
  EXPECT_EQ(document["type"], "message.received");
  EXPECT_EQ(document["id"], id);
  EXPECT_EQ(document["envelope"]["rcpt_to"], nlohmann::json::array({"bob@bridge.example"}));
  EXPECT_EQ(document["message"]["subject"], "hello");

  std::string origin = "http://127.0.0.1:" + std::to_string(receiver.port());
  std::string metrics = registry_.render();
  EXPECT_NE(metrics.find("smtp_bridge_delivery_attempts_total{endpoint=\"" + origin +
                         "\",outcome=\"delivered\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("smtp_bridge_delivery_queue_depth{state=\"delivered\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("smtp_bridge_delivery_latency_seconds_count 1"), std::string::npos);
  EXPECT_EQ(metrics.find("s3cret"), std::string::npos);  // the path's secret never in a label
}

TEST_F(DispatcherTest, unsigned_when_the_endpoint_has_no_secret) {
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 200; });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port(), 5s, {});
  start();
  std::string id = send({url});
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "delivered"); }));
  EXPECT_EQ(receiver.requests().at(0).header("webhook-signature"), "<absent>");
}

TEST_F(DispatcherTest, retries_a_500_with_the_same_webhook_id_and_the_next_attempt_number) {
  Receiver receiver([](size_t index, const Received&, httplib::Response& response) {
    response.status = index == 0 ? 500 : 200;
  });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  start();
  std::string id = send({url});
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "delivered"); }));
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].header("webhook-id"), row(id, url).id);
  EXPECT_EQ(requests[1].header("webhook-id"), requests[0].header("webhook-id"));
  EXPECT_EQ(requests[0].header("webhook-attempt"), "1");
  EXPECT_EQ(requests[1].header("webhook-attempt"), "2");
  EXPECT_EQ(row(id, url).attempts, 2);
  EXPECT_NE(registry_.render().find("outcome=\"deferred\"} 1"), std::string::npos);
}

TEST_F(DispatcherTest, waits_for_retry_after_on_429) {
  Receiver receiver([](size_t index, const Received&, httplib::Response& response) {
    response.status = index == 0 ? 429 : 200;
    if (index == 0) response.set_header("Retry-After", "1");
  });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  start();
  std::string id = send({url});
  ASSERT_TRUE(wait_until([&] { return receiver.count() >= 1; }));
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "deferred"); }));
  EXPECT_EQ(last_error(id), "HTTP 429");
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "delivered"); }));
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  // The backoff alone would be <= 100 ms. Retry times are whole unix milliseconds (truncated), so
  // the second POST may come a fraction of a millisecond before a full second on this clock.
  EXPECT_GE(requests[1].at - requests[0].at, 995ms);
}

TEST_F(DispatcherTest, gone_410_is_a_dead_letter_without_retry) {
  Receiver receiver([](size_t index, const Received&, httplib::Response& response) {
    response.status = index == 0 ? 410 : 200;
  });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  start();
  std::string gone = send({url});
  ASSERT_TRUE(wait_until([&] { return state_is(gone, url, "dead"); }));
  EXPECT_EQ(last_error(gone), "HTTP 410");
  EXPECT_EQ(row(gone, url).attempts, 1);
  // A later message is delivered; by then a retry of the dead one would have had its chance.
  std::string later = send({url});
  ASSERT_TRUE(wait_until([&] { return state_is(later, url, "delivered"); }));
  EXPECT_EQ(receiver.count(), 2u);
  EXPECT_TRUE(state_is(gone, url, "dead"));
  std::string origin = "http://127.0.0.1:" + std::to_string(receiver.port());
  EXPECT_NE(registry_.render().find("smtp_bridge_delivery_dead_letters_total{endpoint=\"" + origin +
                                    "\"} 1"),
            std::string::npos);
}

TEST_F(DispatcherTest, defers_while_the_receiver_is_down_and_delivers_when_it_is_up) {
  int port = dispatcher_test::closed_port();
  ASSERT_GT(port, 0);
  std::string url = add_endpoint(port);
  start();
  std::string id = send({url});
  ASSERT_TRUE(
      wait_until([&] { return row(id, url).attempts >= 2 && state_is(id, url, "deferred"); }));
  EXPECT_EQ(last_error(id), "connection failed");

  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 200; });
  ASSERT_TRUE(receiver.start(port));
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "delivered"); }));
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(receiver.requests()[0].header("webhook-attempt"),
            std::to_string(row(id, url).attempts));
}

TEST_F(DispatcherTest, a_slow_endpoint_does_not_hold_up_another) {
  std::mutex mutex;
  std::condition_variable released_cv;
  bool released = false;
  Receiver slow([&](size_t, const Received&, httplib::Response& response) {
    std::unique_lock lock(mutex);
    released_cv.wait_for(lock, 20s, [&] { return released; });
    response.status = 200;
  });
  Receiver fast(
      [](size_t, const Received&, httplib::Response& response) { response.status = 200; });
  ASSERT_TRUE(slow.start());
  ASSERT_TRUE(fast.start());
  std::string slow_url = add_endpoint(slow.port(), 2s);
  std::string fast_url = add_endpoint(fast.port(), 2s);
  cfg_.delivery.workers = 2;
  start();
  std::string first = send({slow_url});
  ASSERT_TRUE(wait_until([&] { return slow.count() == 1; }));
  std::string second = send({fast_url});
  ASSERT_TRUE(wait_until([&] { return state_is(second, fast_url, "delivered"); }));
  EXPECT_TRUE(state_is(first, slow_url, "in_flight"));  // still waiting for its answer
  // The slow POST ends at its timeout and is retried later.
  ASSERT_TRUE(wait_until([&] { return state_is(first, slow_url, "deferred"); }));
  EXPECT_EQ(last_error(first), "read failed or timed out");
  {
    std::lock_guard lock(mutex);
    released = true;
  }
  released_cv.notify_all();
  ASSERT_TRUE(wait_until([&] { return state_is(first, slow_url, "delivered"); }));
}

TEST_F(DispatcherTest, gives_up_after_max_age) {
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 500; });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  cfg_.delivery.retry.max_age = 1s;
  start();
  std::string id = send({url}, now_ms() - 5000);  // received longer ago than max_age
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "dead"); }));
  EXPECT_EQ(last_error(id), "HTTP 500 (retries exhausted)");
  EXPECT_EQ(receiver.count(), 1u);
}

// Issue 11: held as orphaned (delivered if the endpoint returns), no longer dead.
TEST_F(DispatcherTest, a_row_for_an_endpoint_no_longer_configured_is_orphaned) {
  start();  // the catch-all route has no endpoints
  std::string url = "http://127.0.0.1:9/removed";
  std::string id = send({url});
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "orphaned"); }));
  EXPECT_EQ(last_error(id), "endpoint '" + url + "' is not configured");
}

TEST_F(DispatcherTest, rows_waiting_in_the_store_are_delivered_before_newer_ones) {
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 204; });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  cfg_.delivery.workers = 1;  // one request at a time: the order they arrive in is the order sent
  std::vector<std::string> expected;
  for (int i = 0; i < 3; ++i) expected.push_back(send({url}));  // queued: no dispatcher yet
  start();
  // Committed while the older rows wait: they must not take the hot path ahead of them.
  for (int i = 0; i < 3; ++i) expected.push_back(send({url}));
  ASSERT_TRUE(wait_until([&] { return receiver.count() == expected.size(); }));
  std::vector<std::string> order;
  for (const Received& got : receiver.requests())
    order.push_back(nlohmann::json::parse(got.body)["id"].get<std::string>());
  EXPECT_EQ(order, expected);
}

TEST_F(DispatcherTest, large_messages_beyond_the_render_slots_are_all_delivered) {
  // Large messages are rendered one per core at a time; every slot must come back, or the
  // deliveries after the first few would wait forever.
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 204; });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  cfg_.delivery.workers = 8;
  start();
  const std::string text(300 * 1024, 'x');  // over the 256 KiB of a large message
  std::set<std::string> sent;
  for (int i = 0; i < 12; ++i)
    sent.insert(send({url}, now_ms(), "Subject: large " + std::to_string(i) + "\r\n\r\n" + text));
  ASSERT_TRUE(wait_until([&] { return receiver.count() == sent.size(); }, 30s));
  std::set<std::string> got;
  for (const Received& request : receiver.requests()) {
    auto document = nlohmann::json::parse(request.body);
    got.insert(document["id"].get<std::string>());
    EXPECT_EQ(document["message"]["text"].get<std::string>().size(), text.size());
  }
  EXPECT_EQ(got, sent);
}

TEST_F(DispatcherTest, stop_leaves_unfinished_rows_for_the_next_start) {
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 200; });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  start();
  stop();
  std::string id = send({url});  // nobody claims it while stopped
  EXPECT_TRUE(state_is(id, url, "queued"));
  start();
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "delivered"); }));
}

}  // namespace
