// The admin listener over real HTTP on a free port: /metrics, /healthz, /readyz, 404s, stop().
#include "obs/admin_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <atomic>
#include <nlohmann/json.hpp>

#include "obs/health.h"
#include "obs/metrics.h"

namespace {

class AdminServer : public ::testing::Test {
 protected:
  void SetUp() override {
    registry.counter("smtp_bridge_test_moved_total", "Moved things.")
        .add({{"kind", "mail"}})
        .inc(42);
    std::string error;
    ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
    ASSERT_NE(server.port(), 0);
    client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
  }

  obs::Registry registry;
  obs::Health health;
  obs::AdminServer server{registry, health};
  std::unique_ptr<httplib::Client> client;
};

TEST_F(AdminServer, serves_metrics_in_text_format) {
  auto res = client->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res->body.find("smtp_bridge_test_moved_total{kind=\"mail\"} 42\n"), std::string::npos)
      << res->body;
}

TEST_F(AdminServer, healthz_answers_ok) {
  auto res = client->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(res->body), nlohmann::json({{"status", "ok"}}));
}

TEST_F(AdminServer, readyz_is_503_while_draining) {
  auto res = client->Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body), nlohmann::json({{"status", "ready"}}));

  health.set_draining(true);
  res = client->Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  auto body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["status"], "not ready");
  EXPECT_EQ(body["failing"], nlohmann::json::array({"draining"}));
}

TEST_F(AdminServer, readyz_is_503_while_a_check_fails) {
  std::atomic<bool> store_ok{true};  // read on the server's thread
  health.add_check("store", [&] { return store_ok.load(); });
  auto res = client->Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  store_ok = false;
  res = client->Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(nlohmann::json::parse(res->body)["failing"], nlohmann::json::array({"store"}));
}

TEST_F(AdminServer, unknown_path_is_404) {
  auto res = client->Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(AdminServer, stop_is_idempotent_and_closes_the_port) {
  uint16_t port = server.port();
  server.stop();
  server.stop();
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(1, 0);
  EXPECT_FALSE(after.Get("/healthz"));
}

// admin.limits.max_body (1 KiB): the admin port serves GETs only, so any larger body is refused
// before it is read (it had no limit at all).
TEST_F(AdminServer, refuses_a_body_over_one_kib_with_413) {
  auto res = client->Post("/metrics", std::string(4096, 'x'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/problem+json");
  EXPECT_EQ(nlohmann::json::parse(res->body)["type"],
            "https://smtp-bridge.dev/problems/content-too-large");
  res = client->Post("/metrics", std::string(10, 'x'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(registry.counter("smtp_bridge_http_limited_total", "")
                .add({{"listener", "admin"}, {"reason", "body_size"}})
                .value(),
            1);
}

// A client in the middle of a head (a slowloris) does not hold stop() up to its head timeout.
TEST_F(AdminServer, stop_does_not_wait_for_a_half_sent_head) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  std::string part = "GET /metrics HTTP/1.1\r\nHost: a\r\n";
  ASSERT_EQ(send(fd, part.data(), part.size(), 0), static_cast<ssize_t>(part.size()));
  ASSERT_TRUE(client->Get("/healthz"));  // the listener has taken the first connection
  auto start = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  close(fd);
}

TEST(AdminServerStart, reports_a_port_already_in_use) {
  obs::Registry registry;
  obs::Health health;
  obs::AdminServer first(registry, health);
  std::string error;
  ASSERT_TRUE(first.start("127.0.0.1", 0, error)) << error;
  obs::AdminServer second(registry, health);
  EXPECT_FALSE(second.start("127.0.0.1", first.port(), error));
  EXPECT_NE(error.find(std::to_string(first.port())), std::string::npos) << error;
}

// The e2e tests find the port of an admin listener configured with port 0 from this line.
TEST(AdminServerStart, logs_the_bound_address_as_json) {
  obs::Registry registry;
  obs::Health health;
  obs::AdminServer server(registry, health);
  fflush(stdout);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  int saved = dup(STDOUT_FILENO);
  dup2(pipe_fds[1], STDOUT_FILENO);
  close(pipe_fds[1]);
  std::string error;
  bool started = server.start("127.0.0.1", 0, error);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  close(pipe_fds[0]);
  ASSERT_TRUE(started) << error;
  auto line = nlohmann::json::parse(out);
  EXPECT_EQ(line["msg"], "listening");
  EXPECT_EQ(line["listener"], "admin");
  EXPECT_EQ(line["address"], "127.0.0.1:" + std::to_string(server.port()));
}

TEST(AdminServerStart, stop_right_after_start_returns) {
  obs::Registry registry;
  obs::Health health;
  for (int i = 0; i < 20; ++i) {
    obs::AdminServer server(registry, health);
    std::string error;
    ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
    server.stop();
  }
}

}  // namespace
