// process_* metrics from /proc/self (proc(5)): stat for memory, fd/ for open descriptors,
// CLOCK_PROCESS_CPUTIME_ID for CPU time (stat counts it in 10 ms ticks, so a process that has
// used less reads 0; the clock has nanoseconds), getrlimit for the descriptor limit, /proc/stat's
// btime for the start time. A file that cannot be read leaves the previous values (a scrape never
// fails for it).
#include "obs/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "obs/metrics.h"

namespace obs {
namespace {

struct ProcStat {
  double start_ticks = 0;     // since boot
  double virtual_bytes = 0;   // vsize
  double resident_bytes = 0;  // rss pages × page size
};

// /proc/self/stat: "pid (comm) state ppid ...". comm may hold spaces and parentheses, so the
// fields are counted from the last ')'; starttime is field 22, vsize 23, rss 24 (proc(5),
// 1-based).
std::optional<ProcStat> read_proc_stat() {
  std::ifstream file("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  for (std::string field; in >> field;) fields.push_back(field);
  if (fields.size() < 22) return std::nullopt;
  auto field = [&fields](size_t number) { return std::stod(fields[number - 3]); };
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  try {
    ProcStat stat;
    stat.start_ticks = field(22);
    stat.virtual_bytes = field(23);
    stat.resident_bytes = field(24) * page;
    return stat;
  } catch (const std::exception&) {  // stod: not a number
    return std::nullopt;
  }
}

// Boot time in Unix seconds ("btime" in /proc/stat); 0 when unknown.
double boot_time() {
  std::ifstream file("/proc/stat");
  for (std::string line; std::getline(file, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

// Entries of /proc/self/fd, less the descriptor opendir itself uses while counting.
std::optional<double> count_open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return std::max(0.0, count - 1);
}

class ProcessMetrics {
 public:
  explicit ProcessMetrics(Registry& registry)
      : cpu_(registry
                 .counter("process_cpu_seconds_total",
                          "Total user and system CPU time spent in seconds.")
                 .add({})),
        resident_(registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
                      .add({})),
        virtual_(registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
                     .add({})),
        open_fds_(registry.gauge("process_open_fds", "Number of open file descriptors.").add({})),
        max_fds_(
            registry.gauge("process_max_fds", "Maximum number of open file descriptors.").add({})),
        start_time_(registry
                        .gauge("process_start_time_seconds",
                               "Start time of the process since unix epoch in seconds.")
                        .add({})) {
    if (std::optional<ProcStat> stat = read_proc_stat()) {
      double boot = 0;
      try {
        boot = boot_time();
      } catch (const std::exception&) {  // stod: not a number
      }
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      if (boot > 0) start_time_.set(boot + stat->start_ticks / ticks);
    }
  }

  void collect() {
    std::lock_guard lock(mutex_);
    if (std::optional<ProcStat> stat = read_proc_stat()) {
      resident_.set(stat->resident_bytes);
      virtual_.set(stat->virtual_bytes);
    }
    timespec cpu{};
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0) {
      // A counter only moves forward: add what was used since the last scrape.
      const double seconds =
          static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
      cpu_.inc(std::max(0.0, seconds - cpu_.value()));
    }
    if (std::optional<double> fds = count_open_fds()) open_fds_.set(*fds);
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      max_fds_.set(limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(limit.rlim_cur));
    }
  }

 private:
  std::mutex mutex_;  // two concurrent scrapes must not both add the CPU delta
  Counter& cpu_;
  Gauge& resident_;
  Gauge& virtual_;
  Gauge& open_fds_;
  Gauge& max_fds_;
  Gauge& start_time_;
};

}  // namespace

void register_process_metrics(Registry& registry) {
  auto metrics = std::make_shared<ProcessMetrics>(registry);
  metrics->collect();
  registry.add_collector([metrics] { metrics->collect(); });
}

}  // namespace obs
