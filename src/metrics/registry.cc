#include "src/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace aw::metrics {

namespace {

bool valid_name(std::string_view s, bool colon_ok) {
  if (s.empty()) return false;
  auto head = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
  };
  if (!head(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [&](char c) { return head(c) || (c >= '0' && c <= '9'); });
}

const std::string kOther = "_other";

std::string series_key(const std::vector<std::string_view>& values) {
  std::string key;
  for (auto v : values) {
    key += std::to_string(v.size());
    key += ':';
    key += v;
  }
  return key;
}

// HELP text: backslash and newline escaped. Label values: also the double quote.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
}

void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i], true);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

void append_sample_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  // Integers (counts, bytes) print without a fraction; others shortest round-trip.
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
    out.append(buf, r.ptr);
    return;
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(bounds->size() + 1, 0) {}

void Histogram::observe(double v) {
  // Prometheus buckets are upper-inclusive: le="0.1" counts v <= 0.1.
  auto it = std::lower_bound(bounds_->begin(), bounds_->end(), v);
  ++buckets_[static_cast<std::size_t>(it - bounds_->begin())];
  ++count_;
  sum_ += v;
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < buckets_.size() && i < other.buckets_.size(); ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
}

double Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  double rank = q * static_cast<double>(count_);
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    std::uint64_t here = buckets_[i];
    if (static_cast<double>(below + here) >= rank && here > 0) {
      if (i == bounds_->size()) return bounds_->empty() ? 0 : bounds_->back();
      double lo = i == 0 ? 0 : (*bounds_)[i - 1];
      double hi = (*bounds_)[i];
      double into = (rank - static_cast<double>(below)) / static_cast<double>(here);
      return lo + (hi - lo) * into;
    }
    below += here;
  }
  return bounds_->empty() ? 0 : bounds_->back();
}

Family::Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
               std::vector<double> bounds, std::size_t max_series)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      labels_(std::move(labels)),
      bounds_(std::move(bounds)),
      max_series_(std::max<std::size_t>(max_series, 1)) {}

Family::Series& Family::series(const std::vector<std::string_view>& values) {
  if (values.size() != labels_.size())
    throw std::logic_error("metric " + name_ + ": " + std::to_string(labels_.size()) +
                           " label values expected, got " + std::to_string(values.size()));
  std::string key = series_key(values);
  auto it = series_.find(key);
  if (it != series_.end()) return it->second;
  std::vector<std::string> stored;
  if (series_.size() + 1 >= max_series_) {
    // The last slot is the shared overflow series.
    ++overflowed_;
    std::vector<std::string_view> other(labels_.size(), kOther);
    key = series_key(other);
    it = series_.find(key);
    if (it != series_.end()) return it->second;
    stored.assign(labels_.size(), kOther);
  } else {
    stored.assign(values.begin(), values.end());
  }
  Series s;
  s.values = std::move(stored);
  if (type_ == MetricType::kHistogram) s.histogram = std::make_unique<Histogram>(&bounds_);
  return series_.emplace(std::move(key), std::move(s)).first->second;
}

void Family::touch(const std::vector<std::string_view>& values) {
  series(values);
}

void Family::inc(const std::vector<std::string_view>& values, double by) {
  if (type_ != MetricType::kCounter) throw std::logic_error("metric " + name_ + " is no counter");
  if (by < 0) throw std::logic_error("counter " + name_ + " cannot go down");
  series(values).value += by;
}

void Family::set(const std::vector<std::string_view>& values, double v) {
  if (type_ == MetricType::kHistogram)
    throw std::logic_error("metric " + name_ + " is a histogram: observe() it");
  series(values).value = v;
}

void Family::observe(const std::vector<std::string_view>& values, double v) {
  if (type_ != MetricType::kHistogram)
    throw std::logic_error("metric " + name_ + " is no histogram");
  series(values).histogram->observe(v);
}

double Family::value(const std::vector<std::string_view>& values) const {
  auto it = series_.find(series_key(values));
  return it == series_.end() ? 0 : it->second.value;
}

const Histogram* Family::histogram(const std::vector<std::string_view>& values) const {
  auto it = series_.find(series_key(values));
  return it == series_.end() ? nullptr : it->second.histogram.get();
}

void Family::zero_all() {
  for (auto& [key, s] : series_) s.value = 0;
}

void Family::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped(out, help_, false);
  out += "\n# TYPE ";
  out += name_;
  out += type_ == MetricType::kCounter ? " counter\n"
         : type_ == MetricType::kGauge ? " gauge\n"
                                       : " histogram\n";
  for (const auto& [key, s] : series_) {
    if (type_ != MetricType::kHistogram) {
      out += name_;
      append_labels(out, labels_, s.values);
      out += ' ';
      append_sample_value(out, s.value);
      out += '\n';
      continue;
    }
    const Histogram& h = *s.histogram;
    std::uint64_t cumulative = 0;
    std::string le;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += h.bucket(i);
      le.clear();
      append_sample_value(le, i < bounds_.size() ? bounds_[i] : INFINITY);
      out += name_;
      out += "_bucket";
      append_labels(out, labels_, s.values, "le", le);
      out += ' ';
      append_sample_value(out, static_cast<double>(cumulative));
      out += '\n';
    }
    out += name_;
    out += "_sum";
    append_labels(out, labels_, s.values);
    out += ' ';
    append_sample_value(out, h.sum());
    out += '\n';
    out += name_;
    out += "_count";
    append_labels(out, labels_, s.values);
    out += ' ';
    append_sample_value(out, static_cast<double>(h.count()));
    out += '\n';
  }
}

Family& Registry::declare(std::string name, std::string help, MetricType type,
                          std::vector<std::string> labels, std::vector<double> bounds,
                          std::size_t max_series) {
  if (!valid_name(name, true)) throw std::logic_error("bad metric name: " + name);
  if (find(name)) throw std::logic_error("metric declared twice: " + name);
  if (type == MetricType::kCounter && !name.ends_with("_total"))
    throw std::logic_error("a counter's name ends in _total: " + name);
  for (const auto& l : labels) {
    if (!valid_name(l, false) || l.starts_with("__") || l == "le")
      throw std::logic_error("bad label name " + l + " on " + name);
  }
  if (!std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end())
    throw std::logic_error("histogram bounds must increase: " + name);
  bool unlabelled = labels.empty();
  families_.push_back(std::make_unique<Family>(std::move(name), std::move(help), type,
                                               std::move(labels), std::move(bounds), max_series));
  Family& f = *families_.back();
  // A family without labels has its one series from the start: a scrape
  // shows 0, not nothing.
  if (unlabelled) f.touch({});
  return f;
}

Family& Registry::counter(std::string name, std::string help, std::vector<std::string> labels,
                          std::size_t max_series) {
  return declare(std::move(name), std::move(help), MetricType::kCounter, std::move(labels), {},
                 max_series);
}

Family& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels,
                        std::size_t max_series) {
  return declare(std::move(name), std::move(help), MetricType::kGauge, std::move(labels), {},
                 max_series);
}

Family& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                            std::vector<double> bounds, std::size_t max_series) {
  return declare(std::move(name), std::move(help), MetricType::kHistogram, std::move(labels),
                 std::move(bounds), max_series);
}

void Registry::collect() const {
  for (const auto& c : collectors_) c();
}

std::string Registry::render() const {
  collect();
  std::string out;
  out.reserve(4096);
  for (const auto& f : families_) f->render(out);
  return out;
}

const Family* Registry::find(std::string_view name) const {
  for (const auto& f : families_)
    if (f->name() == name) return f.get();
  return nullptr;
}

std::vector<double> duration_buckets() {
  return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

}  // namespace aw::metrics
