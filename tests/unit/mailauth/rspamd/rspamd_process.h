// A real rspamd for the C++ tests: tests/e2e/rspamd_server.py --serve run as a child (Debian's
// /usr/bin/python3), which prints rspamd's URL and keeps it up until its stdin closes. Closing the
// pipe (the destructor, or this process dying) stops rspamd and removes its folder.
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace spam_test {

inline bool rspamd_installed() {
  return access("/usr/bin/rspamd", X_OK) == 0;
}

class RspamdProcess {
 public:
  RspamdProcess() = default;
  ~RspamdProcess() { stop(); }
  RspamdProcess(const RspamdProcess&) = delete;
  RspamdProcess& operator=(const RspamdProcess&) = delete;

  // Returns once rspamd answers /ping (its URL in url()), or false with what the script said.
  bool start(std::string& error) {
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
      error = "pipe failed";
      return false;
    }
    std::string script = std::string(SMTP_BRIDGE_SOURCE_DIR) + "/tests/e2e/rspamd_server.py";
    pid_ = fork();
    if (pid_ == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      execl("/usr/bin/python3", "python3", script.c_str(), "--serve", nullptr);
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    stdin_ = to_child[1];
    std::string line;
    // rspamd starts in about a second; minutes are left for a machine the sanitizer runs load.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(100);
    char c = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd in{from_child[0], POLLIN, 0};
      if (poll(&in, 1, 200) <= 0) continue;
      if (read(from_child[0], &c, 1) != 1 || c == '\n') break;
      line += c;
    }
    close(from_child[0]);
    if (line.rfind("http://", 0) != 0) {
      error = line.empty() ? "rspamd_server.py printed no URL" : line;
      stop();
      return false;
    }
    url_ = line;
    return true;
  }

  // Closes the script's stdin and waits for it (it stops rspamd first).
  void stop() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
    if (pid_ <= 0) return;
    for (int waited = 0; waited < 600; ++waited) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::string url_;
};

}  // namespace spam_test
