// Tests of api::TokenBucket and api::KeyLimiter with an injected clock (time is an argument: no
// sleeps), of the RateLimit fields they give, of the recipients count of send bodies, and of the
// key ring's identities and scopes.
#include "api/rate_limit.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/auth.h"

namespace {

using namespace std::chrono_literals;

const api::SteadyTime kT0{std::chrono::hours(1)};

TEST(TokenBucket, starts_full_refills_at_its_rate_and_never_beyond_its_capacity) {
  api::TokenBucket bucket(2, 4, kT0);  // 2 tokens a second, 4 at most
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(bucket.take(1, kT0)) << i;
  EXPECT_FALSE(bucket.take(1, kT0));
  EXPECT_EQ(bucket.seconds_until(1, kT0), 1);  // 0.5 s rounded up: Retry-After is whole seconds
  EXPECT_FALSE(bucket.take(1, kT0 + 499ms));
  EXPECT_TRUE(bucket.take(1, kT0 + 500ms));
  EXPECT_NEAR(bucket.available(kT0 + 1h), 4, 1e-9);
  EXPECT_EQ(bucket.seconds_until(1, kT0 + 1h), 0);
}

TEST(TokenBucket, a_cost_above_what_is_left_takes_nothing_and_giving_back_is_capped) {
  api::TokenBucket bucket(1, 10, kT0);
  EXPECT_TRUE(bucket.take(7, kT0));
  EXPECT_FALSE(bucket.take(4, kT0));  // 3 left: refused whole
  EXPECT_NEAR(bucket.available(kT0), 3, 1e-9);
  EXPECT_EQ(bucket.seconds_until(4, kT0), 1);
  EXPECT_EQ(bucket.seconds_until(10, kT0), 7);
  EXPECT_EQ(bucket.seconds_until(11, kT0), 0);  // never: the caller says so
  bucket.give_back(100, kT0);
  EXPECT_NEAR(bucket.available(kT0), 10, 1e-9);
  // A clock read older than the last adds nothing.
  EXPECT_TRUE(bucket.take(10, kT0));
  EXPECT_NEAR(bucket.available(kT0 - 5s), 0, 1e-9);
}

TEST(KeyLimiter, without_limits_admits_everything_and_sends_no_fields) {
  api::KeyLimiter limiter({}, kT0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.admit_request(kT0).allowed);
  EXPECT_TRUE(limiter.admit_recipients(100000, kT0).allowed);
  EXPECT_TRUE(limiter.headers(kT0).empty());
}

TEST(KeyLimiter, refuses_requests_past_the_burst_with_retry_after_and_fields) {
  config::ApiRateLimit config;
  config.requests_per_second = 10;
  config.burst = 20;
  api::KeyLimiter limiter(config, kT0);
  auto fields = limiter.headers(kT0);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].first, "RateLimit-Policy");
  EXPECT_EQ(fields[0].second, "\"requests\";q=20;w=2");
  EXPECT_EQ(fields[1].first, "RateLimit");
  EXPECT_EQ(fields[1].second, "\"requests\";r=20;t=0");
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(limiter.admit_request(kT0).allowed) << i;
  EXPECT_FALSE(limiter.peek_request(kT0).allowed);
  api::Verdict refused = limiter.admit_request(kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_STREQ(refused.limit, "requests_per_second");
  EXPECT_EQ(refused.retry_after, 1);
  EXPECT_EQ(limiter.headers(kT0)[1].second, "\"requests\";r=0;t=2");
  EXPECT_TRUE(limiter.peek_request(kT0 + 100ms).allowed);  // peeking takes nothing
  EXPECT_TRUE(limiter.admit_request(kT0 + 100ms).allowed);
  EXPECT_FALSE(limiter.admit_request(kT0 + 100ms).allowed);
}

TEST(KeyLimiter, recipients_are_taken_whole_and_refunded) {
  config::ApiRateLimit config;
  config.recipients_per_hour = 3600;  // one a second
  api::KeyLimiter limiter(config, kT0);
  EXPECT_TRUE(limiter.admit_request(kT0).allowed);  // no request limit
  api::Verdict first = limiter.admit_recipients(3000, kT0);
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.cost, 3000u);
  api::Verdict over = limiter.admit_recipients(601, kT0);
  EXPECT_FALSE(over.allowed);
  EXPECT_STREQ(over.limit, "recipients_per_hour");
  EXPECT_EQ(over.retry_after, 1);
  EXPECT_TRUE(limiter.admit_recipients(600, kT0).allowed);  // the refused one took nothing
  limiter.refund_recipients(600, kT0);
  EXPECT_EQ(limiter.headers(kT0)[0].second, "\"recipients\";q=3600;w=3600");
  EXPECT_EQ(limiter.headers(kT0)[1].second, "\"recipients\";r=600;t=3000");
  api::Verdict never = limiter.admit_recipients(3601, kT0 + 24h);
  EXPECT_FALSE(never.allowed);
  EXPECT_EQ(never.retry_after, 0);  // more than the whole budget: a retry cannot pass
}

TEST(KeyLimiter, both_policies_are_listed_in_one_field_each) {
  config::ApiRateLimit config;
  config.requests_per_second = 5;
  config.burst = 5;
  config.recipients_per_hour = 100;
  api::KeyLimiter limiter(config, kT0);
  auto fields = limiter.headers(kT0);
  EXPECT_EQ(fields[0].second, "\"requests\";q=5;w=1, \"recipients\";q=100;w=3600");
  EXPECT_EQ(fields[1].second, "\"requests\";r=5;t=0, \"recipients\";r=100;t=0");
}

TEST(RateLimited, is_problem_json_naming_the_limit_with_retry_after) {
  api::Reply reply = api::rate_limited("shop", {false, "requests_per_second", 2, 0});
  EXPECT_EQ(reply.status, 429);
  EXPECT_EQ(reply.content_type, "application/problem+json");
  auto body = nlohmann::json::parse(reply.body);
  EXPECT_EQ(body["type"], "https://smtp-bridge.dev/problems/rate-limited");
  EXPECT_EQ(body["limit"], "requests_per_second");
  ASSERT_EQ(reply.headers.size(), 1u);
  EXPECT_EQ(reply.headers[0], (std::pair<std::string, std::string>{"Retry-After", "2"}));
  EXPECT_TRUE(api::rate_limited("shop", {false, "recipients_per_hour", 0, 0}).headers.empty());
}

TEST(CountRecipients, counts_each_address_once_per_message_as_the_send_api_does) {
  using api::SendBody;
  EXPECT_EQ(
      api::count_recipients(
          SendBody::json,
          R"({"from":"a@x.test","to":["b@y.test","Bee <B@Y.test>"],"cc":[{"address":"c@y.test"}],
                   "bcc":["d@y.test"],"text":"hi","attachments":[{"content":"aGk="}]})"),
      3u);
  EXPECT_EQ(
      api::count_recipients(
          SendBody::raw,
          R"({"envelope":{"mail_from":"","rcpt_to":["a@y.test","b@y.test","A@y.test"]},"raw":"eA=="})"),
      2u);
  EXPECT_EQ(
      api::count_recipients(SendBody::batch,
                            R"({"messages":[{"to":["a@y.test"]},{"to":["a@y.test","b@y.test"]}]})"),
      3u);
  EXPECT_EQ(api::count_recipients(SendBody::json, "not json"), 0u);
  EXPECT_EQ(api::count_recipients(SendBody::json, "[1]"), 0u);
  EXPECT_EQ(api::count_recipients(SendBody::none, R"({"to":["a@y.test"]})"), 0u);
}

TEST(CountRecipients, what_was_not_queued_is_given_back) {
  using api::SendBody;
  api::Reply queued;
  queued.status = 202;
  EXPECT_EQ(api::recipients_not_queued(SendBody::json, {3}, queued), 0u);
  api::Reply replayed = queued;
  replayed.headers.emplace_back("Idempotent-Replayed", "true");
  EXPECT_EQ(api::recipients_not_queued(SendBody::json, {3}, replayed), 3u);
  api::Reply invalid;
  invalid.status = 422;
  EXPECT_EQ(api::recipients_not_queued(SendBody::raw, {2}, invalid), 2u);
  EXPECT_EQ(
      api::count_recipients_per_message(
          SendBody::batch, R"({"messages":[{"to":["a@y.test"]},{"to":["a@y.test","b@y.test"]}]})"),
      (std::vector<size_t>{1, 2}));
  api::Reply batch;
  batch.status = 202;
  batch.body = R"({"results":[{"status":"invalid","errors":[]},{"id":"x","status":"queued"},)"
               R"({"status":"invalid"}],"queued":1,"invalid":2})";
  EXPECT_EQ(api::recipients_not_queued(SendBody::batch, {4, 2, 1}, batch), 5u);
  // An answer of another shape keeps the charge.
  batch.body = R"({"results":[]})";
  EXPECT_EQ(api::recipients_not_queued(SendBody::batch, {4, 2, 1}, batch), 0u);
}

TEST(KeyRing, identifies_each_key_with_its_scopes_and_limits) {
  config::ApiKey reader{"reader", "key-reader", std::vector<std::string>{"inbound:read"}, {}};
  config::ApiKey full{"full", "key-full"};
  full.rate_limit.requests_per_second = 3;
  api::KeyRing keys({reader, full});
  const api::KeyIdentity* r = keys.identify("Bearer key-reader");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "reader");
  EXPECT_EQ(r->index, 0u);
  EXPECT_TRUE(r->allows("inbound:read"));
  EXPECT_FALSE(r->allows("inbound:write"));
  EXPECT_FALSE(r->allows("send"));
  const api::KeyIdentity* f = keys.identify("Bearer key-full");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->index, 1u);
  EXPECT_EQ(f->rate_limit.requests_per_second, 3u);
  for (std::string_view scope : config::kApiScopes) EXPECT_TRUE(f->allows(scope)) << scope;
  EXPECT_EQ(keys.identify("Bearer key-rea"), nullptr);
  EXPECT_EQ(keys.authorize("Bearer key-reader"), "reader");
  api::KeyRing generated({});
  EXPECT_TRUE(generated.identify("Bearer " + generated.generated())->allows("send"));
}

TEST(KeyRing, insufficient_scope_is_403_naming_the_scope) {
  api::KeyIdentity key{"reader", std::vector<std::string>{"inbound:read"}, {}, 0};
  api::Reply reply = api::insufficient_scope(key, "send");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.content_type, "application/problem+json");
  auto body = nlohmann::json::parse(reply.body);
  EXPECT_EQ(body["type"], "https://smtp-bridge.dev/problems/insufficient-scope");
  EXPECT_EQ(body["scope"], "send");
  EXPECT_NE(body["detail"].get<std::string>().find("'send'"), std::string::npos);
  ASSERT_EQ(reply.headers.size(), 1u);
  EXPECT_EQ(reply.headers[0].second,
            "Bearer realm=\"smtp-bridge\", error=\"insufficient_scope\", scope=\"send\"");
}

}  // namespace
