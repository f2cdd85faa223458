// SQLite C API wrappers: statements are finalized and connections closed by their destructors;
// blobs are bound and read by length, so stored bytes round-trip exactly (NULs, 8-bit, CR/LF).
#include "store/sqlite/database.h"

#include <utility>

namespace store::sqlite {
namespace {
constexpr int kBusyTimeoutMs = 10000;
}  // namespace

Status status_from(int result_code) {
  return (result_code & 0xff) == SQLITE_FULL ? Status::full : Status::io_error;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

int Statement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_finalize(stmt_);
  stmt_ = nullptr;
  return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                            &stmt_, nullptr);
}

void Statement::bind_text(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Statement::bind_blob(int index, std::string_view bytes) {
  // A non-null pointer with length 0 binds an empty blob, not NULL (data is NOT NULL).
  static const char kEmpty = 0;
  const char* data = bytes.empty() ? &kEmpty : bytes.data();
  sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_STATIC);
}

void Statement::bind_int(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
}

int Statement::step() {
  return sqlite3_step(stmt_);
}

int Statement::run() {
  int rc;
  while ((rc = sqlite3_step(stmt_)) == SQLITE_ROW) {
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string Statement::column_blob(int index) const {
  const void* blob = sqlite3_column_blob(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  if (blob == nullptr) return {};
  return std::string(static_cast<const char*>(blob), static_cast<size_t>(size));
}

int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

Connection::~Connection() {
  sqlite3_close_v2(db_);
}

Connection::Connection(Connection&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

bool Connection::open(const std::string& path, bool create, std::string& error) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    error = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return false;
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  return true;
}

int Connection::exec(const std::string& sql) {
  return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
}

std::optional<int64_t> Connection::query_int(const std::string& sql) {
  Statement statement;
  if (statement.prepare(db_, sql) != SQLITE_OK || statement.step() != SQLITE_ROW)
    return std::nullopt;
  return statement.column_int(0);
}

std::optional<std::string> Connection::query_text(const std::string& sql) {
  Statement statement;
  if (statement.prepare(db_, sql) != SQLITE_OK || statement.step() != SQLITE_ROW)
    return std::nullopt;
  return statement.column_text(0);
}

std::string Connection::error_message() const {
  return db_ != nullptr ? sqlite3_errmsg(db_) : "no connection";
}

bool Connection::in_transaction() const {
  return db_ != nullptr && sqlite3_get_autocommit(db_) == 0;
}

}  // namespace store::sqlite
