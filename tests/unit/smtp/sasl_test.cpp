// SASL PLAIN / LOGIN response decoding (RFC 4954, RFC 4616) with the aiosmtpd, go-smtp,
// nodemailer and Dovecot AUTH vectors of SMTP-CASES 5-7, and the constant-time comparison.
#include <gtest/gtest.h>

#include <string>

#include "common/base64.h"
#include "smtp/sasl.h"

namespace smtp {
namespace {

using namespace std::string_literals;

std::string plain_error(std::string_view response) {
  auto result = decode_plain(response);
  EXPECT_TRUE(std::holds_alternative<Reply>(result)) << "accepted: " << response;
  return std::holds_alternative<Reply>(result) ? format(std::get<Reply>(result)) : "";
}

PlainCredentials plain_ok(std::string_view response) {
  auto result = decode_plain(response);
  EXPECT_TRUE(std::holds_alternative<PlainCredentials>(result)) << "rejected: " << response;
  return std::holds_alternative<PlainCredentials>(result) ? std::get<PlainCredentials>(result)
                                                          : PlainCredentials{};
}

std::string login_error(std::string_view response) {
  auto result = decode_login(response);
  EXPECT_TRUE(std::holds_alternative<Reply>(result)) << "accepted: " << response;
  return std::holds_alternative<Reply>(result) ? format(std::get<Reply>(result)) : "";
}

const std::string kBadBase64 = "501 5.5.2 Can't decode base64\r\n";
const std::string kCantSplit = "501 5.5.2 Can't split auth value\r\n";

TEST(SaslPlain, go_smtp_credentials_decode) {  // TestServerAuthTwice
  PlainCredentials credentials = plain_ok("AHVzZXJuYW1lAHBhc3N3b3Jk");
  EXPECT_EQ(credentials.authzid, "");
  EXPECT_EQ(credentials.username, "username");
  EXPECT_EQ(credentials.password, "password");
}

TEST(SaslPlain, aiosmtpd_test_credentials_decode) {  // TestRequireTLSAUTH: \0test\0test
  PlainCredentials credentials = plain_ok("AHRlc3QAdGVzdA==");
  EXPECT_EQ(credentials.username, "test");
  EXPECT_EQ(credentials.password, "test");
}

TEST(SaslPlain, authzid_is_kept) {
  PlainCredentials credentials = plain_ok(common::base64_encode("admin\0user\0pass"s));
  EXPECT_EQ(credentials.authzid, "admin");
  EXPECT_EQ(credentials.username, "user");
  EXPECT_EQ(credentials.password, "pass");
}

TEST(SaslPlain, not_base64_is_501_cant_decode) {
  EXPECT_EQ(plain_error("not-b64"), kBadBase64);
  EXPECT_EQ(plain_error("ab@%"), kBadBase64);
  EXPECT_EQ(plain_error("AHRlc3QAdGVzdA"), kBadBase64);  // missing padding
}

TEST(SaslPlain, wrong_field_count_is_501_cant_split) {
  EXPECT_EQ(plain_error(common::base64_encode("\0onlylogin"s)), kCantSplit);
  EXPECT_EQ(plain_error(common::base64_encode("nonul")), kCantSplit);
  EXPECT_EQ(plain_error(common::base64_encode("\0a\0b\0c"s)), kCantSplit);
  EXPECT_EQ(plain_error("="), kCantSplit);  // "=" is the empty response (RFC 4954 4)
  EXPECT_EQ(plain_error(""), kCantSplit);
}

TEST(SaslPlain, empty_username_is_rejected) {
  EXPECT_EQ(plain_error(common::base64_encode("\0\0password"s)), kCantSplit);
}

TEST(SaslPlain, control_characters_in_fields_are_rejected) {  // NM
  EXPECT_EQ(plain_error(common::base64_encode("\0us\x01"
                                              "er\0pass"s))
                .substr(0, 10),
            "501 5.5.2 ");
  EXPECT_EQ(plain_error(common::base64_encode("\0user\0pa\nss"s)).substr(0, 10), "501 5.5.2 ");
  EXPECT_EQ(plain_error(common::base64_encode("\0user\0pa\xc3ss"s)).substr(0, 10), "501 5.5.2 ");
}

TEST(SaslPlain, empty_password_is_structurally_valid) {
  EXPECT_EQ(plain_ok(common::base64_encode("\0user\0"s)).password, "");
}

TEST(SaslLogin, decodes_username_and_password_steps) {
  auto user = decode_login(common::base64_encode("anne"));
  ASSERT_TRUE(std::holds_alternative<std::string>(user));
  EXPECT_EQ(std::get<std::string>(user), "anne");
}

TEST(SaslLogin, equals_sign_is_an_empty_value) {  // AIO: "=" / "=" reaches the check, 535
  auto empty = decode_login("=");
  ASSERT_TRUE(std::holds_alternative<std::string>(empty));
  EXPECT_EQ(std::get<std::string>(empty), "");
}

TEST(SaslLogin, bad_base64_and_control_characters_are_rejected) {
  EXPECT_EQ(login_error("ab@%"), kBadBase64);
  EXPECT_EQ(login_error(common::base64_encode("us\x1b"
                                              "er"))
                .substr(0, 10),
            "501 5.5.2 ");
  EXPECT_EQ(login_error(common::base64_encode("us\0er"s)).substr(0, 10), "501 5.5.2 ");
}

TEST(SaslResponses, dovecot_invalid_auth_responses_are_rejected) {
  EXPECT_EQ(login_error("\x01\x02\x03"), kBadBase64);
  EXPECT_EQ(login_error("U3R1cGlkIEJhc\r2U2NCB0ZXN0"), kBadBase64);
  EXPECT_EQ(plain_error("\x01\x02\x03"), kBadBase64);
  EXPECT_EQ(plain_error("U3R1cGlkIEJhc\r2U2NCB0ZXN0"), kBadBase64);
}

TEST(SaslResponses, star_cancels) {
  EXPECT_TRUE(is_cancel("*"));
  EXPECT_FALSE(is_cancel("**"));
  EXPECT_FALSE(is_cancel(""));
  EXPECT_FALSE(is_cancel("* "));
}

TEST(SaslResponses, login_challenges_are_base64_prompts) {
  EXPECT_EQ(common::base64_decode(kLoginUserChallenge).value_or(""), "Username:");
  EXPECT_EQ(common::base64_decode(kLoginPasswordChallenge).value_or(""), "Password:");
}

TEST(SecureEquals, compares_contents_and_lengths) {
  EXPECT_TRUE(secure_equals("goodpasswd", "goodpasswd"));
  EXPECT_FALSE(secure_equals("goodpasswd", "badpasswd0"));
  EXPECT_FALSE(secure_equals("goodpasswd", "goodpasswd2"));
  EXPECT_FALSE(secure_equals("goodpasswd", ""));
  EXPECT_TRUE(secure_equals("", ""));
  EXPECT_TRUE(secure_equals("a\0b"s, "a\0b"s));
  EXPECT_FALSE(secure_equals("a\0b"s, "a\0c"s));
}

// issue 11: the comparison used to return at once on a length mismatch, telling a guesser the
// stored password's length; digests have one length whatever was typed.
TEST(SecureEquals, compares_digests_of_one_fixed_size) {
  EXPECT_EQ(credential_digest("").size(), 32u);
  EXPECT_EQ(credential_digest(std::string(100000, 'x')).size(), 32u);
  EXPECT_NE(credential_digest("goodpasswd"), credential_digest("goodpasswd2"));
  EXPECT_TRUE(secure_equals(credential_digest("goodpasswd"), "goodpasswd"));
  EXPECT_FALSE(secure_equals(credential_digest("goodpasswd"), "goodpass"));
  EXPECT_FALSE(secure_equals(credential_digest("goodpasswd"), std::string(4096, 'g')));
}

TEST(CredentialsMatch, needs_both_fields_of_one_user) {
  std::vector<StoredCredential> users{store_credential("app", "s3cret"),
                                      store_credential("ops", "hunter2")};
  EXPECT_TRUE(credentials_match(users, "app", "s3cret"));
  EXPECT_TRUE(credentials_match(users, "ops", "hunter2"));
  EXPECT_FALSE(credentials_match(users, "app", "hunter2"));  // another user's password
  EXPECT_FALSE(credentials_match(users, "ops", "s3cret"));
  EXPECT_FALSE(credentials_match(users, "app", "s3cre"));
  EXPECT_FALSE(credentials_match(users, "app", "s3cret\0"s));
  EXPECT_FALSE(credentials_match(users, "nobody", "s3cret"));
  EXPECT_FALSE(credentials_match({}, "app", "s3cret"));
}

}  // namespace
}  // namespace smtp
