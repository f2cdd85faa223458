// Test helpers: temp folders, awkward message bytes, the two backends and raw SQL access to the
// store's database. The raw connection opens and closes per call, so it never holds a lock across
// a test step.
#include "store_test_support.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include "common/ids.h"
#include "postgres_server.h"

namespace store_test {

TempFolder::TempFolder() {
  std::string pattern = testing::TempDir() + "store_test_XXXXXX";
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = pattern;
}

TempFolder::~TempFolder() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string awkward_bytes(const std::string& id) {
  std::string data = "Subject: " + id + "\r\n\r\n";
  data += std::string("nul\0byte", 8) + "bare\rcr bare\nlf\r\n.\r\n..\r\n";
  for (int byte = 0; byte < 256; ++byte) data.push_back(static_cast<char>(byte));
  size_t repeats = std::hash<std::string>{}(id) % 24;
  for (size_t i = 0; i < repeats; ++i) data += data.substr(0, 320);
  return data;
}

store::InboundMessage make_message(const std::string& data, int endpoints) {
  store::InboundMessage message;
  message.id = common::uuid_v7();
  message.received_at_ms = 1764202523123;
  message.mail_from = "sender@example.com";
  message.rcpt_to = {"a@example.com", "b@example.org"};
  message.envelope_json = R"({"mail_from":"sender@example.com","rcpt_to":["a@example.com"]})";
  message.data = data;
  for (int i = 0; i < endpoints; ++i) {
    message.deliveries.push_back(
        {"http://127.0.0.1:9/hook" + std::to_string(i), {"a@example.com"}});
  }
  return message;
}

namespace {
template <typename Read>
bool with_first_row(const std::string& db_path, const std::string& sql, Read read) {
  sqlite3* db = nullptr;
  bool found = false;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) found = read(stmt);
      if (rc == SQLITE_DONE) found = true;
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return found;
}
}  // namespace

std::optional<int64_t> sql_int(const std::string& db_path, const std::string& sql) {
  std::optional<int64_t> value;
  with_first_row(db_path, sql, [&](sqlite3_stmt* stmt) {
    value = sqlite3_column_int64(stmt, 0);
    return true;
  });
  return value;
}

std::optional<std::string> sql_text(const std::string& db_path, const std::string& sql) {
  std::optional<std::string> value;
  with_first_row(db_path, sql, [&](sqlite3_stmt* stmt) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    value = text == nullptr ? "" : reinterpret_cast<const char*>(text);
    return true;
  });
  return value;
}

bool sql_exec(const std::string& db_path, const std::string& sql) {
  return with_first_row(db_path, sql, [](sqlite3_stmt*) { return true; });
}

void PrintTo(Backend backend, std::ostream* out) {
  *out << (backend == Backend::postgres ? "postgres" : "sqlite");
}

std::string backend_name(const testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::postgres ? "Postgres" : "Sqlite";
}

namespace {
test_support::PostgresServer* shared_server() {
  std::string error;
  test_support::PostgresServer* server = test_support::PostgresServer::shared(error);
  if (server == nullptr) ADD_FAILURE() << "no PostgreSQL server for the test: " << error;
  return server;
}

std::optional<std::string> pg_first(const std::string& dsn, const std::string& sql, bool& ok) {
  std::optional<std::string> value;
  std::string error;
  ok = test_support::pg_query(dsn, sql, &value, error);
  return ok ? value : std::nullopt;
}
}  // namespace

Database::Database(Backend backend, const std::string& file)
    : backend_(backend), path_(folder_.file(file)) {
  if (!postgres()) return;
  std::string error;
  if (test_support::PostgresServer* server = shared_server()) {
    std::string name = server->create_database(error);
    if (name.empty()) ADD_FAILURE() << "cannot create a test database: " << error;
    if (!name.empty()) dsn_ = server->dsn(name);
  }
}

store::Options Database::options() const {
  store::Options options;
  options.path = path_;
  options.owner = "store-test-owner";
  return options;
}

uint64_t Database::room_for(uint64_t bytes) const {
  if (!postgres()) return bytes;
  std::string error;
  auto empty = open(options(), error);  // creates the schema: part of the empty size
  EXPECT_NE(empty, nullptr) << error;
  if (empty == nullptr) return bytes;
  uint64_t size = empty->size_bytes();
  empty->close();
  return size + bytes;
}

std::unique_ptr<store::Store> Database::open(const store::Options& options,
                                             std::string& error) const {
  if (!postgres()) return store::open_sqlite(options, error);
  store::PostgresOptions postgres;
  postgres.dsn = dsn_;
  return store::open_postgres(options, postgres, error);
}

std::optional<int64_t> Database::sql_int(const std::string& sql) const {
  if (!postgres()) return store_test::sql_int(path_, sql);
  bool ok = false;
  auto text = pg_first(dsn_, sql, ok);
  if (!text) return std::nullopt;
  if (*text == "t" || *text == "f") return *text == "t" ? 1 : 0;
  return std::strtoll(text->c_str(), nullptr, 10);  // "" (NULL) is 0, as in SQLite
}

std::optional<std::string> Database::sql_text(const std::string& sql) const {
  if (!postgres()) return store_test::sql_text(path_, sql);
  bool ok = false;
  return pg_first(dsn_, sql, ok);
}

bool Database::sql_exec(const std::string& sql) const {
  if (!postgres()) return store_test::sql_exec(path_, sql);
  bool ok = false;
  pg_first(dsn_, sql, ok);
  return ok;
}

WriteOutage::WriteOutage(const Database& database) : postgres_(database.postgres()) {
  if (postgres_) {
    if (test_support::PostgresServer* server = shared_server()) server->stop(/*immediate=*/false);
    return;
  }
  signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal's default (core dump)
  rlimit limit{};
  getrlimit(RLIMIT_FSIZE, &limit);
  saved_cur_ = limit.rlim_cur;
  limit.rlim_cur = 1024;
  setrlimit(RLIMIT_FSIZE, &limit);
}

void WriteOutage::end() {
  if (!active_) return;
  active_ = false;
  if (postgres_) {
    std::string error;
    test_support::PostgresServer* server = shared_server();
    if (server != nullptr && !server->start(error)) ADD_FAILURE() << error;
    return;
  }
  rlimit limit{};
  getrlimit(RLIMIT_FSIZE, &limit);
  limit.rlim_cur = saved_cur_;
  setrlimit(RLIMIT_FSIZE, &limit);
}

OpenedStore::OpenedStore(Backend backend) : database(backend), options(database.options()) {
  std::string error;
  db = database.open(options, error);
  EXPECT_NE(db, nullptr) << error;
}

void OpenedStore::reopen() {
  if (db) db->close();
  db.reset();
  std::string error;
  db = database.open(options, error);
  EXPECT_NE(db, nullptr) << error;
}

std::vector<store::Status> enqueue_all(store::Store& db,
                                       const std::vector<store::InboundMessage>& messages,
                                       std::function<void(size_t)> on_done) {
  struct Shared {
    std::mutex mutex;
    std::condition_variable all_done;
    std::vector<store::Status> statuses;
    size_t left = 0;
  };
  auto shared = std::make_shared<Shared>();
  shared->statuses.assign(messages.size(), store::Status::closed);
  shared->left = messages.size();
  for (size_t i = 0; i < messages.size(); ++i) {
    db.enqueue_inbound(messages[i], [shared, on_done, i](store::Status status) {
      if (on_done) on_done(i);
      std::lock_guard lock(shared->mutex);
      shared->statuses[i] = status;
      --shared->left;
      shared->all_done.notify_all();
    });
  }
  std::unique_lock lock(shared->mutex);
  EXPECT_TRUE(shared->all_done.wait_for(lock, kWait, [&] { return shared->left == 0; }));
  return shared->statuses;
}

void expect_job_of(const store::DeliveryJob& job, const store::InboundMessage& message,
                   size_t delivery, int attempts) {
  SCOPED_TRACE("message " + message.id + " delivery " + std::to_string(delivery));
  EXPECT_EQ(job.delivery.message_id, message.id);
  EXPECT_EQ(job.delivery.endpoint, message.deliveries[delivery].endpoint);
  EXPECT_EQ(job.delivery.rcpt_to, message.deliveries[delivery].rcpt_to);
  EXPECT_EQ(job.delivery.state, "in_flight");
  EXPECT_EQ(job.delivery.attempts, attempts);
  EXPECT_EQ(job.received_at_ms, message.received_at_ms);
  EXPECT_EQ(job.envelope_json, message.envelope_json);
  EXPECT_TRUE(job.data == message.data)
      << "data differs: " << job.data.size() << " bytes, " << message.data.size() << " sent";
}

store::InboundMessage fan_out_message(const std::string& seed, int endpoints) {
  store::InboundMessage message = make_message(awkward_bytes(seed), endpoints);
  for (int i = 0; i < endpoints; ++i) {
    message.deliveries[static_cast<size_t>(i)].rcpt_to = {"rcpt" + std::to_string(i) +
                                                          "@example.com"};
  }
  return message;
}

}  // namespace store_test
