#include "src/alerts/windowed_series.h"

#include <algorithm>

namespace aw::alerts {

void WindowedSeries::add(WallTime t, double v) {
  const Fold fold = fold_;
  ring_.add(t, v, [fold](double& into, double sample) {
    into = fold == Fold::kMax ? std::max(into, sample) : sample;
  });
}

namespace {

// A counter that went down was reset (it cannot, within one daemon, but a
// caller may feed another source): count from zero, as PromQL's increase().
double grown(double from, double to) {
  return to >= from ? to - from : to;
}

}  // namespace

std::optional<double> WindowedSeries::increase(WallTime now, Duration window) const {
  const auto* end = ring_.at_or_before(now);
  if (!end) return std::nullopt;
  const auto* start = ring_.at_or_before(now - window);
  if (!start) start = ring_.oldest();
  return grown(start->value, end->value);
}

std::optional<double> WindowedSeries::increase_between(WallTime from, WallTime to) const {
  const auto* start = ring_.at_or_before(from);
  const auto* end = ring_.at_or_before(to);
  if (!start || !end) return std::nullopt;
  return grown(start->value, end->value);
}

std::optional<double> WindowedSeries::latest(WallTime now, Duration window) const {
  const auto* e = ring_.at_or_before(now);
  if (!e || e->time <= now - window) return std::nullopt;
  return e->value;
}

std::optional<double> WindowedSeries::max_over(WallTime now, Duration window) const {
  std::optional<double> best;
  for (const auto& e : ring_.entries()) {
    if (e.time <= now - window || e.first > now) continue;
    best = best ? std::max(*best, e.value) : e.value;
  }
  return best;
}

void HistogramSeries::add(WallTime t, std::vector<std::uint64_t> buckets,
                          std::span<const double> bounds) {
  if (buckets.size() != bounds.size() + 1) return;  // not a histogram of these bounds
  if (!std::equal(bounds.begin(), bounds.end(), bounds_.begin(), bounds_.end())) {
    ring_.clear();
    bounds_.assign(bounds.begin(), bounds.end());
  }
  ring_.add(t, std::move(buckets),
            [](std::vector<std::uint64_t>& into, std::vector<std::uint64_t> sample) {
              into = std::move(sample);
            });
}

std::optional<double> HistogramSeries::quantile(WallTime now, Duration window, double q) const {
  const auto* end = ring_.at_or_before(now);
  if (!end) return std::nullopt;
  const auto* start = ring_.at_or_before(now - window);
  if (!start) start = ring_.oldest();
  // A bucket that went down means a reset (see grown()): the newest counts
  // are then the window's.
  bool reset = false;
  for (std::size_t i = 0; i < end->value.size(); ++i)
    reset = reset || end->value[i] < start->value[i];
  std::vector<std::uint64_t> diff = end->value;
  std::uint64_t count = 0;
  for (std::size_t i = 0; i < diff.size(); ++i) {
    if (!reset) diff[i] -= start->value[i];
    count += diff[i];
  }
  if (count == 0) return std::nullopt;
  return bucket_quantile(bounds_, diff, q);
}

double bucket_quantile(std::span<const double> bounds, std::span<const std::uint64_t> buckets,
                       double q) {
  std::uint64_t count = 0;
  for (std::uint64_t b : buckets) count += b;
  if (count == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * static_cast<double>(count);
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const std::uint64_t here = buckets[i];
    if (static_cast<double>(below + here) >= rank && here > 0) {
      if (i >= bounds.size()) return bounds.empty() ? 0 : bounds.back();
      const double lo = i == 0 ? 0 : bounds[i - 1];
      const double hi = bounds[i];
      return lo + (hi - lo) * (rank - static_cast<double>(below)) / static_cast<double>(here);
    }
    below += here;
  }
  return bounds.empty() ? 0 : bounds.back();
}

}  // namespace aw::alerts
