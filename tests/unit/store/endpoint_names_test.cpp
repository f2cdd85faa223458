// Endpoints by name (issue 11) on both backends: rows are stored under the name
// Options::resolve_endpoint gives, with the URL's origin; orphaned rows are held (not due, not
// pruned before the dead letters' retention) and queued again when named. SQLite only: a database
// of the previous schema (7, rows under their URL) is migrated in place to the configured names.
#include <gtest/gtest.h>

#include <string>

#include "common/time.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using store::DeliveryOutcome;
using store::Status;
using store_test::make_message;
using store_test::sql_exec;
using store_test::sql_int;
using store_test::sql_text;

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

store::EndpointRef orders_resolver(const std::string& url) {
  return {url == "http://old.example:8080/hook?t=1" ? "orders" : "other:" + url,
          "http://old.example:8080"};
}

STORE_TEST_BACKENDS(EndpointNames);

TEST_P(EndpointNames, rows_are_stored_under_the_resolved_name_with_the_origin) {
  store_test::Database database(GetParam(), "names.db");
  store::Options options = database.options();
  options.resolve_endpoint = orders_resolver;
  std::string error;
  auto db = database.open(options, error);
  ASSERT_NE(db, nullptr) << error;
  auto message = make_message("named");
  message.deliveries[0].endpoint = "http://old.example:8080/hook?t=1";
  ASSERT_EQ(db->enqueue_inbound_wait(message), Status::ok);
  auto jobs = db->claim_deliveries(1, now_ms());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].delivery.endpoint, "orders");
  auto found = db->find_inbound(message.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->deliveries[0].endpoint, "orders");
  EXPECT_EQ(found->deliveries[0].origin, "http://old.example:8080");
  // An attempt records where it went (the URL may have changed under the name).
  db->finish_delivery(jobs[0].delivery.id, DeliveryOutcome::deferred, 0, "HTTP 500", 1, true,
                      "https://new.example:443");
  EXPECT_EQ(db->find_inbound(message.id)->deliveries[0].origin, "https://new.example:443");
}

TEST(SqliteEndpointNames, a_schema_7_database_is_migrated_to_names_and_origins) {
  store_test::TempFolder folder;
  store::Options options;
  options.path = folder.file("old.db");
  std::string error;
  auto db = store::open_sqlite(options, error);
  ASSERT_NE(db, nullptr) << error;
  auto mine = make_message("mine");
  mine.deliveries[0].endpoint = "http://old.example:8080/hook?t=1";
  auto other = make_message("other");
  other.deliveries[0].endpoint = "https://gone.example/x/";
  ASSERT_EQ(db->enqueue_inbound_wait(mine), Status::ok);
  ASSERT_EQ(db->enqueue_inbound_wait(other), Status::ok);
  db->close();
  db.reset();
  // Back to schema 7's layout: rows under their URL, no origin, no orphaned index.
  ASSERT_TRUE(sql_exec(options.path, "DROP INDEX inbound_deliveries_orphaned"));
  ASSERT_TRUE(sql_exec(options.path, "ALTER TABLE inbound_deliveries DROP COLUMN origin"));
  ASSERT_TRUE(sql_exec(options.path, "DROP TABLE suppressions"));  // schema 9's
  // And without schema 10's delivery events.
  ASSERT_TRUE(sql_exec(options.path, "DROP TABLE event_deliveries"));
  ASSERT_TRUE(sql_exec(options.path, "ALTER TABLE outbound_messages DROP COLUMN api_key"));
  ASSERT_TRUE(sql_exec(options.path, "DROP TABLE outbound_history"));  // schema 11's
  ASSERT_TRUE(sql_exec(options.path, "PRAGMA user_version=7"));
  ASSERT_EQ(sql_int(options.path,
                    "SELECT count(*) FROM pragma_table_info('inbound_deliveries')"
                    " WHERE name = 'origin'"),
            0);

  options.resolve_endpoint = [](const std::string& url) {
    // The app's resolver: the configured name, else the default one.
    if (url == "http://old.example:8080/hook?t=1")
      return store::EndpointRef{"orders", "http://old.example:8080"};
    return store::EndpointRef{"gone.example/0000", "https://gone.example:443"};
  };
  db = store::open_sqlite(options, error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_EQ(sql_int(options.path, "PRAGMA user_version"), 11);
  auto a = db->find_inbound(mine.id);
  auto b = db->find_inbound(other.id);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->deliveries[0].endpoint, "orders");
  EXPECT_EQ(a->deliveries[0].origin, "http://old.example:8080");
  EXPECT_EQ(b->deliveries[0].endpoint, "gone.example/0000");
  EXPECT_EQ(b->deliveries[0].state, "queued");
  EXPECT_EQ(db->claim_deliveries(10, now_ms()).size(), 2u);  // still due, nothing lost
}

TEST_P(EndpointNames, orphaned_rows_are_held_then_queued_again_when_their_endpoint_is_named) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  auto message = make_message("orphan");
  message.deliveries[0].endpoint = "removed";
  ASSERT_EQ(s.db->enqueue_inbound_wait(message), Status::ok);
  auto jobs = s.db->claim_deliveries(1, now_ms());
  ASSERT_EQ(jobs.size(), 1u);
  s.db->finish_delivery(jobs[0].delivery.id, DeliveryOutcome::orphaned, 0,
                        "endpoint 'removed' is not configured", 1);
  auto found = s.db->find_inbound(message.id);
  EXPECT_EQ(found->deliveries[0].state, "orphaned");
  EXPECT_TRUE(s.db->claim_deliveries(10, store_test::kFarFuture).empty());  // held, not due
  store::InboundQuery query;
  query.state = "orphaned";
  EXPECT_EQ(s.db->list_inbound(query).size(), 1u);
  bool counted = false;
  for (const auto& [state, count] : s.db->queue_stats().by_state)
    counted = counted || (state == "orphaned" && count == 1);
  EXPECT_TRUE(counted);
  EXPECT_EQ(s.db->prune(store_test::kFarFuture, 0), 0u);  // kept like a dead letter

  EXPECT_EQ(s.db->requeue_orphaned({"other", "also-other"}, now_ms()), 0u);
  EXPECT_EQ(s.db->requeue_orphaned({"other", "removed"}, now_ms()), 1u);
  auto again = s.db->claim_deliveries(1, now_ms());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.attempts, 2);
  EXPECT_EQ(again[0].delivery.render_attempts, 1);  // an orphaning is an outcome, not a crash
}

}  // namespace
