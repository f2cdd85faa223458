// libpq wrappers for the PostgreSQL store: one Connection (connect with the password file read
// again, session settings, prepared statements, pipelines), its Results, and a Pool for readers.
// Nothing here throws; failures are values, and the DSN or password never appear in them.
#pragma once
#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace store::postgres {

// Results are asked for in binary format: text columns are their bytes, integers big-endian.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult* result) : result_(result) {}
  ~Result() { PQclear(result_); }
  Result(Result&& other) noexcept;
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  bool ok() const;
  int rows() const { return result_ != nullptr ? PQntuples(result_) : 0; }
  bool null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
  std::string text(int row, int column) const;  // text or bytea: the bytes
  int64_t integer(int row, int column) const;   // smallint, integer, bigint or boolean
  uint64_t affected() const;                    // rows an INSERT/UPDATE/DELETE changed
  std::string sqlstate() const;
  std::string message() const;  // the server's error text; "" when none
  std::string command() const { return result_ != nullptr ? PQcmdStatus(result_) : ""; }

 private:
  PGresult* result_ = nullptr;
};

// Parameters sent in text format, except bytes (bytea) in binary.
class Params {
 public:
  Params& text(std::string_view value);
  Params& bytes(std::string_view value);
  Params& integer(int64_t value);
  Params& null();
  // A text[] literal of `items` (each quoted and escaped).
  Params& text_array(const std::vector<std::string>& items);
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  mutable std::vector<const char*> pointers_;
};

// One statement of a pipeline: a named prepared statement and its parameters.
struct Command {
  const char* name;
  const char* sql;
  Params params;
};

class Connection {
 public:
  Connection() = default;
  ~Connection() { disconnect(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (password_file read now), then sets synchronous_commit=on and statement_timeout.
  bool connect(const PostgresOptions& options, std::string& error);
  void disconnect();
  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
  PGconn* handle() const { return conn_; }
  int backend_pid() const { return conn_ != nullptr ? PQbackendPID(conn_) : 0; }

  // A simple query (may hold several statements); text results.
  Result exec(const std::string& sql);
  // `name` prepared on first use on this connection, then run with `params`; binary results.
  Result run(const char* name, const char* sql, const Params& params);
  // Every command sent at once (pipeline mode: one round trip), results checked and dropped.
  // False at the first failure (the rest is skipped by the server).
  bool pipeline(const std::vector<Command>& commands);

  // What the last failure means for the caller (io_error for a lost connection, full for a full
  // disk) and its text (libpq's message: it may name the host, never the DSN's password).
  Status failure() const { return failure_; }
  const std::string& error() const { return error_; }
  // Records `result`'s failure; returns false. Drops the connection if it broke.
  bool fail(const Result& result);
  bool fail(const std::string& what);

 private:
  bool prepare(const char* name, const char* sql);

  PGconn* conn_ = nullptr;
  std::set<std::string> prepared_;
  Status failure_ = Status::io_error;
  std::string error_;
};

// Keeps a connection up: reconnects on demand after it broke, with a backoff between attempts
// (100 ms doubling to 5 s), so that callers get io_error at once while the server is away.
class Link {
 public:
  explicit Link(const PostgresOptions& options) : options_(options) {}
  // Connected now (or reconnected); false while the server is away or during the backoff.
  bool ensure();
  Connection& db() { return db_; }
  const std::string& last_error() const { return last_error_; }

 private:
  PostgresOptions options_;
  Connection db_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{100};
  std::string last_error_;
};

// Reader connections, handed out one per call (Pool::Lease returns it when it ends).
class Pool {
 public:
  Pool(const PostgresOptions& options, size_t size);
  class Lease {
   public:
    Lease(Pool& pool, Link& link) : pool_(pool), link_(&link) {}
    ~Lease() { pool_.release(link_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Link& link() { return *link_; }

   private:
    Pool& pool_;
    Link* link_;
  };
  Lease acquire();

 private:
  void release(Link* link);
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<Link*> free_;
};

}  // namespace store::postgres
