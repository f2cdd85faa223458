// Tests of the HTTP guard's pure rules: where a head ends and which limit refuses it (with the
// status and metric reason), the body framing and coding checks, and the body's pace.
#include "obs/http_guard.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using obs::BodyHeaders;
using obs::HeadScanner;
using State = HeadScanner::State;

common::HttpLimits small_limits() {
  common::HttpLimits limits;
  limits.max_header_line = 64;
  limits.max_headers = 3;
  limits.max_head_bytes = 200;
  return limits;
}

TEST(HeadScanner, FindsTheEndOfTheHeadAcrossFeeds) {
  auto limits = small_limits();
  HeadScanner scanner(limits);
  EXPECT_EQ(scanner.feed("GET / HTTP/1.1\r\nHost: a\r"), State::partial);
  EXPECT_EQ(scanner.feed("\n\r"), State::partial);
  EXPECT_EQ(scanner.feed("\nBODY"), State::complete);
  EXPECT_EQ(scanner.head_size(), 27u);  // the body's first byte is not part of it
  scanner.reset();
  EXPECT_EQ(scanner.feed("GET / HTTP/1.1\r\n\r\n"), State::complete);
  EXPECT_EQ(scanner.head_size(), 18u);
}

TEST(HeadScanner, ALineOfLfAloneDoesNotEndTheHeadAsHttplibSkipsIt) {
  auto limits = small_limits();
  HeadScanner scanner(limits);
  EXPECT_EQ(scanner.feed("GET / HTTP/1.1\nA: b\n\n"), State::partial);
  EXPECT_EQ(scanner.feed("\r\n"), State::complete);
}

TEST(HeadScanner, ALongRequestLineIs414AndALongHeaderLine431) {
  auto limits = small_limits();
  HeadScanner scanner(limits);
  EXPECT_EQ(scanner.feed("GET /" + std::string(100, 'a')), State::refused);
  EXPECT_EQ(scanner.refusal().status, 414);
  EXPECT_EQ(scanner.refusal().reason, "request_line");
  EXPECT_LE(scanner.scanned(), 65u);  // refused at the first byte over the limit
  scanner.reset();
  // Exactly the limit, CRLF included, passes.
  EXPECT_EQ(scanner.feed("GET / HTTP/1.1\r\nX: " + std::string(59, 'b') + "\r\n"), State::partial);
  EXPECT_EQ(scanner.feed("Y: " + std::string(70, 'c')), State::refused);
  EXPECT_EQ(scanner.refusal().status, 431);
  EXPECT_EQ(scanner.refusal().slug, "request-header-fields-too-large");
  EXPECT_EQ(scanner.refusal().reason, "header_line");
}

TEST(HeadScanner, MoreHeaderLinesThanTheLimitAre431) {
  auto limits = small_limits();
  HeadScanner scanner(limits);
  EXPECT_EQ(scanner.feed("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), State::complete);
  scanner.reset();
  EXPECT_EQ(scanner.feed("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"), State::refused);
  EXPECT_EQ(scanner.refusal().status, 431);
  EXPECT_EQ(scanner.refusal().reason, "headers");
}

TEST(HeadScanner, AHeadLargerThanTheLimitIs431) {
  auto limits = small_limits();
  limits.max_headers = 100;
  HeadScanner scanner(limits);
  std::string head = "GET / HTTP/1.1\r\n";
  while (head.size() < 300) head += "X-Line: " + std::string(40, 'x') + "\r\n";
  EXPECT_EQ(scanner.feed(head), State::refused);
  EXPECT_EQ(scanner.refusal().reason, "head_size");
  EXPECT_EQ(scanner.scanned(), 201u);
}

BodyHeaders body(std::vector<std::string> length, std::vector<std::string> transfer = {},
                 std::vector<std::string> coding = {}) {
  return {std::move(length), std::move(transfer), std::move(coding)};
}

TEST(CheckBodyHeaders, AcceptsPlainLengthsChunkedAndIdentity) {
  EXPECT_FALSE(obs::check_body_headers(body({"100"}), 100));
  EXPECT_FALSE(obs::check_body_headers(body({}, {"Chunked"}), 100));
  EXPECT_FALSE(obs::check_body_headers(body({"10", "10"}, {}, {"identity"}), 100));
  EXPECT_FALSE(obs::check_body_headers(body({}), 0));
}

TEST(CheckBodyHeaders, RefusesWhatHttplibWouldReadWithoutBound) {
  auto over = obs::check_body_headers(body({"101"}), 100);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 413);
  EXPECT_EQ(over->reason, "body_size");
  auto gzip = obs::check_body_headers(body({"10"}, {}, {"identity, GZIP"}), 100);
  ASSERT_TRUE(gzip);
  EXPECT_EQ(gzip->status, 415);
  EXPECT_EQ(gzip->headers.at(0).first, "Accept-Encoding");
  EXPECT_EQ(obs::check_body_headers(body({}, {}, {"br"}), 100)->status, 415);
  EXPECT_EQ(obs::check_body_headers(body({}, {"gzip, chunked"}), 100)->status, 501);
  EXPECT_EQ(obs::check_body_headers(body({}, {"chunked", "chunked"}), 100)->status, 501);
  EXPECT_EQ(obs::check_body_headers(body({"5"}, {"chunked"}), 100)->status, 400);
  EXPECT_EQ(obs::check_body_headers(body({"5", "6"}), 100)->status, 400);
  EXPECT_EQ(obs::check_body_headers(body({"-1"}), 100)->status, 400);
  EXPECT_EQ(obs::check_body_headers(body({"99999999999999999999999"}), 100)->status, 400);
}

TEST(CheckBodyHeaders, DeclaresBody) {
  EXPECT_FALSE(body({"0"}).declares_body());
  EXPECT_FALSE(body({}).declares_body());
  EXPECT_TRUE(body({"1"}).declares_body());
  EXPECT_TRUE(body({}, {"chunked"}).declares_body());
}

TEST(BodyDeadline, GraceThenOneSecondPerMinRateBytes) {
  auto start = std::chrono::steady_clock::time_point{};
  using std::chrono::milliseconds;
  EXPECT_EQ(obs::body_deadline(start, milliseconds(2000), 1000, 0), start + milliseconds(2000));
  EXPECT_EQ(obs::body_deadline(start, milliseconds(2000), 1000, 1500), start + milliseconds(3500));
  EXPECT_EQ(obs::body_deadline(start, milliseconds(2000), 0, 1 << 30),
            std::chrono::steady_clock::time_point::max());
}

}  // namespace
