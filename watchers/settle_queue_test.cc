#include "watchers/settle_queue.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Duration kSettle = milliseconds(250);

// Both clocks: mono from 0, wall from a fixed epoch, moved together unless a
// test jumps the wall clock.
struct Clocks {
  MonoTime mono{};
  WallTime wall{seconds(1'700'000'000)};
  ClockSnapshot now() const { return {mono, wall}; }
  void advance(Duration d) {
    mono += d;
    wall += d;
  }
  // A version written `ago` before now.
  FileVersion written(Duration ago, std::int64_t size = 10, std::int64_t inode = 1) const {
    return FileVersion{size, (wall - ago).time_since_epoch().count(), inode, 1};
  }
};

TEST(SettleQueueTest, OldFileLandsAtOnce) {
  SettleQueue q(kSettle);
  Clocks c;
  EXPECT_FALSE(q.offer("old", c.written(seconds(5)), c.now()));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.next_due()) << "nothing held: no alarm";
}

TEST(SettleQueueTest, ZeroSettleHoldsNothing) {
  SettleQueue q(Duration(0));
  Clocks c;
  EXPECT_FALSE(q.offer("new", c.written(Duration(0)), c.now()));
}

TEST(SettleQueueTest, RecentFileIsHeldForWhatIsLeftOfTheSettlePeriod) {
  SettleQueue q(kSettle);
  Clocks c;
  const FileVersion v = c.written(milliseconds(100));
  ASSERT_TRUE(q.offer("f", v, c.now()));
  EXPECT_EQ(q.next_due(), c.mono + milliseconds(150));
  EXPECT_TRUE(q.take_due(c.mono + milliseconds(149), 10).empty());
  c.advance(milliseconds(150));
  EXPECT_EQ(q.take_due(c.mono, 10), (std::vector<std::string>{"f"}));
  EXPECT_TRUE(q.holds("f")) << "taken for a re-check, still held";
  EXPECT_FALSE(q.next_due());
  EXPECT_EQ(q.recheck("f", v, c.now()), SettleQueue::Verdict::kLand);
  EXPECT_EQ(q.size(), 0u);
}

TEST(SettleQueueTest, FileThatChangesWaitsAgainFromTheChange) {
  SettleQueue q(kSettle);
  Clocks c;
  ASSERT_TRUE(q.offer("f", c.written(Duration(0), 10), c.now()));
  c.advance(kSettle);
  ASSERT_EQ(q.take_due(c.mono, 10).size(), 1u);
  const FileVersion grown = c.written(milliseconds(10), 20);
  EXPECT_EQ(q.recheck("f", grown, c.now()), SettleQueue::Verdict::kWaiting);
  EXPECT_EQ(q.next_due(), c.mono + milliseconds(240));
  c.advance(milliseconds(240));
  ASSERT_EQ(q.take_due(c.mono, 10).size(), 1u);
  EXPECT_EQ(q.recheck("f", grown, c.now()), SettleQueue::Verdict::kLand);
}

TEST(SettleQueueTest, FileGoneAtItsRecheckIsDropped) {
  SettleQueue q(kSettle);
  Clocks c;
  ASSERT_TRUE(q.offer("f", c.written(Duration(0)), c.now()));
  c.advance(kSettle);
  ASSERT_EQ(q.take_due(c.mono, 10).size(), 1u);
  EXPECT_EQ(q.recheck("f", std::nullopt, c.now()), SettleQueue::Verdict::kDropped);
  EXPECT_EQ(q.size(), 0u);
}

TEST(SettleQueueTest, ReleasedFileIsNotRechecked) {
  // Its close_write landed it first.
  SettleQueue q(kSettle);
  Clocks c;
  ASSERT_TRUE(q.offer("f", c.written(Duration(0)), c.now()));
  q.release("f");
  EXPECT_FALSE(q.next_due());
  EXPECT_EQ(q.recheck("f", c.written(Duration(0)), c.now()), SettleQueue::Verdict::kNotHeld);
}

TEST(SettleQueueTest, ReleaseUnderTakesTheSubtreeOnly) {
  SettleQueue q(kSettle);
  Clocks c;
  for (const char* rel : {"a/x", "a/y/z", "a-b", "b"})
    ASSERT_TRUE(q.offer(rel, c.written(Duration(0)), c.now()));
  q.release_under("a");
  EXPECT_FALSE(q.holds("a/x"));
  EXPECT_FALSE(q.holds("a/y/z"));
  EXPECT_TRUE(q.holds("a-b"));
  EXPECT_TRUE(q.holds("b"));
  q.release_under("");
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.next_due());
}

TEST(SettleQueueTest, FoundAgainUnchangedKeepsItsTiming) {
  SettleQueue q(kSettle);
  Clocks c;
  const FileVersion v = c.written(Duration(0));
  ASSERT_TRUE(q.offer("f", v, c.now()));
  c.advance(milliseconds(100));
  ASSERT_TRUE(q.offer("f", v, c.now()));  // another scan
  EXPECT_EQ(q.next_due(), MonoTime(kSettle));
}

TEST(SettleQueueTest, FutureMtimeWaitsTheWholeSettlePeriodUnchanged) {
  SettleQueue q(kSettle);
  Clocks c;
  const FileVersion v = c.written(-seconds(60));  // mtime a minute ahead
  ASSERT_TRUE(q.offer("f", v, c.now()));
  EXPECT_EQ(q.next_due(), c.mono + kSettle);
  c.advance(kSettle);
  ASSERT_EQ(q.take_due(c.mono, 10).size(), 1u);
  EXPECT_EQ(q.recheck("f", v, c.now()), SettleQueue::Verdict::kLand);
}

TEST(SettleQueueTest, WallClockJumpingBackDoesNotHoldForever) {
  SettleQueue q(kSettle);
  Clocks c;
  const FileVersion v = c.written(Duration(0));
  ASSERT_TRUE(q.offer("f", v, c.now()));
  c.wall -= std::chrono::hours(1);  // NTP step back: the mtime now looks an hour ahead
  c.advance(kSettle);
  ASSERT_EQ(q.take_due(c.mono, 10).size(), 1u);
  EXPECT_EQ(q.recheck("f", v, c.now()), SettleQueue::Verdict::kLand)
      << "unchanged for the whole settle period on the monotonic clock";
}

TEST(SettleQueueTest, EarlyAlarmWaitsAgain) {
  SettleQueue q(kSettle);
  Clocks c;
  const FileVersion v = c.written(Duration(0));
  ASSERT_TRUE(q.offer("f", v, c.now()));
  c.advance(milliseconds(10));
  EXPECT_EQ(q.recheck("f", v, c.now()), SettleQueue::Verdict::kWaiting);
  EXPECT_EQ(q.next_due(), MonoTime(kSettle));
}

TEST(SettleQueueTest, TakeDueIsBoundedAndOrdered) {
  SettleQueue q(kSettle);
  Clocks c;
  ASSERT_TRUE(q.offer("c", c.written(Duration(0)), c.now()));
  ASSERT_TRUE(q.offer("a", c.written(Duration(0)), c.now()));
  ASSERT_TRUE(q.offer("b", c.written(milliseconds(50)), c.now()));  // due first
  c.advance(kSettle);
  EXPECT_EQ(q.take_due(c.mono, 2), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(q.take_due(c.mono, 2), (std::vector<std::string>{"c"}));
}

TEST(SettleQueueTest, AFileRewrittenForHoursNeverLandsAndStaysOneEntry) {
  // A writer appends every 100 ms for two hours: each re-check sees a new
  // version and waits again; nothing lands, one entry, one deadline.
  SettleQueue q(kSettle);
  Clocks c;
  std::int64_t size = 1;
  ASSERT_TRUE(q.offer("log", c.written(Duration(0), size), c.now()));
  int lands = 0;
  for (int i = 0; i < 72'000; ++i) {
    c.advance(milliseconds(100));
    ++size;
    for (const auto& rel : q.take_due(c.mono, 10))
      if (q.recheck(rel, c.written(Duration(0), size), c.now()) == SettleQueue::Verdict::kLand)
        ++lands;
  }
  EXPECT_EQ(lands, 0);
  EXPECT_EQ(q.size(), 1u);
  ASSERT_TRUE(q.next_due());
}

}  // namespace
}  // namespace aw
