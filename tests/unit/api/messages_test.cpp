// The send API inside one process: a real api::Server on port 0, a real SQLite store, httplib's
// client. Asserts the exact 422 field names, 401/404/405/409/413/503, the committed rows behind
// each 202, idempotent replays, the status document, and the request validators on their own.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>

#include "api/auth.h"
#include "api/messages.h"
#include "api/send_request.h"
#include "api/server.h"
#include "common/base64.h"
#include "common/time.h"
#include "obs/metrics.h"
#include "store/store.h"
#include "store_test_support.h"

namespace {

using nlohmann::json;

constexpr const char* kKey = "send-key-0123456789";
constexpr const char* kOtherKey = "other-key-9876543210";
constexpr uint64_t kMaxMessage = 64 * 1024;

struct SendFixture : testing::Test {
  store_test::OpenedStore opened{store_test::Backend::sqlite};  // a real SQLite store, temporary
  std::unique_ptr<store::Store>& db = opened.db;
  obs::Registry registry;
  std::atomic<int> queued{0};
  std::unique_ptr<api::Server> server;
  std::unique_ptr<httplib::Client> client;

  void SetUp() override {
    ASSERT_NE(db, nullptr);
    std::string error;
    config::Api api;
    api.keys = {{"shop", kKey}, {"crm", kOtherKey}};
    api::SendOptions send;
    send.hostname = "bridge.test";
    send.max_message_bytes = kMaxMessage;
    send.queued = [this] { ++queued; };
    server = std::make_unique<api::Server>(
        api, *db, registry, [](const store::StoredInbound&) { return std::string("{}"); },
        std::function<void()>{}, send);
    ASSERT_TRUE(server->start("127.0.0.1", 0, error)) << error;
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_bearer_token_auth(kKey);
  }
  void TearDown() override {
    client.reset();
    if (server) server->stop();
  }

  httplib::Result post(const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {}) {
    return client->Post(path.c_str(), headers, body, "application/json");
  }
  double requests(const std::string& route, const std::string& status) {
    return registry.counter("smtp_bridge_api_requests_total", "")
        .add({{"route", route}, {"status", status}})
        .value();
  }
};

json valid_request() {
  return {{"from", {{"name", "Shop"}, {"address", "shop@example.com"}}},
          {"to", {{{"name", "Иван"}, {"address", "ivan@example.org"}}, "plain@example.org"}},
          {"cc", {"Carol <carol@example.org>"}},
          {"bcc", {"hidden@example.net", "IVAN@example.org"}},
          {"subject", "Ваш заказ"},
          {"text", "plain body"},
          {"headers", {{"X-Campaign", "nov"}}},
          {"metadata", {{"order", "42"}}}};
}

json body_of(const httplib::Result& result) {
  return json::parse(result->body, nullptr, false);
}

void expect_problem(const httplib::Result& result, int status, const std::string& slug) {
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, status) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/problem+json");
  json body = body_of(result);
  EXPECT_EQ(body["type"], "https://smtp-bridge.dev/problems/" + slug) << result->body;
  EXPECT_EQ(body["status"], status);
}

// The fields a 422 names, each once.
std::set<std::string> fields_of(const httplib::Result& result) {
  std::set<std::string> fields;
  if (!result || result->status != 422) {
    ADD_FAILURE() << "expected 422, got " << (result ? result->status : -1) << " "
                  << (result ? result->body : "");
    return fields;
  }
  json body = body_of(result);
  for (const auto& error : body["errors"]) {
    EXPECT_TRUE(error["message"].is_string());
    fields.insert(error["field"].get<std::string>());
  }
  return fields;
}

using Fields = std::set<std::string>;

TEST_F(SendFixture, refuses_a_missing_or_wrong_key_with_401) {
  httplib::Client anonymous("127.0.0.1", server->port());
  expect_problem(anonymous.Post("/v1/messages", valid_request().dump(), "application/json"), 401,
                 "unauthorized");
  anonymous.set_bearer_token_auth("wrong");
  expect_problem(anonymous.Post("/v1/messages/raw", "{}", "application/json"), 401, "unauthorized");
  expect_problem(anonymous.Get("/v1/messages/0190aaaa-0000-7000-8000-000000000000"), 401,
                 "unauthorized");
  EXPECT_EQ(queued.load(), 0);
  EXPECT_EQ(requests("/v1/messages", "401"), 1);
}

TEST_F(SendFixture, rejects_a_body_that_is_not_a_json_object_naming_body) {
  EXPECT_EQ(fields_of(post("/v1/messages", "{\"from\":")), Fields{"body"});
  EXPECT_EQ(fields_of(post("/v1/messages", "[1]")), Fields{"body"});
  EXPECT_EQ(fields_of(post("/v1/messages", "\"\xff\"")), Fields{"body"});  // not UTF-8
  EXPECT_EQ(fields_of(post("/v1/messages/raw", "")), Fields{"body"});
  expect_problem(post("/v1/messages", "nope"), 422, "invalid-request");
}

TEST_F(SendFixture, names_each_missing_field) {
  EXPECT_EQ(fields_of(post("/v1/messages", "{}")), (Fields{"from", "to", "text"}));
  EXPECT_EQ(fields_of(post("/v1/messages/raw", "{}")), (Fields{"envelope", "raw"}));
  json no_body = valid_request();
  no_body.erase("text");
  EXPECT_EQ(fields_of(post("/v1/messages", no_body.dump())), Fields{"text"});
  json attachment_only = no_body;
  attachment_only["attachments"] = {{{"filename", "a.bin"}, {"content", "AAEC"}}};
  EXPECT_EQ(post("/v1/messages", attachment_only.dump())->status, 202);
}

TEST_F(SendFixture, names_each_bad_address_by_its_path) {
  json request = valid_request();
  request["from"] = "not an address";
  request["to"] = {"ok@example.org", {{"name", "X"}, {"address", "a@@b"}}, "Y <y@-bad-.org>"};
  request["cc"] = {{{"name", "Line\r\nBreak"}, {"address", "c@example.org"}}};
  request["bcc"] = {42};
  request["reply_to"] = {{{"address", "r@example.org"}, {"nick", "r"}}};
  EXPECT_EQ(fields_of(post("/v1/messages", request.dump())),
            (Fields{"from", "to[1].address", "to[2]", "cc[0].name", "bcc[0]", "reply_to[0].nick"}));
  request = valid_request();
  request["to"] = "single@example.org";
  EXPECT_EQ(fields_of(post("/v1/messages", request.dump())), Fields{"to"});
}

TEST_F(SendFixture, refuses_cr_lf_in_headers_and_reserved_headers) {
  json request = valid_request();
  request["headers"] = {{"X-Foo", "a\r\nBcc: victim@example.org"},
                        {"X-Bar\r\nBcc", "x"},
                        {"X Space", "x"},
                        {"bcc", "x@example.org"},
                        {"Content-Type", "text/html"},
                        {"MESSAGE-ID", "<x@y>"},
                        {"X-Number", 7},
                        {"X-Fine", "kept"}};
  request["subject"] = "two\nlines";
  EXPECT_EQ(fields_of(post("/v1/messages", request.dump())),
            (Fields{"headers.X-Foo", "headers.X-Bar\r\nBcc", "headers.X Space", "headers.bcc",
                    "headers.Content-Type", "headers.MESSAGE-ID", "headers.X-Number", "subject"}));
  for (const char* reserved :
       {"From", "To", "Cc", "Date", "MIME-Version", "content-transfer-encoding"}) {
    json one = valid_request();
    one["headers"] = {{reserved, "x"}};
    EXPECT_EQ(fields_of(post("/v1/messages", one.dump())),
              Fields{std::string("headers.") + reserved});
  }
}

TEST_F(SendFixture, names_bad_attachments_metadata_and_unknown_fields) {
  json request = valid_request();
  request["attachments"] = {
      {{"filename", "a.pdf"}, {"content_type", "application/pdf"}, {"content", "!!"}},
      {{"filename", "b.txt"}, {"content_type", "text plain"}, {"content", "AA=="}},
      {{"filename", "c"}},
      {{"content", "AA=="}, {"content_id", "<logo>"}},
      "not an object"};
  request["metadata"] = {{"order", 42}};
  request["bogus"] = true;
  EXPECT_EQ(
      fields_of(post("/v1/messages", request.dump())),
      (Fields{"attachments[0].content", "attachments[1].content_type", "attachments[2].content",
              "attachments[3].content_id", "attachments[4]", "metadata.order", "bogus"}));
  EXPECT_EQ(queued.load(), 0);
}

TEST_F(SendFixture, validates_the_raw_envelope_and_message) {
  json request = {{"envelope", {{"mail_from", "a@b@c"}, {"rcpt_to", {"ok@example.org", "bad"}}}},
                  {"raw", "not base64!"}};
  EXPECT_EQ(fields_of(post("/v1/messages/raw", request.dump())),
            (Fields{"envelope.mail_from", "envelope.rcpt_to[1]", "raw"}));
  request = {{"envelope", {{"mail_from", ""}, {"rcpt_to", json::array()}}},
             {"raw", common::base64_encode("Subject: no separator\r\n")}};
  EXPECT_EQ(fields_of(post("/v1/messages/raw", request.dump())),
            (Fields{"envelope.rcpt_to", "raw"}));
  request["envelope"]["rcpt_to"] = {"x@example.org"};
  request["raw"] = common::base64_encode("no header at all\r\n\r\nbody");
  EXPECT_EQ(fields_of(post("/v1/messages/raw", request.dump())), Fields{"raw"});
  // A line over 998 octets would be refused by the upstream for good: 422 now, not a failure
  // after the 202. 998 itself is fine.
  request["raw"] = common::base64_encode("Subject: x\r\n\r\n" + std::string(999, 'l') + "\r\n");
  auto long_line = post("/v1/messages/raw", request.dump());
  EXPECT_EQ(fields_of(long_line), Fields{"raw"});
  ASSERT_TRUE(long_line);
  EXPECT_NE(long_line->body.find("a line of 999 octets"), std::string::npos) << long_line->body;
  request["raw"] = common::base64_encode("Subject: x\r\n\r\n" + std::string(998, 'l'));
  auto at_limit = post("/v1/messages/raw", request.dump());
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->status, 202) << at_limit->body;
}

TEST_F(SendFixture, refuses_an_oversized_request_with_413) {
  json request = valid_request();
  // Over the body limit: httplib stops reading and the listener answers 413 problem+json.
  request["text"] = std::string(api::max_request_body(kMaxMessage) + 1, 'x');
  auto over_body = post("/v1/messages", request.dump());
  expect_problem(over_body, 413, "content-too-large");
  // Within the body limit but over the message size once decoded.
  request["text"] = std::string(kMaxMessage + 1, 'x');
  expect_problem(post("/v1/messages", request.dump()), 413, "content-too-large");
  json raw = {
      {"envelope", {{"mail_from", ""}, {"rcpt_to", {"x@example.org"}}}},
      {"raw", common::base64_encode("Subject: big\r\n\r\n" + std::string(kMaxMessage, 'y'))}};
  expect_problem(post("/v1/messages/raw", raw.dump()), 413, "content-too-large");
  EXPECT_EQ(queued.load(), 0);
}

TEST_F(SendFixture, answers_202_only_after_the_message_is_committed) {
  auto result = post("/v1/messages", valid_request().dump());
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 202) << result->body;
  json body = body_of(result);
  ASSERT_TRUE(body["id"].is_string());
  std::string id = body["id"];
  EXPECT_EQ(body["status"], "queued");
  EXPECT_EQ(body["message_id"], id + "@bridge.test");
  EXPECT_EQ(result->get_header_value("Location"), "/v1/messages/" + id);
  EXPECT_FALSE(result->has_header("Idempotent-Replayed"));
  EXPECT_EQ(queued.load(), 1);
  std::optional<store::StoredOutbound> stored = db->find_outbound(id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->mail_from, "shop@example.com");
  EXPECT_EQ(stored->message_id, id + "@bridge.test");
  std::vector<std::string> rcpts;
  for (const auto& row : stored->recipients) rcpts.push_back(row.rcpt);
  // to + cc + bcc in order, IVAN@example.org dropped as a repeat of ivan@example.org.
  EXPECT_EQ(rcpts, (std::vector<std::string>{"ivan@example.org", "plain@example.org",
                                             "carol@example.org", "hidden@example.net"}));
  EXPECT_EQ(requests("/v1/messages", "202"), 1);
}

TEST_F(SendFixture, sends_a_raw_message_with_its_own_message_id) {
  std::string data = "Message-ID:\n <own@example.com>\nSubject: raw\n\nbody\n";
  json request = {
      {"envelope", {{"mail_from", ""}, {"rcpt_to", {"x@example.org", "X@EXAMPLE.ORG"}}}},
      {"raw", common::base64_encode(data)}};
  auto result = post("/v1/messages/raw", request.dump());
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 202) << result->body;
  json body = body_of(result);
  EXPECT_EQ(body["message_id"], "own@example.com");
  auto stored = db->find_outbound(body["id"]);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->mail_from, "");
  EXPECT_EQ(
      stored->size,
      std::string("Message-ID:\r\n <own@example.com>\r\nSubject: raw\r\n\r\nbody\r\n").size());
  ASSERT_EQ(stored->recipients.size(), 1u);
  request["raw"] = common::base64_encode("Subject: none\r\n\r\nbody\r\n");
  EXPECT_TRUE(body_of(post("/v1/messages/raw", request.dump()))["message_id"].is_null());
}

TEST_F(SendFixture, replays_the_first_response_for_the_same_key_and_body) {
  std::string body = valid_request().dump();
  auto first = post("/v1/messages", body, {{"Idempotency-Key", "order-42"}});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  auto again = post("/v1/messages", body, {{"Idempotency-Key", "order-42"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202);
  EXPECT_EQ(again->body, first->body);
  EXPECT_EQ(again->get_header_value("Idempotent-Replayed"), "true");
  EXPECT_EQ(queued.load(), 1);
  json other = valid_request();
  other["subject"] = "changed";
  expect_problem(post("/v1/messages", other.dump(), {{"Idempotency-Key", "order-42"}}), 409,
                 "idempotency-conflict");
  // Keys are scoped per API key: another client's "order-42" is its own.
  httplib::Client crm("127.0.0.1", server->port());
  crm.set_bearer_token_auth(kOtherKey);
  auto theirs =
      crm.Post("/v1/messages", {{"Idempotency-Key", "order-42"}}, body, "application/json");
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 202);
  EXPECT_NE(body_of(theirs)["id"], body_of(first)["id"]);
  EXPECT_FALSE(theirs->has_header("Idempotent-Replayed"));
  EXPECT_EQ(fields_of(post("/v1/messages", body, {{"Idempotency-Key", std::string(256, 'k')}})),
            Fields{"Idempotency-Key"});
}

TEST_F(SendFixture, answers_503_with_retry_after_when_the_store_refuses) {
  db->close();
  auto result = post("/v1/messages", valid_request().dump());
  expect_problem(result, 503, "shutting-down");
  EXPECT_FALSE(result->get_header_value("Retry-After").empty());
  EXPECT_EQ(queued.load(), 0);
}

TEST_F(SendFixture, shows_each_recipients_status_and_last_reply) {
  json request = valid_request();
  request["to"] = {"a@example.org", "b@example.org"};
  request.erase("cc");
  request.erase("bcc");
  std::string id = body_of(post("/v1/messages", request.dump()))["id"];
  json queued_doc = body_of(client->Get("/v1/messages/" + id));
  EXPECT_EQ(queued_doc["status"], "queued");
  EXPECT_EQ(queued_doc["id"], id);
  EXPECT_EQ(queued_doc["message_id"], id + "@bridge.test");
  EXPECT_EQ(queued_doc["metadata"], json({{"order", "42"}}));  // kept, shown, never sent
  ASSERT_EQ(queued_doc["recipients"].size(), 2u);
  EXPECT_EQ(queued_doc["recipients"][0]["address"], "a@example.org");
  EXPECT_EQ(queued_doc["recipients"][0]["attempts"], 0);
  EXPECT_TRUE(queued_doc["recipients"][0]["last_reply"].is_null());

  int64_t later = common::unix_ms(common::Clock::now()) + 1000;
  auto jobs = db->claim_outbound(10, later);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(body_of(client->Get("/v1/messages/" + id))["status"], "sending");
  store::RecipientResult sent{
      "a@example.org", store::RecipientOutcome::sent, 0, 250, "2.0.0", "ok"};
  store::RecipientResult failed{"b@example.org", store::RecipientOutcome::failed, 0, 550, "5.1.1",
                                "no such user"};
  db->finish_outbound(id, {sent, failed});
  json doc = body_of(client->Get("/v1/messages/" + id));
  EXPECT_EQ(doc["status"], "partially_failed");
  EXPECT_EQ(doc["recipients"][1]["status"], "failed");
  EXPECT_EQ(doc["recipients"][1]["attempts"], 1);
  EXPECT_EQ(doc["recipients"][1]["last_reply"],
            json({{"code", 550}, {"enhanced", "5.1.1"}, {"text", "no such user"}}));
  EXPECT_TRUE(doc["recipients"][1]["next_attempt_at"].is_null());
  expect_problem(client->Get("/v1/messages/0190aaaa-0000-7000-8000-000000000000"), 404,
                 "not-found");
}

TEST_F(SendFixture, answers_other_methods_405_with_allow) {
  auto put = client->Put("/v1/messages", "{}", "application/json");
  expect_problem(put, 405, "method-not-allowed");
  EXPECT_EQ(put->get_header_value("Allow"), "POST");
  auto get_raw = client->Get("/v1/messages/raw");
  expect_problem(get_raw, 405, "method-not-allowed");
  EXPECT_EQ(get_raw->get_header_value("Allow"), "POST");
  auto post_one =
      client->Post("/v1/messages/0190aaaa-0000-7000-8000-000000000000", "{}", "application/json");
  expect_problem(post_one, 405, "method-not-allowed");
  EXPECT_EQ(post_one->get_header_value("Allow"), "GET");
  EXPECT_EQ(requests("/v1/messages/{id}", "405"), 1);
}

TEST(SendRequestParts, the_key_ring_names_the_key_that_matched) {
  api::KeyRing keys({{"shop", "key-one"}, {"crm", "key-two"}});
  EXPECT_EQ(keys.authorize("Bearer key-one"), "shop");
  EXPECT_EQ(keys.authorize("Bearer key-two"), "crm");
  EXPECT_EQ(keys.authorize("Bearer key-three"), std::nullopt);
  api::KeyRing generated({});
  EXPECT_EQ(generated.authorize("Bearer " + generated.generated()), "generated");
}

TEST(SendRequestParts, splits_display_names_and_finds_message_ids) {
  mime::Mailbox plain = api::split_mailbox("a@b");
  EXPECT_EQ(plain.name, "");
  EXPECT_EQ(plain.address, "a@b");
  mime::Mailbox named = api::split_mailbox(" \"Doe, \\\"J\\\"\" <j@example.com> ");
  EXPECT_EQ(named.name, "Doe, \"J\"");
  EXPECT_EQ(named.address, "j@example.com");
  EXPECT_EQ(api::split_mailbox("Иван <ivan@example.org>").name, "Иван");
  EXPECT_EQ(api::find_message_id("Subject: x\r\nmessage-id: <a@b>\r\n\r\nMessage-ID: <no@no>\r\n"),
            "a@b");
  EXPECT_EQ(api::find_message_id("Subject: x\r\n\r\nMessage-ID: <body@no>\r\n"), "");
  EXPECT_EQ(api::normalise_line_ends("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd");
  EXPECT_TRUE(api::valid_field_name("X-Campaign"));
  EXPECT_FALSE(api::valid_field_name("X:Y"));
  EXPECT_TRUE(api::reserved_field_name("content-disposition"));
  EXPECT_FALSE(api::reserved_field_name("X-Content"));
}

TEST(SendRequestParts, derives_the_overall_status_from_the_recipients) {
  auto rows = [](std::initializer_list<const char*> states) {
    std::vector<store::OutboundRecipientRow> list;
    for (const char* state : states) {
      store::OutboundRecipientRow row;
      row.rcpt = "r@x";
      row.state = state;
      list.push_back(row);
    }
    return list;
  };
  EXPECT_EQ(api::overall_status(rows({"queued", "queued"})), "queued");
  EXPECT_EQ(api::overall_status(rows({"sent", "queued"})), "queued");
  EXPECT_EQ(api::overall_status(rows({"deferred", "queued", "sent"})), "deferred");
  EXPECT_EQ(api::overall_status(rows({"deferred", "in_flight"})), "sending");
  EXPECT_EQ(api::overall_status(rows({"sent", "sent"})), "sent");
  EXPECT_EQ(api::overall_status(rows({"failed", "failed"})), "failed");
  EXPECT_EQ(api::overall_status(rows({"sent", "failed"})), "partially_failed");
  EXPECT_EQ(api::recipient_status("in_flight"), "sending");
  EXPECT_EQ(api::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
