#include "src/stats/time_window.h"

#include <gtest/gtest.h>

#include "src/core/event.h"

namespace aw {
namespace {

WallTime at(std::string_view text) {
  auto t = parse_time_utc(text);
  EXPECT_TRUE(t) << text;
  return t.value_or(WallTime{});
}

TEST(TimeWindow, UnboundedTakesEverythingEvenWithoutATime) {
  const TimeWindow w;
  EXPECT_FALSE(w.bounded());
  EXPECT_TRUE(w.contains("2026-11-22T11:20:39.123Z"));
  EXPECT_TRUE(w.contains(""));
  EXPECT_EQ(w.since_text(), "");
  EXPECT_EQ(w.until_text(), "");
}

TEST(TimeWindow, IsHalfOpenSinceIncludedUntilExcluded) {
  const TimeWindow w(at("2026-11-22T11:00:00Z"), at("2026-11-22T12:00:00Z"));
  EXPECT_TRUE(w.bounded());
  EXPECT_EQ(w.since_text(), "2026-11-22T11:00:00.000Z");
  EXPECT_EQ(w.until_text(), "2026-11-22T12:00:00.000Z");
  EXPECT_FALSE(w.contains("2026-11-22T10:59:59.999Z"));
  EXPECT_TRUE(w.contains("2026-11-22T11:00:00.000Z"));
  EXPECT_TRUE(w.contains("2026-11-22T11:59:59.999Z"));
  EXPECT_FALSE(w.contains("2026-11-22T12:00:00.000Z"));
}

TEST(TimeWindow, OneBoundAlone) {
  const TimeWindow since(at("2026-11-22T11:00:00Z"), std::nullopt);
  EXPECT_TRUE(since.contains("2030-01-01T00:00:00.000Z"));
  EXPECT_FALSE(since.contains("2020-01-01T00:00:00.000Z"));
  const TimeWindow until(std::nullopt, at("2026-11-22T11:00:00Z"));
  EXPECT_FALSE(until.contains("2030-01-01T00:00:00.000Z"));
  EXPECT_TRUE(until.contains("2020-01-01T00:00:00.000Z"));
}

TEST(TimeWindow, BoundsAreComparedAtTheLogsMillisecondPrecision) {
  // A bound 0.5 ms into a millisecond still takes the record logged in it.
  const TimeWindow w(at("2026-11-22T11:00:00.0005Z"), std::nullopt);
  EXPECT_TRUE(w.contains("2026-11-22T11:00:00.000Z"));
}

TEST(TimeWindow, OtherSpellingsAreParsedAndUnreadableTimesAreOutside) {
  const TimeWindow w(at("2026-11-22T11:00:00Z"), at("2026-11-22T12:00:00Z"));
  EXPECT_TRUE(w.contains("2026-11-22T12:30:00+01:00"));  // 11:30Z
  EXPECT_FALSE(w.contains("2026-11-22T12:30:00Z"));
  EXPECT_TRUE(w.contains("2026-11-22T11:30:00Z"));  // no fraction
  EXPECT_FALSE(w.contains(""));
  EXPECT_FALSE(w.contains("yesterday"));
}

}  // namespace
}  // namespace aw
