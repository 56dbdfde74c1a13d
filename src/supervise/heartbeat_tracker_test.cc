#include "src/supervise/heartbeat_tracker.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Signal = HeartbeatStep::Signal;

const WallTime kT0 = WallTime(seconds(1'700'000'000));

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
  t.begin(kT0);
  EXPECT_EQ(t.status(), HeartbeatStatus::kPending);
  // The log was last written an hour before this run started.
  HeartbeatStep s = t.observe(sample(100, kT0 - hours(1)), kT0);
  EXPECT_EQ(s.signal, Signal::kNothing);
  EXPECT_EQ(t.status(), HeartbeatStatus::kFresh);
  EXPECT_EQ(t.last_growth(), kT0);
  EXPECT_EQ(s.next_check, kT0 + minutes(10));
}

// Eight hours of a worker's life, checked only at the deadlines the tracker asks for.
TEST(HeartbeatTracker, HoursOfLifeInMicrosecondsLostOnceThenResumed) {
  HeartbeatTracker t(minutes(10));
  t.begin(kT0);
  WallTime now = kT0;
  HeartbeatStep s = t.observe(sample(0, kT0), now);
  int checks = 1;
  // It writes every 3 minutes for two hours: each check lands at mtime + 10m,
  // so there are about 12 checks, not one per write or per minute.
  std::int64_t size = 0;
  WallTime last_write = kT0;
  while (now < kT0 + hours(2)) {
    now = s.next_check;
    while (last_write + minutes(3) <= now && last_write + minutes(3) <= kT0 + hours(2)) {
      last_write += minutes(3);
      size += 10;
    }
    s = t.observe(sample(size, last_write), now);
    ++checks;
    ASSERT_EQ(s.signal, Signal::kNothing) << "at +" << to_ms(now - kT0) / 60000 << "m";
    ASSERT_EQ(t.status(), HeartbeatStatus::kFresh);
    ASSERT_EQ(s.next_check, last_write + minutes(10));
  }
  EXPECT_LE(checks, 20);
  // Then it stops writing: lost once, at its last write + 10m.
  now = s.next_check;
  s = t.observe(sample(size, last_write), now);
  EXPECT_EQ(s.signal, Signal::kLost);
  EXPECT_EQ(t.status(), HeartbeatStatus::kStale);
  EXPECT_EQ(now, last_write + minutes(10));
  EXPECT_TRUE(t.lost());
  // Still nothing for hours: stale, never reported twice; one look per timeout.
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(s.next_check, now + minutes(10));
    now = s.next_check;
    s = t.observe(sample(size, last_write), now);
    ASSERT_EQ(s.signal, Signal::kNothing);
    ASSERT_EQ(t.status(), HeartbeatStatus::kStale);
  }
  // It writes again: resumed, and fresh from the new mtime.
  WallTime wrote = now + minutes(4);
  now += minutes(5);
  s = t.observe(sample(size + 1, wrote), now);
  EXPECT_EQ(s.signal, Signal::kResumed);
  EXPECT_EQ(t.status(), HeartbeatStatus::kFresh);
  EXPECT_FALSE(t.lost());
  EXPECT_EQ(t.last_growth(), wrote);
  EXPECT_EQ(s.next_check, wrote + minutes(10));
  // And can be lost again (a new episode).
  now = s.next_check;
  s = t.observe(sample(size + 1, wrote), now);
  EXPECT_EQ(s.signal, Signal::kLost);
}

TEST(HeartbeatTracker, AFileThatCannotBeStatedIsUnknownNeverLost) {
  HeartbeatTracker t(minutes(10));
  t.begin(kT0);
  HeartbeatStep s = t.observe(failed("No such file or directory"), kT0);
  EXPECT_EQ(s.signal, Signal::kUnknown);
  EXPECT_EQ(t.status(), HeartbeatStatus::kUnknown);
  EXPECT_EQ(t.error(), "No such file or directory");
  EXPECT_EQ(s.next_check, kT0 + minutes(10));
  // Unknown for hours: reported once, never a loss.
  for (int i = 1; i <= 20; ++i) {
    s = t.observe(failed("No such file or directory"), kT0 + i * minutes(10));
    ASSERT_EQ(s.signal, Signal::kNothing);
    ASSERT_FALSE(t.lost());
  }
  // The file appears: fresh, counted from when it was written.
  WallTime now = kT0 + hours(4);
  s = t.observe(sample(5, now - minutes(1)), now);
  EXPECT_EQ(s.signal, Signal::kNothing);
  EXPECT_EQ(t.status(), HeartbeatStatus::kFresh);
  EXPECT_EQ(t.error(), "");
  EXPECT_EQ(s.next_check, now + minutes(9));
}

TEST(HeartbeatTracker, UnknownBetweenTwoEqualSamplesDoesNotHideALoss) {
  HeartbeatTracker t(minutes(10));
  t.begin(kT0);
  t.observe(sample(5, kT0), kT0);
  t.observe(failed("Permission denied"), kT0 + minutes(5));
  EXPECT_EQ(t.status(), HeartbeatStatus::kUnknown);
  HeartbeatStep s = t.observe(sample(5, kT0), kT0 + minutes(15));
  EXPECT_EQ(s.signal, Signal::kLost);  // compared with the last good sample
  EXPECT_EQ(t.last_growth(), kT0);
}

TEST(HeartbeatTracker, FutureMtimeCountsAsNowAndBeginForgetsTheLastRun) {
  HeartbeatTracker t(minutes(10));
  t.begin(kT0);
  HeartbeatStep s = t.observe(sample(1, kT0 + hours(5)), kT0);  // clock skew
  EXPECT_EQ(t.last_growth(), kT0);
  EXPECT_EQ(s.next_check, kT0 + minutes(10));
  t.observe(sample(1, kT0 + hours(5)), kT0 + minutes(10));
  EXPECT_TRUE(t.lost());
  t.begin(kT0 + hours(1));
  EXPECT_FALSE(t.lost());
  EXPECT_EQ(t.status(), HeartbeatStatus::kPending);
  EXPECT_FALSE(t.last_good().ok);
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
