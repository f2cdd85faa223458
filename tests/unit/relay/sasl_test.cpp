// Unit tests of the SASL client encodings (src/relay/sasl_client.cpp) against the RFCs'
// own examples: PLAIN (RFC 4616 4), CRAM-MD5 (RFC 2195 2), XOAUTH2 (Google's example), LOGIN.
#include <gtest/gtest.h>

#include "common/base64.h"
#include "relay/protocol.h"

namespace relay {
namespace {

TEST(Sasl, plain_matches_rfc4616_example) {
  EXPECT_EQ(sasl_plain("tim", "tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
}

TEST(Sasl, cram_md5_matches_rfc2195_example) {
  EXPECT_EQ(sasl_cram_md5("tim", "tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>"),
            "tim b913a602c7eda7a495b4e6e7334d3890");
  SaslClient client("CRAM-MD5", "tim", "tanstaaftanstaaf");
  EXPECT_EQ(client.initial_command(), "AUTH CRAM-MD5\r\n");
  EXPECT_EQ(client.answer("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
  EXPECT_EQ(client.answer("eA=="), std::nullopt);  // a second challenge is wrong
}

TEST(Sasl, xoauth2_matches_googles_example) {
  EXPECT_EQ(sasl_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQm"
            "hkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
  SaslClient client("XOAUTH2", "u", "t");
  EXPECT_EQ(client.initial_command(), "AUTH XOAUTH2 " + sasl_xoauth2("u", "t") + "\r\n");
  EXPECT_EQ(client.answer(common::base64_encode("{\"status\":\"401\"}")), "");  // then 535
}

TEST(Sasl, login_answers_username_then_password) {
  SaslClient client("LOGIN", "user", "secret");
  EXPECT_EQ(client.initial_command(), "AUTH LOGIN\r\n");
  EXPECT_EQ(client.answer("VXNlcm5hbWU6"), common::base64_encode("user"));
  EXPECT_EQ(client.answer("UGFzc3dvcmQ6"), common::base64_encode("secret"));
  EXPECT_EQ(client.answer("UGFzc3dvcmQ6"), std::nullopt);
}

TEST(Sasl, plain_sends_an_initial_response_and_answers_an_empty_challenge_once) {
  SaslClient client("PLAIN", "tim", "tanstaaftanstaaf");
  EXPECT_EQ(client.initial_command(), "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
  EXPECT_EQ(client.answer(""), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  EXPECT_EQ(client.answer(""), std::nullopt);
}

TEST(Sasl, bad_base64_challenge_cancels) {
  SaslClient client("CRAM-MD5", "u", "p");
  EXPECT_EQ(client.answer("not base64!"), std::nullopt);
}

TEST(Sasl, auto_prefers_cram_md5_then_plain_then_login_never_xoauth2) {
  EXPECT_EQ(choose_mechanism("auto", {"LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2"}), "CRAM-MD5");
  EXPECT_EQ(choose_mechanism("auto", {"LOGIN", "PLAIN"}), "PLAIN");
  EXPECT_EQ(choose_mechanism("auto", {"LOGIN"}), "LOGIN");
  EXPECT_EQ(choose_mechanism("auto", {"XOAUTH2"}), "");
  EXPECT_EQ(choose_mechanism("xoauth2", {"XOAUTH2"}), "XOAUTH2");
  EXPECT_EQ(choose_mechanism("plain", {"LOGIN"}), "");
  EXPECT_EQ(choose_mechanism("auto", {}), "");
}

}  // namespace
}  // namespace relay
