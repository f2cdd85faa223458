// The test PostgreSQL harness (postgres_server.h) itself: it starts a real server that answers
// SQL as a non-root user on 127.0.0.1 only with fsync on, makes separate databases, survives a
// stop and a restart (fast and immediate) on the same DSN, and leaves nothing behind.
#include "postgres_server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using test_support::pg_query;
using test_support::PostgresServer;

std::optional<std::string> query(const std::string& dsn, const std::string& sql) {
  std::optional<std::string> value;
  std::string error;
  if (!pg_query(dsn, sql, &value, error)) return std::nullopt;
  return value.value_or("<no row>");
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

TEST(PostgresServer, starts_a_real_server_that_answers_sql_as_configured) {
  PostgresServer server;
  std::string error;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(server.start(error)) << error;
  RecordProperty("start_ms", std::to_string(ms_since(start)));
  EXPECT_GT(server.port(), 0);
  EXPECT_EQ(query(server.dsn(), "SELECT 1"), "1");
  EXPECT_EQ(query(server.dsn(), "SELECT current_setting('server_version_num')::int / 10000"), "15");
  EXPECT_EQ(query(server.dsn(), "SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(query(server.dsn(), "SHOW fsync"), "on");
  EXPECT_EQ(query(server.dsn(), "SHOW synchronous_commit"), "on");
  EXPECT_EQ(query(server.dsn(), "SHOW port"), std::to_string(server.port()));
  // Never root (the server refuses it): the data folder belongs to whoever runs it.
  struct stat data {};
  ASSERT_EQ(stat((server.folder() + "/data").c_str(), &data), 0);
  if (geteuid() == 0) {
    EXPECT_NE(data.st_uid, 0u);
  }
  // A statement that fails is an error, not a value.
  std::optional<std::string> value;
  EXPECT_FALSE(pg_query(server.dsn(), "SELECT * FROM no_such_table", &value, error));
  EXPECT_NE(error.find("no_such_table"), std::string::npos) << error;
}

TEST(PostgresServer, makes_separate_databases_quickly) {
  PostgresServer server;
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  auto start = std::chrono::steady_clock::now();
  std::string first = server.create_database(error);
  RecordProperty("create_database_ms", std::to_string(ms_since(start)));
  ASSERT_FALSE(first.empty()) << error;
  std::string second = server.create_database(error);
  ASSERT_FALSE(second.empty()) << error;
  EXPECT_NE(first, second);
  ASSERT_EQ(query(server.dsn(first), "CREATE TABLE only_here (x int)"), "<no row>");
  EXPECT_EQ(query(server.dsn(first), "SELECT count(*) FROM only_here"), "0");
  EXPECT_EQ(query(server.dsn(second), "SELECT count(*) FROM only_here"), std::nullopt);
  EXPECT_EQ(query(server.dsn(second), "SELECT current_database()"), second);
  EXPECT_TRUE(server.drop_database(first));
  EXPECT_EQ(query(server.dsn(first), "SELECT 1"), std::nullopt);
}

TEST(PostgresServer, stops_and_starts_again_on_the_same_dsn_keeping_committed_rows) {
  PostgresServer server;
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  std::string name = server.create_database(error);
  ASSERT_FALSE(name.empty()) << error;
  const std::string dsn = server.dsn(name);
  ASSERT_TRUE(query(dsn, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)"));

  ASSERT_TRUE(server.stop());
  EXPECT_FALSE(server.running());
  EXPECT_EQ(query(dsn, "SELECT 1"), std::nullopt);  // an outage: nobody answers
  ASSERT_TRUE(server.start(error)) << error;
  EXPECT_EQ(query(dsn, "SELECT count(*) FROM kept"), "1");

  // Immediate shutdown is a crash for the server: committed rows survive its recovery.
  ASSERT_TRUE(query(dsn, "INSERT INTO kept VALUES (2)"));
  ASSERT_TRUE(server.stop(/*immediate=*/true));
  EXPECT_EQ(query(dsn, "SELECT 1"), std::nullopt);
  ASSERT_TRUE(server.start(error)) << error;
  EXPECT_EQ(query(dsn, "SELECT sum(x) FROM kept"), "3");
}

TEST(PostgresServer, teardown_stops_the_server_and_removes_its_folder) {
  std::string folder;
  pid_t postmaster = 0;
  std::string dsn;
  {
    PostgresServer server;
    std::string error;
    ASSERT_TRUE(server.start(error)) << error;
    folder = server.folder();
    dsn = server.dsn();
    std::ifstream pid_file(folder + "/data/postmaster.pid");
    ASSERT_TRUE(pid_file >> postmaster);
    ASSERT_EQ(kill(postmaster, 0), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(folder));
  EXPECT_NE(kill(postmaster, 0), 0);  // reaped: the pid no longer exists
  EXPECT_EQ(query(dsn, "SELECT 1"), std::nullopt);
}

TEST(PostgresServer, the_shared_server_is_started_once_per_process) {
  std::string error;
  PostgresServer* server = PostgresServer::shared(error);
  ASSERT_NE(server, nullptr) << error;
  EXPECT_EQ(PostgresServer::shared(error), server);
  EXPECT_TRUE(server->running());
  EXPECT_EQ(query(server->dsn(), "SELECT 1"), "1");
}

}  // namespace
