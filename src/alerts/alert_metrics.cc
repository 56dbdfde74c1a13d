#include "src/alerts/alert_metrics.h"

#include <algorithm>

#include "src/metrics/registry.h"

namespace aw::alerts {
namespace {

constexpr std::array<MeasureInfo, 8> kMeasures{{
    {Measure::kFailureRate, "failure_rate", Unit::kRatio,
     "failed executions / executions over the window (0..1)"},
    {Measure::kP95DurationSeconds, "p95_duration_seconds", Unit::kSeconds,
     "the 95th percentile of execution durations over the window, in seconds"},
    {Measure::kPeakRssBytes, "peak_rss_bytes", Unit::kBytes,
     "the largest peak memory of a run that ended in the window"},
    {Measure::kExecutionRateDrop, "execution_rate_drop", Unit::kRatio,
     "1 - executions in the window / executions in the window before it"},
    {Measure::kStaleSessions, "stale_sessions", Unit::kCount,
     "result sessions under results/temp older than the age-out limit (gauge)"},
    {Measure::kDiskUsedBytes, "disk_used_bytes", Unit::kBytes, "bytes used on disk (gauge)"},
    {Measure::kWorkerRestarts, "worker_restarts", Unit::kCount, "worker restarts over the window"},
    {Measure::kStuckEntities, "stuck_entities", Unit::kCount,
     "entities stuck in a working state (gauge)"},
}};

constexpr std::array<std::string_view, kInputCount> kInputNames{
    "executions_total", "failed_total",    "worker_restarts_total", "peak_rss_bytes",
    "stale_sessions",   "disk_used_bytes", "stuck_entities"};

// Below this many executions in the earlier window, a drop says more about
// chance than about the fleet (3 → 1 is not "the fleet halved").
constexpr double kMinPreviousExecutions = 10;

}  // namespace

const std::array<MeasureInfo, 8>& all_measures() {
  return kMeasures;
}

const MeasureInfo& info(Measure m) {
  return kMeasures[static_cast<std::size_t>(m)];
}

std::string_view measure_name(Measure m) {
  return info(m).name;
}

std::optional<Measure> measure_by_name(std::string_view name) {
  for (const MeasureInfo& i : kMeasures)
    if (i.name == name) return i.measure;
  return std::nullopt;
}

std::string_view input_name(Input input) {
  return kInputNames[static_cast<std::size_t>(input)];
}

SampledMeasures::SampledMeasures(std::span<const std::pair<Measure, Duration>> needs) {
  reconfigure(needs);
}

std::vector<SampledMeasures::Key> SampledMeasures::inputs_for(Measure m, Duration window) {
  switch (m) {
    case Measure::kFailureRate:
      return {{Input::kExecutionsTotal, window}, {Input::kFailedTotal, window}};
    case Measure::kP95DurationSeconds:
      return {};  // the duration histogram, not a scalar
    case Measure::kPeakRssBytes:
      return {{Input::kPeakRssBytes, window}};
    case Measure::kExecutionRateDrop:
      // This window and the one before it.
      return {{Input::kExecutionsTotal, 2 * window}};
    case Measure::kStaleSessions:
      return {{Input::kStaleSessions, window}};
    case Measure::kDiskUsedBytes:
      return {{Input::kDiskUsedBytes, window}};
    case Measure::kWorkerRestarts:
      return {{Input::kWorkerRestartsTotal, window}};
    case Measure::kStuckEntities:
      return {{Input::kStuckEntities, window}};
  }
  return {};
}

void SampledMeasures::reconfigure(std::span<const std::pair<Measure, Duration>> needs) {
  std::map<Key, WindowedSeries> scalars;
  std::map<Duration, HistogramSeries> durations;
  for (const auto& [measure, window] : needs) {
    if (measure == Measure::kP95DurationSeconds) {
      if (durations.contains(window)) continue;
      auto old = durations_.find(window);
      if (old != durations_.end())
        durations.emplace(window, std::move(old->second));
      else
        durations.emplace(window, HistogramSeries(window));
      continue;
    }
    for (const Key& key : inputs_for(measure, window)) {
      if (scalars.contains(key)) continue;
      auto old = scalars_.find(key);
      if (old != scalars_.end()) {
        scalars.emplace(key, std::move(old->second));
      } else {
        const auto fold = key.first == Input::kPeakRssBytes ? WindowedSeries::Fold::kMax
                                                            : WindowedSeries::Fold::kLatest;
        scalars.emplace(key, WindowedSeries(key.second, fold));
      }
    }
  }
  scalars_ = std::move(scalars);
  durations_ = std::move(durations);
}

void SampledMeasures::record(const Sample& s) {
  for (auto& [key, series] : scalars_)
    if (key.first == s.input) series.add(s.time, s.value);
}

void SampledMeasures::record_durations(WallTime time, const metrics::Histogram& h,
                                       std::span<const double> bounds) {
  std::vector<std::uint64_t> buckets(bounds.size() + 1);
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] = h.bucket(i);
  record_durations(time, buckets, bounds);
}

void SampledMeasures::record_durations(WallTime time, const std::vector<std::uint64_t>& buckets,
                                       std::span<const double> bounds) {
  for (auto& [horizon, series] : durations_) series.add(time, buckets, bounds);
}

const WindowedSeries* SampledMeasures::series_for(Input input, Duration horizon) const {
  auto it = scalars_.find(Key{input, horizon});
  return it == scalars_.end() ? nullptr : &it->second;
}

std::optional<double> SampledMeasures::value(Measure measure, Duration window, WallTime now) const {
  switch (measure) {
    case Measure::kFailureRate: {
      const WindowedSeries* executions = series_for(Input::kExecutionsTotal, window);
      const WindowedSeries* failed = series_for(Input::kFailedTotal, window);
      if (!executions || !failed) return std::nullopt;
      const auto n = executions->increase(now, window);
      const auto f = failed->increase(now, window);
      if (!n || !f || *n <= 0) return std::nullopt;  // no executions: nothing to say
      return std::clamp(*f / *n, 0.0, 1.0);
    }
    case Measure::kP95DurationSeconds: {
      auto it = durations_.find(window);
      if (it == durations_.end()) return std::nullopt;
      return it->second.quantile(now, window, 0.95);
    }
    case Measure::kPeakRssBytes: {
      const WindowedSeries* s = series_for(Input::kPeakRssBytes, window);
      return s ? s->max_over(now, window) : std::nullopt;
    }
    case Measure::kExecutionRateDrop: {
      const WindowedSeries* s = series_for(Input::kExecutionsTotal, 2 * window);
      if (!s) return std::nullopt;
      const auto before = s->increase_between(now - 2 * window, now - window);
      const auto current = s->increase_between(now - window, now);
      if (!before || !current || *before < kMinPreviousExecutions) return std::nullopt;
      return 1.0 - *current / *before;
    }
    case Measure::kStaleSessions:
    case Measure::kDiskUsedBytes:
    case Measure::kStuckEntities: {
      const Input input = measure == Measure::kStaleSessions   ? Input::kStaleSessions
                          : measure == Measure::kDiskUsedBytes ? Input::kDiskUsedBytes
                                                               : Input::kStuckEntities;
      const WindowedSeries* s = series_for(input, window);
      return s ? s->latest(now, window) : std::nullopt;
    }
    case Measure::kWorkerRestarts: {
      const WindowedSeries* s = series_for(Input::kWorkerRestartsTotal, window);
      return s ? s->increase(now, window) : std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace aw::alerts
