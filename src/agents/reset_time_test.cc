#include "src/agents/reset_time.h"

#include <gtest/gtest.h>

#include "src/core/event.h"

namespace aw::agents {
namespace {

constexpr const char* kZoneinfo = "/usr/share/zoneinfo";

// The machine's zone is whatever the test says.
ZoneinfoDirectory zones_with_local(const std::string& local) {
  return ZoneinfoDirectory(kZoneinfo, std::string(kZoneinfo) + "/" + local);
}

WallTime at(std::string_view iso) {
  auto t = parse_time_utc(iso);
  EXPECT_TRUE(t) << iso;
  return t.value_or(WallTime{});
}

// The parsed reset as text, or "none".
std::string reset(std::string_view text, std::string_view now, const std::string& local = "UTC") {
  ZoneinfoDirectory zones = zones_with_local(local);
  auto t = parse_reset_time(text, at(now), zones);
  return t ? format_time_utc(*t) : "none";
}

TEST(ResetTimeTest, EpochAfterABar) {
  EXPECT_EQ(reset("Claude AI usage limit reached|1767225600", "2025-12-31T20:00:00Z"),
            "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(reset("|1767225600", "2025-12-31T20:00:00Z"), "2026-01-01T00:00:00.000Z");
}

TEST(ResetTimeTest, EpochNeedsTenDigits) {
  EXPECT_EQ(reset("limit reached|17672256", "2025-12-31T20:00:00Z"), "none");
  EXPECT_EQ(reset("limit reached|176722560012", "2025-12-31T20:00:00Z"), "none");
}

TEST(ResetTimeTest, ClockTimeWithNamedZoneLaterToday) {
  // 10:00Z is 10:00 in London in January; 4:20pm is later today.
  EXPECT_EQ(reset("resets 4:20pm (Europe/London)", "2026-01-15T10:00:00Z"),
            "2026-01-15T16:20:00.000Z");
}

TEST(ResetTimeTest, ClockTimeAlreadyPastMeansTomorrow) {
  EXPECT_EQ(reset("resets 4am (Europe/London)", "2026-01-15T10:00:00Z"),
            "2026-01-16T04:00:00.000Z");
}

TEST(ResetTimeTest, ClockTimeInSummerUsesDaylightOffset) {
  EXPECT_EQ(reset("resets 4:20pm (Europe/London)", "2026-07-15T10:00:00Z"),
            "2026-07-15T15:20:00.000Z");
}

TEST(ResetTimeTest, ClockTimeAcrossTheSpringChangeUsesTheNewOffset) {
  // Now is 23:00 GMT on Saturday 28 March 2026; 4am Sunday is after the
  // 01:00Z change to BST, so it is 03:00Z.
  EXPECT_EQ(reset("resets 4am (Europe/London)", "2026-03-28T23:00:00Z"),
            "2026-03-29T03:00:00.000Z");
}

TEST(ResetTimeTest, ClockTimeInTheSpringGapMovesForward) {
  // 1:30am does not exist on 2026-03-29 in London.
  EXPECT_EQ(reset("resets 1:30am (Europe/London)", "2026-03-28T23:00:00Z"),
            "2026-03-29T01:30:00.000Z");
}

TEST(ResetTimeTest, ClockTimeWithoutZoneIsLocal) {
  EXPECT_EQ(reset("5-hour limit reached ∙ resets 4am", "2026-01-15T10:00:00Z", "Asia/Tokyo"),
            "2026-01-15T19:00:00.000Z");
  EXPECT_EQ(reset("resets 4pm", "2026-01-15T10:00:00Z", "America/New_York"),
            "2026-01-15T21:00:00.000Z");
}

TEST(ResetTimeTest, NoLocalZoneMeansNoReset) {
  ZoneinfoDirectory zones(kZoneinfo, "/nonexistent/localtime");
  EXPECT_EQ(parse_reset_time("resets 4pm", at("2026-01-15T10:00:00Z"), zones), std::nullopt);
}

TEST(ResetTimeTest, UnknownZoneMeansNoReset) {
  EXPECT_EQ(reset("resets 4pm (Mars/Olympus)", "2026-01-15T10:00:00Z"), "none");
  EXPECT_EQ(reset("resets 4pm (../../etc/passwd)", "2026-01-15T10:00:00Z"), "none");
}

TEST(ResetTimeTest, TwelveAmAndPm) {
  EXPECT_EQ(reset("resets 12am (UTC)", "2026-01-15T10:00:00Z"), "2026-01-16T00:00:00.000Z");
  EXPECT_EQ(reset("resets 12pm (UTC)", "2026-01-15T10:00:00Z"), "2026-01-15T12:00:00.000Z");
  EXPECT_EQ(reset("resets 12:50am (America/Los_Angeles)", "2026-09-10T12:00:00Z"),
            "2026-09-11T07:50:00.000Z");
}

TEST(ResetTimeTest, TwentyFourHourClock) {
  EXPECT_EQ(reset("resets 16:20 (UTC)", "2026-01-15T10:00:00Z"), "2026-01-15T16:20:00.000Z");
  EXPECT_EQ(reset("resets 25:20 (UTC)", "2026-01-15T10:00:00Z"), "none");
  EXPECT_EQ(reset("resets 13pm (UTC)", "2026-01-15T10:00:00Z"), "none");
}

TEST(ResetTimeTest, BareHourWithoutAmPmIsNotATime) {
  EXPECT_EQ(reset("resets at 4", "2026-01-15T10:00:00Z"), "none");
  EXPECT_EQ(reset("5-hour limit reached", "2026-01-15T10:00:00Z"), "none");
}

TEST(ResetTimeTest, GmtOffsetIsTheEverydaySense) {
  // Gemini: "Access resets at 10:57 PM GMT-3." (three hours behind UTC)
  EXPECT_EQ(reset("Access resets at 10:57 PM GMT-3.", "2026-03-16T12:00:00Z"),
            "2026-03-17T01:57:00.000Z");
  EXPECT_EQ(reset("resets at 9am UTC+5:30", "2026-03-16T12:00:00Z"), "2026-03-17T03:30:00.000Z");
  EXPECT_EQ(reset("resets at 9am GMT", "2026-03-16T06:00:00Z"), "2026-03-16T09:00:00.000Z");
}

TEST(ResetTimeTest, EtcZonesKeepPosixSign) {
  // "(Etc/GMT+5)" is a zoneinfo name: five hours BEHIND UTC.
  EXPECT_EQ(reset("reset at 1pm (Etc/GMT+5)", "2025-06-14T12:00:00Z"), "2025-06-14T18:00:00.000Z");
}

TEST(ResetTimeTest, MonthAndDay) {
  EXPECT_EQ(reset("resets Feb 20, 5pm (Africa/Libreville)", "2026-02-13T12:00:00Z"),
            "2026-02-20T16:00:00.000Z");
  EXPECT_EQ(reset("resets Sep 15 at 7pm", "2026-09-10T12:00:00Z", "America/New_York"),
            "2026-09-15T23:00:00.000Z");
  EXPECT_EQ(reset("Resets Jan 12, 10:59am (America/New_York)", "2026-01-07T14:00:00Z"),
            "2026-01-12T15:59:00.000Z");
}

TEST(ResetTimeTest, MonthAndDayEarlyNextYear) {
  EXPECT_EQ(reset("resets Jan 2, 9am (UTC)", "2026-12-30T12:00:00Z"), "2027-01-02T09:00:00.000Z");
}

TEST(ResetTimeTest, MonthAndDayJustPastStaysThisYear) {
  // An hour ago: a reset already passed, not next year's.
  EXPECT_EQ(reset("resets Jan 12, 10am (UTC)", "2026-01-12T11:00:00Z"), "2026-01-12T10:00:00.000Z");
}

TEST(ResetTimeTest, MonthDayOrdinalAndYear) {
  // Codex: "or try again at Jul 5th, 2026 8:19 PM."
  EXPECT_EQ(
      reset("try again at Jul 5th, 2026 8:19 PM.", "2026-06-05T12:00:00Z", "America/New_York"),
      "2026-07-06T00:19:00.000Z");
}

TEST(ResetTimeTest, ImpossibleDateMeansNoReset) {
  EXPECT_EQ(reset("resets Feb 30, 5pm (UTC)", "2026-02-13T12:00:00Z"), "none");
}

TEST(ResetTimeTest, RelativeAmounts) {
  EXPECT_EQ(reset("try again in 5 days 22 hours 11 minutes.", "2025-09-19T12:00:00Z"),
            "2025-09-25T10:11:00.000Z");
  EXPECT_EQ(reset("try again in 3 hours 15 minutes", "2025-09-19T12:00:00Z"),
            "2025-09-19T15:15:00.000Z");
  EXPECT_EQ(reset("(Resets in 8h 6m)", "2025-09-19T12:00:00Z"), "2025-09-19T20:06:00.000Z");
  EXPECT_EQ(reset("try again in 2 days, 1 hour and 30 seconds", "2025-09-19T12:00:00Z"),
            "2025-09-21T13:00:30.000Z");
  EXPECT_EQ(reset("try again in 3h15m", "2025-09-19T12:00:00Z"), "2025-09-19T15:15:00.000Z");
}

TEST(ResetTimeTest, RelativeAmountCutOffAtALineEndIsUnknown) {
  // Codex's message wrapped before "minutes.": the 11 could be anything.
  EXPECT_EQ(reset("or try again in 5 days 22 hours 11", "2025-09-19T12:00:00Z"), "none");
}

TEST(ResetTimeTest, RelativeWithUnknownUnitIsUnknown) {
  EXPECT_EQ(reset("try again in 5 fortnights", "2025-09-19T12:00:00Z"), "none");
}

TEST(ResetTimeTest, IsoForms) {
  EXPECT_EQ(reset("You will regain access on 2026-04-01 at 00:00 UTC.", "2026-03-23T23:08:46Z"),
            "2026-04-01T00:00:00.000Z");
  EXPECT_EQ(reset("resets_at 2026-01-01T10:00:00Z", "2025-12-31T00:00:00Z"),
            "2026-01-01T10:00:00.000Z");
  EXPECT_EQ(reset("until 2026-01-01T10:00:00+02:00", "2025-12-31T00:00:00Z"),
            "2026-01-01T08:00:00.000Z");
  EXPECT_EQ(reset("until 2026-07-01 10:00", "2025-12-31T00:00:00Z", "Europe/London"),
            "2026-07-01T09:00:00.000Z");
}

TEST(ResetTimeTest, IsoWithImpossibleDateIsUnknown) {
  EXPECT_EQ(reset("until 2026-02-30T10:00:00Z", "2025-12-31T00:00:00Z"), "none");
}

TEST(ResetTimeTest, TextWithoutATimeIsUnknown) {
  EXPECT_EQ(reset("Claude usage limit reached.", "2026-01-15T10:00:00Z"), "none");
  EXPECT_EQ(reset("", "2026-01-15T10:00:00Z"), "none");
  EXPECT_EQ(reset("resets soon", "2026-01-15T10:00:00Z"), "none");
}

TEST(ResetTimeTest, EpochWinsOverOtherForms) {
  EXPECT_EQ(reset("resets 4pm (UTC)|1767225600", "2025-12-31T20:00:00Z"),
            "2026-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace aw::agents
