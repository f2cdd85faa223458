// Tests of the `store:` section's backend choice and store.postgres: defaults, every key read with
// its unit, the DSN from a file or the environment, and each bad value refused naming its key.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "config/config.h"
#include "test_support.h"

using config_test::dump;
using config_test::find_error;

namespace {

TEST(LoadStoreKeys, DefaultsAreTheEmbeddedSqliteStore) {
  config::Config c;
  EXPECT_EQ(c.store.backend, "sqlite");
  EXPECT_EQ(c.store.postgres.dsn, "");
  EXPECT_EQ(c.store.postgres.pool_size, 4u);
  EXPECT_EQ(c.store.postgres.statement_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.store.postgres.connect_timeout, std::chrono::seconds(10));
}

TEST(LoadStoreKeys, PostgresKeysAreRead) {
  auto result = config::load_string(
      "store:\n"
      "  backend: postgres\n"
      "  postgres:\n"
      "    dsn: 'host=127.0.0.1 port=5432 dbname=bridge sslmode=verify-full'\n"
      "    pool_size: 8\n"
      "    statement_timeout: 5s\n"
      "    connect_timeout: 2500ms\n");
  ASSERT_TRUE(result.config) << dump(result);
  const auto& store = result.config->store;
  EXPECT_EQ(store.backend, "postgres");
  EXPECT_EQ(store.postgres.dsn, "host=127.0.0.1 port=5432 dbname=bridge sslmode=verify-full");
  EXPECT_EQ(store.postgres.pool_size, 8u);
  EXPECT_EQ(store.postgres.statement_timeout, std::chrono::seconds(5));
  EXPECT_EQ(store.postgres.connect_timeout, std::chrono::milliseconds(2500));
}

TEST(LoadStoreKeys, CommitDelayDefaultsTo2msOnPostgresOnlyAndAnExplicitValueWins) {
  auto sqlite = config::load_string("store:\n  path: x.db\n");
  ASSERT_TRUE(sqlite.config) << dump(sqlite);
  EXPECT_EQ(sqlite.config->store.commit_delay, std::chrono::milliseconds(0));
  auto postgres =
      config::load_string("store:\n  backend: postgres\n  postgres: {dsn: 'dbname=b'}\n");
  ASSERT_TRUE(postgres.config) << dump(postgres);
  EXPECT_EQ(postgres.config->store.commit_delay, std::chrono::milliseconds(2));
  auto zero = config::load_string(
      "store:\n  backend: postgres\n  commit_delay: 0ms\n  postgres: {dsn: 'dbname=b'}\n");
  ASSERT_TRUE(zero.config) << dump(zero);
  EXPECT_EQ(zero.config->store.commit_delay, std::chrono::milliseconds(0));
  auto chosen = config::load_string(
      "store:\n  commit_delay: 5ms\n  backend: postgres\n  postgres: {dsn: 'dbname=b'}\n");
  ASSERT_TRUE(chosen.config) << dump(chosen);
  EXPECT_EQ(chosen.config->store.commit_delay, std::chrono::milliseconds(5));
}

TEST(LoadStoreKeys, DsnComesFromAFileOrTheEnvironment) {
  std::string path = ::testing::TempDir() + "/store_keys_dsn";
  std::ofstream(path) << "postgresql://bridge@db.internal/bridge\n";
  auto from_file =
      config::load_string("store:\n  backend: postgres\n  postgres:\n    dsn_file: " + path + "\n");
  ASSERT_TRUE(from_file.config) << dump(from_file);
  EXPECT_EQ(from_file.config->store.postgres.dsn, "postgresql://bridge@db.internal/bridge");

  ::setenv("STORE_KEYS_TEST_DSN", "dbname=from_env", 1);
  auto from_env = config::load_string(
      "store:\n  backend: postgres\n  postgres:\n    dsn_env: STORE_KEYS_TEST_DSN\n");
  ASSERT_TRUE(from_env.config) << dump(from_env);
  EXPECT_EQ(from_env.config->store.postgres.dsn, "dbname=from_env");
}

void expect_refused(const std::string& yaml, const std::string& key, int line) {
  auto result = config::load_string(yaml);
  EXPECT_FALSE(result.config) << yaml;
  const config::Error* error = find_error(result, key);
  ASSERT_NE(error, nullptr) << yaml << dump(result);
  EXPECT_EQ(error->line, line) << dump(result);
}

TEST(LoadStoreKeys, BadValuesNameTheKey) {
  expect_refused("store:\n  backend: mysql\n", "store.backend", 2);
  // postgres needs somewhere to connect to.
  expect_refused("store:\n  backend: postgres\n", "store.postgres.dsn", 2);
  expect_refused("store:\n  backend: postgres\n  postgres:\n    pool_size: 8\n",
                 "store.postgres.dsn", 4);
  expect_refused("store:\n  backend: postgres\n  postgres:\n    dsn: x\n    pool_size: 0\n",
                 "store.postgres.pool_size", 5);
  expect_refused(
      "store:\n  backend: postgres\n  postgres:\n    dsn: x\n    statement_timeout: 1ms\n",
      "store.postgres.statement_timeout", 5);
  expect_refused("store:\n  postgres:\n    dsn: x\n    password_file: /nonexistent/pw\n",
                 "store.postgres.password_file", 4);
  expect_refused("store:\n  postgres:\n    dsn: x\n    sslmode: require\n",
                 "store.postgres.sslmode", 4);
}

}  // namespace
