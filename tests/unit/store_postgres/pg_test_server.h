// A throwaway PostgreSQL cluster for the PostgreSQL store's own tests: initdb into a temp folder
// (scram-sha-256 on TCP, trust on the socket), a free port on 127.0.0.1, run as `nobody` when the
// tests run as root (PostgreSQL refuses root), stopped and removed with the object; and raw SQL.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace pg_test {

namespace fs = std::filesystem;

inline std::string postgres_bin() {
  for (const char* version : {"17", "16", "15"}) {
    std::string dir = std::string("/usr/lib/postgresql/") + version + "/bin";
    if (fs::exists(dir + "/postgres") && fs::exists(dir + "/initdb")) return dir;
  }
  return {};
}

inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t size = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  close(fd);
  return ntohs(addr.sin_port);
}

// One throwaway cluster per test process (CTest runs each test in its own process).
class Server {
 public:
  bool start() {
    bin_ = postgres_bin();
    if (bin_.empty()) return false;
    char pattern[] = "/tmp/pgstore-test-XXXXXX";
    dir_ = mkdtemp(pattern);
    port_ = free_port();
    // PostgreSQL refuses to run as root.
    prefix_ = geteuid() == 0 ? "runuser -u nobody -- " : "";
    // TCP connections need the password (scram-sha-256): the store reads it from a file.
    write_file(dir_ + "/initial-password", password_);
    if (geteuid() == 0) shell("chown -R nobody " + dir_);
    return shell(prefix_ + bin_ + "/initdb -D " + dir_ + "/data -U postgres --auth-local=trust" +
                 " --auth-host=scram-sha-256 --pwfile=" + dir_ + "/initial-password" +
                 " -E UTF8 --no-locale >" + dir_ + "/initdb.log 2>&1") &&
           up();
  }
  bool up() {
    return shell(prefix_ + bin_ + "/pg_ctl -w -D " + dir_ + "/data -l " + dir_ +
                 "/server.log -o \"-p " + std::to_string(port_) + " -k " + dir_ +
                 " -h 127.0.0.1 -c fsync=off\" start >/dev/null 2>&1");
  }
  bool down() {
    return shell(prefix_ + bin_ + "/pg_ctl -w -D " + dir_ + "/data -m fast stop >/dev/null 2>&1");
  }
  ~Server() {
    if (dir_.empty()) return;
    down();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text << "\n";
  }
  const std::string& dir() const { return dir_; }
  void set_password(const std::string& password) { password_ = password; }
  // Without the password: the store reads it from its password_file.
  std::string dsn(const std::string& schema = {}) const {
    std::string dsn =
        "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
    if (!schema.empty()) dsn += " options='-csearch_path=" + schema + "'";
    return dsn;
  }
  std::string admin_dsn(const std::string& schema = {}) const {
    return dsn(schema) + " password=" + password_;
  }

 private:
  static bool shell(const std::string& command) { return std::system(command.c_str()) == 0; }
  std::string bin_, dir_, prefix_, password_ = "first-secret";
  int port_ = 0;
};

// Raw SQL beside the store, as an operator's psql would see the rows.
class Sql {
 public:
  explicit Sql(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {}
  ~Sql() { PQfinish(conn_); }
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  bool exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) ADD_FAILURE() << sql << ": " << PQerrorMessage(conn_);
    PQclear(r);
    return ok;
  }
  std::string text(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string value;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
      value = PQgetvalue(r, 0, 0);
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
      ADD_FAILURE() << sql << ": " << PQerrorMessage(conn_);
    PQclear(r);
    return value;
  }
  int64_t integer(const std::string& sql) {
    std::string value = text(sql);
    return value.empty() ? -1 : std::stoll(value);
  }

 private:
  PGconn* conn_;
};

}  // namespace pg_test
