// Signed part links (common/part_link.h): the documented scheme (HMAC-SHA256 of
// "{id}/{part}/{expires}", base64url without padding, checked here against OpenSSL's HMAC
// computed independently), verification by any configured secret, and the refusals.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base64.h"
#include "common/part_link.h"

namespace {

const std::string kId = "01900000-0000-7000-8000-0000000000ab";

// RFC 4231 style: the MAC computed by the test on its own, then base64url'd by hand.
std::string expected(const std::string& secret, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  std::string text = common::base64_encode(std::string(reinterpret_cast<char*>(mac), length));
  std::string out;
  for (char c : text)
    if (c != '=') out += c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

TEST(PartLink, SignsTheDocumentedString) {
  std::string signature = common::part_link_signature("k-0123456789abcdef", kId, "2.1", 1800000000);
  EXPECT_EQ(signature, expected("k-0123456789abcdef", kId + "/2.1/1800000000"));
  EXPECT_EQ(signature.size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_EQ(common::part_link("https://b.example", "k-0123456789abcdef", kId, "2.1", 1800000000),
            "https://b.example/v1/inbound/" + kId +
                "/parts/2.1?expires=1800000000&signature=" + signature);
  EXPECT_EQ(common::part_link("https://b.example", "s", kId, "raw", 5),
            "https://b.example/v1/inbound/" + kId +
                "/raw?expires=5&signature=" + common::part_link_signature("s", kId, "raw", 5));
}

TEST(PartLink, AnyConfiguredSecretVerifies) {
  std::vector<std::string> secrets = {"new-secret-0123456789", "old-secret-0123456789"};
  for (const std::string& secret : secrets) {
    std::string signature = common::part_link_signature(secret, kId, "2", 1000);
    EXPECT_EQ(common::check_part_link(secrets, kId, "2", "1000", signature, 999),
              common::LinkCheck::valid);
    EXPECT_EQ(common::check_part_link(secrets, kId, "2", "1000", signature, 1000),
              common::LinkCheck::valid);
    EXPECT_EQ(common::check_part_link(secrets, kId, "2", "1000", signature, 1001),
              common::LinkCheck::expired);
  }
}

TEST(PartLink, AnythingChangedIsRefused) {
  std::vector<std::string> secrets = {"new-secret-0123456789"};
  std::string signature = common::part_link_signature(secrets[0], kId, "2", 1000);
  std::string flipped = signature;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  auto bad = common::LinkCheck::bad_signature;
  EXPECT_EQ(common::check_part_link(secrets, kId, "2", "1000", flipped, 0), bad);
  EXPECT_EQ(common::check_part_link(secrets, kId, "3", "1000", signature, 0), bad);
  EXPECT_EQ(common::check_part_link(secrets, kId, "2", "1001", signature, 0), bad);
  EXPECT_EQ(common::check_part_link(secrets, kId, "2", "01000", signature, 0), bad);
  EXPECT_EQ(common::check_part_link(secrets, kId, "2", "", signature, 0), bad);
  EXPECT_EQ(common::check_part_link(secrets, kId, "2", "1000x", signature, 0), bad);
  EXPECT_EQ(common::check_part_link(secrets, kId, "2", "1000", signature.substr(1), 0), bad);
  EXPECT_EQ(common::check_part_link({"other-secret-0123456789"}, kId, "2", "1000", signature, 0),
            bad);
  EXPECT_EQ(common::check_part_link({}, kId, "2", "1000", signature, 0), bad);
  // A forged link is never told that it expired.
  EXPECT_EQ(common::check_part_link(secrets, kId, "2", "1000", flipped, 5000), bad);
}

}  // namespace
