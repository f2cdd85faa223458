// Tests of relay::DkimSigner against an independent verifier, dkimpy (dkim_verify.py): RSA and
// Ed25519 signatures of one message both verify, one changed header or body byte fails them, From
// is over-signed in h=, only the From domain's keys sign, and a replaced key file is used after
// the once-a-second re-check (an invalid one keeps the last good key).
#include "relay/dkim_signer.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace {

using relay::DkimResult;
using relay::DkimSigner;

struct TestKey {
  std::string pem;  // private, PKCS#8
  std::string txt;  // the DNS TXT record (RFC 6376 3.6.1; Ed25519: RFC 8463 4.2)
};

std::string base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  out.resize(
      size_t(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, int(size))));
  return out;
}

TestKey make_key(bool ed25519) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
              : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(2048)),
      EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  TestKey made{std::string(data, size_t(size)), ""};
  if (ed25519) {
    unsigned char raw[32];
    size_t length = sizeof raw;
    EVP_PKEY_get_raw_public_key(key.get(), raw, &length);
    made.txt = "v=DKIM1; k=ed25519; p=" + base64(raw, length);
  } else {
    unsigned char* der = nullptr;
    int length = i2d_PUBKEY(key.get(), &der);
    made.txt = "v=DKIM1; k=rsa; p=" + base64(der, size_t(length));
    OPENSSL_free(der);
  }
  return made;
}

class DkimSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "dkim_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path + ".tmp", std::ios::binary) << content;
    std::filesystem::rename(path + ".tmp", path);  // a new inode, like a Secret's update
    return path;
  }

  // dkimpy's verdict per signature: "pass a=... d=... s=... h=...".
  std::vector<std::string> verify(const std::string& message,
                                  const std::vector<std::pair<std::string, std::string>>& txt) {
    std::string file = write("message.eml", message);
    std::string records;
    for (const auto& [name, value] : txt) records += name + " " + value + "\n";
    std::string records_file = write("records.txt", records);
    std::string command = "/usr/bin/python3 " SMTP_BRIDGE_SOURCE_DIR
                          "/tests/unit/relay/dkim_verify.py " +
                          file + " " + records_file;
    std::vector<std::string> lines;
    FILE* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    char buffer[4096];
    while (pipe && fgets(buffer, sizeof buffer, pipe)) {
      std::string line(buffer);
      if (!line.empty() && line.back() == '\n') line.pop_back();
      lines.push_back(line.substr(line.find(' ') + 1));
    }
    if (pipe) {
      EXPECT_EQ(pclose(pipe), 0) << command;
    }
    return lines;
  }

  std::string dir_;
};

const std::string kMessage =
    "From: \"Alice A.\" <alice@Example.ORG>\r\n"
    "To: bob@example.net\r\n"
    "Subject: quarterly   report\r\n"
    "Date: Mon, 07 Dec 2026 15:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "Received: from somewhere\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "the figures are attached.  \r\n"
    "\r\n"
    "\r\n";

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  return text.replace(text.find(from), from.size(), to);
}

TEST_F(DkimSignerTest, RsaAndEd25519SignaturesVerifyWithDkimpyAndBreakOnAnyChangedByte) {
  TestKey rsa = make_key(false), ed = make_key(true);
  DkimSigner signer({{"example.org", "rsa1", write("rsa.pem", rsa.pem), "rsa-sha256"},
                     {"example.org", "ed1", write("ed.pem", ed.pem), "ed25519-sha256"},
                     {"example.net", "other", write("other.pem", rsa.pem), "rsa-sha256"}});
  DkimResult result = signer.sign(kMessage);
  ASSERT_EQ(result.status, DkimResult::Status::signed_message) << result.error;
  ASSERT_EQ(result.made.size(), 2u);
  EXPECT_EQ(result.made[0].algorithm, "rsa-sha256");
  EXPECT_EQ(result.made[1].algorithm, "ed25519-sha256");
  std::vector<std::pair<std::string, std::string>> txt = {{"rsa1._domainkey.example.org", rsa.txt},
                                                          {"ed1._domainkey.example.org", ed.txt}};
  std::string signed_message = result.headers + kMessage;
  // From over-signed (present once, named twice); Received is not signed (RFC 6376 5.4.1).
  const std::string h = "h=from:to:subject:date:message-id:mime-version:content-type:from";
  EXPECT_EQ(verify(signed_message, txt),
            (std::vector<std::string>{"pass rsa-sha256 example.org rsa1 " + h.substr(2),
                                      "pass ed25519-sha256 example.org ed1 " + h.substr(2)}))
      << result.headers;
  EXPECT_NE(result.headers.find("c=relaxed/relaxed"), std::string::npos) << result.headers;
  for (const std::string& changed :
       {replace_once(signed_message, "quarterly", "quarterlY"),
        replace_once(signed_message, "figures", "figureS"),
        replace_once(signed_message, "Content-Type: text/plain",
                     "From: mallory@example.org\r\nContent-Type: text/plain")}) {
    EXPECT_EQ(verify(changed, txt),
              (std::vector<std::string>{"fail rsa-sha256 example.org rsa1 " + h.substr(2),
                                        "fail ed25519-sha256 example.org ed1 " + h.substr(2)}));
  }
  // Relaxed canonicalisation: whitespace changes in transit still verify (RFC 6376 3.4.2, 3.4.4).
  EXPECT_EQ(
      verify(replace_once(signed_message, "quarterly   report", "quarterly report"), txt)[0].substr(
          0, 4),
      "pass");
}

TEST_F(DkimSignerTest, OnlyTheExactFromDomainSigns) {
  TestKey ed = make_key(true);
  DkimSigner signer({{"example.org", "ed1", write("ed.pem", ed.pem), "ed25519-sha256"}});
  for (const char* from :
       {"From: a@sub.example.org\r\n", "From: a@example.org.evil\r\n", "To: a@example.org\r\n",
        "From: a@example.org\r\nFrom: b@example.org\r\n"}) {
    DkimResult result = signer.sign(std::string(from) + "Subject: x\r\n\r\nbody\r\n");
    EXPECT_EQ(result.status, DkimResult::Status::no_key) << from;
    EXPECT_EQ(result.headers, "");
  }
  EXPECT_EQ(DkimSigner::from_domain("Subject: x\r\nfrom : (c) Name\r\n <a@EXAMPLE.org>\r\n\r\n"),
            "example.org");
  EXPECT_EQ(DkimSigner::from_domain("From: \"x@y.example\" <a@z.example>\r\n\r\nFrom: b@c\r\n"),
            "z.example");
}

TEST_F(DkimSignerTest, AReplacedKeyFileSignsAfterTheRecheckAndABadOneKeepsTheLastGoodKey) {
  TestKey first = make_key(true), second = make_key(true), third = make_key(false);
  auto now = std::chrono::steady_clock::time_point{};
  std::string path = write("ed.pem", first.pem);
  DkimSigner signer({{"example.org", "s", path, "ed25519-sha256"}}, [&] { return now; });
  auto verifies_with = [&](const TestKey& key) {
    DkimResult result = signer.sign(kMessage);
    if (result.status != DkimResult::Status::signed_message) return std::string("unsigned");
    return verify(result.headers + kMessage, {{"s._domainkey.example.org", key.txt}})
        .at(0)
        .substr(0, 4);
  };
  EXPECT_EQ(verifies_with(first), "pass");
  write("ed.pem", second.pem);
  now += std::chrono::milliseconds(500);  // within the second: not looked at yet
  EXPECT_EQ(verifies_with(first), "pass");
  now += std::chrono::milliseconds(600);
  EXPECT_EQ(verifies_with(second), "pass");
  write("ed.pem", "-----BEGIN PRIVATE KEY-----\ntruncated\n");
  now += std::chrono::seconds(2);
  EXPECT_EQ(verifies_with(second), "pass");  // the last good key
  write("ed.pem", third.pem);                // the algorithm follows the file
  now += std::chrono::seconds(2);
  DkimResult result = signer.sign(kMessage);
  ASSERT_EQ(result.made.size(), 1u);
  EXPECT_EQ(result.made[0].algorithm, "rsa-sha256");
  EXPECT_EQ(verifies_with(third), "pass");
}

TEST_F(DkimSignerTest, AKeyFileGoneBeforeStartSignsNothingAndIsAnError) {
  DkimSigner signer({{"example.org", "s", dir_ + "/absent.pem", "ed25519-sha256"}});
  DkimResult result = signer.sign(kMessage);
  EXPECT_EQ(result.status, DkimResult::Status::error);
  EXPECT_EQ(result.headers, "");
  EXPECT_NE(result.error.find("absent.pem"), std::string::npos) << result.error;
}

}  // namespace
