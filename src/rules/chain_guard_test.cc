#include "src/rules/chain_guard.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const MonoTime kT0{seconds(100)};

TEST(ChainGuard, RealEventsAlwaysFireAndAreNeverThrottled) {
  ChainGuard g(ChainPolicy{.max_depth = 8, .rate = 1, .burst = 1});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(g.offer("r", 0, kT0).verdict, ChainVerdict::kFire);
}

TEST(ChainGuard, AChainIsCutAtMaxDepth) {
  ChainGuard g(ChainPolicy{.max_depth = 3, .rate = 100, .burst = 100});
  EXPECT_EQ(g.offer("r", 2, kT0).verdict, ChainVerdict::kFire);
  EXPECT_EQ(g.offer("r", 3, kT0).verdict, ChainVerdict::kTooDeep);
  EXPECT_EQ(g.offer("r", 40, kT0).verdict, ChainVerdict::kTooDeep);
}

TEST(ChainGuard, DerivedFiringsSpendABucketPerRuleAndRefillWithTime) {
  ChainGuard g(ChainPolicy{.max_depth = 8, .rate = 10, .burst = 3});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g.offer("a", 1, kT0).verdict, ChainVerdict::kFire);
  ChainDecision first = g.offer("a", 1, kT0);
  EXPECT_EQ(first.verdict, ChainVerdict::kThrottled);
  EXPECT_TRUE(first.first_drop);
  ChainDecision second = g.offer("a", 2, kT0);
  EXPECT_EQ(second.verdict, ChainVerdict::kThrottled);
  EXPECT_FALSE(second.first_drop) << "one report per episode";
  // Another rule has its own bucket.
  EXPECT_EQ(g.offer("b", 1, kT0).verdict, ChainVerdict::kFire);
  // 100 ms at 10/s is one token: a firing, but the episode goes on.
  ChainDecision later = g.offer("a", 1, kT0 + milliseconds(100));
  EXPECT_EQ(later.verdict, ChainVerdict::kFire);
  EXPECT_EQ(later.dropped_before, 0u);
  ChainDecision again = g.offer("a", 1, kT0 + milliseconds(100));
  EXPECT_EQ(again.verdict, ChainVerdict::kThrottled);
  EXPECT_FALSE(again.first_drop) << "still the same episode";
  // A long quiet refills the bucket (only up to the burst) and ends the episode:
  // its drops are handed over once, and the next drop is a new report.
  ChainDecision quiet = g.offer("a", 1, kT0 + seconds(60));
  EXPECT_EQ(quiet.verdict, ChainVerdict::kFire);
  EXPECT_EQ(quiet.dropped_before, 3u);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(g.offer("a", 1, kT0 + seconds(60)).verdict, ChainVerdict::kFire);
  ChainDecision next = g.offer("a", 1, kT0 + seconds(60));
  EXPECT_EQ(next.verdict, ChainVerdict::kThrottled);
  EXPECT_TRUE(next.first_drop);
}

TEST(ChainGuard, AFastLoopStaysUnderItsBudgetForHours) {
  ChainGuard g(ChainPolicy{.max_depth = 8, .rate = 10, .burst = 32});
  std::uint64_t fired = 0;
  // An outcome every millisecond for an hour of manual time.
  for (std::int64_t ms = 0; ms < 3'600'000; ++ms)
    fired += g.offer("loop", 1, kT0 + milliseconds(ms)).verdict == ChainVerdict::kFire;
  EXPECT_LE(fired, 32u + 10u * 3600u);
  EXPECT_GE(fired, 10u * 3600u);
}

TEST(ChainGuard, NamesTheRulesOnAChainOldestFirst) {
  ChainGuard g;
  g.record(11, 10, "start-it");
  g.record(12, 11, "on-failure");
  g.record(13, 12, "on-failure");
  EXPECT_EQ(g.chain_of(13), (std::vector<std::string>{"start-it", "on-failure", "on-failure"}));
  EXPECT_EQ(g.chain_of(10), std::vector<std::string>{});
  // A cycle in the links (impossible by seq, but bounded all the same).
  g.record(20, 21, "x");
  g.record(21, 20, "y");
  EXPECT_EQ(g.chain_of(20).size(), 9u);
}

TEST(ChainGuard, KnowsAChainThatGrewFromALoopReport) {
  ChainGuard g;
  g.record(11, 10, "a");  // 10 is a real event
  g.record(12, 11, "b");
  g.record_loop_report(13);  // rule.loop about 12
  g.record(14, 13, "alert");
  g.record(15, 14, "b");
  EXPECT_TRUE(g.descends_from_loop_report(15));
  EXPECT_TRUE(g.descends_from_loop_report(13));
  EXPECT_FALSE(g.descends_from_loop_report(12));
  EXPECT_FALSE(g.descends_from_loop_report(99));
}

TEST(ChainGuard, MemoryIsBounded) {
  ChainGuard g;
  for (std::uint64_t s = 1; s <= 3 * ChainGuard::kChainMemory; ++s) g.record(s, s - 1, "r");
  EXPECT_EQ(g.chain_of(1), std::vector<std::string>{});
  EXPECT_EQ(g.chain_of(3 * ChainGuard::kChainMemory).size(), 9u);
}

TEST(ChainGuard, RetainRulesForgetsRemovedRulesBuckets) {
  ChainGuard g(ChainPolicy{.max_depth = 8, .rate = 0, .burst = 1});
  EXPECT_EQ(g.offer("gone", 1, kT0).verdict, ChainVerdict::kFire);
  EXPECT_EQ(g.offer("gone", 1, kT0).verdict, ChainVerdict::kThrottled);
  g.retain_rules([](std::string_view name) { return name != "gone"; });
  EXPECT_EQ(g.offer("gone", 1, kT0).verdict, ChainVerdict::kFire) << "a fresh bucket";
}

}  // namespace
}  // namespace aw
