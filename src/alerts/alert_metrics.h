// What an alert can measure (docs/alerts.md, "Measures"), and where the
// measures come from.
//
// The set is closed: each Measure is one named scalar over a window, computed
// from what the daemon samples every few seconds. The daemon does not compute
// windows: it hands over what it already counts, as it is now (cumulative
// counters, gauges, the cumulative duration histogram), and SampledMeasures
// keeps a bounded ring of those samples per (input, window) and derives each
// window's value from the difference of two samples. Keeping cumulative
// samples, not per-interval deltas, means a missed or late tick loses nothing:
// the next sample still holds everything counted so far.
//
// Pure: no libuv, no I/O; time only from the arguments. Not thread-safe: the
// loop's thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "src/alerts/windowed_series.h"
#include "src/core/clock.h"

namespace aw::metrics {
class Histogram;
}

namespace aw::alerts {

// The measures an [[alert]] may name in `metric`.
enum class Measure : std::uint8_t {
  kFailureRate,         // failed / executions over the window, 0..1
  kP95DurationSeconds,  // the 95th percentile of execution durations over the window
  kPeakRssBytes,        // the largest peak RSS of a run that ended in the window
  kExecutionRateDrop,   // 1 - executions(window) / executions(the window before)
  kStaleSessions,       // gauge: result sessions under results/temp older than the limit
  kDiskUsedBytes,       // gauge: bytes used, as the daemon measures it
  kWorkerRestarts,      // worker restarts over the window
  kStuckEntities,       // gauge: entities stuck in a working state
};

// What kind of number a measure is: decides how a threshold may be written
// ("10%" for a ratio, "1GiB" for bytes, "30s" never: seconds are plain numbers).
enum class Unit : std::uint8_t { kRatio, kSeconds, kBytes, kCount };

struct MeasureInfo {
  Measure measure;
  std::string_view name;  // as written in `metric = "..."`
  Unit unit;
  std::string_view what;  // one line, for docs and errors
};

// Every measure, in the order docs/alerts.md lists them.
const std::array<MeasureInfo, 8>& all_measures();
const MeasureInfo& info(Measure m);
std::string_view measure_name(Measure m);
std::optional<Measure> measure_by_name(std::string_view name);

// The one question the engine asks: the value of `measure` over the `window`
// that ends at `now`, or nullopt when there is none (no executions in the
// window, too little history). An alert without a value keeps its state.
class MeasureSource {
 public:
  virtual ~MeasureSource() = default;
  virtual std::optional<double> value(Measure measure, Duration window, WallTime now) const = 0;
};

// What the daemon samples (docs/alerts.md, "Wiring"). Counters are cumulative
// since the daemon started; gauges are the value now.
enum class Input : std::uint8_t {
  kExecutionsTotal,      // counter: action outcomes (agentwatch_executions_total, every series)
  kFailedTotal,          // counter: those with outcome "failed"
  kWorkerRestartsTotal,  // counter: worker starts beyond each worker's first
  kPeakRssBytes,         // the largest peak RSS of the runs that ended since the previous
                         // sample; 0 when none did (sample it every tick all the same)
  kStaleSessions,        // gauge
  kDiskUsedBytes,        // gauge
  kStuckEntities,        // gauge
};
inline constexpr std::size_t kInputCount = 7;
std::string_view input_name(Input input);

struct Sample {
  WallTime time{};
  Input input{};
  double value = 0;
};

// The daemon's samples, kept as bounded rings, answering the engine's
// questions. Built for a set of alerts: one ring per (input, horizon) they
// need, so that a 5-minute window keeps its fine resolution when another
// alert looks back 24 hours (each ring holds at most kDefaultRingCapacity entries,
// whatever its horizon: memory does not grow with the window).
//
// Windows that reach back before the first sample are partial (counted from
// the first sample), except execution_rate_drop, which needs both windows in
// full. A wall-clock step backwards empties the rings (see SampleRing).
class SampledMeasures final : public MeasureSource {
 public:
  // The longest window an alert may have (alert_config.cc refuses longer).
  static constexpr Duration kMaxWindow = std::chrono::hours(24);

  // The (measure, window) pairs it must answer for.
  explicit SampledMeasures(std::span<const std::pair<Measure, Duration>> needs);
  // For a new set (a config reload): rings that are still needed keep their
  // samples, the others go, new ones start empty.
  void reconfigure(std::span<const std::pair<Measure, Duration>> needs);

  void record(const Sample& s);
  // The cumulative execution-duration histogram (every series merged, as
  // EventMetrics::totals() does), with the bounds it was built with.
  void record_durations(WallTime time, const metrics::Histogram& h, std::span<const double> bounds);
  // The same from its non-cumulative bucket counts (bounds.size() + 1, +Inf last).
  void record_durations(WallTime time, const std::vector<std::uint64_t>& buckets,
                        std::span<const double> bounds);

  std::optional<double> value(Measure measure, Duration window, WallTime now) const override;

 private:
  using Key = std::pair<Input, Duration>;  // input, horizon
  static std::vector<Key> inputs_for(Measure m, Duration window);
  const WindowedSeries* series_for(Input input, Duration horizon) const;

  std::map<Key, WindowedSeries> scalars_;
  std::map<Duration, HistogramSeries> durations_;  // by horizon
};

}  // namespace aw::alerts
