// A throwaway PostgreSQL 15 server for tests (TESTING.md "postgresql"): a cluster in a temporary
// folder, run by an unprivileged user (the server refuses root, and CI runs as root), listening on
// 127.0.0.1 and a free port only, fsync on; a fresh database per test; stop and start for outages.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>

namespace test_support {

class PostgresServer {
 public:
  PostgresServer() = default;
  // Stops the server (immediate shutdown) and removes its folder: also after a failed test.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The test process's server, started on first use and torn down at exit; nullptr and `error`
  // when it cannot start. Start it from the thread that runs the tests: the server is killed
  // with the thread that started it (PR_SET_PDEATHSIG), so a crashed test leaves none behind.
  static PostgresServer* shared(std::string& error);

  // The first start makes the cluster (a copy of a cached initdb template) on a free port; later
  // starts run the same cluster on the same port, so DSNs stay valid across an outage. Returns
  // once the server accepts connections.
  bool start(std::string& error);
  // Fast shutdown (clients disconnected, a clean checkpoint), or immediate (like a crash: the next
  // start runs recovery). Returns once the server is gone.
  bool stop(bool immediate = false);
  bool running() const { return postmaster_ > 0; }

  int port() const { return port_; }
  const std::string& folder() const { return folder_; }  // data/, sock/, server.log
  // A libpq connection string for `database` as the superuser (trust over TCP on 127.0.0.1).
  std::string dsn(const std::string& database = "postgres") const;
  // A new, empty database; its name, or "" and `error`.
  std::string create_database(std::string& error);
  bool drop_database(const std::string& name);
  // The end of the server's log, for failure messages.
  std::string log_tail() const;

 private:
  bool make_cluster(std::string& error);
  bool wait_ready(std::string& error);

  pid_t postmaster_ = -1;
  int port_ = 0;
  std::string folder_;
  int databases_ = 0;
};

// Runs `sql` on `dsn` in a connection of its own. True when it succeeded; then `first` (when not
// null) is the first column of the first row ("" for NULL), or nullopt when no row came back.
// False and `error` when the connection or the statement failed.
bool pg_query(const std::string& dsn, const std::string& sql, std::optional<std::string>* first,
              std::string& error);

}  // namespace test_support
