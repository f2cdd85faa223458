// bench_rspamd_check URL FILE [CALLS] [THREADS]: the latency of mailauth::check_rspamd (one
// message, its envelope, rspamd's whole scan and answer) against a running rspamd; prints the
// median, p90 and max per call and the calls per second. A figure, never a verdict
// (bench/rspamd-check).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mailauth/rspamd.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s URL FILE [CALLS] [THREADS]\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::string message((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int calls = argc > 3 ? std::stoi(argv[3]) : 500;
  int threads = argc > 4 ? std::stoi(argv[4]) : 1;
  mailauth::RspamdOptions options{argv[1], std::chrono::milliseconds(10000)};
  mailauth::SpamRequest request;
  request.message = message;
  request.client_ip = "192.0.2.1";
  request.helo = "mx.example.com";
  request.mail_from = "sender@example.com";
  request.rcpt_to = {"receiver@example.com"};
  request.hostname = "bridge.bench";
  request.queue_id = "bench";
  for (int i = 0; i < 20; ++i) mailauth::check_rspamd(options, request);  // warm-up

  std::mutex mutex;
  std::vector<double> millis;
  int failures = 0;
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = t; i < calls; i += threads) {
        auto before = std::chrono::steady_clock::now();
        mailauth::SpamVerdict verdict = mailauth::check_rspamd(options, request);
        double took =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - before)
                .count();
        std::lock_guard lock(mutex);
        millis.push_back(took);
        if (verdict.status != "scanned") ++failures;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::sort(millis.begin(), millis.end());
  std::printf(
      "check_rspamd: %zu bytes, %d calls, %d threads: median %.2f ms, p90 %.2f ms, max %.2f ms, "
      "%.0f calls/s, %d not scanned\n",
      message.size(), calls, threads, millis[millis.size() / 2], millis[millis.size() * 9 / 10],
      millis.back(), calls / seconds, failures);
  return failures == 0 ? 0 : 1;
}
