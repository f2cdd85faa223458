// The Prometheus client: exact exposition text, escaping, histogram arithmetic, lock-free
// updates from many threads, and `promtool check metrics` accepting what we render.
#include "obs/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <sys/wait.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <thread>

namespace {

TEST(Metrics, renders_counter_gauge_and_histogram_exactly) {
  obs::Registry registry;
  auto& requests = registry.counter("app_requests_total", "Requests handled.");
  requests.add({{"method", "GET"}, {"code", "200"}}).inc(3);
  requests.add({{"code", "500"}, {"method", "POST"}}).inc();
  registry.gauge("app_queue_depth", "Items waiting.").add({}).set(-2.5);
  auto& latency =
      registry.histogram("app_latency_seconds", "Latency.", {0.1, 1}).add({{"op", "x"}});
  latency.observe(0.05);
  latency.observe(0.1);  // "le" is inclusive
  latency.observe(0.5);
  latency.observe(7);

  EXPECT_EQ(registry.render(),
            "# HELP app_requests_total Requests handled.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{code=\"200\",method=\"GET\"} 3\n"
            "app_requests_total{code=\"500\",method=\"POST\"} 1\n"
            "# HELP app_queue_depth Items waiting.\n"
            "# TYPE app_queue_depth gauge\n"
            "app_queue_depth -2.5\n"
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{op=\"x\",le=\"0.1\"} 2\n"
            "app_latency_seconds_bucket{op=\"x\",le=\"1\"} 3\n"
            "app_latency_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
            "app_latency_seconds_sum{op=\"x\"} 7.65\n"
            "app_latency_seconds_count{op=\"x\"} 4\n");
}

TEST(Metrics, family_without_children_still_prints_help_and_type) {
  obs::Registry registry;
  registry.counter("idle_total", "Never incremented.");
  EXPECT_EQ(registry.render(), "# HELP idle_total Never incremented.\n# TYPE idle_total counter\n");
}

TEST(Metrics, escapes_label_values_and_help) {
  obs::Registry registry;
  registry.gauge("g", "line one\nback\\slash \"quoted\"").add({{"path", "C:\\dir\n\"x\""}}).set(1);
  EXPECT_EQ(registry.render(),
            "# HELP g line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
}

TEST(Metrics, formats_numbers_as_prometheus_parses_them) {
  obs::Registry registry;
  auto& family = registry.gauge("n", "Numbers.");
  family.add({{"k", "a"}}).set(std::numeric_limits<double>::infinity());
  family.add({{"k", "b"}}).set(-std::numeric_limits<double>::infinity());
  family.add({{"k", "c"}}).set(std::nan(""));
  family.add({{"k", "d"}}).set(67108864);
  family.add({{"k", "e"}}).set(1e21);
  family.add({{"k", "f"}}).set(0.0005);
  EXPECT_EQ(registry.render(),
            "# HELP n Numbers.\n# TYPE n gauge\n"
            "n{k=\"a\"} +Inf\n"
            "n{k=\"b\"} -Inf\n"
            "n{k=\"c\"} NaN\n"
            "n{k=\"d\"} 67108864\n"
            "n{k=\"e\"} 1e+21\n"
            "n{k=\"f\"} 0.0005\n");
}

TEST(Metrics, histogram_counts_are_cumulative_with_sum_and_count) {
  obs::Histogram histogram({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 3.0, 3.5, 100.0}) histogram.observe(v);
  EXPECT_EQ(histogram.cumulative_counts(), (std::vector<uint64_t>{2, 3, 5, 6}));
  EXPECT_DOUBLE_EQ(histogram.sum(), 109.5);
  EXPECT_EQ(histogram.count(), 6u);
}

TEST(Metrics, same_name_returns_the_same_family_and_metric) {
  obs::Registry registry;
  auto& first = registry.counter("x_total", "X.");
  auto& second = registry.counter("x_total", "X again.");
  EXPECT_EQ(&first, &second);
  first.add({{"a", "1"}}).inc(2);
  second.add({{"a", "1"}}).inc(3);
  EXPECT_EQ(first.add({{"a", "1"}}).value(), 5);
  auto& h1 = registry.histogram("h_seconds", "H.", obs::latency_buckets());
  auto& h2 = registry.histogram("h_seconds", "H.", obs::latency_buckets());
  EXPECT_EQ(&h1, &h2);
}

TEST(MetricsDeathTest, registering_a_name_with_two_types_aborts) {
  EXPECT_DEATH(
      {
        obs::Registry registry;
        registry.counter("clash", "C.");
        registry.gauge("clash", "G.");
      },
      "clash");
}

TEST(Metrics, counter_ignores_negative_increments) {
  obs::Counter counter;
  counter.inc(2);
  counter.inc(-1);
  EXPECT_EQ(counter.value(), 2);
}

TEST(Metrics, gauge_inc_dec_set) {
  obs::Gauge gauge;
  gauge.inc(5);
  gauge.dec(2);
  EXPECT_EQ(gauge.value(), 3);
  gauge.set(-1);
  EXPECT_EQ(gauge.value(), -1);
}

TEST(Metrics, concurrent_updates_sum_exactly) {
  obs::Registry registry;
  auto& family = registry.counter("c_total", "C.");
  auto& gauge = registry.gauge("g", "G.").add({});
  auto& histogram = registry.histogram("h", "H.", {0.5}).add({});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        family.add({{"shared", "yes"}}).inc();
        gauge.inc(2);
        histogram.observe(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(family.add({{"shared", "yes"}}).value(), kThreads * kPerThread);
  EXPECT_EQ(gauge.value(), 2.0 * kThreads * kPerThread);
  EXPECT_EQ(histogram.count(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(histogram.sum(), kThreads * kPerThread);
  EXPECT_EQ(histogram.cumulative_counts(), (std::vector<uint64_t>{0, kThreads * kPerThread}));
}

TEST(Metrics, collectors_run_before_each_render) {
  obs::Registry registry;
  auto& sampled = registry.gauge("sampled", "S.").add({});
  int calls = 0;
  registry.add_collector([&] { sampled.set(++calls * 10); });
  EXPECT_NE(registry.render().find("sampled 10\n"), std::string::npos);
  EXPECT_NE(registry.render().find("sampled 20\n"), std::string::npos);
}

TEST(Metrics, bucket_helpers) {
  EXPECT_EQ(obs::latency_buckets(), (std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                         0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}));
  EXPECT_EQ(obs::size_buckets(), (std::vector<double>{1024, 4096, 16384, 65536, 262144, 1048576,
                                                      4194304, 16777216, 67108864}));
}

// Runs `promtool check metrics < path` and returns its exit status (or -1).
int promtool_check(const std::string& path, std::string& output) {
  std::string command = "promtool check metrics < '" + path + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Metrics, promtool_accepts_the_exposition) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  obs::Registry registry;
  auto& counter = registry.counter("bridge_test_events_total", "Events, with \\ and\nnewline.");
  counter.add({{"kind", "quote\"back\\slash\nnewline"}, {"utf8", "h\xC3\xA9llo \xE2\x9C\x93"}})
      .inc(3);
  counter.add({}).inc(0.25);
  registry.counter("bridge_test_empty_total", "No children.");
  auto& gauge = registry.gauge("bridge_test_level", "A gauge.");
  gauge.add({{"v", "inf"}}).set(std::numeric_limits<double>::infinity());
  gauge.add({{"v", "-inf"}}).set(-std::numeric_limits<double>::infinity());
  gauge.add({{"v", "nan"}}).set(std::nan(""));
  gauge.add({{"v", "big"}}).set(1e300);
  gauge.add({{"v", "small"}}).set(-1.5e-300);
  gauge.add({{"v", ""}}).set(12345678901234);
  auto& latency =
      registry.histogram("bridge_test_latency_seconds", "Latency.", obs::latency_buckets());
  latency.add({{"op", "a b"}}).observe(0.003);
  latency.add({{"op", "a b"}}).observe(12);
  registry.histogram("bridge_test_size_bytes", "Sizes.", obs::size_buckets()).add({}).observe(5000);

  char path[] = "/tmp/obs_promtool_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = registry.render();
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  std::string output;
  int status = promtool_check(path, output);
  unlink(path);
  EXPECT_EQ(status, 0) << output << "\n--- exposition:\n" << text;
}

}  // namespace
