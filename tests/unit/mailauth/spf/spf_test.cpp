// check_spf and check_spf_identity (src/mailauth/spf.h) against a real DNS server (test_zone.h):
// the verdict's fields (result, domain, sender, the matching term as published), the identities of
// RFC 7208 2.3 and 2.4, the limits of 4.6.4 at and past their edge, the deadline, a loopback
// client evaluated like any other, and concurrent callers.
#include "mailauth/spf.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_zone.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class SpfTest : public spf_test::ZoneFixture {
 protected:
  mailauth::SpfVerdict check(const std::string& ip, const std::string& sender,
                             const std::string& helo = "mail.example.test",
                             std::chrono::milliseconds budget = 5000ms) {
    return mailauth::check_spf_identity(*resolver_, ip, helo, sender, "mailfrom",
                                        Clock::now() + budget);
  }
};

TEST_F(SpfTest, PassNamesTheMatchingMechanismAsPublished) {
  const auto v = check("192.0.2.10", "alice@ip4.spf.test");
  EXPECT_EQ(v.result, "pass");
  EXPECT_EQ(v.identity, "mailfrom");
  EXPECT_EQ(v.domain, "ip4.spf.test");
  EXPECT_EQ(v.sender, "alice@ip4.spf.test");
  EXPECT_EQ(v.mechanism, "ip4:192.0.2.0/24");
  EXPECT_EQ(v.reason, "");
}

TEST_F(SpfTest, FailSoftfailAndNeutralName_all_OrNothingForTheDefault) {
  auto v = check("198.51.100.1", "bob@ip4.spf.test");
  EXPECT_EQ(v.result, "fail");
  EXPECT_EQ(v.mechanism, "-all");
  v = check("198.51.100.1", "bob@soft.spf.test");
  EXPECT_EQ(v.result, "softfail");
  EXPECT_EQ(v.mechanism, "~all");
  v = check("198.51.100.1", "bob@query.spf.test");
  EXPECT_EQ(v.result, "neutral");
  EXPECT_EQ(v.mechanism, "?all");
  v = check("198.51.100.1", "bob@neutral.spf.test");  // RFC 7208 4.7: no match, no redirect
  EXPECT_EQ(v.result, "neutral");
  EXPECT_EQ(v.mechanism, "");
}

TEST_F(SpfTest, IncludeRedirectMxAExistsPtrAndIp6) {
  auto v = check("192.0.2.10", "x@include.spf.test");
  EXPECT_EQ(v.result, "pass");
  EXPECT_EQ(v.mechanism, "include:ip4.spf.test");
  v = check("198.51.100.1", "x@redirect.spf.test");
  EXPECT_EQ(v.result, "softfail");
  EXPECT_EQ(v.mechanism, "redirect=soft.spf.test");
  v = check("192.0.2.25", "x@mx.spf.test");
  EXPECT_EQ(v.result, "pass");
  EXPECT_EQ(v.mechanism, "mx");
  v = check("2001:db8::25", "x@mx.spf.test");
  EXPECT_EQ(v.result, "pass");
  v = check("192.0.2.5", "x@a.spf.test");
  EXPECT_EQ(v.result, "pass");
  EXPECT_EQ(v.mechanism, "a:host.a.spf.test/24");
  v = check("192.0.2.10", "x@exists.spf.test");
  EXPECT_EQ(v.result, "pass");
  EXPECT_EQ(v.mechanism, "exists:%{i}.allow.spf.test");
  EXPECT_EQ(check("192.0.2.11", "x@exists.spf.test").result, "fail");
  v = check("1.2.3.4", "x@ptr.spf.test");
  EXPECT_EQ(v.result, "pass");
  EXPECT_EQ(v.mechanism, "ptr");
  // RFC 7208 5.5: a PTR name whose address lookup fails (a CNAME loop: SERVFAIL) is skipped.
  v = check("1.2.3.6", "x@ptr.spf.test");
  EXPECT_EQ(v.result, "fail") << v.reason;
  EXPECT_EQ(check("2001:db8:1::1", "x@ip6.spf.test").result, "pass");
  EXPECT_EQ(check("::ffff:192.0.2.10", "x@ip4.spf.test").result, "pass");  // IPv4-mapped
}

TEST_F(SpfTest, NoneTemperrorAndPermerrorSayWhy) {
  auto v = check("192.0.2.10", "x@nospf.spf.test");
  EXPECT_EQ(v.result, "none");
  EXPECT_NE(v.reason, "");
  EXPECT_EQ(check("192.0.2.10", "x@nxdomain.spf.test").result, "none");
  v = check("192.0.2.10", "x@two.spf.test");  // RFC 7208 4.5
  EXPECT_EQ(v.result, "permerror");
  EXPECT_NE(v.reason.find("several"), std::string::npos) << v.reason;
  v = check("192.0.2.10", "x@syntax.spf.test");  // "a:foo-bar": no valid top label
  EXPECT_EQ(v.result, "permerror");
  EXPECT_NE(v.reason.find("a:foo-bar"), std::string::npos) << v.reason;
  EXPECT_EQ(check("192.0.2.10", "x@loop.spf.test").result, "permerror");
}

TEST_F(SpfTest, TenDnsTermsAreAllowedAndTheEleventhIsAPermerror) {
  EXPECT_EQ(check("192.0.2.10", "x@ten.spf.test").result, "pass");
  auto v = check("192.0.2.10", "x@eleven.spf.test");
  EXPECT_EQ(v.result, "permerror");
  EXPECT_NE(v.reason.find("10 DNS"), std::string::npos) << v.reason;
  // Counted across includes: 2 includes + 10 a terms inside them = 12 (libspf2 counts each
  // include's record on its own).
  v = check("192.0.2.10", "x@nested.spf.test");
  EXPECT_EQ(v.result, "permerror");
}

TEST_F(SpfTest, TwoVoidLookupsAreAllowedAndTheThirdIsAPermerror) {
  EXPECT_EQ(check("192.0.2.10", "x@twovoids.spf.test").result, "pass");
  const auto v = check("192.0.2.10", "x@threevoids.spf.test");
  EXPECT_EQ(v.result, "permerror");
  EXPECT_NE(v.reason.find("void"), std::string::npos) << v.reason;
}

TEST_F(SpfTest, ATimeoutIsATemperrorReturnedAtTheDeadline) {
  auto start = Clock::now();
  auto v = check("192.0.2.10", "x@slow.spf.test", "mail.example.test", 1000ms);
  EXPECT_EQ(v.result, "temperror");
  EXPECT_NE(v.reason.find("timeout"), std::string::npos) << v.reason;
  EXPECT_LT(Clock::now() - start, 10s);  // the deadline, not libunbound's own retries
  v = check("192.0.2.10", "x@slowinclude.spf.test", "mail.example.test", 1000ms);
  EXPECT_EQ(v.result, "temperror");
  // A deadline already passed: no wait at all, and still a verdict.
  start = Clock::now();
  v = check("192.0.2.10", "x@mx.spf.test", "mail.example.test", -1ms);
  EXPECT_EQ(v.result, "temperror");
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(SpfTest, TheLookupsOfARecordRunConcurrently) {
  // Four includes whose records each take 0.2 s to come: one after the other, 0.8 s; asked at
  // once when their parent record arrives, 0.2 s. A resolver of its own: libunbound retransmits
  // after its estimate of the server's round trip, which the other tests' fast answers shrink
  // below 0.2 s (then every delayed answer is lost and retried).
  std::string error;
  auto resolver = mailauth::make_resolver({{server_->address()}}, error);
  ASSERT_TRUE(resolver) << error;
  const auto start = Clock::now();
  const auto v = mailauth::check_spf_identity(*resolver, "192.0.2.10", "mail.example.test",
                                              "x@chain.spf.test", "mailfrom", start + 5s);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(v.result, "pass");
  EXPECT_EQ(v.mechanism, "include:d4.spf.test");
  EXPECT_LT(elapsed, 650ms);
}

TEST_F(SpfTest, TheHeloAndMailFromRecordsAreFetchedConcurrently) {
  // Each record takes 0.2 s to come: 0.4 s one after the other, 0.2 s together.
  std::string error;
  auto resolver = mailauth::make_resolver({{server_->address()}}, error);
  ASSERT_TRUE(resolver) << error;
  const auto start = Clock::now();
  const auto v = mailauth::check_spf(
      *resolver, {"192.0.2.60", "slowhelo.spf.test", "a@slowfrom.spf.test"}, start + 5s);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(v.helo.result, "pass");
  EXPECT_EQ(v.mailfrom.result, "pass");
  EXPECT_LT(elapsed, 340ms);
}

TEST_F(SpfTest, ALoopbackClientIsCheckedLikeAnyOther) {
  // libspf2's own entry points pass every loopback client; the bridge's tests send from there.
  EXPECT_EQ(check("127.0.0.1", "x@local.spf.test").result, "fail");
  EXPECT_EQ(check("::1", "x@local.spf.test").result, "fail");
}

TEST_F(SpfTest, HeloIsCheckedWhenItIsADomainNameAndServesTheNullReversePath) {
  mailauth::SpfQuery query{"192.0.2.50", "mail.helo.spf.test", ""};
  auto v = mailauth::check_spf(*resolver_, query, Clock::now() + 5s);
  EXPECT_EQ(v.helo.result, "pass");
  EXPECT_EQ(v.helo.identity, "helo");
  EXPECT_EQ(v.helo.sender, "postmaster@mail.helo.spf.test");
  EXPECT_EQ(v.helo.mechanism, "a");
  // RFC 7208 2.4: <> is checked as postmaster@HELO.
  EXPECT_EQ(v.mailfrom.result, "pass");
  EXPECT_EQ(v.mailfrom.identity, "mailfrom");
  EXPECT_EQ(v.mailfrom.sender, "postmaster@mail.helo.spf.test");

  query = {"198.51.100.1", "[198.51.100.1]", "x@ip4.spf.test"};
  v = mailauth::check_spf(*resolver_, query, Clock::now() + 5s);
  EXPECT_EQ(v.helo.result, "none");
  EXPECT_NE(v.helo.reason, "");
  EXPECT_EQ(v.mailfrom.result, "fail");
  query = {"198.51.100.1", "localhost", "@ip4.spf.test"};  // not a FQDN; no local part
  v = mailauth::check_spf(*resolver_, query, Clock::now() + 5s);
  EXPECT_EQ(v.helo.result, "none");
  EXPECT_EQ(v.mailfrom.sender, "postmaster@ip4.spf.test");
  EXPECT_EQ(v.mailfrom.result, "fail");
}

TEST_F(SpfTest, ABadClientAddressOrDomainIsNoneWithoutALookup) {
  EXPECT_EQ(check("not-an-ip", "x@ip4.spf.test").result, "none");
  EXPECT_EQ(check("192.0.2.10", "x@[192.0.2.10]").result, "none");
  EXPECT_EQ(check("192.0.2.10", "x@a..spf.test").result, "none");
  EXPECT_EQ(check("192.0.2.10", "x@" + std::string(64, 'a') + ".spf.test").result, "none");
}

TEST_F(SpfTest, ConcurrentChecksGetTheirOwnAnswers) {
  struct Case {
    const char *ip, *sender, *result;
  };
  const Case cases[] = {
      {"192.0.2.10", "x@ip4.spf.test", "pass"},         {"198.51.100.1", "x@ip4.spf.test", "fail"},
      {"198.51.100.1", "x@soft.spf.test", "softfail"},  {"192.0.2.25", "x@mx.spf.test", "pass"},
      {"192.0.2.10", "x@eleven.spf.test", "permerror"}, {"192.0.2.10", "x@nospf.spf.test", "none"}};
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        const Case& c = cases[(t + i) % std::size(cases)];
        if (check(c.ip, c.sender).result != c.result) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
