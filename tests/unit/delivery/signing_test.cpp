// Unit tests of delivery::sign / secret_key (Standard Webhooks, CONTRACTS.md 1): the official
// example vector, an HMAC computed independently with OpenSSL, rotation, and bad secrets.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "common/base64.h"
#include "delivery/signing.h"

namespace delivery {
namespace {

std::string independent_signature(const std::string& key, const std::string& content) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &length);
  return "v1," + common::base64_encode(std::string(reinterpret_cast<const char*>(mac), length));
}

TEST(Signing, matches_the_standard_webhooks_example) {
  EXPECT_EQ(sign({"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "msg_p5jXN8AQM9LWM0D4loKWxJek",
                 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(Signing, signs_id_dot_timestamp_dot_body_with_the_decoded_key) {
  std::string key("\x00\x01\xfe secret key bytes \xff", 22);
  std::string secret = "whsec_" + common::base64_encode(key);
  std::string body = R"({"type":"message.received","subject":"Отчёт"})";
  EXPECT_EQ(sign({secret}, "01936d2e-8c1a-7b7e-9c2a-5b1e2f3a4b5c", 1795738523, body),
            independent_signature(key, "01936d2e-8c1a-7b7e-9c2a-5b1e2f3a4b5c.1795738523." + body));
  // Any change to id, timestamp or body changes the signature.
  EXPECT_NE(sign({secret}, "other", 1795738523, body),
            sign({secret}, "01936d2e", 1795738523, body));
  EXPECT_NE(sign({secret}, "id", 1795738524, body), sign({secret}, "id", 1795738523, body));
  EXPECT_NE(sign({secret}, "id", 1795738523, body + " "), sign({secret}, "id", 1795738523, body));
}

TEST(Signing, an_empty_key_still_signs) {
  // Expected value from Python's hmac module: HMAC-SHA256 with an empty key of "id.1.body".
  EXPECT_EQ(sign({"whsec_"}, "id", 1, "body"), "v1,hVqtE3424D16V/T9ffboIF1HgFST8SgKcxOxwVYKGmA=");
}

TEST(Signing, rotation_gives_one_signature_per_secret_space_separated) {
  std::string old_key = "old key material", new_key = "new key material";
  std::vector<std::string> secrets = {"whsec_" + common::base64_encode(old_key),
                                      "whsec_" + common::base64_encode(new_key)};
  std::string content = "msg_1.1614265330.{}";
  EXPECT_EQ(
      sign(secrets, "msg_1", 1614265330, "{}"),
      independent_signature(old_key, content) + " " + independent_signature(new_key, content));
}

TEST(Signing, secret_without_prefix_is_not_used) {
  // Standard Webhooks receivers base64-decode a secret: raw bytes would sign with another key.
  EXPECT_EQ(secret_key("plain-secret"), std::nullopt);
  std::string good = "whsec_" + common::base64_encode("k");
  EXPECT_EQ(sign({"plain-secret", good}, "m", 1, "b"), independent_signature("k", "m.1.b"));
}

TEST(Signing, invalid_base64_secret_is_rejected_and_not_used) {
  EXPECT_EQ(secret_key("whsec_not base64!"), std::nullopt);
  EXPECT_EQ(secret_key("whsec_"), std::string());
  std::string good = "whsec_" + common::base64_encode("k");
  EXPECT_EQ(sign({"whsec_not base64!", good}, "m", 1, "b"), independent_signature("k", "m.1.b"));
}

TEST(Signing, no_secrets_no_signature) {
  EXPECT_EQ(sign({}, "m", 1, "b"), "");
}

}  // namespace
}  // namespace delivery
