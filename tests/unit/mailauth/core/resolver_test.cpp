// mailauth::Resolver (libunbound) against dnsmasq on a free port: each record type as the checks
// read it, NXDOMAIN and no-data, the cache (answers outlive the server within their TTL), the
// deadline against a server that never answers, concurrent callers, and bad dns.servers.
#include "mailauth/resolver.h"

#include <gtest/gtest.h>

#include <thread>

#include "dns_server.h"

namespace {

using namespace std::chrono_literals;
using mailauth::DnsAnswer;
using mailauth::RrType;
using Clock = std::chrono::steady_clock;

test_support::DnsRecords records() {
  test_support::DnsRecords r;
  r.zones = {"example.test"};
  r.txt = {{"example.test", "v=spf1 ip4:192.0.2.0/24 -all"},
           {"_dmarc.example.test",
            "v=DMARC1; p=reject; rua=mailto:a@example.test, mailto:b@example.test"},
           {"long.example.test", std::string(300, 'k') + "END"},
           {"two.example.test", "first"},
           {"two.example.test", "second"}};
  r.addresses = {{"mail.example.test", "192.0.2.25"}, {"mail.example.test", "2001:db8::25"}};
  r.mx = {{"example.test", "Mail.Example.test", 10}};
  return r;
}

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(dns_.start(records(), error)) << error;
    resolver_ = mailauth::make_resolver({{dns_.address()}}, error);
    ASSERT_TRUE(resolver_) << error;
  }
  DnsAnswer ask(const std::string& name, RrType type) {
    return resolver_->query(name, type, Clock::now() + 5s);
  }
  test_support::DnsServer dns_;
  std::unique_ptr<mailauth::Resolver> resolver_;
};

TEST_F(ResolverTest, EachRecordTypeAsTheChecksReadIt) {
  DnsAnswer txt = ask("_dmarc.example.test", RrType::txt);
  ASSERT_EQ(txt.status, DnsAnswer::Status::ok);
  EXPECT_EQ(txt.records,
            std::vector<std::string>{
                "v=DMARC1; p=reject; rua=mailto:a@example.test, mailto:b@example.test"});
  EXPECT_EQ(txt.ttl, 300u);
  // More than 255 bytes: several character-strings, concatenated (RFC 7208 3.3).
  EXPECT_EQ(ask("long.example.test", RrType::txt).records,
            std::vector<std::string>{std::string(300, 'k') + "END"});
  std::vector<std::string> two = ask("two.example.test", RrType::txt).records;
  std::sort(two.begin(), two.end());
  EXPECT_EQ(two, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(ask("mail.example.test", RrType::a).records, std::vector<std::string>{"192.0.2.25"});
  EXPECT_EQ(ask("mail.example.test", RrType::aaaa).records,
            std::vector<std::string>{"2001:db8::25"});
  EXPECT_EQ(ask("example.test", RrType::mx).records, std::vector<std::string>{"mail.example.test"});
}

TEST_F(ResolverTest, NxdomainAndNoData) {
  EXPECT_EQ(ask("nothing.example.test", RrType::txt).status, DnsAnswer::Status::nxdomain);
  DnsAnswer nodata = ask("mail.example.test", RrType::txt);
  EXPECT_EQ(nodata.status, DnsAnswer::Status::ok);
  EXPECT_TRUE(nodata.records.empty());
}

TEST_F(ResolverTest, AnswersOutliveTheServerWithinTheirTtl) {
  resolver_->prefetch("example.test", RrType::txt);
  ASSERT_EQ(ask("example.test", RrType::mx).status, DnsAnswer::Status::ok);
  // The prefetch's answer is in the cache once a query for it returns.
  ASSERT_EQ(ask("example.test", RrType::txt).status, DnsAnswer::Status::ok);
  dns_.stop();
  DnsAnswer cached = resolver_->query("example.test", RrType::txt, Clock::now() + 2s);
  ASSERT_EQ(cached.status, DnsAnswer::Status::ok);
  EXPECT_EQ(cached.records, std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all"});
  EXPECT_EQ(resolver_->query("example.test", RrType::mx, Clock::now() + 2s).records,
            std::vector<std::string>{"mail.example.test"});
}

TEST(Resolver, ASilentServerCostsTheDeadlineAndNoMore) {
  test_support::SilentDns silent;
  std::string error;
  auto resolver = mailauth::make_resolver({{silent.address()}}, error);
  ASSERT_TRUE(resolver) << error;
  auto start = Clock::now();
  DnsAnswer answer = resolver->query("example.test", RrType::txt, start + 300ms);
  auto took = Clock::now() - start;
  EXPECT_EQ(answer.status, DnsAnswer::Status::timeout);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
  // Many callers at once: each gets its timeout, none hangs.
  std::vector<std::thread> threads;
  std::atomic<int> timeouts{0};
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      auto a = resolver->query("n" + std::to_string(i) + ".example.test", RrType::a,
                               Clock::now() + 200ms);
      if (a.status == DnsAnswer::Status::timeout) ++timeouts;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(timeouts.load(), 16);
}

TEST_F(ResolverTest, ConcurrentCallersEachGetTheirAnswer) {
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int i = 0; i < 32; ++i)
    threads.emplace_back([&, i] {
      bool mx = i % 2 == 0;
      DnsAnswer a = ask(mx ? "example.test" : "mail.example.test", mx ? RrType::mx : RrType::a);
      if (a.records == std::vector<std::string>{mx ? "mail.example.test" : "192.0.2.25"}) ++right;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(right.load(), 32);
}

TEST(Resolver, ABadServerIsAConfigErrorNamingIt) {
  for (const char* bad : {"dns.example", "127.0.0.1:0", "127.0.0.1:70000", "[::1", "1.2.3.4:x"}) {
    std::string error;
    EXPECT_FALSE(mailauth::make_resolver({{bad}}, error)) << bad;
    EXPECT_NE(error.find("dns.servers"), std::string::npos) << error;
    EXPECT_NE(error.find(bad), std::string::npos) << error;
  }
  std::string error;
  EXPECT_TRUE(mailauth::make_resolver({{"127.0.0.1:5353", "[::1]:53", "192.0.2.1"}}, error))
      << error;
}

}  // namespace

namespace {

// The caches (the resolver's own, then libunbound's): within the TTL a name is answered without
// asking the server (it may be gone); errors are never kept, so a server that comes back is asked.
TEST(Resolver, AnswersAreKeptForTheirTtlAndErrorsAreNot) {
  test_support::DnsRecords r;
  r.zones = {"cache.test"};
  r.txt = {{"cache.test", "v=spf1 -all"}};
  test_support::DnsServer dns;
  std::string error;
  ASSERT_TRUE(dns.start(r, error)) << error;
  auto resolver = mailauth::make_resolver({{dns.address()}}, error);
  ASSERT_TRUE(resolver) << error;
  auto soon = [] { return Clock::now() + 5s; };
  ASSERT_EQ(resolver->query("cache.test", RrType::txt, soon()).records,
            std::vector<std::string>{"v=spf1 -all"});
  EXPECT_EQ(resolver->query("none.cache.test", RrType::txt, soon()).status,
            DnsAnswer::Status::nxdomain);
  dns.stop();
  // Case does not matter (RFC 4343); the negative answer is kept too.
  EXPECT_EQ(resolver->query("CACHE.test", RrType::txt, soon()).records,
            std::vector<std::string>{"v=spf1 -all"});
  EXPECT_EQ(resolver->query("none.cache.test", RrType::txt, soon()).status,
            DnsAnswer::Status::nxdomain);
  // Never answered, not kept: asked again once a server answers.
  EXPECT_NE(resolver->query("new.cache.test", RrType::txt, Clock::now() + 300ms).status,
            DnsAnswer::Status::ok);
  r.txt.push_back({"new.cache.test", "v=spf1 +all"});
  ASSERT_TRUE(dns.start(r, error)) << error;
  EXPECT_EQ(resolver->query("new.cache.test", RrType::txt, soon()).records,
            std::vector<std::string>{"v=spf1 +all"});
}

}  // namespace
