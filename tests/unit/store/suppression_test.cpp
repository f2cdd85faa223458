// The suppression list on both backends (issue 14): add (upsert, case-insensitive key), remove,
// list in pages, the API's lookup, and the enqueue (single and batch) marking a suppressed
// recipient `suppressed` in its own transaction, so that the relay never claims it.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

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
  message.data = "Subject: x\r\n\r\nx\r\n";
  message.response_json = R"({"id":")" + message.id + R"("})";
  return message;
}

store::Suppression manual(const std::string& address) {
  store::Suppression s;
  s.address = address;
  s.reason = "manual";
  s.created_at_ms = now_ms();
  return s;
}

std::vector<std::string> states(store::Store& db, const std::string& id) {
  std::vector<std::string> out;
  auto stored = db.find_outbound(id);
  if (stored)
    for (const auto& row : stored->recipients) out.push_back(row.state);
  return out;
}

STORE_TEST_BACKENDS(StoreSuppressions);

TEST_P(StoreSuppressions, adds_lower_cased_upserts_and_removes) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  bool created = false;
  ASSERT_EQ(s.db->add_suppression(manual("Dead.User@Example.ORG"), created), Status::ok);
  EXPECT_TRUE(created);
  EXPECT_EQ(s.sql_text("SELECT address FROM suppressions"), "dead.user@example.org");

  // The bounce consumer's call: the same address in another case replaces reason and details.
  store::Suppression bounce;
  bounce.address = "DEAD.user@example.org";
  bounce.reason = "bounce";
  bounce.created_at_ms = now_ms() + 1000;
  bounce.status = "5.1.1";
  bounce.diagnostic = "smtp; 550 5.1.1 no such user";
  bounce.message_id = "0190-msg";
  bounce.rcpt = "Dead.User@Example.ORG";
  ASSERT_EQ(s.db->add_suppression(bounce, created), Status::ok);
  EXPECT_FALSE(created);
  auto listed = s.db->list_suppressions("", 10);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].address, "dead.user@example.org");
  EXPECT_EQ(listed[0].reason, "bounce");
  EXPECT_EQ(listed[0].status, "5.1.1");
  EXPECT_EQ(listed[0].diagnostic, "smtp; 550 5.1.1 no such user");
  EXPECT_EQ(listed[0].message_id, "0190-msg");
  EXPECT_EQ(listed[0].rcpt, "Dead.User@Example.ORG");

  EXPECT_EQ(s.db->suppressed({"a@example.org", "dead.USER@example.org"}),
            std::vector<std::string>{"dead.USER@example.org"});
  EXPECT_EQ(s.db->remove_suppression("Dead.User@example.org"), std::optional<bool>(true));
  EXPECT_EQ(s.db->remove_suppression("dead.user@example.org"), std::optional<bool>(false));
  EXPECT_TRUE(s.db->list_suppressions("", 10).empty());
}

TEST_P(StoreSuppressions, lists_in_address_order_page_by_page) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  bool created = false;
  for (const char* a :
       {"g@x.org", "B@x.org", "e@x.org", "a@x.org", "F@x.org", "c@x.org", "d@x.org"})
    ASSERT_EQ(s.db->add_suppression(manual(a), created), Status::ok);
  std::vector<std::string> seen;
  std::string after;
  size_t pages = 0;
  for (;;) {
    auto page = s.db->list_suppressions(after, 3);
    ++pages;
    for (const auto& entry : page) seen.push_back(entry.address);
    if (page.size() < 3) break;
    after = page.back().address;
  }
  EXPECT_EQ(pages, 3u);
  EXPECT_EQ(seen, (std::vector<std::string>{"a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org",
                                            "f@x.org", "g@x.org"}));
}

TEST_P(StoreSuppressions, the_enqueue_marks_suppressed_recipients_and_the_relay_never_claims_them) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  bool created = false;
  ASSERT_EQ(s.db->add_suppression(manual("gone@example.org"), created), Status::ok);
  auto single = make_outbound({"Gone@Example.org", "live@example.org"});
  auto all = make_outbound({"gone@example.org"});
  std::vector<store::OutboundMessage> batch = {make_outbound({"live2@example.org"}),
                                               make_outbound({"GONE@example.org", "l3@x.org"})};
  ASSERT_EQ(s.db->enqueue_outbound_wait(single).status, Status::ok);
  ASSERT_EQ(s.db->enqueue_outbound_wait(all).status, Status::ok);
  ASSERT_EQ(s.db->enqueue_outbound_batch_wait(batch).status, Status::ok);
  EXPECT_EQ(states(*s.db, single.id), (std::vector<std::string>{"suppressed", "queued"}));
  EXPECT_EQ(states(*s.db, all.id), (std::vector<std::string>{"suppressed"}));
  EXPECT_EQ(states(*s.db, batch[0].id), (std::vector<std::string>{"queued"}));
  EXPECT_EQ(states(*s.db, batch[1].id), (std::vector<std::string>{"suppressed", "queued"}));

  std::vector<std::string> claimed;
  for (const auto& job : s.db->claim_outbound(100, store_test::kFarFuture))
    for (const auto& rcpt : job.rcpt_to) claimed.push_back(rcpt);
  std::sort(claimed.begin(), claimed.end());
  EXPECT_EQ(claimed,
            (std::vector<std::string>{"l3@x.org", "live2@example.org", "live@example.org"}));
  EXPECT_TRUE(s.db->claim_outbound(100, store_test::kFarFuture).empty());
  // Requeued leases do not bring a suppressed row back either.
  s.db->requeue_expired(store_test::kFarFuture);
  for (const auto& job : s.db->claim_outbound(100, store_test::kFarFuture))
    for (const auto& rcpt : job.rcpt_to) EXPECT_EQ(rcpt.find("gone"), std::string::npos) << rcpt;

  // Removed: the next send is queued again.
  ASSERT_EQ(s.db->remove_suppression("gone@example.org"), std::optional<bool>(true));
  auto after = make_outbound({"gone@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(after).status, Status::ok);
  EXPECT_EQ(states(*s.db, after.id), (std::vector<std::string>{"queued"}));
}

TEST_P(StoreSuppressions, a_message_whose_recipients_are_all_suppressed_is_pruned_like_failed) {
  store_test::OpenedStore s(GetParam());
  ASSERT_NE(s.db, nullptr);
  bool created = false;
  ASSERT_EQ(s.db->add_suppression(manual("gone@example.org"), created), Status::ok);
  auto all = make_outbound({"gone@example.org"});
  ASSERT_EQ(s.db->enqueue_outbound_wait(all).status, Status::ok);
  EXPECT_EQ(s.db->prune(0, store_test::kFarFuture), 1u);
  EXPECT_FALSE(s.db->find_outbound(all.id).has_value());
}

}  // namespace
