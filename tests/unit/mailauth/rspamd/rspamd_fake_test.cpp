// check_rspamd against servers that are not rspamd (an httplib::Server, raw sockets): the request
// it sends (rspamd's protocol headers, no header injection), and each failure as a value: timeout
// (silent, and a server trickling bytes past the deadline), http_503, bad_response; the URL check.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "mailauth/rspamd.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Generous: CI also runs this under ASan+UBSan; the bound that matters is "not much later".
constexpr auto kSlack = 5s;

// A socket listening on 127.0.0.1:port (connections complete in its backlog); -1 on failure.
int listening_socket(int& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  port = ntohs(address.sin_port);
  return fd;
}

// An HTTP server answering /checkv2 with `handler`, recording the last request.
class FakeRspamd {
 public:
  explicit FakeRspamd(httplib::Server::Handler handler) {
    server_.Post("/checkv2", [this, handler](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex_);
        last_ = req;
      }
      handler(req, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeRspamd() {
    server_.stop();
    thread_.join();
  }
  mailauth::RspamdOptions options() const {
    return {"http://127.0.0.1:" + std::to_string(port_), std::chrono::milliseconds(10000)};
  }
  httplib::Request last() {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  httplib::Request last_;
};

mailauth::SpamRequest sample(const std::string& text) {
  mailauth::SpamRequest request;
  request.message = text;
  request.client_ip = "2001:db8::25";
  request.helo = "mx.example.com";
  request.mail_from = "alice@example.com";
  request.hostname = "bridge.test";
  request.queue_id = "Q-1";
  request.rcpt_to = {"bob@example.org", "carol@example.org"};
  return request;
}

std::vector<std::string> values(const httplib::Request& req, const std::string& name) {
  std::vector<std::string> found;
  auto [from, to] = req.headers.equal_range(name);
  for (auto it = from; it != to; ++it) found.push_back(it->second);
  return found;
}

TEST(RspamdFake, SendsTheEnvelopeAsRspamdProtocolHeaders) {
  FakeRspamd fake([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"score":1.5,"required_score":15,"action":"no action","symbols":{}})",
                    "application/json");
  });
  std::string text = "Subject: hi\r\n\r\nhello\r\n";
  mailauth::SpamRequest request = sample(text);
  request.user = "alice";
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(fake.options(), request);
  ASSERT_EQ(verdict.status, "scanned") << verdict.reason;
  EXPECT_EQ(verdict.score, 1.5);
  httplib::Request seen = fake.last();
  EXPECT_EQ(seen.body, text);
  EXPECT_EQ(values(seen, "IP"), std::vector<std::string>{"2001:db8::25"});
  EXPECT_EQ(values(seen, "Helo"), std::vector<std::string>{"mx.example.com"});
  EXPECT_EQ(values(seen, "From"), std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(values(seen, "Rcpt"),
            (std::vector<std::string>{"bob@example.org", "carol@example.org"}));
  EXPECT_EQ(values(seen, "User"), std::vector<std::string>{"alice"});
  EXPECT_EQ(values(seen, "Queue-Id"), std::vector<std::string>{"Q-1"});
  EXPECT_EQ(values(seen, "MTA-Name"), std::vector<std::string>{"bridge.test"});
  EXPECT_TRUE(values(seen, "Hostname").empty());  // rspamd's Hostname is the client's rDNS name
}

TEST(RspamdFake, NoUserWhenUnauthenticatedNullSenderAndNoHeaderInjection) {
  FakeRspamd fake([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"score":0,"required_score":15,"action":"no action"})", "application/json");
  });
  std::string text = "Subject: bounce\r\n\r\nx\r\n";
  mailauth::SpamRequest request = sample(text);
  request.mail_from = "";                    // MAIL FROM:<>
  request.helo = "evil\r\nX-Injected: yes";  // CR LF never reach the wire
  ASSERT_EQ(mailauth::check_rspamd(fake.options(), request).status, "scanned");
  httplib::Request seen = fake.last();
  EXPECT_TRUE(values(seen, "User").empty());
  EXPECT_EQ(values(seen, "From"), std::vector<std::string>{"<>"});
  EXPECT_EQ(values(seen, "Helo"), std::vector<std::string>{"evilX-Injected: yes"});
  EXPECT_TRUE(values(seen, "X-Injected").empty());
}

TEST(RspamdFake, SymbolsAreCappedAtTheHundredHeaviest) {
  FakeRspamd fake([](const httplib::Request&, httplib::Response& res) {
    std::string symbols;
    for (int i = 0; i < 150; ++i)
      symbols += (i ? "," : "") + ("\"S" + std::to_string(i) +
                                   "\":{\"score\":" + std::to_string(i % 2 ? -i : i) + "}");
    res.set_content(
        R"({"score":3,"required_score":15,"action":"add header","symbols":{)" + symbols + "}}",
        "application/json");
  });
  std::string text = "x";
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(fake.options(), sample(text));
  ASSERT_EQ(verdict.status, "scanned") << verdict.reason;
  EXPECT_EQ(verdict.action, "add header");
  ASSERT_EQ(verdict.symbols.size(), 100u);
  EXPECT_EQ(verdict.symbols.front().name, "S149");
  EXPECT_EQ(verdict.symbols.front().score, -149);
  EXPECT_EQ(verdict.symbols.back().name, "S50");
}

TEST(RspamdFake, SilentServerTimesOutWithinTheTimeout) {
  int port = 0;
  int fd = listening_socket(port);  // accepts into its backlog, never answers
  ASSERT_GE(fd, 0);
  mailauth::RspamdOptions options{"http://127.0.0.1:" + std::to_string(port), 300ms};
  std::string text = "Subject: x\r\n\r\n" + std::string(32 * 1024, 'a');
  auto started = Clock::now();
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(options, sample(text));
  auto took = Clock::now() - started;
  close(fd);
  EXPECT_EQ(verdict.status, "unavailable");
  EXPECT_EQ(verdict.reason, "timeout");
  EXPECT_GE(took, options.timeout);
  EXPECT_LT(took, options.timeout + kSlack);
}

// A server that answers one byte every 50 ms: each read succeeds in time, so only a bound on the
// whole call ends it. It gives up after 20 s, so a client without that bound fails, not hangs.
TEST(RspamdFake, TricklingServerIsCutAtTheDeadline) {
  int port = 0;
  int fd = listening_socket(port);
  ASSERT_GE(fd, 0);
  std::atomic<bool> done{false};
  std::thread server([&] {
    int client = accept(fd, nullptr, nullptr);
    if (client < 0) return;
    std::string answer = "HTTP/1.1 200 OK\r\nX-Slow: " + std::string(400, 'a');
    for (size_t i = 0; i < answer.size() && !done; ++i) {
      if (send(client, &answer[i], 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(50ms);
    }
    close(client);
  });
  mailauth::RspamdOptions options{"http://127.0.0.1:" + std::to_string(port), 500ms};
  std::string text = "Subject: x\r\n\r\nbody\r\n";
  auto started = Clock::now();
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(options, sample(text));
  auto took = Clock::now() - started;
  done = true;
  server.join();
  close(fd);
  EXPECT_EQ(verdict.reason, "timeout");
  EXPECT_GE(took, options.timeout);
  EXPECT_LT(took, options.timeout + kSlack);
}

TEST(RspamdFake, NonJsonAnswerIsBadResponse) {
  FakeRspamd fake([](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html>not rspamd</html>", "text/html");
  });
  std::string text = "x";
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(fake.options(), sample(text));
  EXPECT_EQ(verdict.status, "unavailable");
  EXPECT_EQ(verdict.reason, "bad_response");
}

TEST(RspamdFake, JsonWithoutRspamdFieldsIsBadResponse) {
  for (std::string body :
       {R"({"score":1})", R"([1,2])", R"({"score":"1","required_score":15,"action":"reject"})",
        R"({"score":1,"required_score":15,"action":"reject","symbols":{"A":{"score":"x"}}})",
        R"({"score":1,"required_score":15,"action":""})"}) {
    FakeRspamd fake([body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/json");
    });
    std::string text = "x";
    EXPECT_EQ(mailauth::check_rspamd(fake.options(), sample(text)).reason, "bad_response") << body;
  }
}

TEST(RspamdFake, AnswerOverOneMebibyteIsBadResponse) {
  FakeRspamd fake([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"score":1,"required_score":15,"action":"reject","pad":")" +
                        std::string(2 << 20, 'a') + "\"}",
                    "application/json");
  });
  std::string text = "x";
  EXPECT_EQ(mailauth::check_rspamd(fake.options(), sample(text)).reason, "bad_response");
}

TEST(RspamdFake, Non200IsHttpStatus) {
  FakeRspamd fake([](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content(R"({"error":"overloaded"})", "application/json");
  });
  std::string text = "x";
  mailauth::SpamVerdict verdict = mailauth::check_rspamd(fake.options(), sample(text));
  EXPECT_EQ(verdict.status, "unavailable");
  EXPECT_EQ(verdict.reason, "http_503");
}

}  // namespace
