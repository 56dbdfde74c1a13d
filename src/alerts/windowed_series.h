// Window values from a bounded ring of samples (docs/alerts.md, "Measures").
//
// The daemon samples what it counts (cumulative counters, gauges, the
// cumulative duration histogram) every few seconds. A window's value is the
// difference between the newest sample and the one at the window's start, so
// only the samples near window starts matter, and a ring needs only as many
// entries as it wants resolution: each ring covers one horizon (the longest
// window it answers for) with at most `capacity` entries, spaced at least
// horizon / (capacity - 2) apart. A sample that arrives sooner than that is
// folded into the newest entry (for a cumulative value: it replaces it; for an
// interval maximum: the larger wins), so the newest entry is always exact and
// a window's start is found to within one spacing (0.4 % of the horizon at
// the default capacity). A 24-hour window sampled every 10 s keeps 256
// entries, not 8,640.
//
// Time: samples must come in time order. A sample older than the newest one
// (the wall clock was set back) empties the ring first: windows measured
// across a backward step would count the same interval twice.
//
// Pure; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "src/core/clock.h"

namespace aw::alerts {

inline constexpr std::size_t kDefaultRingCapacity = 256;

template <class T>
class SampleRing {
 public:
  struct Entry {
    WallTime first;  // the first sample folded into this entry
    WallTime time;   // the newest one: `value` is exact at this time
    T value;
  };

  SampleRing(Duration horizon, std::size_t capacity)
      : horizon_(horizon),
        capacity_(capacity < 3 ? 3 : capacity),
        spacing_(horizon / static_cast<std::int64_t>(capacity_ - 2)) {}

  // `fold(into, value)` merges a sample into the newest entry.
  template <class Fold>
  void add(WallTime t, T value, Fold fold) {
    if (!entries_.empty() && t < entries_.back().time) entries_.clear();
    if (!entries_.empty() && t - entries_.back().first < spacing_) {
      fold(entries_.back().value, std::move(value));
      entries_.back().time = t;
    } else {
      entries_.push_back(Entry{t, t, std::move(value)});
    }
    // Keep exactly one entry at or before the horizon's start: the baseline of
    // the longest window.
    while (entries_.size() >= 2 && entries_[1].time <= t - horizon_) entries_.pop_front();
    while (entries_.size() > capacity_) entries_.pop_front();
  }

  // The newest entry at or before `t`, or nullptr.
  const Entry* at_or_before(WallTime t) const {
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
      if (it->time <= t) return &*it;
    return nullptr;
  }
  const Entry* oldest() const { return entries_.empty() ? nullptr : &entries_.front(); }
  const std::deque<Entry>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  Duration horizon() const { return horizon_; }
  Duration spacing() const { return spacing_; }
  void clear() { entries_.clear(); }

 private:
  Duration horizon_;
  std::size_t capacity_;
  Duration spacing_;
  std::deque<Entry> entries_;
};

// One scalar input: a cumulative counter, a gauge, or an interval maximum.
class WindowedSeries {
 public:
  // How samples that share an entry combine: a counter or gauge keeps the
  // newest value; an interval maximum (the largest peak RSS since the previous
  // sample) keeps the largest, so no peak is lost to the folding.
  enum class Fold : std::uint8_t { kLatest, kMax };

  WindowedSeries(Duration horizon, Fold fold, std::size_t capacity = kDefaultRingCapacity)
      : ring_(horizon, capacity), fold_(fold) {}

  void add(WallTime t, double v);

  // Counters: how much it grew over the window ending at `now`. A series
  // younger than the window counts from its first sample (a partial window).
  // nullopt without a sample at or before `now`.
  std::optional<double> increase(WallTime now, Duration window) const;
  // Counters: how much it grew between `from` and `to`, only when the series
  // reaches back to `from` (a whole interval, never a partial one).
  std::optional<double> increase_between(WallTime from, WallTime to) const;
  // Gauges: the newest value at or before `now`, if sampled within `window`
  // (a gauge nobody sampled for a whole window says nothing any more).
  std::optional<double> latest(WallTime now, Duration window) const;
  // Interval maxima: the largest value sampled within the window.
  std::optional<double> max_over(WallTime now, Duration window) const;

  const SampleRing<double>& ring() const { return ring_; }

 private:
  SampleRing<double> ring_;
  Fold fold_;
};

// A cumulative histogram (non-cumulative bucket counts since the daemon
// started, +Inf last), whose windowed quantile is the quantile of the
// difference between two samples.
class HistogramSeries {
 public:
  explicit HistogramSeries(Duration horizon, std::size_t capacity = kDefaultRingCapacity)
      : ring_(horizon, capacity) {}

  // `buckets` has bounds.size() + 1 counts. New bounds empty the ring: counts
  // over other buckets do not subtract.
  void add(WallTime t, std::vector<std::uint64_t> buckets, std::span<const double> bounds);
  // The q-quantile of the observations made within the window; nullopt when
  // there were none.
  std::optional<double> quantile(WallTime now, Duration window, double q) const;

  const SampleRing<std::vector<std::uint64_t>>& ring() const { return ring_; }

 private:
  SampleRing<std::vector<std::uint64_t>> ring_;
  std::vector<double> bounds_;
};

// The q-quantile of non-cumulative bucket counts, estimated as PromQL's
// histogram_quantile() and metrics::Histogram::quantile() do: linear within
// the bucket holding the rank; the highest finite bound when it falls in +Inf;
// 0 with no observations.
double bucket_quantile(std::span<const double> bounds, std::span<const std::uint64_t> buckets,
                       double q);

}  // namespace aw::alerts
