// The daemon's own metrics: counters, gauges and histograms in families with
// labels, rendered in the Prometheus text format 0.0.4 (`GET /metrics`) and read
// directly by the JSON API and the dashboard.
//
// A family is declared once, with its name, help, type and label names; its
// series are created on first use of a label-value tuple and never removed, so
// a scrape sees every series it saw before (a counter that vanished would look
// like a reset). Names are checked at declaration: a metric name must match
// [a-zA-Z_:][a-zA-Z0-9_:]*, a label name [a-zA-Z_][a-zA-Z0-9_]*, counters end
// in `_total`, and declaring a name twice is a programming error (throws
// std::logic_error), which is what keeps a scrape free of duplicate families.
//
// Label values come from the world (rule names, worker names). Each family caps
// its series (max_series): beyond it, new tuples share one series whose every
// label value is "_other", and overflowed() counts them, so a runaway
// cardinality cannot grow the daemon without bound.
//
// Threading: the loop's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aw::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// A histogram's observations, in cumulative-bucket form (as Prometheus counts
// them) plus their sum.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void observe(double v);
  // Adds another histogram's observations (same bounds).
  void merge(const Histogram& other);
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  // Non-cumulative count of bucket i (i == bounds.size() is +Inf).
  std::uint64_t bucket(std::size_t i) const { return buckets_[i]; }
  // The q-quantile (0..1) estimated from the buckets the way PromQL's
  // histogram_quantile() does: linear within the bucket that holds the rank;
  // the highest finite bound when the rank falls in +Inf; 0 with no data.
  double quantile(double q) const;

 private:
  const std::vector<double>* bounds_;
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// One family: its declaration and its series.
class Family {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
         std::vector<double> bounds, std::size_t max_series);
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return labels_; }

  // Creates the series (at 0) if it does not exist: a counter a dashboard
  // expects (failures of a rule) reads 0 before its first increment.
  void touch(const std::vector<std::string_view>& values);
  // Counters: add `by` (>= 0) to the series of `values` (one per label name).
  void inc(const std::vector<std::string_view>& values, double by = 1);
  // Gauges; and counters whose source counts by itself (a collector copies
  // the kernel's CPU time, the event log's bytes written).
  void set(const std::vector<std::string_view>& values, double v);
  // Histograms.
  void observe(const std::vector<std::string_view>& values, double v);

  // The series' value (counter/gauge), or 0 when it does not exist.
  double value(const std::vector<std::string_view>& values) const;
  // The histogram of a series, or nullptr.
  const Histogram* histogram(const std::vector<std::string_view>& values) const;
  // Every series, label values → value / histogram, in label order.
  template <typename F>
  void each(F&& f) const {
    for (const auto& [key, s] : series_) f(s.values, s.value, s.histogram.get());
  }
  std::uint64_t overflowed() const { return overflowed_; }
  // Sets every gauge series to 0 (before a collector sets the ones that still
  // exist: a state with no entity left reads 0, not its last count).
  void zero_all();

  void render(std::string& out) const;

 private:
  struct Series {
    std::vector<std::string> values;  // one per label name
    double value = 0;
    std::unique_ptr<Histogram> histogram;
  };
  Series& series(const std::vector<std::string_view>& values);

  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;
  std::size_t max_series_;
  // Keyed by the label values, each prefixed by its length: unambiguous
  // whatever bytes a value holds.
  std::map<std::string, Series, std::less<>> series_;
  std::uint64_t overflowed_ = 0;
};

class Registry {
 public:
  static constexpr std::size_t kDefaultMaxSeries = 1000;

  Family& counter(std::string name, std::string help, std::vector<std::string> labels = {},
                  std::size_t max_series = kDefaultMaxSeries);
  Family& gauge(std::string name, std::string help, std::vector<std::string> labels = {},
                std::size_t max_series = kDefaultMaxSeries);
  Family& histogram(std::string name, std::string help, std::vector<std::string> labels,
                    std::vector<double> bounds, std::size_t max_series = kDefaultMaxSeries);

  // Run before every render: they refresh the gauges read from the world
  // (RSS, open fds, entities per state).
  void add_collector(std::function<void()> collect) { collectors_.push_back(std::move(collect)); }
  void collect() const;

  // The Prometheus text exposition (format 0.0.4) of every family, in
  // declaration order, after running the collectors.
  std::string render() const;

  const Family* find(std::string_view name) const;
  // Every family, in declaration order (no collection first).
  template <typename F>
  void each_family(F&& f) const {
    for (const auto& family : families_) f(*family);
  }

 private:
  Family& declare(std::string name, std::string help, MetricType type,
                  std::vector<std::string> labels, std::vector<double> bounds,
                  std::size_t max_series);
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Seconds buckets for durations from 1 ms to 10 min.
std::vector<double> duration_buckets();

// Renders a sample value as Prometheus expects: integers without a fraction,
// +Inf/-Inf/NaN by name, others in the shortest form that reads back exactly.
void append_sample_value(std::string& out, double v);

}  // namespace aw::metrics
