// check_rspamd's transports: an IPv6 literal URL ("http://[::1]:PORT", which httplib 0.11's URL
// constructor cannot connect to), and https:// with certificate verification on: a server whose
// certificate the trust store does not hold is "unreachable", one it holds is scanned.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "mailauth/rspamd.h"

namespace {

constexpr const char* kAnswer = R"({"score":2,"required_score":15,"action":"no action"})";

void answer(const httplib::Request&, httplib::Response& res) {
  res.set_content(kAnswer, "application/json");
}

mailauth::SpamRequest sample(const std::string& text) {
  mailauth::SpamRequest request;
  request.message = text;
  request.client_ip = "192.0.2.1";
  request.mail_from = "a@example.com";
  request.rcpt_to = {"b@example.org"};
  return request;
}

// Runs `server` on `host` and a free port until destroyed.
class Running {
 public:
  Running(httplib::Server& server, const std::string& host) : server_(server) {
    port_ = server_.bind_to_any_port(host);
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Running() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server& server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(RspamdTransport, Ipv6LiteralUrl) {
  httplib::Server server;
  server.Post("/checkv2", answer);
  Running running(server, "::1");
  if (running.port() <= 0) GTEST_SKIP() << "no IPv6 loopback here";
  std::string text = "x";
  mailauth::RspamdOptions options{"http://[::1]:" + std::to_string(running.port()),
                                  std::chrono::milliseconds(10000)};
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(options, sample(text));
  EXPECT_EQ(verdict.status, "scanned") << verdict.reason;
  EXPECT_EQ(verdict.score, 2);
}

// A self-signed certificate for 127.0.0.1 (the openssl command line), in a folder of its own.
class Certificate {
 public:
  Certificate() {
    char pattern[] = "/tmp/rspamd-tls-test-XXXXXX";
    folder_ = mkdtemp(pattern);
    std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        key() + " -out " + cert() + " >/dev/null 2>&1";
    made_ = system(command.c_str()) == 0;
  }
  ~Certificate() {
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }
  bool made() const { return made_; }
  std::string cert() const { return folder_ + "/cert.pem"; }
  std::string key() const { return folder_ + "/key.pem"; }

 private:
  std::string folder_;
  bool made_ = false;
};

TEST(RspamdTransport, HttpsVerifiesTheCertificate) {
  Certificate certificate;
  ASSERT_TRUE(certificate.made()) << "openssl req failed";
  httplib::SSLServer server(certificate.cert().c_str(), certificate.key().c_str());
  ASSERT_TRUE(server.is_valid());
  server.Post("/checkv2", answer);
  Running running(server, "127.0.0.1");
  ASSERT_GT(running.port(), 0);
  mailauth::RspamdOptions options{"https://127.0.0.1:" + std::to_string(running.port()),
                                  std::chrono::milliseconds(10000)};
  std::string text = "x";

  // OpenSSL's default trust store is the system's, or SSL_CERT_FILE when set (CTest runs each
  // test in a process of its own, so the variable stays here).
  unsetenv("SSL_CERT_FILE");
  mailauth::SpamVerdict untrusted = mailauth::check_rspamd(options, sample(text));
  EXPECT_EQ(untrusted.status, "unavailable");
  EXPECT_EQ(untrusted.reason, "unreachable");

  setenv("SSL_CERT_FILE", certificate.cert().c_str(), 1);
  mailauth::SpamVerdict trusted = mailauth::check_rspamd(options, sample(text));
  EXPECT_EQ(trusted.status, "scanned") << trusted.reason;
  EXPECT_EQ(trusted.score, 2);
}

}  // namespace
