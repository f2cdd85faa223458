// Durability on both backends: a child process enqueues messages and reports each id only after
// done(ok); the parent SIGKILLs it mid-stream, reopens the store and finds every acknowledged
// message intact.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <semaphore>
#include <string>
#include <vector>

#include "store/store.h"
#include "store_test_support.h"

namespace {

// Never returns: enqueues until killed, writing "<id>\n" to `fd` after each durable commit.
[[noreturn]] void run_child(const store_test::Database& database, const store::Options& options,
                            int fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a parent that crashed
  std::string error;
  auto db = database.open(options, error);
  if (!db) _exit(2);
  std::counting_semaphore<64> slots(64);  // bound the messages waiting for their commit
  for (;;) {
    slots.acquire();
    auto message = store_test::make_message("", 1);
    message.data = store_test::awkward_bytes(message.id);
    std::string line = message.id + "\n";  // shorter than PIPE_BUF: written atomically
    db->enqueue_inbound(std::move(message), [&slots, fd, line](store::Status status) {
      if (status == store::Status::ok && write(fd, line.data(), line.size()) < 0) _exit(3);
      slots.release();
    });
  }
}

// Kills and reaps the child whatever happens in the test.
struct ChildGuard {
  pid_t pid;
  ~ChildGuard() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Reads whole lines from `fd` until at least `wanted` lines (0 = until EOF).
void read_lines(int fd, size_t wanted, std::string& pending, std::vector<std::string>& lines) {
  char buffer[4096];
  while (wanted == 0 || lines.size() < wanted) {
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got <= 0) return;
    pending.append(buffer, static_cast<size_t>(got));
    for (size_t end; (end = pending.find('\n')) != std::string::npos;) {
      lines.push_back(pending.substr(0, end));
      pending.erase(0, end + 1);
    }
  }
}

STORE_TEST_BACKENDS(StoreDurability);

TEST_P(StoreDurability, keeps_every_acknowledged_message_across_kill_9) {
  store_test::Database database(GetParam(), "store.db");
  store::Options options = database.options();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);

  ChildGuard child{fork()};
  ASSERT_GE(child.pid, 0);
  if (child.pid == 0) {
    close(fds[0]);
    run_child(database, options, fds[1]);
  }
  close(fds[1]);

  std::string pending;
  std::vector<std::string> acknowledged;
  read_lines(fds[0], 300, pending, acknowledged);
  ASSERT_GE(acknowledged.size(), 300u) << "the child stopped early";
  ASSERT_EQ(kill(child.pid, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child.pid, &wait_status, 0), child.pid);
  child.pid = 0;
  EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);
  read_lines(fds[0], 0, pending, acknowledged);  // ids acknowledged before the kill landed
  close(fds[0]);
  EXPECT_TRUE(pending.empty()) << "a torn line: " << pending;

  std::string error;
  auto db = database.open(options, error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_GE(db->count_inbound(), acknowledged.size());
  for (const std::string& id : acknowledged) {
    auto found = db->find_inbound(id);
    ASSERT_TRUE(found.has_value()) << "acknowledged but lost: " << id;
    EXPECT_EQ(found->data, store_test::awkward_bytes(id));
    ASSERT_EQ(found->deliveries.size(), 1u);
    EXPECT_EQ(found->deliveries[0].state, "queued");
  }
  // The store the killed process left behind takes new writes.
  EXPECT_EQ(db->enqueue_inbound_wait(store_test::make_message("after\r\n")), store::Status::ok);
}

}  // namespace
