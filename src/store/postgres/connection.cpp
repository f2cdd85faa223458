// libpq wrappers: connections are made with PQconnectdbParams, so the DSN is expanded by libpq
// itself and never copied into an error; the password file is read again at every (re)connect,
// so a rotated secret is picked up without a restart.
#include "store/postgres/connection.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace store::postgres {
namespace {

// SQLSTATE 53100 disk_full: the server has no room (Status::full); anything else is io_error.
Status status_of(const std::string& sqlstate) {
  return sqlstate == "53100" ? Status::full : Status::io_error;
}

bool read_password(const std::string& path, std::string& password, std::string& error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    error = "cannot read the password file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream content;
  content << file.rdbuf();
  password = content.str();
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
    password.pop_back();
  return true;
}

void ignore_notice(void*, const char*) {}

std::string trimmed(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Result::Result(Result&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

bool Result::ok() const {
  if (result_ == nullptr) return false;
  ExecStatusType status = PQresultStatus(result_);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

std::string Result::text(int row, int column) const {
  if (result_ == nullptr || PQgetisnull(result_, row, column)) return {};
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<size_t>(PQgetlength(result_, row, column)));
}

int64_t Result::integer(int row, int column) const {
  if (result_ == nullptr || PQgetisnull(result_, row, column)) return 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, column));
  int length = PQgetlength(result_, row, column);
  if (PQfformat(result_, column) == 0)  // text (simple queries): never throws
    return std::strtoll(PQgetvalue(result_, row, column), nullptr, 10);
  uint64_t value = 0;
  for (int i = 0; i < length; ++i) value = (value << 8) | bytes[i];
  // Sign-extend the 1, 2 or 4 byte forms.
  if (length < 8 && length > 0 && (bytes[0] & 0x80) != 0) value |= ~uint64_t{0} << (8 * length);
  return static_cast<int64_t>(value);
}

uint64_t Result::affected() const {
  if (result_ == nullptr) return 0;
  const char* tuples = PQcmdTuples(result_);
  return tuples != nullptr ? std::strtoull(tuples, nullptr, 10) : 0;
}

std::string Result::sqlstate() const {
  const char* state = result_ != nullptr ? PQresultErrorField(result_, PG_DIAG_SQLSTATE) : nullptr;
  return state != nullptr ? state : "";
}

std::string Result::message() const {
  return result_ != nullptr ? trimmed(PQresultErrorMessage(result_)) : "";
}

Params& Params::text(std::string_view value) {
  values_.emplace_back(value);
  nulls_.push_back(false);
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(0);
  return *this;
}

Params& Params::bytes(std::string_view value) {
  text(value);
  formats_.back() = 1;
  return *this;
}

Params& Params::integer(int64_t value) {
  return text(std::to_string(value));
}

Params& Params::null() {
  text("");
  nulls_.back() = true;
  return *this;
}

Params& Params::text_array(const std::vector<std::string>& items) {
  std::string literal = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) literal += ',';
    literal += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  return text(literal);
}

const char* const* Params::values() const {
  pointers_.clear();
  for (size_t i = 0; i < values_.size(); ++i)
    pointers_.push_back(nulls_[i] ? nullptr : values_[i].data());
  return pointers_.data();
}

bool Connection::connect(const PostgresOptions& options, std::string& error) {
  disconnect();
  // libpq's parse errors quote the text around the mistake, which may be the password: checked
  // first (store.h validate_postgres_dsn never quotes it).
  std::string reason;
  if (!validate_postgres_dsn(options.dsn, reason)) {
    error = "the DSN " + reason;
    return false;
  }
  std::string password;
  if (!options.password_file.empty() && !read_password(options.password_file, password, error))
    return false;
  auto seconds = std::max<int64_t>(
      1, std::chrono::ceil<std::chrono::seconds>(options.connect_timeout).count());
  std::string connect_timeout = std::to_string(seconds);
  // A broken peer (no RST) must not hold a call longer than the statement timeout.
  std::string user_timeout = std::to_string(options.statement_timeout.count() + 5000);
  // Keywords before "dbname" are defaults the DSN may override; those after it override it.
  std::vector<const char*> keys = {
      "fallback_application_name", "keepalives",       "keepalives_idle", "keepalives_interval",
      "keepalives_count",          "tcp_user_timeout", "dbname",          "connect_timeout"};
  std::vector<const char*> values = {
      "smtp-bridge",          "1", "10", "5", "3", user_timeout.c_str(), options.dsn.c_str(),
      connect_timeout.c_str()};
  if (!options.password_file.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    error = conn_ != nullptr ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    if (error.empty()) error = "cannot connect";
    disconnect();
    return false;
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  Result set = exec("SET synchronous_commit = on; SET statement_timeout = " +
                    std::to_string(options.statement_timeout.count()));
  if (!set.ok()) {
    error =
        "cannot set synchronous_commit and statement_timeout: " + trimmed(PQerrorMessage(conn_));
    disconnect();
    return false;
  }
  return true;
}

void Connection::disconnect() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();
}

Result Connection::exec(const std::string& sql) {
  if (conn_ == nullptr) return Result();
  return Result(PQexec(conn_, sql.c_str()));
}

bool Connection::prepare(const char* name, const char* sql) {
  if (prepared_.count(name) != 0) return true;
  Result prepared(PQprepare(conn_, name, sql, 0, nullptr));
  if (!prepared.ok()) return fail(prepared);
  prepared_.insert(name);
  return true;
}

Result Connection::run(const char* name, const char* sql, const Params& params) {
  if (conn_ == nullptr || !prepare(name, sql)) return Result();
  return Result(PQexecPrepared(conn_, name, params.size(), params.values(), params.lengths(),
                               params.formats(), /*resultFormat=*/1));
}

bool Connection::pipeline(const std::vector<Command>& commands) {
  if (conn_ == nullptr) return fail(std::string("not connected"));
  for (const Command& command : commands)
    if (!prepare(command.name, command.sql)) return false;
  if (PQenterPipelineMode(conn_) != 1) return fail(std::string("cannot enter pipeline mode"));
  bool sent = true;
  for (const Command& command : commands) {
    const Params& p = command.params;
    if (PQsendQueryPrepared(conn_, command.name, p.size(), p.values(), p.lengths(), p.formats(),
                            1) != 1) {
      sent = false;
      break;
    }
  }
  if (!sent || PQpipelineSync(conn_) != 1) {
    fail(std::string("cannot send the pipeline"));
    disconnect();  // its state is unknown: start over with a new connection
    return false;
  }
  bool ok = true;
  size_t separators = 0, results = 0;
  for (;;) {
    PGresult* raw = PQgetResult(conn_);
    // Never more than one result per command, a commit error and the sync: else the connection is
    // broken in a way that keeps answering errors.
    if (raw != nullptr && ++results > commands.size() + 2) {
      PQclear(raw);
      if (ok) fail(std::string("the connection was lost"));
      disconnect();
      return false;
    }
    if (raw == nullptr) {
      // One NULL after each command's results; more means the connection went away.
      if (++separators > commands.size() + 1 || PQstatus(conn_) == CONNECTION_BAD) {
        if (ok) fail(std::string("the connection was lost"));
        disconnect();
        return false;
      }
      continue;
    }
    Result result(raw);
    ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_PIPELINE_SYNC) break;
    if (status == PGRES_FATAL_ERROR && ok) ok = fail(result);
    if (status == PGRES_PIPELINE_ABORTED) ok = false;
  }
  PQexitPipelineMode(conn_);
  return ok;
}

bool Connection::fail(const Result& result) {
  std::string state = result.sqlstate();
  failure_ = status_of(state);
  error_ = result.message();
  if (error_.empty()) error_ = conn_ != nullptr ? trimmed(PQerrorMessage(conn_)) : "not connected";
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_BAD) disconnect();
  return false;
}

bool Connection::fail(const std::string& what) {
  failure_ = Status::io_error;
  error_ = what;
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_BAD) disconnect();
  return false;
}

bool Link::ensure() {
  if (db_.connected()) return true;
  auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) return false;
  if (db_.connect(options_, last_error_)) {
    backoff_ = std::chrono::milliseconds(100);
    return true;
  }
  next_attempt_ = now + backoff_;
  backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, std::chrono::seconds(5));
  return false;
}

Pool::Pool(const PostgresOptions& options, size_t size) {
  for (size_t i = 0; i < std::max<size_t>(size, 1); ++i) {
    links_.push_back(std::make_unique<Link>(options));
    free_.push_back(links_.back().get());
  }
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  freed_.wait(lock, [this] { return !free_.empty(); });
  Link* link = free_.back();
  free_.pop_back();
  return Lease(*this, *link);
}

void Pool::release(Link* link) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(link);
  }
  freed_.notify_one();
}

}  // namespace store::postgres
