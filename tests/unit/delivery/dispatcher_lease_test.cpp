// The dispatcher and leases (ARCHITECTURE.md "Leases"): a row whose claim was lost while the
// process runs (a worker that vanished, an outcome that was never committed) is delivered again
// once its lease ends, by the periodic sweep, without a restart.
#include <gtest/gtest.h>

#include "dispatcher_fixture.h"

namespace {

using namespace std::chrono_literals;
using dispatcher_test::DispatcherTest;
using dispatcher_test::Received;
using dispatcher_test::Receiver;
using dispatcher_test::wait_until;

TEST_F(DispatcherTest, a_row_whose_claim_was_lost_is_delivered_after_its_lease_while_running) {
  store::Options options;
  options.lease = 1s;
  open_store(options);
  Receiver receiver(
      [](size_t, const Received&, httplib::Response& response) { response.status = 204; });
  ASSERT_TRUE(receiver.start());
  std::string url = add_endpoint(receiver.port());
  std::string id = send({url});
  // A claim that is never finished: the worker that held it is gone.
  ASSERT_EQ(store_->claim_deliveries(10, dispatcher_test::now_ms()).size(), 1u);
  start();
  ASSERT_TRUE(wait_until([&] { return state_is(id, url, "delivered"); }, 30s));
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(row(id, url).attempts, 2);  // the lost claim counts as an attempt
  EXPECT_NE(registry_.render().find("smtp_bridge_delivery_lease_expired_total 1"),
            std::string::npos);
}

}  // namespace
