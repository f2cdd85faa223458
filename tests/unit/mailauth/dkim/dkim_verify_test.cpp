// mailauth::verify_dkim against independent signers (dkimpy, opendkim-testmsg) with the public keys
// served by a real DNS server (dnsmasq, tests/support/dns_server.h) through mailauth::Resolver:
// rsa-sha256 and ed25519-sha256 in every canonicalization pass and fail on one changed header or
// body byte; l= is noted; small RSA keys, missing and unusable keys, a silent DNS server, too
// many or malformed signatures each get their result and reason.
#include "mailauth/dkim_verify.h"

#include <gtest/gtest.h>

#include <thread>

#include "dns_server.h"
#include "signing.h"

namespace {

using namespace std::chrono_literals;
using mailauth::DkimVerdict;
using Clock = std::chrono::steady_clock;
using test_dkim::Key;

const std::string kMessage =
    "From: \"Alice A.\" <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: quarterly   report\r\n"
    "Date: Mon, 07 Dec 2026 15:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "the figures are attached.  \r\n"
    "\r\n";

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

class DkimVerifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dkimv.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    rsa_ = new Key(test_dkim::make_key(*dir_, "rsa.pem", false));
    ed_ = new Key(test_dkim::make_key(*dir_, "ed.key", true));
    small_ = new Key(test_dkim::make_key(*dir_, "small.pem", false, 512));
    test_support::DnsRecords records;
    records.zones = {"example.org"};
    records.txt = {{"rsa1._domainkey.example.org", rsa_->txt},
                   {"ed1._domainkey.example.org", ed_->txt},
                   {"small._domainkey.example.org", small_->txt},
                   {"revoked._domainkey.example.org", "v=DKIM1; k=rsa; p="},
                   {"garbled._domainkey.example.org", "v=DKIM1; k=rsa; p=bm90IGEga2V5"}};
    dns_ = new test_support::DnsServer;
    std::string error;
    ASSERT_TRUE(test_dkim::start_dns(*dns_, records, "rsa1._domainkey.example.org", error))
        << error;
  }
  static void TearDownTestSuite() {
    delete dns_;
    std::filesystem::remove_all(*dir_);
    delete rsa_;
    delete ed_;
    delete small_;
    delete dir_;
  }
  void SetUp() override {
    std::string error;
    resolver_ = mailauth::make_resolver({{dns_->address()}}, error);
    ASSERT_TRUE(resolver_) << error;
  }

  std::vector<DkimVerdict> verify(const std::string& message) {
    return mailauth::verify_dkim(*resolver_, message, Clock::now() + 10s);
  }
  std::string sign(const std::string& message, const std::string& selector, const Key& key,
                   const std::string& algorithm, const std::string& canon, bool length = false) {
    std::string signed_message = test_dkim::dkimpy_sign(*dir_, message, selector, "example.org",
                                                        key, algorithm, canon, length);
    EXPECT_FALSE(signed_message.empty()) << "dkimpy did not sign";
    return signed_message;
  }
  // The first 8 characters of the b= of the top signature field of `message`.
  static std::string b_of(const std::string& message) {
    size_t b = message.find(" b=");
    std::string value;
    for (size_t i = b + 3; i < message.size() && value.size() < 8; ++i)
      if (!isspace(static_cast<unsigned char>(message[i]))) value += message[i];
    return value;
  }

  static std::string* dir_;
  static Key *rsa_, *ed_, *small_;
  static test_support::DnsServer* dns_;
  std::unique_ptr<mailauth::Resolver> resolver_;
};

std::string* DkimVerifyTest::dir_;
Key *DkimVerifyTest::rsa_, *DkimVerifyTest::ed_, *DkimVerifyTest::small_;
test_support::DnsServer* DkimVerifyTest::dns_;

TEST_F(DkimVerifyTest, DkimpySignaturesPassInEveryCanonicalizationAndFailOnOneChangedByte) {
  struct Case {
    std::string selector, algorithm;
    const Key* key;
    unsigned bits;
  };
  for (const Case& c :
       {Case{"rsa1", "rsa-sha256", rsa_, 2048}, Case{"ed1", "ed25519-sha256", ed_, 256}}) {
    for (std::string canon :
         {"relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"}) {
      SCOPED_TRACE(c.algorithm + " " + canon);
      std::string signed_message = sign(kMessage, c.selector, *c.key, c.algorithm, canon);
      std::vector<DkimVerdict> verdicts = verify(signed_message);
      ASSERT_EQ(verdicts.size(), 1u);
      const DkimVerdict& v = verdicts[0];
      EXPECT_EQ(v.result, "pass") << v.reason;
      EXPECT_EQ(v.reason, "");
      EXPECT_EQ(v.domain, "example.org");
      EXPECT_EQ(v.selector, c.selector);
      EXPECT_EQ(v.algorithm, c.algorithm);
      EXPECT_EQ(v.canonicalization, canon);
      EXPECT_EQ(v.key_bits, c.bits);
      EXPECT_EQ(v.identity, "@example.org");
      EXPECT_EQ(v.b, b_of(signed_message));
      EXPECT_FALSE(v.length.has_value());

      std::vector<DkimVerdict> body = verify(replace_once(signed_message, "figures", "figureS"));
      ASSERT_EQ(body.size(), 1u);
      EXPECT_EQ(body[0].result, "fail");
      EXPECT_EQ(body[0].reason, "body hash did not verify");
      std::vector<DkimVerdict> header =
          verify(replace_once(signed_message, "quarterly", "quarterlY"));
      ASSERT_EQ(header.size(), 1u);
      EXPECT_EQ(header[0].result, "fail");
      EXPECT_EQ(header[0].reason, "signature did not verify");
    }
  }
}

TEST_F(DkimVerifyTest, EverySignatureOfAMessageHasItsVerdictTopFirst) {
  std::string both = sign(sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed"), "ed1",
                          *ed_, "ed25519-sha256", "relaxed/relaxed");
  std::vector<DkimVerdict> verdicts = verify(both);
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdicts[0].algorithm, "ed25519-sha256");
  EXPECT_EQ(verdicts[0].result, "pass") << verdicts[0].reason;
  EXPECT_EQ(verdicts[1].algorithm, "rsa-sha256");
  EXPECT_EQ(verdicts[1].result, "pass") << verdicts[1].reason;
}

TEST_F(DkimVerifyTest, LengthTagIsNotedAndTextAddedBelowItStillPasses) {
  std::string signed_message =
      sign(kMessage, "ed1", *ed_, "ed25519-sha256", "relaxed/relaxed", true);
  std::vector<DkimVerdict> verdicts = verify(signed_message + "-- \r\nadded by a list\r\n");
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "pass") << verdicts[0].reason;
  ASSERT_TRUE(verdicts[0].length.has_value());
  // The canonicalized body: 3 lines, the final empty line dropped (RFC 6376 3.4.4).
  EXPECT_EQ(*verdicts[0].length, std::string("Hello Bob,\r\nthe figures are attached.\r\n").size());
}

TEST_F(DkimVerifyTest, OpendkimTestmsgSignsRsaSha1WhichVerifiesButIsNotAccepted) {
  std::string signed_message =
      test_dkim::opendkim_sign(*dir_, kMessage, "rsa1", "example.org", *rsa_);
  ASSERT_NE(signed_message.find("a=rsa-sha1"), std::string::npos) << signed_message;
  std::vector<DkimVerdict> verdicts = verify(signed_message);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "policy");
  EXPECT_EQ(verdicts[0].reason, "rsa-sha1 is not accepted (RFC 8301 3.1)");
  EXPECT_EQ(verdicts[0].canonicalization, "relaxed/simple");
  EXPECT_EQ(verdicts[0].key_bits, 2048u);
  std::vector<DkimVerdict> body = verify(replace_once(signed_message, "figures", "figureS"));
  EXPECT_EQ(body.at(0).result, "fail");
  std::vector<DkimVerdict> header = verify(replace_once(signed_message, "Bob", "Rob"));
  EXPECT_EQ(header.at(0).result, "fail");
}

TEST_F(DkimVerifyTest, RsaKeyOf512BitsFails) {
  std::vector<DkimVerdict> verdicts =
      verify(sign(kMessage, "small", *small_, "rsa-sha256", "relaxed/relaxed"));
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "fail");
  EXPECT_EQ(verdicts[0].key_bits, 512u);
  EXPECT_EQ(verdicts[0].reason, "RSA key of 512 bits, less than 1024 (RFC 8301 3.2)");
}

TEST_F(DkimVerifyTest, MissingRevokedAndUnusableKeysArePermerrors) {
  struct Case {
    std::string selector, reason;
  };
  for (const Case& c : {Case{"absent", "no key record at absent._domainkey.example.org"},
                        Case{"revoked", "key revoked (empty p=) at revoked._domainkey.example.org"},
                        Case{"garbled", "key record at garbled._domainkey.example.org: "}}) {
    SCOPED_TRACE(c.selector);
    std::vector<DkimVerdict> verdicts =
        verify(sign(kMessage, c.selector, *rsa_, "rsa-sha256", "relaxed/relaxed"));
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts[0].result, "permerror");
    EXPECT_EQ(verdicts[0].reason.substr(0, c.reason.size()), c.reason);
    EXPECT_EQ(verdicts[0].selector, c.selector);
  }
}

// A key record longer than libopendkim's 1024-byte buffer (dnsmasq's configuration lines are too
// short to serve one): a resolver answering it directly.
class LongRecordResolver : public mailauth::Resolver {
 public:
  mailauth::DnsAnswer query(const std::string&, mailauth::RrType, mailauth::Deadline) override {
    return {mailauth::DnsAnswer::Status::ok, {"v=DKIM1; k=rsa; p=" + std::string(1100, 'A')}, 300};
  }
  void prefetch(const std::string&, mailauth::RrType) override {}
};

TEST_F(DkimVerifyTest, KeyRecordTooLongForLibopendkimIsAPermerror) {
  LongRecordResolver resolver;
  std::vector<DkimVerdict> verdicts = mailauth::verify_dkim(
      resolver, sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed"), Clock::now() + 5s);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "permerror");
  EXPECT_EQ(verdicts[0].reason, "key record too long: rsa1._domainkey.example.org");
}

// The real resolver, with a log of what it was asked, in order.
class RecordingResolver : public mailauth::Resolver {
 public:
  explicit RecordingResolver(mailauth::Resolver& real) : real_(real) {}
  mailauth::DnsAnswer query(const std::string& name, mailauth::RrType type,
                            mailauth::Deadline deadline) override {
    log.push_back("query " + name);
    return real_.query(name, type, deadline);
  }
  void prefetch(const std::string& name, mailauth::RrType type) override {
    log.push_back("prefetch " + name);
    real_.prefetch(name, type);
  }
  std::vector<std::string> log;

 private:
  mailauth::Resolver& real_;
};

TEST_F(DkimVerifyTest, EveryKeyIsPrefetchedBeforeTheFirstLookup) {
  std::string three = sign(sign(sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed"),
                                "ed1", *ed_, "ed25519-sha256", "relaxed/relaxed"),
                           "rsa1", *rsa_, "rsa-sha256", "simple/simple");
  RecordingResolver recording(*resolver_);
  std::vector<DkimVerdict> verdicts = mailauth::verify_dkim(recording, three, Clock::now() + 10s);
  ASSERT_EQ(verdicts.size(), 3u);
  for (const DkimVerdict& v : verdicts) EXPECT_EQ(v.result, "pass") << v.reason;
  // Each key name once, both before the lookups libopendkim makes one after the other (the
  // second rsa1 signature reuses the first one's key).
  EXPECT_EQ(recording.log, (std::vector<std::string>{
                               "prefetch rsa1._domainkey.example.org",
                               "prefetch ed1._domainkey.example.org",
                               "query rsa1._domainkey.example.org",
                               "query ed1._domainkey.example.org",
                           }));
}

TEST_F(DkimVerifyTest, SilentDnsServerIsATemperrorWithinTheDeadline) {
  test_support::SilentDns silent;
  std::string error;
  auto resolver = mailauth::make_resolver({{silent.address()}}, error);
  ASSERT_TRUE(resolver) << error;
  std::string signed_message = sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed");
  auto start = Clock::now();
  std::vector<DkimVerdict> verdicts = mailauth::verify_dkim(*resolver, signed_message, start + 1s);
  auto took = Clock::now() - start;
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "temperror");
  EXPECT_EQ(verdicts[0].reason, "key lookup timed out: rsa1._domainkey.example.org");
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 10s);  // the deadline bounds it (loosely: sanitizer builds are slower)
}

TEST_F(DkimVerifyTest, DnsErrorIsATemperror) {
  // dnsmasq refuses names outside its zones (no upstream): the resolver's status "error".
  std::string signed_message = test_dkim::dkimpy_sign(*dir_, kMessage, "rsa1", "example.info",
                                                      *rsa_, "rsa-sha256", "relaxed/relaxed");
  std::vector<DkimVerdict> verdicts = verify(signed_message);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "temperror");
  EXPECT_EQ(verdicts[0].reason, "key lookup failed: rsa1._domainkey.example.info");
}

TEST_F(DkimVerifyTest, ExpiredAndFutureSignaturesFail) {
  // libopendkim's own signer with a fixed clock: x= in 2001, or t= a year ahead.
  const time_t now = time(nullptr);
  std::string expired =
      test_dkim::libopendkim_sign(kMessage, "rsa1", "example.org", *rsa_, 1000000000, 3600);
  std::string future =
      test_dkim::libopendkim_sign(kMessage, "rsa1", "example.org", *rsa_, now + 365 * 86400, 0);
  ASSERT_FALSE(expired.empty());
  ASSERT_FALSE(future.empty());
  std::vector<DkimVerdict> verdicts = verify(expired);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "fail");
  EXPECT_EQ(verdicts[0].reason, "signature expired (x=)");
  verdicts = verify(future);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "fail");
  EXPECT_EQ(verdicts[0].reason, "signature made in the future (t=)");
  // The same signer with today's clock: pass (what failed above was the time alone).
  verdicts = verify(test_dkim::libopendkim_sign(kMessage, "rsa1", "example.org", *rsa_, now, 0));
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "pass") << verdicts[0].reason;
}

TEST_F(DkimVerifyTest, MessageWithoutSignatureHasNoVerdict) {
  EXPECT_TRUE(verify(kMessage).empty());
  EXPECT_TRUE(verify("").empty());
  EXPECT_TRUE(verify("no header at all").empty());
}

TEST_F(DkimVerifyTest, OnlyTheFirstTenSignaturesAreVerifiedAndTwentyListed) {
  std::string signed_message = sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed");
  std::string field = signed_message.substr(0, signed_message.size() - kMessage.size());
  std::string many;
  for (int i = 0; i < 30; ++i) many += field;
  std::vector<DkimVerdict> verdicts = verify(many + kMessage);
  ASSERT_EQ(verdicts.size(), 20u);
  for (size_t i = 0; i < verdicts.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(verdicts[i].result, i < 10 ? "pass" : "permerror") << verdicts[i].reason;
    EXPECT_EQ(verdicts[i].reason,
              i < 10 ? "" : "too many signatures: only the first 10 are verified");
    EXPECT_EQ(verdicts[i].selector, "rsa1");
  }
}

TEST_F(DkimVerifyTest, MalformedSignatureFieldsAreNeutralBesideAGoodOne) {
  std::string good = sign(kMessage, "ed1", *ed_, "ed25519-sha256", "relaxed/relaxed");
  std::string message =
      "DKIM-Signature: garbage\r\n"
      "DKIM-Signature: v=1; a=rsa-sha256; s=x; b=AAAA; bh=AAAA; h=from\r\n"
      "DKIM-Signature: v=1; a=rsa-md5; d=example.org; s=rsa1; b=AAAA; bh=AAAA; h=from\r\n"
      "DKIM-Signature: v=1; d=example.org; d=example.org\r\n" +
      good;
  std::vector<DkimVerdict> verdicts = verify(message);
  ASSERT_EQ(verdicts.size(), 5u);
  EXPECT_EQ(verdicts[0].result, "neutral");
  EXPECT_EQ(verdicts[0].reason, "signature field is not a valid tag list (RFC 6376 3.2)");
  EXPECT_EQ(verdicts[1].result, "neutral");
  EXPECT_EQ(verdicts[1].reason, "no d= tag (RFC 6376 3.5)");
  EXPECT_EQ(verdicts[2].result, "neutral");
  EXPECT_EQ(verdicts[2].algorithm, "rsa-md5");
  EXPECT_EQ(verdicts[3].result, "neutral");
  EXPECT_EQ(verdicts[4].result, "pass") << verdicts[4].reason;
}

TEST_F(DkimVerifyTest, OversizedSignatureFieldIsNotVerified) {
  std::string good = sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed");
  std::string padded =
      replace_once(good, "DKIM-Signature: ", "DKIM-Signature: z=" + std::string(9000, 'x') + "; ");
  std::vector<DkimVerdict> verdicts = verify(padded);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "permerror");
  EXPECT_EQ(verdicts[0].reason, "signature field longer than 8192 bytes");
}

TEST_F(DkimVerifyTest, TooManyHeaderFieldsIsAPermerror) {
  std::string good = sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed");
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "X-Filler: " + std::to_string(i) + "\r\n";
  std::vector<DkimVerdict> verdicts = verify(many + good);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "permerror");
  EXPECT_EQ(verdicts[0].reason, "more than 1000 header fields");
}

TEST_F(DkimVerifyTest, SignatureOfAMessageWithoutFromIsAPermerror) {
  std::string good = sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed");
  std::vector<DkimVerdict> verdicts =
      verify(replace_once(good, "From: \"Alice A.\" <alice@example.org>\r\n", ""));
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].result, "permerror");
  EXPECT_NE(verdicts[0].reason.find("libopendkim"), std::string::npos) << verdicts[0].reason;
}

TEST_F(DkimVerifyTest, ManyThreadsVerifyAtOnce) {
  std::string signed_message = sign(sign(kMessage, "rsa1", *rsa_, "rsa-sha256", "relaxed/relaxed"),
                                    "ed1", *ed_, "ed25519-sha256", "relaxed/relaxed");
  std::vector<std::thread> threads;
  std::atomic<int> passes{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i)
        for (const DkimVerdict& v : verify(signed_message)) passes += v.result == "pass";
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(passes.load(), 4 * 25 * 2);
}

}  // namespace
