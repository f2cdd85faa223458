// A small Prometheus client shaped like prometheus-cpp: Registry → Family → Counter / Gauge /
// Histogram with labels, rendered in the text exposition format 0.0.4. Thread-safe; the
// hot-path operations (inc, set, observe) are lock-free atomics.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace obs {

using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  void inc(double amount = 1.0);  // amount >= 0
  double value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double value);
  void inc(double amount = 1.0);
  void dec(double amount = 1.0);
  double value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // ascending upper bounds, +Inf implied
  void observe(double value);
  // Cumulative counts per bound (last = +Inf), sum and count, for the exposition and tests.
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const;
  uint64_t count() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative, bounds_.size() + 1
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

enum class MetricType { counter, gauge, histogram };

template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {}
  // The metric for these label values, created on first use; the reference stays valid for
  // the registry's lifetime.
  Metric& add(const Labels& labels);
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  // Snapshot for rendering.
  std::vector<std::pair<Labels, const Metric*>> metrics() const;

 private:
  std::string name_;
  std::string help_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<Labels, std::unique_ptr<Metric>> metrics_;
};

class Registry {
 public:
  // Names follow Prometheus conventions (snake_case, `_total` for counters, base units).
  // Registering the same name twice returns the same family.
  Family<Counter>& counter(const std::string& name, const std::string& help);
  Family<Gauge>& gauge(const std::string& name, const std::string& help);
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds);
  // Called before each render to refresh gauges that are sampled rather than updated
  // (queue depth, store size, process RSS).
  void add_collector(std::function<void()> collector);
  // Text exposition format 0.0.4, families in registration order, `# HELP` and `# TYPE` each.
  std::string render() const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> by_name_;
  std::vector<std::function<void()>> collectors_;
};

// Buckets for latencies in seconds: 0.5 ms .. 10 s.
std::vector<double> latency_buckets();
// Buckets for sizes in bytes: 1 KiB .. 64 MiB, powers of 4.
std::vector<double> size_buckets();

}  // namespace obs
