// Our small Prometheus client: lock-free counters, gauges and histograms, families keyed by
// label sets, and a registry that renders the text exposition format 0.0.4 so that promtool and
// a real Prometheus server parse it. Misuse (an invalid name, one name with two types) is a bug
// and aborts with a message, like a failed assert that also fires in release builds.
#include "obs/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace obs {
namespace {

[[noreturn]] void metrics_bug(const std::string& what) {
  std::fprintf(stderr, "obs::metrics: %s\n", what.c_str());
  std::abort();
}

// Adds `amount` to an atomic double with a compare-exchange loop (lock-free on x86-64).
void atomic_add(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

// Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]*, label names starting with "__" reserved.
bool valid_name(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void check_labels(const std::string& family, const Labels& labels, bool histogram) {
  for (const auto& [name, value] : labels) {
    if (!valid_name(name, false) || name.starts_with("__") || (histogram && name == "le")) {
      metrics_bug("invalid label name \"" + name + "\" for " + family);
    }
  }
}

// Numbers as Prometheus' parser (Go's strconv.ParseFloat plus the special spellings) reads them:
// integral values without an exponent, others in the shortest form that round-trips, in %g
// style so that bucket bounds read "0.0005" (as users write them in `le` matchers), not "5e-04".
void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  std::to_chars_result result{};
  if (value == std::floor(value) && std::fabs(value) < 1e17) {
    result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, 0);
  } else {
    result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general);
  }
  out.append(buf, result.ptr);
}

// Text format 0.0.4: HELP text escapes backslash and newline; label values also escape the
// double quote.
void append_escaped(std::string& out, const std::string& text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{k="v",...}` with the keys in sorted order (std::map), `le` last when given; nothing when
// there are no labels at all.
void append_labels(std::string& out, const Labels& labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    append_escaped(out, value, true);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, const std::string& name, const Labels& labels, double value,
                   const std::string* le = nullptr) {
  out += name;
  append_labels(out, labels, le);
  out += ' ';
  append_number(out, value);
  out += '\n';
}

void append_header(std::string& out, const std::string& name, const std::string& help,
                   const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped(out, help, false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void render_family(std::string& out, const Family<Counter>& family) {
  append_header(out, family.name(), family.help(), "counter");
  for (const auto& [labels, counter] : family.metrics()) {
    append_sample(out, family.name(), labels, counter->value());
  }
}

void render_family(std::string& out, const Family<Gauge>& family) {
  append_header(out, family.name(), family.help(), "gauge");
  for (const auto& [labels, gauge] : family.metrics()) {
    append_sample(out, family.name(), labels, gauge->value());
  }
}

void render_family(std::string& out, const Family<Histogram>& family) {
  append_header(out, family.name(), family.help(), "histogram");
  const std::string bucket_name = family.name() + "_bucket";
  for (const auto& [labels, histogram] : family.metrics()) {
    // _count is the +Inf bucket of the same snapshot, so that an observe() running
    // concurrently cannot make the two disagree.
    std::vector<uint64_t> counts = histogram->cumulative_counts();
    const std::vector<double>& bounds = histogram->bounds();
    for (size_t i = 0; i < counts.size(); ++i) {
      std::string le;
      if (i < bounds.size()) {
        append_number(le, bounds[i]);
      } else {
        le = "+Inf";
      }
      append_sample(out, bucket_name, labels, static_cast<double>(counts[i]), &le);
    }
    append_sample(out, family.name() + "_sum", labels, histogram->sum());
    append_sample(out, family.name() + "_count", labels, static_cast<double>(counts.back()));
  }
}

template <typename Metric>
std::unique_ptr<Metric> make_metric(const std::vector<double>& bounds) {
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return std::make_unique<Histogram>(bounds);
  } else {
    (void)bounds;
    return std::make_unique<Metric>();
  }
}

}  // namespace

// --- Counter, Gauge ---------------------------------------------------------------------------

void Counter::inc(double amount) {
  if (!(amount >= 0.0)) return;  // counters only go up; negative and NaN are ignored
  atomic_add(value_, amount);
}

double Counter::value() const {
  return value_.load(std::memory_order_relaxed);
}

void Gauge::set(double value) {
  value_.store(value, std::memory_order_relaxed);
}
void Gauge::inc(double amount) {
  atomic_add(value_, amount);
}
void Gauge::dec(double amount) {
  atomic_add(value_, -amount);
}
double Gauge::value() const {
  return value_.load(std::memory_order_relaxed);
}

// --- Histogram --------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  // A trailing +Inf is implied; accept it when given explicitly.
  while (!bounds_.empty() && std::isinf(bounds_.back()) && bounds_.back() > 0) bounds_.pop_back();
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (std::isnan(bounds_[i]) || (i > 0 && !(bounds_[i - 1] < bounds_[i]))) {
      metrics_bug("histogram bounds must be strictly ascending");
    }
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double value) {
  // The first bucket whose upper bound is >= value ("le" is inclusive); NaN lands in +Inf.
  size_t index = bounds_.size();
  if (!std::isnan(value)) {
    index = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                bounds_.begin());
  }
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, value);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> counts(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    counts[i] = running;
  }
  return counts;
}

double Histogram::sum() const {
  return sum_.load(std::memory_order_relaxed);
}
uint64_t Histogram::count() const {
  return count_.load(std::memory_order_relaxed);
}

// --- Family -----------------------------------------------------------------------------------

template <typename Metric>
Metric& Family<Metric>::add(const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto it = metrics_.find(labels);
  if (it != metrics_.end()) return *it->second;
  check_labels(name_, labels, std::is_same_v<Metric, Histogram>);
  auto [inserted, ok] = metrics_.emplace(labels, make_metric<Metric>(bounds_));
  (void)ok;
  return *inserted->second;
}

template <typename Metric>
std::vector<std::pair<Labels, const Metric*>> Family<Metric>::metrics() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<Labels, const Metric*>> snapshot;
  snapshot.reserve(metrics_.size());
  for (const auto& [labels, metric] : metrics_) snapshot.emplace_back(labels, metric.get());
  return snapshot;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Registry ---------------------------------------------------------------------------------

namespace {
const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "?";
}

// Finds or creates the family registered as `name`; a second registration of the same name with
// another type is a bug. `Entry` is deduced, so this helper needs no access to its name.
template <typename Entry, typename FamilyPtr, typename... Args>
auto& find_or_add(std::vector<Entry>& entries, std::map<std::string, size_t>& by_name,
                  const std::string& name, MetricType type, FamilyPtr Entry::*member,
                  Args&&... args) {
  if (auto it = by_name.find(name); it != by_name.end()) {
    Entry& entry = entries[it->second];
    if (entry.type != type) {
      metrics_bug("metric " + name + " registered as " + type_name(entry.type) + " and " +
                  type_name(type));
    }
    return *(entry.*member);
  }
  if (!valid_name(name, true)) metrics_bug("invalid metric name \"" + name + "\"");
  Entry entry{type, nullptr, nullptr, nullptr};
  entry.*member = std::make_unique<typename FamilyPtr::element_type>(std::forward<Args>(args)...);
  auto& family = *(entry.*member);
  by_name.emplace(name, entries.size());
  entries.push_back(std::move(entry));
  return family;
}
}  // namespace

Family<Counter>& Registry::counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mutex_);
  return find_or_add(entries_, by_name_, name, MetricType::counter, &Entry::counters, name, help);
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help) {
  std::lock_guard lock(mutex_);
  return find_or_add(entries_, by_name_, name, MetricType::gauge, &Entry::gauges, name, help);
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  return find_or_add(entries_, by_name_, name, MetricType::histogram, &Entry::histograms, name,
                     help, std::move(bounds));
}

void Registry::add_collector(std::function<void()> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render() const {
  // Collectors run without the lock so that they may use the registry themselves.
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (const auto& collector : collectors) collector();

  // Families live as long as the registry, so their addresses may be used after the lock.
  struct View {
    const Family<Counter>* counters;
    const Family<Gauge>* gauges;
    const Family<Histogram>* histograms;
  };
  std::vector<View> views;
  {
    std::lock_guard lock(mutex_);
    views.reserve(entries_.size());
    for (const Entry& entry : entries_) {
      views.push_back({entry.counters.get(), entry.gauges.get(), entry.histograms.get()});
    }
  }
  std::string out;
  out.reserve(256 * views.size());
  for (const View& view : views) {
    if (view.counters) render_family(out, *view.counters);
    if (view.gauges) render_family(out, *view.gauges);
    if (view.histograms) render_family(out, *view.histograms);
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> size_buckets() {
  std::vector<double> bounds;
  for (double bound = 1024; bound <= 64.0 * 1024 * 1024; bound *= 4) bounds.push_back(bound);
  return bounds;  // 1 KiB, 4 KiB, ..., 16 MiB, 64 MiB
}

}  // namespace obs
