// Thin RAII wrappers over the SQLite C API: one Connection, its prepared Statements, and the
// mapping of SQLite result codes to store::Status. Nothing here throws; results are codes.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace store::sqlite {

// SQLITE_FULL (size limit or disk full) → full; every other failure → io_error.
Status status_from(int result_code);

// A prepared statement, reused: every use ends with reset() (a Reset guard does it).
class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  int prepare(sqlite3* db, std::string_view sql);
  void bind_text(int index, std::string_view text);
  void bind_blob(int index, std::string_view bytes);
  void bind_int(int index, int64_t value);
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Steps to the end and resets: SQLITE_OK when the statement ran to completion.
  int run();
  void reset();

  std::string column_text(int index) const;
  std::string column_blob(int index) const;
  int64_t column_int(int index) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when the scope that used it ends, whatever the outcome.
class Reset {
 public:
  explicit Reset(Statement& statement) : statement_(statement) {}
  ~Reset() { statement_.reset(); }
  Reset(const Reset&) = delete;
  Reset& operator=(const Reset&) = delete;

 private:
  Statement& statement_;
};

class Connection {
 public:
  Connection() = default;
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Opens (creating if asked) with a busy timeout and extended result codes.
  bool open(const std::string& path, bool create, std::string& error);
  sqlite3* handle() const { return db_; }
  // Runs one or more statements without results (PRAGMA, DDL).
  int exec(const std::string& sql);
  // First column of the first row of `sql`, e.g. a PRAGMA's value.
  std::optional<int64_t> query_int(const std::string& sql);
  std::optional<std::string> query_text(const std::string& sql);
  // The message of the last failure on this connection.
  std::string error_message() const;
  // True inside an open transaction.
  bool in_transaction() const;

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace store::sqlite
