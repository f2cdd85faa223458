// api's suppression handlers over a real SQLite store: the entries' JSON, 201/200, the 422s that
// name the field, 204/404 on delete, the address cursor's pages; and a send's 202 naming its
// suppressed recipients, with the overall status the GET derives from suppressed rows.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/messages.h"
#include "api/suppressions.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using nlohmann::json;

struct SuppressionsFixture : testing::Test {
  store_test::OpenedStore opened{store_test::Backend::sqlite};
  static constexpr int64_t kNow = 1'700'000'000'000;

  api::Reply add(const json& body) { return api::add_suppression(*opened.db, body.dump(), kNow); }
  api::Reply list(api::Params params) { return api::list_suppressions(*opened.db, params); }
  std::vector<std::string> fields(const api::Reply& reply) {
    std::vector<std::string> out;
    json problem = json::parse(reply.body);
    for (const auto& e : problem["errors"]) out.push_back(e["field"]);
    return out;
  }
};

TEST_F(SuppressionsFixture, adds_lists_and_removes_an_address_without_regard_to_case) {
  api::Reply created = add({{"address", "Gone@Example.ORG"}});
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body), json({{"address", "gone@example.org"},
                                             {"reason", "manual"},
                                             {"created_at", "2023-11-14T22:13:20.000Z"}}));
  EXPECT_EQ(add({{"address", "gone@example.org"}, {"reason", "manual"}}).status, 200);
  api::Reply page = list({});
  EXPECT_EQ(json::parse(page.body)["items"].size(), 1u);
  EXPECT_TRUE(json::parse(page.body)["next_cursor"].is_null());
  EXPECT_EQ(api::remove_suppression(*opened.db, "GONE@example.org").status, 204);
  EXPECT_EQ(api::remove_suppression(*opened.db, "gone@example.org").status, 404);
  EXPECT_EQ(api::remove_suppression(*opened.db, std::string("a\0@x.org", 8)).status, 404);
  EXPECT_EQ(api::remove_suppression(*opened.db, "\xff@x.org").status, 404);
}

TEST_F(SuppressionsFixture, a_bounce_entry_carries_the_dsn_details) {
  store::Suppression bounce;
  bounce.address = "dead@example.org";
  bounce.reason = "bounce";
  bounce.created_at_ms = kNow;
  bounce.status = "5.1.1";
  bounce.diagnostic = "smtp; 550 5.1.1 unknown";
  bounce.message_id = "0190";
  bounce.rcpt = "Dead@example.org";
  bool created = false;
  ASSERT_EQ(opened.db->add_suppression(bounce, created), store::Status::ok);
  json item = json::parse(list({}).body)["items"][0];
  EXPECT_EQ(item["reason"], "bounce");
  EXPECT_EQ(item["bounce"], json({{"status", "5.1.1"},
                                  {"diagnostic_code", "smtp; 550 5.1.1 unknown"},
                                  {"message_id", "0190"},
                                  {"recipient", "Dead@example.org"}}));
}

TEST_F(SuppressionsFixture, invalid_input_is_422_naming_the_field) {
  EXPECT_EQ(fields(add({{"address", "no at sign"}})), std::vector<std::string>{"address"});
  EXPECT_EQ(fields(add({{"address", "a@b.org\r\nX: y"}})), std::vector<std::string>{"address"});
  EXPECT_EQ(fields(add(json::object())), std::vector<std::string>{"address"});
  EXPECT_EQ(fields(add({{"address", "a@b.org"}, {"reason", "bounce"}})),
            std::vector<std::string>{"reason"});
  api::Reply bad_cursor = list({{"cursor", "!!"}});
  EXPECT_EQ(bad_cursor.status, 422);
  EXPECT_EQ(fields(bad_cursor), std::vector<std::string>{"cursor"});
  EXPECT_EQ(fields(list({{"limit", "0"}})), std::vector<std::string>{"limit"});
}

TEST_F(SuppressionsFixture, pages_follow_the_cursor_to_the_end) {
  for (const char* a : {"e@x.org", "a@x.org", "d@x.org", "b@x.org", "c@x.org"})
    ASSERT_EQ(add({{"address", a}}).status, 201);
  std::vector<std::string> seen;
  api::Params params{{"limit", "2"}};
  for (int pages = 0; pages < 10; ++pages) {
    json page = json::parse(list(params).body);
    for (const auto& item : page["items"]) seen.push_back(item["address"]);
    if (page["next_cursor"].is_null()) break;
    params = {{"limit", "2"}, {"cursor", page["next_cursor"]}};
  }
  EXPECT_EQ(seen,
            (std::vector<std::string>{"a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org"}));
}

TEST_F(SuppressionsFixture, a_send_names_its_suppressed_recipients_in_the_202) {
  ASSERT_EQ(add({{"address", "gone@example.org"}}).status, 201);
  api::SendContext context;
  context.key_name = "shop";
  context.hostname = "bridge.test";
  context.max_message_bytes = 4096;
  context.now_ms = kNow;
  json request = {{"from", "shop@example.com"},
                  {"to", {"Gone@example.org", "live@example.org"}},
                  {"subject", "s"},
                  {"text", "t"}};
  api::Reply reply = api::send_message(*opened.db, context, request.dump());
  ASSERT_EQ(reply.status, 202) << reply.body;
  json body = json::parse(reply.body);
  EXPECT_EQ(body["status"], "queued");
  EXPECT_EQ(body["recipients"],
            json::parse(R"([{"address":"Gone@example.org","status":"suppressed"},
                                                {"address":"live@example.org","status":"queued"}])"));
  EXPECT_EQ(api::suppressed_in(reply.body), 1u);
  request["to"] = {"gone@example.org"};
  json all = json::parse(api::send_message(*opened.db, context, request.dump()).body);
  EXPECT_EQ(all["status"], "queued");
  EXPECT_EQ(all["recipients"][0]["status"], "suppressed");
  json got = json::parse(api::get_message(*opened.db, all["id"]).body);
  EXPECT_EQ(got["status"], "suppressed");
  EXPECT_EQ(got["recipients"][0]["status"], "suppressed");
}

TEST(OverallStatus, suppressed_recipients_are_left_out_of_the_count) {
  auto rows = [](std::vector<std::string> states) {
    std::vector<store::OutboundRecipientRow> out;
    for (auto& s : states) {
      store::OutboundRecipientRow row;
      row.rcpt = "r@x";
      row.state = s;
      out.push_back(row);
    }
    return out;
  };
  EXPECT_EQ(api::overall_status(rows({"suppressed", "sent"})), "sent");
  EXPECT_EQ(api::overall_status(rows({"suppressed", "failed"})), "failed");
  EXPECT_EQ(api::overall_status(rows({"suppressed", "queued"})), "queued");
  EXPECT_EQ(api::overall_status(rows({"suppressed", "suppressed"})), "suppressed");
}

}  // namespace
