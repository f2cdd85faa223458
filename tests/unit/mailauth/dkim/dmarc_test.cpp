// mailauth::check_dmarc with the _dmarc records served by a real DNS server (dnsmasq): aligned and
// misaligned SPF and DKIM results, relaxed and strict alignment (strict needs the exact From
// domain, where libopendmarc 1.4.2 alone would accept a subdomain), p=none / quarantine / reject,
// the subdomain policy and the organizational-domain fallback, pct, no record, several records,
// an invalid record, a silent DNS server and the From field cases; and DKIM into DMARC end to end.
#include "mailauth/dmarc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "dns_server.h"
#include "mailauth/dkim_verify.h"
#include "signing.h"

namespace {

using namespace std::chrono_literals;
using mailauth::DkimVerdict;
using mailauth::DmarcVerdict;
using mailauth::SpfVerdict;
using Clock = std::chrono::steady_clock;

std::string message_from(const std::string& from) {
  return "From: " + from + "\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHello.\r\n";
}

SpfVerdict spf(const std::string& result, const std::string& sender) {
  SpfVerdict verdict;
  verdict.result = result;
  verdict.identity = "mailfrom";
  verdict.sender = sender;
  verdict.domain = sender.substr(sender.find('@') + 1);
  return verdict;
}

DkimVerdict dkim(const std::string& result, const std::string& domain) {
  DkimVerdict verdict;
  verdict.result = result;
  verdict.domain = domain;
  verdict.selector = "s1";
  return verdict;
}

class DmarcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dmarc.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    key_ = new test_dkim::Key(test_dkim::make_key(*dir_, "ed.key", true));
    dns_ = new test_support::DnsServer;
    std::string error;
    ASSERT_TRUE(test_dkim::start_dns(*dns_, records(), "_dmarc.example.org", error)) << error;
  }
  static test_support::DnsRecords records() {
    test_support::DnsRecords records;
    records.zones = {"example.org", "example.com", "example.net", "example.edu"};
    records.txt = {
        {"_dmarc.example.org", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.org"},
        {"_dmarc.quarantine.example.org", "v=DMARC1; p=quarantine"},
        {"_dmarc.pct.example.org", "v=DMARC1; p=reject; pct=0"},
        {"_dmarc.example.com", "v = DMARC1 ; p=reject; adkim=s; aspf=s"},
        {"_dmarc.example.net", "v=DMARC1; p=none"},
        {"_dmarc.several.example.edu", "v=DMARC1; p=reject"},
        {"_dmarc.several.example.edu", "v=DMARC1; p=none"},
        {"_dmarc.bad.example.edu", "v=DMARC1; p=bogus"},
        {"_dmarc.other.example.edu", "not a DMARC record"},
        {"ed1._domainkey.example.org", key_->txt}};
    return records;
  }
  static void TearDownTestSuite() {
    delete dns_;
    std::filesystem::remove_all(*dir_);
    delete key_;
    delete dir_;
  }
  void SetUp() override {
    std::string error;
    resolver_ = mailauth::make_resolver({{dns_->address()}}, error);
    ASSERT_TRUE(resolver_) << error;
  }
  DmarcVerdict check(const std::string& from, const SpfVerdict& spf_result,
                     const std::vector<DkimVerdict>& dkim_results = {}) {
    return mailauth::check_dmarc(*resolver_, message_from(from), spf_result, dkim_results,
                                 Clock::now() + 5s);
  }

  static std::string* dir_;
  static test_dkim::Key* key_;
  static test_support::DnsServer* dns_;
  std::unique_ptr<mailauth::Resolver> resolver_;
};

std::string* DmarcTest::dir_;
test_dkim::Key* DmarcTest::key_;
test_support::DnsServer* DmarcTest::dns_;

const SpfVerdict kNoSpf = spf("none", "");

TEST_F(DmarcTest, RelaxedAlignmentPassesOnAnAlignedSpfOrDkimPass) {
  DmarcVerdict v = check("Alice <alice@example.org>", spf("pass", "bounce@mail.example.org"));
  EXPECT_EQ(v.result, "pass") << v.reason;
  EXPECT_TRUE(v.spf_aligned);
  EXPECT_FALSE(v.dkim_aligned);
  EXPECT_EQ(v.from_domain, "example.org");
  EXPECT_EQ(v.organizational_domain, "example.org");
  EXPECT_EQ(v.policy, "reject");
  EXPECT_EQ(v.subdomain_policy, "quarantine");
  EXPECT_EQ(v.alignment_spf, "r");
  EXPECT_EQ(v.alignment_dkim, "r");
  EXPECT_EQ(v.pct, 100u);
  EXPECT_EQ(v.disposition, "none");

  v = check("alice@example.org", spf("fail", "a@example.org"), {dkim("pass", "news.example.org")});
  EXPECT_EQ(v.result, "pass");
  EXPECT_FALSE(v.spf_aligned);
  EXPECT_TRUE(v.dkim_aligned);
}

TEST_F(DmarcTest, MisalignedPassesFailWithThePublishedPolicy) {
  DmarcVerdict v = check("alice@example.org", spf("pass", "bounce@example.net"),
                         {dkim("pass", "example.net"), dkim("fail", "example.org")});
  EXPECT_EQ(v.result, "fail");
  EXPECT_FALSE(v.spf_aligned);
  EXPECT_FALSE(v.dkim_aligned);
  EXPECT_EQ(v.policy, "reject");
  EXPECT_EQ(v.disposition, "reject");
  EXPECT_EQ(v.reason, "");
}

TEST_F(DmarcTest, StrictAlignmentNeedsTheExactFromDomain) {
  // libopendmarc's own check finds mail.example.com strictly aligned with example.com.
  DmarcVerdict v = check("alice@example.com", spf("pass", "bounce@mail.example.com"),
                         {dkim("pass", "mail.example.com")});
  EXPECT_EQ(v.alignment_spf, "s");
  EXPECT_EQ(v.alignment_dkim, "s");
  EXPECT_EQ(v.result, "fail");
  EXPECT_FALSE(v.spf_aligned);
  EXPECT_FALSE(v.dkim_aligned);
  EXPECT_EQ(v.disposition, "reject");

  v = check("alice@example.com", spf("pass", "bounce@Example.COM"));
  EXPECT_EQ(v.result, "pass");
  EXPECT_TRUE(v.spf_aligned);
  v = check("alice@example.com", kNoSpf, {dkim("pass", "example.com")});
  EXPECT_EQ(v.result, "pass");
  EXPECT_TRUE(v.dkim_aligned);
  // A subdomain's From against its organizational domain's signature: not strictly aligned.
  v = check("alice@mail.example.com", kNoSpf, {dkim("pass", "example.com")});
  EXPECT_EQ(v.result, "fail");
  EXPECT_EQ(v.organizational_domain, "example.com");
}

TEST_F(DmarcTest, PoliciesNoneQuarantineReject) {
  EXPECT_EQ(check("a@example.net", kNoSpf).disposition, "none");
  EXPECT_EQ(check("a@example.net", kNoSpf).result, "fail");
  EXPECT_EQ(check("a@quarantine.example.org", kNoSpf).disposition, "quarantine");
  EXPECT_EQ(check("a@example.org", kNoSpf).disposition, "reject");
}

TEST_F(DmarcTest, SubdomainPolicyAppliesThroughTheOrganizationalDomain) {
  // mail.example.org has no record: example.org's applies, with its sp=.
  DmarcVerdict v = check("a@mail.example.org", kNoSpf);
  EXPECT_EQ(v.result, "fail");
  EXPECT_EQ(v.from_domain, "mail.example.org");
  EXPECT_EQ(v.organizational_domain, "example.org");
  EXPECT_EQ(v.policy, "quarantine");
  EXPECT_EQ(v.disposition, "quarantine");
  // quarantine.example.org publishes its own record: its p= applies, not example.org's sp=.
  EXPECT_EQ(check("a@quarantine.example.org", kNoSpf).policy, "quarantine");
  // Without sp=, the organizational domain's p= applies to its subdomains.
  v = check("a@deep.mail.example.net", kNoSpf);
  EXPECT_EQ(v.organizational_domain, "example.net");
  EXPECT_EQ(v.policy, "none");
  // A passing subdomain message through the fallback record.
  EXPECT_EQ(check("a@mail.example.org", spf("pass", "b@example.org")).result, "pass");
}

TEST_F(DmarcTest, PctZeroAppliesTheNextLessStrictPolicy) {
  DmarcVerdict v = check("a@pct.example.org", kNoSpf);
  EXPECT_EQ(v.result, "fail");
  EXPECT_EQ(v.pct, 0u);
  EXPECT_EQ(v.policy, "reject");
  EXPECT_EQ(v.disposition, "quarantine");
  EXPECT_EQ(v.reason, "pct=0: quarantine instead of reject (RFC 7489 6.6.4)");
}

TEST_F(DmarcTest, NoRecordSeveralRecordsAndAnInvalidRecord) {
  DmarcVerdict v = check("a@example.edu", spf("pass", "a@example.edu"));
  EXPECT_EQ(v.result, "none");
  EXPECT_EQ(v.policy, "");
  EXPECT_EQ(v.disposition, "none");
  EXPECT_EQ(v.reason, "no DMARC record at _dmarc.example.edu");
  // A TXT record that is not DMARC's is not one (RFC 7489 6.6.3): the fallback finds none.
  v = check("a@other.example.edu", kNoSpf);
  EXPECT_EQ(v.result, "none");
  EXPECT_EQ(v.reason, "no DMARC record at _dmarc.other.example.edu or _dmarc.example.edu");
  v = check("a@several.example.edu", kNoSpf);
  EXPECT_EQ(v.result, "none");
  EXPECT_EQ(v.reason, "several DMARC records at _dmarc.several.example.edu");
  v = check("a@bad.example.edu", kNoSpf);
  EXPECT_EQ(v.result, "permerror");
  EXPECT_EQ(v.reason.rfind("invalid DMARC record: ", 0), 0u) << v.reason;
}

TEST_F(DmarcTest, FromFieldsThatNameNoSingleDomainArePermerrors) {
  auto result_of = [&](const std::string& message) {
    return mailauth::check_dmarc(*resolver_, message, kNoSpf, {}, Clock::now() + 5s);
  };
  DmarcVerdict v = result_of("From: a@example.org\r\nFrom: b@example.org\r\n\r\nbody\r\n");
  EXPECT_EQ(v.result, "permerror");
  EXPECT_EQ(v.reason, "several From header fields (RFC 5322 3.6)");
  v = result_of("To: b@example.org\r\n\r\nbody\r\n");
  EXPECT_EQ(v.result, "permerror");
  EXPECT_EQ(v.reason, "no From header field");
  v = result_of("From: a@example.org, b@example.net\r\n\r\n");
  EXPECT_EQ(v.reason, "From names several domains");
  v = result_of("From: undisclosed-recipients:;\r\n\r\n");
  EXPECT_EQ(v.reason, "From has no address");
  v = result_of("From: a@[192.0.2.1]\r\n\r\n");
  EXPECT_EQ(v.reason, "the From domain is not a domain name");
  // Two mailboxes of one domain, folded, with comments: one domain.
  v = result_of("From: \"A\" <a@Example.ORG>,\r\n (team) b@example.org\r\n\r\n");
  EXPECT_EQ(v.from_domain, "example.org");
  EXPECT_EQ(v.result, "fail");
}

TEST_F(DmarcTest, SilentDnsServerIsATemperror) {
  test_support::SilentDns silent;
  std::string error;
  auto resolver = mailauth::make_resolver({{silent.address()}}, error);
  ASSERT_TRUE(resolver) << error;
  DmarcVerdict v = mailauth::check_dmarc(*resolver, message_from("a@example.org"), kNoSpf, {},
                                         Clock::now() + 500ms);
  EXPECT_EQ(v.result, "temperror");
  EXPECT_EQ(v.reason, "DNS lookup of _dmarc.example.org timed out");
  EXPECT_EQ(v.disposition, "none");
}

TEST_F(DmarcTest, AnAlignedTemperrorWithoutAnAlignedPassIsATemperror) {
  DmarcVerdict v =
      check("a@example.org", spf("fail", "a@example.org"), {dkim("temperror", "example.org")});
  EXPECT_EQ(v.result, "temperror");
  EXPECT_EQ(v.disposition, "none");
  EXPECT_EQ(v.reason, "no aligned pass; the aligned DKIM signature had a temporary error");
  v = check("a@example.org", spf("temperror", "a@example.org"));
  EXPECT_EQ(v.result, "temperror");
  // An aligned pass decides, whatever else had a temporary error.
  EXPECT_EQ(check("a@example.org", spf("temperror", "a@example.org"), {dkim("pass", "example.org")})
                .result,
            "pass");
}

TEST_F(DmarcTest, OrganizationalDomainsFromThePublicSuffixList) {
  std::string error;
  EXPECT_TRUE(mailauth::init_dmarc(mailauth::kPublicSuffixFile, error)) << error;
  EXPECT_EQ(mailauth::organizational_domain("a.b.Example.co.uk"), "example.co.uk");
  EXPECT_EQ(mailauth::organizational_domain("foo.bar.github.io"), "bar.github.io");
  EXPECT_EQ(mailauth::organizational_domain("mail.example.org"), "example.org");
  EXPECT_EQ(mailauth::organizational_domain("example.org"), "example.org");
  EXPECT_EQ(mailauth::organizational_domain("org"), "org");
  EXPECT_EQ(mailauth::organizational_domain("a.b.example.invalid-tld"), "example.invalid-tld");
}

TEST_F(DmarcTest, DkimimpySignatureVerifiedByVerifyDkimMakesDmarcPass) {
  std::string message = message_from("Alice <alice@example.org>");
  std::string signed_message = test_dkim::dkimpy_sign(*dir_, message, "ed1", "example.org", *key_,
                                                      "ed25519-sha256", "relaxed/relaxed");
  ASSERT_FALSE(signed_message.empty());
  auto deadline = Clock::now() + 5s;
  std::vector<DkimVerdict> dkim_results =
      mailauth::verify_dkim(*resolver_, signed_message, deadline);
  ASSERT_EQ(dkim_results.size(), 1u);
  DmarcVerdict v = mailauth::check_dmarc(
      *resolver_, signed_message, spf("softfail", "bounce@example.net"), dkim_results, deadline);
  EXPECT_EQ(v.result, "pass") << v.reason;
  EXPECT_TRUE(v.dkim_aligned);
  // One changed body byte: the signature fails, and so does DMARC, with example.org's p=reject.
  std::string changed = signed_message;
  changed.replace(changed.find("Hello"), 5, "Hallo");
  dkim_results = mailauth::verify_dkim(*resolver_, changed, deadline);
  v = mailauth::check_dmarc(*resolver_, changed, spf("softfail", "bounce@example.net"),
                            dkim_results, deadline);
  EXPECT_EQ(v.result, "fail");
  EXPECT_EQ(v.disposition, "reject");
}

TEST_F(DmarcTest, PrefetchAsksForTheFromAndOrganizationalDomainsRecords) {
  struct Recording : mailauth::Resolver {
    mailauth::Resolver* real;
    std::vector<std::string> log;
    mailauth::DnsAnswer query(const std::string& name, mailauth::RrType type,
                              mailauth::Deadline deadline) override {
      log.push_back("query " + name);
      return real->query(name, type, deadline);
    }
    void prefetch(const std::string& name, mailauth::RrType type) override {
      log.push_back("prefetch " + name);
      real->prefetch(name, type);
    }
  } recording;
  recording.real = resolver_.get();
  std::string message = message_from("a@mail.example.org");
  mailauth::prefetch_dmarc(recording, message);
  EXPECT_EQ(recording.log, (std::vector<std::string>{"prefetch _dmarc.mail.example.org",
                                                     "prefetch _dmarc.example.org"}));
  DmarcVerdict v = mailauth::check_dmarc(recording, message, kNoSpf, {}, Clock::now() + 5s);
  EXPECT_EQ(v.result, "fail") << v.reason;
  EXPECT_EQ(v.policy, "quarantine");
  // Nothing for a message without a single From domain.
  recording.log.clear();
  mailauth::prefetch_dmarc(recording, "From: a@example.org\r\nFrom: b@example.org\r\n\r\n");
  EXPECT_TRUE(recording.log.empty());
}

TEST_F(DmarcTest, ManyThreadsCheckAtOnce) {
  // libopendmarc's state (the public suffix list) is global: its lookups take its own mutex.
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        DmarcVerdict v = check(t % 2 ? "a@mail.example.org" : "a@example.com",
                               spf("pass", t % 2 ? "b@example.org" : "b@mail.example.com"));
        right += v.result == (t % 2 ? "pass" : "fail");
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(right.load(), 4 * 50);
}

}  // namespace
