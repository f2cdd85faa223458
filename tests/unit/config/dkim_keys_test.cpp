// Tests of relay.dkim: keys of both kinds read with the algorithm their file implies, dual signing
// keys for one domain, and every bad key (missing, unreadable, not PEM, too small, wrong type,
// a second key of one kind) refused at load naming its key.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>

#include "config/config.h"
#include "config/dkim_key.h"
#include "test_support.h"

using config_test::dump;
using config_test::find_error;
using config_test::TempDir;

namespace {

// A new private key as PEM (PKCS#8), made by OpenSSL: "RSA" with bits, "ED25519" or "EC".
std::string new_key_pem(const char* type, unsigned bits = 2048) {
  EVP_PKEY* made = std::string(type) == "RSA"
                       ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(bits))
                   : std::string(type) == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                               : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(made, EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  EXPECT_TRUE(
      key && PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr));
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(size));
}

std::string dkim_yaml(const std::string& items) {
  return "relay:\n  dkim:\n" + items;
}

std::string item(const std::string& domain, const std::string& selector, const std::string& file) {
  return "    - {domain: " + domain + ", selector: " + selector + ", key_file: '" + file + "'}\n";
}

TEST(LoadRelayDkim, NoKeysByDefault) {
  EXPECT_TRUE(config::Config{}.relay.dkim.empty());
}

TEST(LoadRelayDkim, RsaAndEd25519KeysForOneDomainAreDualSigning) {
  TempDir dir;
  auto rsa = dir.write("rsa.pem", new_key_pem("RSA", 2048));
  auto ed = dir.write("ed.pem", new_key_pem("ED25519"));
  auto result = config::load_string(
      dkim_yaml(item("Example.ORG", "rsa2026", rsa) + item("example.org", "ed2026", ed)));
  ASSERT_TRUE(result.config) << dump(result);
  const auto& keys = result.config->relay.dkim;
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].domain, "example.org");  // lower case: matched against From's domain
  EXPECT_EQ(keys[0].selector, "rsa2026");
  EXPECT_EQ(keys[0].key_file, rsa);
  EXPECT_EQ(keys[0].algorithm, "rsa-sha256");
  EXPECT_EQ(keys[1].algorithm, "ed25519-sha256");
}

TEST(LoadRelayDkim, AMissingOrBadKeyFileIsAnErrorNamingTheKey) {
  TempDir dir;
  auto good = dir.write("good.pem", new_key_pem("ED25519"));
  auto garbage = dir.write("garbage.pem", "-----BEGIN PRIVATE KEY-----\nnope\n");
  auto small = dir.write("small.pem", new_key_pem("RSA", 768));
  auto ec = dir.write("ec.pem", new_key_pem("EC"));
  auto result = config::load_string(
      dkim_yaml(item("a.example", "s", good) + item("b.example", "s", dir.path() + "/absent.pem") +
                item("c.example", "s", garbage) + item("d.example", "s", small) +
                item("e.example", "s", ec)));
  ASSERT_FALSE(result.config);
  EXPECT_EQ(find_error(result, "relay.dkim[0].key_file"), nullptr) << dump(result);
  auto* absent = find_error(result, "relay.dkim[1].key_file");
  ASSERT_NE(absent, nullptr) << dump(result);
  EXPECT_NE(absent->message.find("cannot read"), std::string::npos) << absent->message;
  auto* bad = find_error(result, "relay.dkim[2].key_file");
  ASSERT_NE(bad, nullptr) << dump(result);
  EXPECT_NE(bad->message.find("not an unencrypted PEM private key"), std::string::npos);
  auto* weak = find_error(result, "relay.dkim[3].key_file");
  ASSERT_NE(weak, nullptr) << dump(result);
  EXPECT_NE(weak->message.find("768 bits; at least 1024"), std::string::npos) << weak->message;
  auto* wrong = find_error(result, "relay.dkim[4].key_file");
  ASSERT_NE(wrong, nullptr) << dump(result);
  EXPECT_NE(wrong->message.find("only RSA and Ed25519"), std::string::npos) << wrong->message;
  EXPECT_EQ(wrong->line, 7);
}

TEST(LoadRelayDkim, RequiredFieldsNamesAndDuplicatesAreChecked) {
  TempDir dir;
  auto ed = dir.write("ed.pem", new_key_pem("ED25519"));
  auto ed2 = dir.write("ed2.pem", new_key_pem("ED25519"));
  auto result = config::load_string(dkim_yaml(
      "    - {domain: example.org}\n" + item("bad domain", "s", ed) +
      item("example.net", "bad_selector!", ed) + item("example.com", "one", ed) +
      item("EXAMPLE.com", "two", ed2) + "    - {domain: x.example, selector: s, key: k}\n"));
  ASSERT_FALSE(result.config);
  EXPECT_NE(find_error(result, "relay.dkim[0].selector"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "relay.dkim[0].key_file"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "relay.dkim[1].domain"), nullptr) << dump(result);
  EXPECT_NE(find_error(result, "relay.dkim[2].selector"), nullptr) << dump(result);
  auto* twice = find_error(result, "relay.dkim[4]");
  ASSERT_NE(twice, nullptr) << dump(result);
  EXPECT_NE(twice->message.find("a second ed25519-sha256 key for domain 'example.com'"),
            std::string::npos)
      << twice->message;
  EXPECT_NE(find_error(result, "relay.dkim[5].key"), nullptr) << dump(result);
  EXPECT_NE(find_error(config::load_string("relay:\n  dkim: {domain: a}\n"), "relay.dkim"),
            nullptr);
}

TEST(InspectDkimKey, TellsTheAlgorithmAndSize) {
  std::string reason;
  auto rsa = config::inspect_dkim_key(new_key_pem("RSA", 1024), reason);
  ASSERT_TRUE(rsa) << reason;
  EXPECT_EQ(rsa->algorithm, "rsa-sha256");
  EXPECT_EQ(rsa->bits, 1024);
  auto ed = config::inspect_dkim_key(new_key_pem("ED25519"), reason);
  ASSERT_TRUE(ed) << reason;
  EXPECT_EQ(ed->algorithm, "ed25519-sha256");
  EXPECT_FALSE(config::inspect_dkim_key("", reason));
}

}  // namespace
