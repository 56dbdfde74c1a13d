#include "src/supervise/heartbeat_tracker.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Signal = HeartbeatStep::Signal;

const WallTime kT0 = WallTime(seconds(1'700'000'000));
const MonoTime kM0 = MonoTime(hours(100));

// The monotonic time at wall time `w`, for a wall clock nobody sets.
MonoTime mono(WallTime w) {
  return kM0 + (w - kT0);
}
ClockSnapshot at(WallTime w) {
  return {mono(w), w};
}

FileSample sample(std::int64_t size, WallTime mtime) {
  FileSample s;
  s.ok = true;
  s.size = size;
  s.mtime = mtime;
  return s;
}

FileSample failed(const char* why) {
  FileSample s;
  s.error = why;
  return s;
}

TEST(FileGrew, SizeOrMtimeAndOnlyBetweenGoodSamples) {
  EXPECT_TRUE(file_grew(sample(1, kT0), sample(2, kT0)));
  EXPECT_TRUE(file_grew(sample(1, kT0), sample(1, kT0 + seconds(1))));  // rewritten in place
  EXPECT_FALSE(file_grew(sample(1, kT0), sample(1, kT0)));
  EXPECT_FALSE(file_grew(failed("ENOENT"), sample(1, kT0)));
  EXPECT_FALSE(file_grew(sample(1, kT0), failed("ENOENT")));
}

TEST(HeartbeatTracker, ANewRunIsNotStaleBecauseOfAnOldLog) {
  HeartbeatTracker t(minutes(10));
  EXPECT_EQ(t.status(), HeartbeatStatus::kNone);
  t.begin(mono(kT0));
  EXPECT_EQ(t.status(), HeartbeatStatus::kPending);
  // The log was last written an hour before this run started.
  HeartbeatStep s = t.observe(sample(100, kT0 - hours(1)), at(kT0));
  EXPECT_EQ(s.signal, Signal::kNothing);
  EXPECT_EQ(t.status(), HeartbeatStatus::kFresh);
  EXPECT_EQ(t.last_growth(), mono(kT0));
  EXPECT_EQ(s.next_check, mono(kT0 + minutes(10)));
}

// Eight hours of a worker's life, checked only at the deadlines the tracker asks for.
TEST(HeartbeatTracker, HoursOfLifeInMicrosecondsLostOnceThenResumed) {
  HeartbeatTracker t(minutes(10));
  t.begin(mono(kT0));
  WallTime now = kT0;
  HeartbeatStep s = t.observe(sample(0, kT0), at(now));
  int checks = 1;
  // It writes every 3 minutes for two hours: each check lands at mtime + 10m,
  // so there are about 12 checks, not one per write or per minute.
  std::int64_t size = 0;
  WallTime last_write = kT0;
  while (now < kT0 + hours(2)) {
    now = kT0 + (s.next_check - kM0);
    while (last_write + minutes(3) <= now && last_write + minutes(3) <= kT0 + hours(2)) {
      last_write += minutes(3);
      size += 10;
    }
    s = t.observe(sample(size, last_write), at(now));
    ++checks;
    ASSERT_EQ(s.signal, Signal::kNothing) << "at +" << to_ms(now - kT0) / 60000 << "m";
    ASSERT_EQ(t.status(), HeartbeatStatus::kFresh);
    ASSERT_EQ(s.next_check, mono(last_write + minutes(10)));
  }
  EXPECT_LE(checks, 20);
  // Then it stops writing: lost once, at its last write + 10m.
  now = kT0 + (s.next_check - kM0);
  s = t.observe(sample(size, last_write), at(now));
  EXPECT_EQ(s.signal, Signal::kLost);
  EXPECT_EQ(t.status(), HeartbeatStatus::kStale);
  EXPECT_EQ(now, last_write + minutes(10));
  EXPECT_TRUE(t.lost());
  // Still nothing for hours: stale, never reported twice; one look per timeout.
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(s.next_check, mono(now + minutes(10)));
    now = kT0 + (s.next_check - kM0);
    s = t.observe(sample(size, last_write), at(now));
    ASSERT_EQ(s.signal, Signal::kNothing);
    ASSERT_EQ(t.status(), HeartbeatStatus::kStale);
  }
  // It writes again: resumed, and fresh from the new mtime.
  WallTime wrote = now + minutes(4);
  now += minutes(5);
  s = t.observe(sample(size + 1, wrote), at(now));
  EXPECT_EQ(s.signal, Signal::kResumed);
  EXPECT_EQ(t.status(), HeartbeatStatus::kFresh);
  EXPECT_FALSE(t.lost());
  EXPECT_EQ(t.last_growth(), mono(wrote));
  EXPECT_EQ(s.next_check, mono(wrote + minutes(10)));
  // And can be lost again (a new episode).
  now = kT0 + (s.next_check - kM0);
  s = t.observe(sample(size + 1, wrote), at(now));
  EXPECT_EQ(s.signal, Signal::kLost);
}

TEST(HeartbeatTracker, AFileThatCannotBeStatedIsUnknownNeverLost) {
  HeartbeatTracker t(minutes(10));
  t.begin(mono(kT0));
  HeartbeatStep s = t.observe(failed("No such file or directory"), at(kT0));
  EXPECT_EQ(s.signal, Signal::kUnknown);
  EXPECT_EQ(t.status(), HeartbeatStatus::kUnknown);
  EXPECT_EQ(t.error(), "No such file or directory");
  EXPECT_EQ(s.next_check, mono(kT0 + minutes(10)));
  // Unknown for hours: reported once, never a loss.
  for (int i = 1; i <= 20; ++i) {
    s = t.observe(failed("No such file or directory"), at(kT0 + i * minutes(10)));
    ASSERT_EQ(s.signal, Signal::kNothing);
    ASSERT_FALSE(t.lost());
  }
  // The file appears: fresh, counted from when it was written.
  WallTime now = kT0 + hours(4);
  s = t.observe(sample(5, now - minutes(1)), at(now));
  EXPECT_EQ(s.signal, Signal::kNothing);
  EXPECT_EQ(t.status(), HeartbeatStatus::kFresh);
  EXPECT_EQ(t.error(), "");
  EXPECT_EQ(s.next_check, mono(now + minutes(9)));
}

TEST(HeartbeatTracker, UnknownBetweenTwoEqualSamplesDoesNotHideALoss) {
  HeartbeatTracker t(minutes(10));
  t.begin(mono(kT0));
  t.observe(sample(5, kT0), at(kT0));
  t.observe(failed("Permission denied"), at(kT0 + minutes(5)));
  EXPECT_EQ(t.status(), HeartbeatStatus::kUnknown);
  HeartbeatStep s = t.observe(sample(5, kT0), at(kT0 + minutes(15)));
  EXPECT_EQ(s.signal, Signal::kLost);  // compared with the last good sample
  EXPECT_EQ(t.last_growth(), mono(kT0));
}

TEST(HeartbeatTracker, FutureMtimeCountsAsNowAndBeginForgetsTheLastRun) {
  HeartbeatTracker t(minutes(10));
  t.begin(mono(kT0));
  HeartbeatStep s = t.observe(sample(1, kT0 + hours(5)), at(kT0));  // clock skew
  EXPECT_EQ(t.last_growth(), mono(kT0));
  EXPECT_EQ(s.next_check, mono(kT0 + minutes(10)));
  t.observe(sample(1, kT0 + hours(5)), at(kT0 + minutes(10)));
  EXPECT_TRUE(t.lost());
  t.begin(mono(kT0 + hours(1)));
  EXPECT_FALSE(t.lost());
  EXPECT_EQ(t.status(), HeartbeatStatus::kPending);
  EXPECT_FALSE(t.last_good().ok);
}

// The wall clock set forward an hour (an NTP step) while the file is fresh:
// nothing is lost until heartbeat_timeout of monotonic time has passed, and a
// growth written before the step (its mtime now looks an hour old) counts as
// seen when it was seen, not as an hour old.
TEST(HeartbeatTracker, WallClockSetForwardReportsNoLossEarly) {
  HeartbeatTracker t(minutes(10));
  ManualClock clock(kT0);
  auto now = [&] { return ClockSnapshot::of(clock); };
  t.begin(clock.mono());
  t.observe(sample(100, kT0), now());
  clock.jump_wall(hours(1));
  clock.advance(minutes(5));
  HeartbeatStep s = t.observe(sample(100, kT0), now());
  EXPECT_EQ(s.signal, Signal::kNothing);
  EXPECT_EQ(t.status(), HeartbeatStatus::kFresh);
  EXPECT_EQ(s.next_check, MonoTime(minutes(10)));
  // It grew at +2 min, before the step: re-based, that mtime is an hour before
  // the previous look, which saw no growth. So it counts as growing now.
  clock.advance(minutes(4));
  s = t.observe(sample(180, kT0 + minutes(2)), now());
  EXPECT_EQ(t.last_growth(), clock.mono());
  EXPECT_EQ(s.next_check, clock.mono() + minutes(10));
  clock.advance(minutes(9));
  EXPECT_EQ(t.observe(sample(180, kT0 + minutes(2)), now()).signal, Signal::kNothing);
  clock.advance(minutes(1));
  EXPECT_EQ(t.observe(sample(180, kT0 + minutes(2)), now()).signal, Signal::kLost);
}

// The wall clock set back an hour: the loss is still reported one timeout
// after the last growth, not an hour later; a growth written after the step
// is dated by its mtime again.
TEST(HeartbeatTracker, WallClockSetBackStillReportsTheLossOnTime) {
  HeartbeatTracker t(minutes(10));
  ManualClock clock(kT0);
  auto now = [&] { return ClockSnapshot::of(clock); };
  t.begin(clock.mono());
  t.observe(sample(100, kT0), now());
  clock.jump_wall(-hours(1));
  clock.advance(minutes(9));
  EXPECT_EQ(t.observe(sample(100, kT0), now()).signal, Signal::kNothing);
  clock.advance(minutes(1));
  HeartbeatStep s = t.observe(sample(100, kT0), now());
  EXPECT_EQ(s.signal, Signal::kLost);
  EXPECT_EQ(t.last_growth(), MonoTime(Duration{0}));
  // Written two minutes after the loss, by the stepped clock; seen a minute later.
  clock.advance(minutes(2));
  const WallTime wrote = clock.wall();
  clock.advance(minutes(1));
  s = t.observe(sample(120, wrote), now());
  EXPECT_EQ(s.signal, Signal::kResumed);
  EXPECT_EQ(t.last_growth(), MonoTime(minutes(12)));
  EXPECT_EQ(s.next_check, MonoTime(minutes(22)));
}

TEST(HeartbeatTracker, StatusNames) {
  EXPECT_STREQ(heartbeat_status_name(HeartbeatStatus::kNone), "none");
  EXPECT_STREQ(heartbeat_status_name(HeartbeatStatus::kPending), "pending");
  EXPECT_STREQ(heartbeat_status_name(HeartbeatStatus::kFresh), "fresh");
  EXPECT_STREQ(heartbeat_status_name(HeartbeatStatus::kStale), "stale");
  EXPECT_STREQ(heartbeat_status_name(HeartbeatStatus::kUnknown), "unknown");
}

}  // namespace
}  // namespace aw
