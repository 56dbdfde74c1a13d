#include "src/alerts/alert_metrics.h"

#include <gtest/gtest.h>

#include "src/metrics/registry.h"

namespace aw::alerts {
namespace {

using namespace std::chrono_literals;

const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));

using Needs = std::vector<std::pair<Measure, Duration>>;

TEST(MeasuresTest, NamesRoundTrip) {
  for (const MeasureInfo& m : all_measures()) {
    EXPECT_EQ(measure_by_name(m.name), m.measure);
    EXPECT_EQ(measure_name(m.measure), m.name);
    EXPECT_FALSE(m.what.empty());
  }
  EXPECT_EQ(measure_by_name("failure-rate"), std::nullopt);
  EXPECT_EQ(input_name(Input::kFailedTotal), "failed_total");
  EXPECT_EQ(input_name(Input::kStuckEntities), "stuck_entities");
}

// A fleet that the daemon samples every 10 s: cumulative counters.
struct Fleet {
  explicit Fleet(Needs needs) : measures(needs) {}
  SampledMeasures measures;
  WallTime now = kT0;
  double executions = 0;
  double failed = 0;

  // `n` executions of which `f` failed, spread over `d`, sampled every 10 s.
  void run(Duration d, double n, double f) {
    const auto ticks = d / 10s;
    for (std::int64_t i = 0; i < ticks; ++i) {
      now += 10s;
      executions += n / static_cast<double>(ticks);
      failed += f / static_cast<double>(ticks);
      measures.record({now, Input::kExecutionsTotal, executions});
      measures.record({now, Input::kFailedTotal, failed});
    }
  }
  std::optional<double> value(Measure m, Duration w) const { return measures.value(m, w, now); }
};

TEST(SampledMeasuresTest, FailureRateCountsOnlyTheWindow) {
  Fleet fleet({{Measure::kFailureRate, 5min}});
  fleet.measures.record({fleet.now, Input::kExecutionsTotal, 0});
  fleet.measures.record({fleet.now, Input::kFailedTotal, 0});
  fleet.run(30min, 300, 300);  // an old outage: everything failed
  fleet.run(5min, 100, 10);    // the last five minutes: 10 %
  EXPECT_NEAR(*fleet.value(Measure::kFailureRate, 5min), 0.10, 1e-9);
  // A window nobody asked for has no ring: no value rather than a wrong one.
  EXPECT_EQ(fleet.value(Measure::kFailureRate, 10min), std::nullopt);
}

TEST(SampledMeasuresTest, FailureRateWithoutExecutionsHasNoValue) {
  Fleet fleet({{Measure::kFailureRate, 5min}});
  EXPECT_EQ(fleet.value(Measure::kFailureRate, 5min), std::nullopt);  // no sample yet
  fleet.run(10min, 50, 50);
  fleet.run(6min, 0, 0);  // quiet: the counters stand still
  EXPECT_EQ(fleet.value(Measure::kFailureRate, 5min), std::nullopt);
}

TEST(SampledMeasuresTest, ExecutionRateDropComparesWithTheWindowBefore) {
  Fleet fleet({{Measure::kExecutionRateDrop, 5min}});
  fleet.measures.record({fleet.now, Input::kExecutionsTotal, 0});
  fleet.run(5min, 100, 0);
  // One window of history only: nothing to compare with yet.
  EXPECT_EQ(fleet.value(Measure::kExecutionRateDrop, 5min), std::nullopt);
  fleet.run(5min, 50, 0);
  EXPECT_NEAR(*fleet.value(Measure::kExecutionRateDrop, 5min), 0.5, 1e-9);
  fleet.run(5min, 100, 0);  // doubled again: negative drop
  EXPECT_NEAR(*fleet.value(Measure::kExecutionRateDrop, 5min), -1.0, 1e-9);
  fleet.run(5min, 9, 0);
  fleet.run(5min, 0, 0);  // the window before had fewer than 10: says nothing
  EXPECT_EQ(fleet.value(Measure::kExecutionRateDrop, 5min), std::nullopt);
}

TEST(SampledMeasuresTest, P95ComesFromTheDifferenceOfCumulativeHistograms) {
  const std::vector<double> bounds = metrics::duration_buckets();
  SampledMeasures m(Needs{{Measure::kP95DurationSeconds, 5min}});
  metrics::Histogram cumulative(&bounds);
  WallTime now = kT0;
  for (int i = 0; i < 60; ++i, now += 10s) {  // ten slow minutes
    cumulative.observe(100);
    m.record_durations(now, cumulative, bounds);
  }
  for (int i = 0; i < 31; ++i, now += 10s) {  // five fast ones
    cumulative.observe(1.5);
    m.record_durations(now, cumulative, bounds);
  }
  now -= 10s;
  const auto p95 = m.value(Measure::kP95DurationSeconds, 5min, now);
  ASSERT_TRUE(p95);
  EXPECT_GT(*p95, 1);
  EXPECT_LE(*p95, 2.5);  // within the 1..2.5 bucket, not pulled up by the old slow runs
  EXPECT_GT(cumulative.quantile(0.95), 60);
}

TEST(SampledMeasuresTest, PeakRssIsTheLargestInTheWindow) {
  SampledMeasures m(Needs{{Measure::kPeakRssBytes, 5min}});
  // Each sample is the largest peak of the runs that ended since the previous one.
  auto peak_at = [](int tick) { return tick == 1 ? 3e9 : tick == 40 ? 2e8 : 0; };
  for (int i = 1; i <= 24; ++i) m.record({kT0 + i * 10s, Input::kPeakRssBytes, peak_at(i)});
  EXPECT_EQ(m.value(Measure::kPeakRssBytes, 5min, kT0 + 4min), 3e9);
  for (int i = 25; i <= 60; ++i) m.record({kT0 + i * 10s, Input::kPeakRssBytes, peak_at(i)});
  EXPECT_EQ(m.value(Measure::kPeakRssBytes, 5min, kT0 + 10min), 2e8);  // the 3 GB run is older
  for (int i = 61; i <= 120; ++i) m.record({kT0 + i * 10s, Input::kPeakRssBytes, 0});
  EXPECT_EQ(m.value(Measure::kPeakRssBytes, 5min, kT0 + 20min), 0);  // a quiet window resolves
}

TEST(SampledMeasuresTest, GaugesAndRestarts) {
  SampledMeasures m(Needs{{Measure::kStaleSessions, 5min},
                          {Measure::kDiskUsedBytes, 5min},
                          {Measure::kStuckEntities, 5min},
                          {Measure::kWorkerRestarts, 1h}});
  m.record({kT0, Input::kStaleSessions, 7});
  m.record({kT0, Input::kDiskUsedBytes, 2e9});
  m.record({kT0, Input::kStuckEntities, 1});
  m.record({kT0, Input::kWorkerRestartsTotal, 2});
  m.record({kT0 + 30min, Input::kWorkerRestartsTotal, 5});
  EXPECT_EQ(m.value(Measure::kStaleSessions, 5min, kT0 + 1min), 7);
  EXPECT_EQ(m.value(Measure::kDiskUsedBytes, 5min, kT0 + 1min), 2e9);
  EXPECT_EQ(m.value(Measure::kStuckEntities, 5min, kT0 + 1min), 1);
  EXPECT_EQ(m.value(Measure::kWorkerRestarts, 1h, kT0 + 30min), 3);             // a partial window
  EXPECT_EQ(m.value(Measure::kStaleSessions, 5min, kT0 + 6min), std::nullopt);  // not resampled
  m.record({kT0 + 90min, Input::kWorkerRestartsTotal, 6});
  EXPECT_EQ(m.value(Measure::kWorkerRestarts, 1h, kT0 + 90min), 1);
}

TEST(SampledMeasuresTest, ReconfigureKeepsTheRingsStillNeeded) {
  Fleet fleet({{Measure::kFailureRate, 5min}});
  fleet.run(10min, 100, 20);
  fleet.measures.reconfigure(Needs{{Measure::kFailureRate, 5min}, {Measure::kFailureRate, 1h}});
  EXPECT_NEAR(*fleet.value(Measure::kFailureRate, 5min), 0.2, 1e-9);
  EXPECT_EQ(fleet.value(Measure::kFailureRate, 1h), std::nullopt);  // starts empty
  fleet.run(1min, 10, 0);
  EXPECT_NEAR(*fleet.value(Measure::kFailureRate, 1h), 0.0, 1e-9);
}

}  // namespace
}  // namespace aw::alerts
