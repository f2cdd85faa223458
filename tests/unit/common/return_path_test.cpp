// VERP return paths (common/return_path.h): the documented form, its HMAC tag checked against
// OpenSSL's HMAC computed here on its own, rotation, case-insensitive reading, and the refusals
// (a wrong tag, another domain, a non-canonical position, a local part past RFC 5321's 64).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/return_path.h"

namespace {

const std::string kId = "01900000-0000-7000-8000-0000000000ab";
const std::string kSecret = "rp-secret-0123456789";

std::string tag(const std::string& secret, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  char hex[11];
  for (int i = 0; i < 5; ++i) snprintf(hex + 2 * i, 3, "%02x", mac[i]);
  return std::string(hex, 10);
}

TEST(ReturnPath, HasTheDocumentedForm) {
  std::string path = common::return_path("bounces.example.com", kSecret, kId, 3);
  EXPECT_EQ(path,
            "bounces+019000000000700080000000000000ab"
            "-3-" +
                tag(kSecret, "return-path/" + kId + "/3") + "@bounces.example.com")
      << path;
  EXPECT_LE(path.find('@'), 64u);
}

TEST(ReturnPath, ReadsBackWhatItWrote) {
  for (int position : {0, 1, 499, 999999}) {
    std::string path = common::return_path("bounces.example.com", kSecret, kId, position);
    auto target = common::parse_return_path(path, "bounces.example.com", {kSecret});
    ASSERT_TRUE(target) << path;
    EXPECT_EQ(target->message_id, kId);
    EXPECT_EQ(target->position, position);
  }
}

TEST(ReturnPath, IgnoresCaseAsSomeMtasChangeIt) {
  std::string path = common::return_path("bounces.example.com", kSecret, kId, 2);
  for (char& c : path) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto target = common::parse_return_path(path, "Bounces.Example.COM", {kSecret});
  ASSERT_TRUE(target);
  EXPECT_EQ(target->message_id, kId);
}

TEST(ReturnPath, EverySecretVerifiesTheFirstSigns) {
  std::string old_path = common::return_path("b.example", "old-secret-0123456789", kId, 1);
  EXPECT_TRUE(common::parse_return_path(old_path, "b.example",
                                        {"new-secret-0123456789", "old-secret-0123456789"}));
  EXPECT_FALSE(common::parse_return_path(old_path, "b.example", {"new-secret-0123456789"}));
}

TEST(ReturnPath, RefusesForgeries) {
  std::string path = common::return_path("b.example", kSecret, kId, 1);
  size_t at = path.find('@');
  std::string wrong_tag = path;
  wrong_tag[at - 1] = wrong_tag[at - 1] == '0' ? '1' : '0';
  std::string other_position = path;
  other_position.replace(path.find("-1-"), 3, "-2-");
  std::string padded_position = path;
  padded_position.replace(path.find("-1-"), 3, "-01-");
  for (const std::string& forged :
       {wrong_tag, other_position, padded_position, path.substr(0, at) + "@other.example",
        std::string("bounces+nothex@b.example"), std::string("someone@b.example"),
        std::string("bounces+") + std::string(32, '0') + "-0-0000000000@b.example", std::string(""),
        std::string("@b.example"), std::string("bounces+") + std::string(80, 'a') + "@b.example"})
    EXPECT_FALSE(common::parse_return_path(forged, "b.example", {kSecret})) << forged;
}

TEST(ReturnPath, TheDomainMatchWithoutRegardToCase) {
  EXPECT_TRUE(common::on_return_path_domain("x@Bounces.Example", "bounces.example"));
  EXPECT_FALSE(common::on_return_path_domain("x@bounces.example.org", "bounces.example"));
  EXPECT_FALSE(common::on_return_path_domain("x@bounces.example", ""));
  EXPECT_FALSE(common::on_return_path_domain("no-at-sign", "bounces.example"));
}

}  // namespace
