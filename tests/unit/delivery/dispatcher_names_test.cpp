// The dispatcher and endpoint names (issue 11): a row names its endpoint, and the endpoint's
// current URL and settings are used; a row whose endpoint is not configured is held as orphaned
// (not dead, not POSTed, counted) and delivered once a restarted dispatcher's configuration has
// it again.
#include <gtest/gtest.h>

#include "dispatcher_fixture.h"

namespace {

using namespace std::chrono_literals;
using dispatcher_test::DispatcherTest;
using dispatcher_test::Received;
using dispatcher_test::Receiver;
using dispatcher_test::wait_until;

TEST_F(DispatcherTest, rows_go_to_their_named_endpoints_current_url_or_are_held_as_orphaned) {
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 204; });
  ASSERT_TRUE(receiver.start());
  add_endpoint(receiver.port());
  cfg_.routes[0].endpoints[0].name = "orders";
  std::string named = send({"orders"});
  std::string orphan = send({"billing"});
  start();
  ASSERT_TRUE(wait_until([&] { return state_is(named, "orders", "delivered"); }));
  ASSERT_TRUE(wait_until([&] { return state_is(orphan, "billing", "orphaned"); }));
  EXPECT_EQ(row(orphan, "billing").last_error, "endpoint 'billing' is not configured");
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(receiver.requests().at(0).path, "/hook?token=s3cret");
  EXPECT_EQ(row(named, "orders").origin, "http://127.0.0.1:" + std::to_string(receiver.port()));
  std::string metrics = registry_.render();
  EXPECT_NE(metrics.find("smtp_bridge_delivery_orphaned_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("smtp_bridge_delivery_queue_depth{state=\"orphaned\"} 1"),
            std::string::npos);
  EXPECT_EQ(metrics.find("dead_letters_total{"), std::string::npos);  // not a dead letter

  // The endpoint returns under its name (with the same URL here): delivered at the next start.
  stop();
  add_endpoint(receiver.port());
  cfg_.routes[0].endpoints[1].name = "billing";
  cfg_.routes[0].endpoints[1].url += "&billing=1";
  start();
  ASSERT_TRUE(wait_until([&] { return state_is(orphan, "billing", "delivered"); }));
  EXPECT_EQ(receiver.requests().at(1).path, "/hook?token=s3cret&billing=1");
}

}  // namespace
