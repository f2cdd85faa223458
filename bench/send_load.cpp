// A load generator for bench/send-api and bench/batch-send: POSTs /v1/messages (one recipient, a
// ~1 KB text body), or with --batch B /v1/messages/batch of B such messages, from N kept-alive
// connections, one thread each. Closed loop (--requests M): as fast as answers come.
// Open loop (--rate R --seconds S): request i is due at start + i/R and its latency counts from
// then, so a stalled bridge shows as latency, not as a lower rate. Prints one line of key=value
// figures: requests, non-202 count, requests/s, messages/s, latency p50/p99/max in ms. A bench
// tool.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string key;
  unsigned connections = 4;
  uint64_t requests = 0;  // closed loop when > 0
  double rate = 0;        // open loop when > 0
  double seconds = 10;
  size_t text_bytes = 1024;
  bool timeline = false;  // stderr: the worst latency of each 100 ms of due times
  size_t batch = 0;       // > 0: POST /v1/messages/batch with this many messages each
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i], value = argv[i + 1];
    if (name == "--host")
      o.host = value;
    else if (name == "--port")
      o.port = std::atoi(value.c_str());
    else if (name == "--key")
      o.key = value;
    else if (name == "--connections")
      o.connections = std::max(1, std::atoi(value.c_str()));
    else if (name == "--requests")
      o.requests = std::strtoull(value.c_str(), nullptr, 10);
    else if (name == "--rate")
      o.rate = std::atof(value.c_str());
    else if (name == "--seconds")
      o.seconds = std::atof(value.c_str());
    else if (name == "--text-bytes")
      o.text_bytes = std::strtoull(value.c_str(), nullptr, 10);
    else if (name == "--batch")
      o.batch = std::strtoull(value.c_str(), nullptr, 10);
    else if (name == "--timeline")
      o.timeline = value == "1";
    else
      return false;
  }
  return o.port > 0 && !o.key.empty() && (o.requests > 0) != (o.rate > 0);
}

std::string make_body(size_t text_bytes, size_t batch) {
  std::string text;
  while (text.size() < text_bytes) text += "The quick brown fox jumps over the lazy dog. ";
  text.resize(text_bytes);
  std::string one = R"({"from":"Bench <bench@example.com>","to":["sink@example.org"],)"
                    R"("subject":"send-api bench","text":")" +
                    text + R"("})";
  if (batch == 0) return one;
  std::string body = R"({"messages":[)";
  for (size_t i = 0; i < batch; ++i) body += (i == 0 ? "" : ",") + one;
  return body + "]}";
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

struct Totals {
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::vector<std::pair<double, double>> timeline;  // (due s, latency ms)
  uint64_t non_202 = 0;
};

// One connection: takes the next request index until there are none left, sends it (waiting for
// its due time in the open loop) and records its latency.
void run_connection(const Options& o, const std::string& body, std::atomic<uint64_t>& next,
                    uint64_t total, Clock::time_point start, Totals& totals) {
  httplib::Client client(o.host, o.port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  client.set_read_timeout(30, 0);
  httplib::Headers headers{{"Authorization", "Bearer " + o.key}};
  std::vector<double> latencies;
  std::vector<std::pair<double, double>> timeline;
  uint64_t bad = 0;
  for (;;) {
    uint64_t i = next.fetch_add(1);
    if (i >= total) break;
    Clock::time_point due = Clock::now();
    if (o.rate > 0) {
      due = start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(i) / o.rate));
      std::this_thread::sleep_until(due);
    }
    auto result = client.Post(o.batch > 0 ? "/v1/messages/batch" : "/v1/messages", headers, body,
                              "application/json");
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
    if (o.timeline)
      timeline.emplace_back(std::chrono::duration<double>(due - start).count(), latencies.back());
    if (!result || result->status != 202) {
      if (bad++ < 3) {
        std::fprintf(stderr, "request %llu: %s\n", static_cast<unsigned long long>(i),
                     result ? (std::to_string(result->status) + " " + result->body).c_str()
                            : httplib::to_string(result.error()).c_str());
      }
    }
  }
  std::lock_guard lock(totals.mutex);
  totals.latencies_ms.insert(totals.latencies_ms.end(), latencies.begin(), latencies.end());
  totals.non_202 += bad;
  totals.timeline.insert(totals.timeline.end(), timeline.begin(), timeline.end());
}

void print_timeline(const std::vector<std::pair<double, double>>& points) {
  std::vector<double> worst;
  for (auto [due, ms] : points) {
    size_t bucket = static_cast<size_t>(due * 10);
    if (bucket >= worst.size()) worst.resize(bucket + 1, 0);
    worst[bucket] = std::max(worst[bucket], ms);
  }
  for (size_t b = 0; b < worst.size(); ++b)
    if (worst[b] >= 20) std::fprintf(stderr, "t=%.1fs worst %.1f ms\n", b / 10.0, worst[b]);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: bench_send_load --port P --key K [--host H] [--connections N] "
                 "[--text-bytes B] [--batch N] (--requests M | --rate R [--seconds S])\n");
    return 2;
  }
  std::string body = make_body(o.text_bytes, o.batch);
  uint64_t total = o.requests > 0 ? o.requests : static_cast<uint64_t>(o.rate * o.seconds);
  std::atomic<uint64_t> next{0};
  Totals totals;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < o.connections; ++c)
    threads.emplace_back([&] { run_connection(o, body, next, total, start, totals); });
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (o.timeline) print_timeline(totals.timeline);
  auto& lat = totals.latencies_ms;
  std::sort(lat.begin(), lat.end());
  std::printf(
      "requests=%llu non_202=%llu seconds=%.3f rps=%.1f mps=%.1f p50_ms=%.2f p99_ms=%.2f "
      "max_ms=%.2f body_bytes=%zu\n",
      static_cast<unsigned long long>(lat.size()), static_cast<unsigned long long>(totals.non_202),
      elapsed, static_cast<double>(lat.size()) / elapsed,
      static_cast<double>(lat.size() * std::max<size_t>(1, o.batch)) / elapsed,
      percentile(lat, 0.50), percentile(lat, 0.99), lat.empty() ? 0.0 : lat.back(), body.size());
  return 0;
}
