// ZoneServer (zone_server.h): fork/exec of Debian's /usr/bin/python3 on spf_dns_server.py, its
// stdin a pipe we hold (it exits when the pipe closes, so a crashed test leaves no server
// behind, helped by PR_SET_PDEATHSIG), its first stdout line "port N".
#include "zone_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace spf_test {

std::string source_dir() {
  return SMTP_BRIDGE_SOURCE_DIR;
}

std::string suite_file() {
  const std::string path = source_dir() + "/../shared/corpora/openspf/rfc7208-tests.yml";
  std::error_code error;
  return std::filesystem::exists(path, error) ? path : "";
}

bool ZoneServer::start_scenario(const std::string& yaml, int scenario, std::string& error) {
  return start({"--yaml", yaml, "--scenario", std::to_string(scenario)}, error);
}

bool ZoneServer::start_json(const std::string& json_file, std::string& error) {
  return start({"--json", json_file}, error);
}

bool ZoneServer::start(const std::vector<std::string>& arguments, std::string& error) {
  stop();
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  const std::string script = source_dir() + "/tests/support/spf_dns_server.py";
  std::vector<std::string> argv_text = {"/usr/bin/python3", script};
  argv_text.insert(argv_text.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    dup2(in[0], 0);
    dup2(out[1], 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  stdin_ = in[1];
  if (pid_ < 0) {
    close(out[0]);
    error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  FILE* output = fdopen(out[0], "r");
  char line[128] = {0};
  const bool got = output != nullptr && std::fgets(line, sizeof line, output) != nullptr;
  if (output) std::fclose(output);  // the server prints nothing more on stdout
  if (!got || std::sscanf(line, "port %d", &port_) != 1) {
    error = "spf_dns_server.py did not start (its stderr says why)";
    stop();
    return false;
  }
  return true;
}

void ZoneServer::stop() {
  if (stdin_ >= 0) close(stdin_);
  stdin_ = -1;
  if (pid_ > 0) {
    int status = 0;
    kill(pid_, SIGTERM);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  port_ = 0;
}

}  // namespace spf_test
