// The dispatcher and poison messages: a delivery whose earlier renders crashed the process
// (render_attempts left behind by claims that never finished) is dead after
// delivery.max_render_attempts, with the reason and a metric, without being rendered or POSTed
// again; one below the limit is rendered, delivered, and its count set back to 0.
#include <gtest/gtest.h>

#include "dispatcher_fixture.h"

namespace {

using namespace std::chrono_literals;
using dispatcher_test::DispatcherTest;
using dispatcher_test::Received;
using dispatcher_test::Receiver;
using dispatcher_test::wait_until;

class PoisonTest : public DispatcherTest {
 protected:
  // The message's row as if `crashes` claims had died while rendering it.
  void crashed(const std::string& message_id, int crashes) {
    ASSERT_TRUE(store_test::sql_exec(
        folder_.file("smtp-bridge.db"),
        "UPDATE inbound_deliveries SET render_attempts = " + std::to_string(crashes) +
            ", attempts = " + std::to_string(crashes) + " WHERE message_id = '" + message_id +
            "'"));
  }
};

TEST_F(PoisonTest, a_delivery_whose_renders_crashed_max_times_is_dead_with_the_reason) {
  cfg_.delivery.max_render_attempts = 3;
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 204; });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  std::string poison = send({url});
  std::string healthy = send({url});
  crashed(poison, 3);
  crashed(healthy, 2);
  start();
  ASSERT_TRUE(wait_until([&] { return state_is(poison, url, "dead"); }));
  ASSERT_TRUE(wait_until([&] { return state_is(healthy, url, "delivered"); }));
  EXPECT_EQ(row(poison, url).last_error, "render failed or crashed the process 3 times");
  EXPECT_EQ(row(poison, url).attempts, 4);
  EXPECT_EQ(row(healthy, url).render_attempts, 0);  // rendered: the count starts again
  EXPECT_EQ(receiver.count(), 1u);                  // the poison one was never POSTed
  std::string origin = "http://127.0.0.1:" + std::to_string(receiver.port());
  std::string metrics = registry_.render();
  EXPECT_NE(metrics.find("smtp_bridge_delivery_quarantined_total{endpoint=\"" + origin + "\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("smtp_bridge_delivery_dead_letters_total{endpoint=\"" + origin + "\"} 1"),
            std::string::npos);
}

}  // namespace
