// The trace fields of a stored message (issue 15): the WITH protocol of the Received header
// (RFC 3848, RFC 6531 3.7.3) and the envelope's params.size, the SIZE= the client declared.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "smtp/received.h"

namespace {

smtp::Envelope envelope(bool esmtp, bool tls, bool auth, bool smtputf8) {
  smtp::Envelope e;
  e.id = "0190b9a0-0000-7000-8000-000000000000";
  e.hostname = "mx.example";
  e.helo = "client.example";
  e.esmtp = esmtp;
  e.client_ip = "192.0.2.1";
  if (tls) e.tls = smtp::TlsInfo{"TLSv1.3", "TLS_AES_256_GCM_SHA384"};
  if (auth) e.auth_user = "app";
  e.mail.address = "a@example.com";
  e.mail.smtputf8 = smtputf8;
  e.rcpts.push_back({"b@example.com", {}});
  return e;
}

TEST(Received, WithNamesEsmtpAndUtf8Variants) {
  EXPECT_EQ(smtp::protocol_name(envelope(false, false, false, false)), "SMTP");
  EXPECT_EQ(smtp::protocol_name(envelope(true, false, false, false)), "ESMTP");
  EXPECT_EQ(smtp::protocol_name(envelope(true, true, false, false)), "ESMTPS");
  EXPECT_EQ(smtp::protocol_name(envelope(true, true, true, false)), "ESMTPSA");
  EXPECT_EQ(smtp::protocol_name(envelope(true, false, false, true)), "UTF8SMTP");
  EXPECT_EQ(smtp::protocol_name(envelope(true, true, false, true)), "UTF8SMTPS");
  EXPECT_EQ(smtp::protocol_name(envelope(true, false, true, true)), "UTF8SMTPA");
  EXPECT_EQ(smtp::protocol_name(envelope(true, true, true, true)), "UTF8SMTPSA");
  std::string header =
      smtp::received_header(envelope(true, true, false, true), std::chrono::system_clock::now());
  EXPECT_NE(header.find(" with UTF8SMTPS id "), std::string::npos) << header;
}

TEST(Received, ParamsSizeIsTheDeclaredSize) {
  smtp::Envelope declared = envelope(true, false, false, false);
  declared.mail.size = 386;
  auto json = nlohmann::json::parse(smtp::envelope_json(declared));
  EXPECT_EQ(json["params"]["size"], 386);
  auto undeclared = nlohmann::json::parse(smtp::envelope_json(envelope(true, false, false, false)));
  EXPECT_TRUE(undeclared["params"]["size"].is_null());
}

}  // namespace
