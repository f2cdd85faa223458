// The test PostgreSQL server (postgres_server.h). The postmaster is this process's own child, run
// as the unprivileged user with PR_SET_PDEATHSIG, so it dies with the test even when the test
// crashes; folders a crashed test left behind are swept at the next start.
#include "postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace test_support {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kBin = "/usr/lib/postgresql/15/bin/";
constexpr const char* kUser = "smtpbridge-pg";
constexpr const char* kRunPrefix = "smtp-bridge-pg-run-";

// Who runs initdb and the server: ourselves, or (as root) the unprivileged kUser.
struct ServerUser {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::optional<ServerUser> server_user(std::string& error) {
  if (geteuid() != 0) return ServerUser{};
  passwd* found = getpwnam(kUser);
  if (found == nullptr) {
    // Made once per machine; a concurrent test process may win the race, hence the second look.
    std::string add = std::string("useradd --system --no-create-home --home-dir /nonexistent ") +
                      "--shell /usr/sbin/nologin " + kUser + " >/dev/null 2>&1";
    int ignored = system(add.c_str());
    (void)ignored;
    found = getpwnam(kUser);
  }
  if (found == nullptr) {
    error = std::string("cannot create the user ") + kUser + " to run PostgreSQL as";
    return std::nullopt;
  }
  return ServerUser{true, found->pw_uid, found->pw_gid};
}

// Forks and execs `argv` as `user` with stdout and stderr appended to `log_path`, no other file
// descriptor of ours, and (with `tied`) SIGKILL when the calling thread dies.
pid_t spawn(const std::vector<std::string>& argv, const ServerUser& user,
            const std::string& log_path, bool tied) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) _exit(126);
  int null_in = open("/dev/null", O_RDONLY);
  if (null_in < 0 || dup2(null_in, 0) < 0) _exit(126);
  close_range(3, ~0U, 0);
  if (user.switch_user &&
      (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0))
    _exit(126);
  // After the user switch, which clears it; and checked, in case the parent is already gone.
  if (tied && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)) _exit(126);
  if (chdir("/") != 0) _exit(126);
  execv(args[0], args.data());
  _exit(127);
}

int run(const std::vector<std::string>& argv, const ServerUser& user, const std::string& log_path) {
  pid_t pid = spawn(argv, user, log_path, false);
  if (pid < 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool give_to(const std::string& path, const ServerUser& user) {
  return !user.switch_user || chown(path.c_str(), user.uid, user.gid) == 0;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

bool process_is(pid_t pid, const std::string& name) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string seen;
  return std::getline(comm, seen) && seen.rfind(name, 0) == 0;
}

// Folders of test processes that died without their destructors (a crash, SIGKILL): their
// postmaster, if one still runs, is killed and the folder removed.
void sweep_stale() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    std::string name = entry.path().filename();
    if (name.rfind(kRunPrefix, 0) != 0) continue;
    pid_t owner = atoi(name.c_str() + std::char_traits<char>::length(kRunPrefix));
    if (owner <= 0 || owner == getpid() || kill(owner, 0) == 0 || errno != ESRCH) continue;
    std::ifstream pid_file(entry.path() / "data" / "postmaster.pid");
    pid_t postmaster = 0;
    if (pid_file >> postmaster && postmaster > 0 && process_is(postmaster, "postgres"))
      kill(postmaster, SIGKILL);
    fs::remove_all(entry.path(), ec);
  }
}

// An initdb'd cluster shared by every test process as the source of their copies (initdb takes
// ten times longer than the copy). Keyed by the user and the installed initdb.
std::string cached_template(const ServerUser& user, const std::string& log, std::string& error) {
  struct stat initdb {};
  std::string initdb_path = std::string(kBin) + "initdb";
  if (stat(initdb_path.c_str(), &initdb) != 0) {
    error = "PostgreSQL 15 is not installed (" + initdb_path + "): run scripts/setup";
    return "";
  }
  std::string path = "/tmp/smtp-bridge-pg-template-" + std::to_string(user.uid) + "-" +
                     std::to_string(initdb.st_mtime);
  std::error_code ec;
  if (fs::exists(path + "/PG_VERSION", ec)) return path;
  std::string made = path + "." + std::to_string(getpid());
  fs::remove_all(made, ec);
  // --no-sync: the template is a throwaway too; the servers themselves run with fsync on.
  int rc = run({initdb_path, "-D", made, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--locale=C", "--no-sync"},
               user, log);
  if (rc != 0) {
    error = "initdb failed (exit " + std::to_string(rc) + "), see " + log;
    return "";
  }
  if (rename(made.c_str(), path.c_str()) != 0) fs::remove_all(made, ec);  // another one won
  if (!fs::exists(path + "/PG_VERSION", ec)) {
    error = "cannot make the cluster template " + path;
    return "";
  }
  return path;
}

}  // namespace

PostgresServer::~PostgresServer() {
  stop(true);
  if (!folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
  }
}

PostgresServer* PostgresServer::shared(std::string& error) {
  static std::mutex mutex;
  static std::unique_ptr<PostgresServer> server;
  static std::string failure;
  std::lock_guard lock(mutex);
  if (!server && failure.empty()) {
    auto started = std::make_unique<PostgresServer>();
    if (started->start(failure)) server = std::move(started);
  }
  error = failure;
  return server.get();
}

bool PostgresServer::make_cluster(std::string& error) {
  sweep_stale();
  auto user = server_user(error);
  if (!user) return false;
  std::string pattern = "/tmp/" + std::string(kRunPrefix) + std::to_string(getpid()) + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    error = "mkdtemp failed for " + pattern;
    return false;
  }
  folder_ = pattern;
  std::string log = folder_ + "/server.log";
  if (!give_to(folder_, *user) || mkdir((folder_ + "/sock").c_str(), 0700) != 0 ||
      !give_to(folder_ + "/sock", *user)) {
    error = "cannot prepare " + folder_ + " for the user " + kUser;
    return false;
  }
  std::string source = cached_template(*user, log, error);
  if (source.empty()) return false;
  if (run({"/bin/cp", "-a", source, folder_ + "/data"}, *user, log) != 0) {
    error = "cannot copy the cluster template " + source + " to " + folder_;
    return false;
  }
  return true;
}

bool PostgresServer::start(std::string& error) {
  if (running()) return true;
  if (folder_.empty() && !make_cluster(error)) return false;
  auto user = server_user(error);
  if (!user) return false;
  bool first = port_ == 0;
  for (int attempt = 0; attempt < (first ? 3 : 1); ++attempt) {
    if (first) port_ = free_port();
    postmaster_ =
        spawn({std::string(kBin) + "postgres", "-D", folder_ + "/data", "-p", std::to_string(port_),
               "-k", folder_ + "/sock", "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c",
               "synchronous_commit=on", "-c", "max_connections=100", "-c", "logging_collector=off",
               "-c", "log_min_messages=warning",
               // After an immediate stop: one syncfs() instead of an fsync per file (seconds).
               "-c", "recovery_init_sync_method=syncfs"},
              *user, folder_ + "/server.log", true);
    if (postmaster_ > 0 && wait_ready(error)) return true;
    stop(true);
  }
  return false;
}

bool PostgresServer::wait_ready(std::string& error) {
  auto deadline = Clock::now() + std::chrono::seconds(60);
  std::string probe = dsn() + " connect_timeout=2";
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(postmaster_, &status, WNOHANG) == postmaster_) {
      postmaster_ = -1;
      error = "the PostgreSQL server exited at start: " + log_tail();
      return false;
    }
    if (PQping(probe.c_str()) == PQPING_OK) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  error = "the PostgreSQL server did not accept connections within 60 s: " + log_tail();
  return false;
}

bool PostgresServer::stop(bool immediate) {
  if (!running()) return true;
  // SIGINT: fast shutdown; SIGQUIT: immediate (no checkpoint, recovery at the next start).
  kill(postmaster_, immediate ? SIGQUIT : SIGINT);
  auto deadline = Clock::now() + std::chrono::seconds(60);
  int status = 0;
  while (waitpid(postmaster_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(postmaster_, SIGKILL);
      waitpid(postmaster_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  postmaster_ = -1;
  return true;
}

std::string PostgresServer::dsn(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
}

std::string PostgresServer::create_database(std::string& error) {
  // WAL_LOG (PostgreSQL 15's default strategy) copies the small template without a checkpoint:
  // about a tenth of a second.
  std::string name = "test_" + std::to_string(++databases_);
  if (!pg_query(dsn(), "CREATE DATABASE " + name, nullptr, error)) return "";
  return name;
}

bool PostgresServer::drop_database(const std::string& name) {
  std::string error;
  return pg_query(dsn(), "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", nullptr, error);
}

std::string PostgresServer::log_tail() const {
  std::ifstream log(folder_ + "/server.log");
  std::stringstream all;
  all << log.rdbuf();
  std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

bool pg_query(const std::string& dsn, const std::string& sql, std::optional<std::string>* first,
              std::string& error) {
  std::string connect = dsn + " connect_timeout=10";
  PGconn* conn = PQconnectdb(connect.c_str());
  bool ok = false;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    PGresult* result = PQexec(conn, sql.c_str());
    ExecStatusType status = PQresultStatus(result);
    ok = status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
    if (!ok) error = PQresultErrorMessage(result);
    if (ok && first != nullptr) {
      *first = std::nullopt;
      if (PQntuples(result) > 0 && PQnfields(result) > 0)
        *first = PQgetisnull(result, 0, 0) ? "" : PQgetvalue(result, 0, 0);
    }
    PQclear(result);
  }
  PQfinish(conn);
  return ok;
}

}  // namespace test_support
