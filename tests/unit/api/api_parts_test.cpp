// The API's pieces without a listener: the key ring accepts exactly the configured keys (or the
// generated one) in a Bearer header; cursors round-trip and refuse anything they did not make;
// problem bodies carry RFC 9457's members.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/auth.h"
#include "api/inbound.h"
#include "api/reply.h"

namespace {

TEST(ApiKeyRing, accepts_each_configured_key_as_a_bearer_token_only) {
  api::KeyRing keys({{"shop", "key-one"}, {"crm", "another-key-two"}});
  EXPECT_TRUE(keys.generated().empty());
  EXPECT_TRUE(keys.authorized("Bearer key-one"));
  EXPECT_TRUE(keys.authorized("bearer another-key-two"));  // RFC 9110 11.1: case-insensitive scheme
  EXPECT_FALSE(keys.authorized("Bearer key-on"));
  EXPECT_FALSE(keys.authorized("Bearer key-one2"));
  EXPECT_FALSE(keys.authorized("Basic key-one"));
  EXPECT_FALSE(keys.authorized("key-one"));
  EXPECT_FALSE(keys.authorized("Bearer "));
  EXPECT_FALSE(keys.authorized("Bearerkey-one"));
  EXPECT_FALSE(keys.authorized(""));
}

TEST(ApiKeyRing, generates_a_random_key_when_none_is_configured) {
  api::KeyRing first({});
  api::KeyRing second({});
  const std::string& key = first.generated();
  ASSERT_EQ(key.rfind("sbk_", 0), 0u);
  EXPECT_EQ(key.size(), 4u + 43u);  // 32 bytes in unpadded base64url
  EXPECT_EQ(key.find_first_of("+/="), std::string::npos);
  EXPECT_NE(key, second.generated());
  EXPECT_TRUE(first.authorized("Bearer " + key));
  EXPECT_FALSE(first.authorized("Bearer " + second.generated()));
}

TEST(ApiCursor, round_trips_an_id_and_refuses_foreign_text) {
  std::string id = "0193aa2e-8c1a-7b7e-9c2a-5b1e2f3a4b5c";
  std::string cursor = api::encode_cursor(id);
  EXPECT_EQ(cursor.find_first_of("+/="), std::string::npos);
  EXPECT_EQ(api::decode_cursor(cursor), id);
  EXPECT_EQ(api::decode_cursor(id), std::nullopt);
  EXPECT_EQ(api::decode_cursor(""), std::nullopt);
  EXPECT_EQ(api::decode_cursor(api::encode_cursor("not a uuid")), std::nullopt);
  EXPECT_EQ(api::decode_cursor(cursor + "A"), std::nullopt);
}

TEST(ApiProblem, has_type_title_status_detail_and_errors) {
  api::Reply reply =
      api::problem(422, "invalid-parameters", "Invalid Parameters", "bad", {{"limit", "too big"}});
  EXPECT_EQ(reply.status, 422);
  EXPECT_EQ(reply.content_type, "application/problem+json");
  auto body = nlohmann::json::parse(reply.body);
  EXPECT_EQ(body["type"], "https://smtp-bridge.dev/problems/invalid-parameters");
  EXPECT_EQ(body["title"], "Invalid Parameters");
  EXPECT_EQ(body["status"], 422);
  EXPECT_EQ(body["detail"], "bad");
  EXPECT_EQ(body["errors"], nlohmann::json::parse(R"([{"field":"limit","message":"too big"}])"));
  EXPECT_FALSE(nlohmann::json::parse(api::not_found("x").body).contains("errors"));
}

}  // namespace
