#include "src/alerts/windowed_series.h"

#include <gtest/gtest.h>

#include <random>

#include "src/metrics/registry.h"

namespace aw::alerts {
namespace {

using namespace std::chrono_literals;

const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));

TEST(WindowedSeriesTest, IncreaseOverTheWindowIgnoresWhatCameBefore) {
  WindowedSeries s(5min, WindowedSeries::Fold::kLatest);
  // 1 per 10 s for 20 minutes.
  for (int i = 0; i <= 120; ++i) s.add(kT0 + i * 10s, i);
  const WallTime now = kT0 + 20min;
  EXPECT_EQ(s.increase(now, 5min), 30);
  EXPECT_EQ(s.increase_between(now - 5min, now), 30);
}

TEST(WindowedSeriesTest, AYoungSeriesGivesAPartialWindow) {
  WindowedSeries s(5min, WindowedSeries::Fold::kLatest);
  EXPECT_EQ(s.increase(kT0, 5min), std::nullopt);
  s.add(kT0, 100);
  s.add(kT0 + 1min, 107);
  EXPECT_EQ(s.increase(kT0 + 1min, 5min), 7);
  // A whole interval only: the series does not reach back 5 minutes.
  EXPECT_EQ(s.increase_between(kT0 + 1min - 5min, kT0 + 1min), std::nullopt);
}

TEST(WindowedSeriesTest, ACounterThatWentDownCountsFromZero) {
  WindowedSeries s(5min, WindowedSeries::Fold::kLatest);
  s.add(kT0, 100);
  s.add(kT0 + 1min, 4);
  EXPECT_EQ(s.increase(kT0 + 1min, 5min), 4);
}

TEST(WindowedSeriesTest, MemoryStaysBoundedForADayAtTenSeconds) {
  WindowedSeries s(24h, WindowedSeries::Fold::kLatest);
  const int samples = 2 * 24 * 360;  // two days
  for (int i = 0; i <= samples; ++i) s.add(kT0 + i * 10s, i);
  EXPECT_LE(s.ring().size(), kDefaultRingCapacity);
  const WallTime now = kT0 + samples * 10s;
  // The window's start is found to within one spacing (24h / 254 ≈ 340 s).
  const double exact = 24 * 360;
  const double spacing_samples = static_cast<double>(s.ring().spacing() / 10s) + 1;
  const double got = *s.increase(now, 24h);
  EXPECT_GE(got, exact);
  EXPECT_LE(got, exact + spacing_samples);
  // The newest entry is always exact.
  EXPECT_EQ(s.latest(now, 1min), samples);
}

TEST(WindowedSeriesTest, FoldingKeepsTheLargestOfAnIntervalMaximum) {
  WindowedSeries s(1h, WindowedSeries::Fold::kMax);  // spacing ≈ 14 s
  s.add(kT0, 0);
  s.add(kT0 + 20s, 0);
  s.add(kT0 + 22s, 900);  // folded into the entry started at +20s
  s.add(kT0 + 24s, 0);
  EXPECT_EQ(s.ring().size(), 2u);
  EXPECT_EQ(s.max_over(kT0 + 30s, 5min), 900);
  // Out of the window once it is older than it.
  s.add(kT0 + 10min, 5);
  EXPECT_EQ(s.max_over(kT0 + 10min, 5min), 5);
  EXPECT_EQ(s.max_over(kT0 + 2h, 5min), std::nullopt);
}

TEST(WindowedSeriesTest, AGaugeNobodySampledForAWindowSaysNothing) {
  WindowedSeries s(5min, WindowedSeries::Fold::kLatest);
  s.add(kT0, 3);
  s.add(kT0 + 1min, 7);
  EXPECT_EQ(s.latest(kT0 + 2min, 5min), 7);
  EXPECT_EQ(s.latest(kT0 + 6min + 1s, 5min), std::nullopt);
}

TEST(WindowedSeriesTest, AWallClockStepBackEmptiesTheRing) {
  WindowedSeries s(5min, WindowedSeries::Fold::kLatest);
  s.add(kT0, 10);
  s.add(kT0 + 1min, 20);
  s.add(kT0 - 1h, 25);
  EXPECT_EQ(s.ring().size(), 1u);
  EXPECT_EQ(s.increase(kT0 - 1h, 5min), 0);
}

TEST(BucketQuantileTest, MatchesTheRegistryHistogram) {
  const std::vector<double> bounds = metrics::duration_buckets();
  metrics::Histogram h(&bounds);
  std::mt19937 rng(7);
  std::exponential_distribution<double> d(0.2);
  for (int i = 0; i < 1000; ++i) h.observe(d(rng));
  std::vector<std::uint64_t> buckets(bounds.size() + 1);
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] = h.bucket(i);
  for (double q : {0.0, 0.5, 0.9, 0.95, 0.99, 1.0})
    EXPECT_DOUBLE_EQ(bucket_quantile(bounds, buckets, q), h.quantile(q)) << q;
  EXPECT_EQ(bucket_quantile(bounds, std::vector<std::uint64_t>(bounds.size() + 1), 0.95), 0);
}

TEST(HistogramSeriesTest, TheQuantileOfAWindowIsThatOfTheDifference) {
  const std::vector<double> bounds = metrics::duration_buckets();
  metrics::Histogram all(&bounds);
  metrics::Histogram recent(&bounds);
  HistogramSeries s(5min);
  auto snapshot = [&] {
    std::vector<std::uint64_t> b(bounds.size() + 1);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = all.bucket(i);
    return b;
  };
  // Ten minutes of slow executions, then five of fast ones.
  for (int i = 0; i < 60; ++i) {
    all.observe(200);
    s.add(kT0 + i * 10s, snapshot(), bounds);
  }
  for (int i = 60; i <= 90; ++i) {
    const double v = 0.02 * (i - 59);
    all.observe(v);
    if (i > 60) recent.observe(v);
    s.add(kT0 + i * 10s, snapshot(), bounds);
  }
  const WallTime now = kT0 + 90 * 10s;
  EXPECT_DOUBLE_EQ(*s.quantile(now, 5min, 0.95), recent.quantile(0.95));
  EXPECT_LT(*s.quantile(now, 5min, 0.95), 1.0);
  EXPECT_GT(all.quantile(0.95), 100);  // what a quantile since the start would say
  // No observation in the window: no value.
  s.add(now + 10min, snapshot(), bounds);
  EXPECT_EQ(s.quantile(now + 10min, 5min, 0.95), std::nullopt);
}

}  // namespace
}  // namespace aw::alerts
