// Helpers for the store tests: one contract suite, two backends. Each test that is about Store
// semantics is a value-parameterised case (STORE_TEST_BACKENDS) run against SQLite (a file in a
// temporary folder) and PostgreSQL (a fresh database on the test process's own server,
// tests/support/postgres_server.h), named .../Sqlite and .../Postgres; raw SQL checks what is
// really stored, on the backend in use (both share the schema's table and column names).
//
// SQLite-only, because they test the SQLite file itself rather than the Store's semantics:
// - Checkpointer.*, PageSize.* (checkpoint_test.cpp): the WAL file's size, the file's page size.
// - SqliteEndpointNames.a_schema_7_database_is_migrated_to_names_and_origins and
//   SqliteStoreOutboundGroup.migrates_a_version_1_database_in_place: migrations of databases that
//   older SQLite builds wrote (PostgreSQL starts at its own first schema).
// - Parts of shared tests, on SQLite only: PRAGMA journal_mode and user_version (round_trips_...),
//   the file's pages never past store.max_size (refuses_messages_past_max_size_...), and the bytes
//   a claim reads from the file (Claims.*: the server reads PostgreSQL's table, and libpq's recv()
//   is not counted by /proc's I/O accounting; the order and the bytes are checked on both).
// Each backend has its own variant of: where a write fails (SQLite: RLIMIT_FSIZE, a full disk;
// PostgreSQL: the server stopped, an outage), what an unusable location is (a folder as the file;
// a DSN nobody answers), the type of the stored bytes (BLOB, bytea) and how JSON text is compared.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/store.h"

namespace store_test {

enum class Backend { sqlite, postgres };

// Prints a parameter as its name in gtest's messages.
void PrintTo(Backend backend, std::ostream* out);

// Names each instantiation's tests: ".../Sqlite", ".../Postgres" (select with ctest -R Postgres).
std::string backend_name(const testing::TestParamInfo<Backend>& info);

// Declares the parameterised fixture `Suite` and runs its TEST_Ps on both backends.
#define STORE_TEST_BACKENDS(Suite)                                                                 \
  class Suite : public testing::TestWithParam<store_test::Backend> {};                             \
  INSTANTIATE_TEST_SUITE_P(                                                                        \
      Backend, Suite, testing::Values(store_test::Backend::sqlite, store_test::Backend::postgres), \
      store_test::backend_name)

// A fresh folder under the test temp dir, removed with everything in it when the object dies.
class TempFolder {
 public:
  TempFolder();
  ~TempFolder();
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Bytes derived from the id: NUL, bare CR, bare LF, CRLF.CRLF, every 8-bit value; the length
// varies with the id between about 300 bytes and 8 KiB.
std::string awkward_bytes(const std::string& id);
// A message with a new UUIDv7 id, two recipients and one delivery per endpoint given.
store::InboundMessage make_message(const std::string& data, int endpoints = 1);

// A message with `endpoints` deliveries, each with recipients of its own, and awkward bytes.
store::InboundMessage fan_out_message(const std::string& seed, int endpoints);

constexpr auto kWait = std::chrono::seconds(60);  // a bound for a hang, never reached when green
constexpr int64_t kFarFuture = 4102444800000;     // 2100-01-01: every queued row is due

// Enqueues every message without waiting (so that a held writer commits them as one group) and
// returns their statuses once all are done; `on_done(i)` runs inside message i's done.
std::vector<store::Status> enqueue_all(store::Store& db,
                                       const std::vector<store::InboundMessage>& messages,
                                       std::function<void(size_t)> on_done = {});
// The job is the message's delivery number `delivery`, claimed (in_flight) with `attempts`, and
// carries the message's time, envelope and exact bytes.
void expect_job_of(const store::DeliveryJob& job, const store::InboundMessage& message,
                   size_t delivery, int attempts);

// Where one test's store lives: the file `file` in a fresh temporary folder (SQLite), or a fresh
// database on the shared test server (PostgreSQL; the folder is there too, for other files). The
// databases are not dropped (DROP DATABASE forces a checkpoint: a second); the server's whole
// folder goes when the test process ends.
class Database {
 public:
  explicit Database(Backend backend, const std::string& file = "smtp-bridge.db");
  Backend backend() const { return backend_; }
  bool postgres() const { return backend_ == Backend::postgres; }
  const TempFolder& folder() const { return folder_; }
  const std::string& dsn() const { return dsn_; }  // PostgreSQL only
  // Default options, with SQLite's path set to the file and a fixed owner: a reopened store is
  // the same process restarted, which takes its rows in flight back at open (SQLite: every row,
  // being the only process on its file; PostgreSQL: the rows of its own owner, as other replicas'
  // claims are live).
  store::Options options() const;
  // A store.max_size that leaves about `bytes` for messages: the empty store's size_bytes() plus
  // `bytes` on PostgreSQL (it counts the message bytes held plus 512 a message, store.h), and
  // `bytes` itself on SQLite, whose empty file is small (its limits stay as the tests were
  // written).
  uint64_t room_for(uint64_t bytes) const;
  // store::open_sqlite or store::open_postgres on this database.
  std::unique_ptr<store::Store> open(const store::Options& options, std::string& error) const;
  // Direct SQL on the database, bypassing the Store, in a connection of its own per call.
  // sql_int reads PostgreSQL's booleans as 1 and 0; NULL is 0 (sql_int) or "" (sql_text).
  std::optional<int64_t> sql_int(const std::string& sql) const;
  std::optional<std::string> sql_text(const std::string& sql) const;
  bool sql_exec(const std::string& sql) const;

 private:
  Backend backend_;
  TempFolder folder_;
  std::string path_;
  std::string dsn_;
};

// Every write to the store fails while it lives: for SQLite a full disk (writes past
// RLIMIT_FSIZE fail with EFBIG), for PostgreSQL an outage (the server is stopped: a fast shutdown,
// so that what it committed asynchronously, such as claims, is not lost as in a crash).
class WriteOutage {
 public:
  explicit WriteOutage(const Database& database);
  ~WriteOutage() { end(); }
  WriteOutage(const WriteOutage&) = delete;
  WriteOutage& operator=(const WriteOutage&) = delete;
  void end();  // the disk has room again / the server is back and accepts connections

 private:
  bool postgres_;
  bool active_ = true;
  uint64_t saved_cur_ = 0;
};

// A store opened on a fresh database of the backend (a failed open is a test failure).
struct OpenedStore {
  Database database;
  store::Options options;
  std::unique_ptr<store::Store> db;
  explicit OpenedStore(Backend backend);
  // Closes the store and opens it again with `options`, as a restarted process would.
  void reopen();
  std::optional<int64_t> sql_int(const std::string& sql) const { return database.sql_int(sql); }
  std::optional<std::string> sql_text(const std::string& sql) const {
    return database.sql_text(sql);
  }
  bool sql_exec(const std::string& sql) const { return database.sql_exec(sql); }
};

// Direct SQL on an SQLite database file, for the SQLite-only tests.
std::optional<int64_t> sql_int(const std::string& db_path, const std::string& sql);
std::optional<std::string> sql_text(const std::string& db_path, const std::string& sql);
bool sql_exec(const std::string& db_path, const std::string& sql);

}  // namespace store_test
