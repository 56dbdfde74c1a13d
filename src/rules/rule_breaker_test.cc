#include "src/rules/rule_breaker.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const BreakerPolicy kPolicy{3, minutes(10)};

Event event_for(const std::string& path) {
  Event e;
  e.kind = "file.landed";
  e.path = path;
  return e;
}

class RuleBreakerTest : public ::testing::Test {
 protected:
  BreakerAdmission offer(const std::string& path) {
    return breaker_.offer("integrate", kPolicy, event_for(path), now_);
  }
  std::optional<BreakerChange> record(std::uint64_t generation, bool ok) {
    return breaker_.record("integrate", kPolicy, generation, ok, now_);
  }
  // Fails `n` plans in a row; returns the last change.
  std::optional<BreakerChange> fail(int n) {
    std::optional<BreakerChange> last;
    for (int i = 0; i < n; ++i) {
      BreakerAdmission a = offer("/r/completed/s" + std::to_string(i) + "/session.completed");
      EXPECT_TRUE(a.fire);
      last = record(a.generation, false);
    }
    return last;
  }

  RuleBreaker breaker_;
  MonoTime now_{seconds(1000)};
};

TEST_F(RuleBreakerTest, OpensAfterTheConfiguredFailuresInARowAndNotBefore) {
  EXPECT_FALSE(fail(2).has_value());
  EXPECT_EQ(breaker_.state("integrate"), BreakerState::kClosed);
  std::optional<BreakerChange> change = fail(1);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->to, BreakerState::kOpen);
  EXPECT_EQ(change->failures, 3);
  EXPECT_EQ(breaker_.next_deadline(), now_ + minutes(10));
}

TEST_F(RuleBreakerTest, ASuccessResetsTheCount) {
  fail(2);
  BreakerAdmission a = offer("/r/ok");
  EXPECT_FALSE(record(a.generation, true).has_value());
  EXPECT_FALSE(fail(2).has_value());
  EXPECT_EQ(breaker_.state("integrate"), BreakerState::kClosed);
}

TEST_F(RuleBreakerTest, WhileOpenEventsAreHeldNotFired) {
  fail(3);
  EXPECT_FALSE(offer("/r/a").fire);
  EXPECT_FALSE(offer("/r/b").fire);
  EXPECT_EQ(breaker_.held("integrate"), 2u);
}

TEST_F(RuleBreakerTest, AfterTheCoolDownTheOldestHeldEventIsTheTrial) {
  fail(3);
  offer("/r/a");
  offer("/r/b");
  now_ += minutes(9);
  EXPECT_TRUE(breaker_.take_due(now_).empty());
  now_ += minutes(1);
  std::vector<BreakerChange> due = breaker_.take_due(now_);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].to, BreakerState::kHalfOpen);
  ASSERT_EQ(due[0].to_fire.size(), 1u);
  EXPECT_EQ(due[0].to_fire[0].path, "/r/a");
  // While the trial runs, more events wait.
  EXPECT_FALSE(offer("/r/c").fire);
  EXPECT_EQ(breaker_.held("integrate"), 2u);
  EXPECT_FALSE(breaker_.next_deadline().has_value());
}

TEST_F(RuleBreakerTest, ATrialThatSucceedsClosesAndReleasesEverythingHeld) {
  fail(3);
  offer("/r/a");
  offer("/r/b");
  now_ += minutes(10);
  BreakerChange half = breaker_.take_due(now_).at(0);
  std::optional<BreakerChange> closed = record(half.generation, true);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->to, BreakerState::kClosed);
  ASSERT_EQ(closed->to_fire.size(), 1u);
  EXPECT_EQ(closed->to_fire[0].path, "/r/b");
  EXPECT_EQ(breaker_.state("integrate"), BreakerState::kClosed);
  EXPECT_TRUE(offer("/r/d").fire);
}

TEST_F(RuleBreakerTest, ATrialThatFailsOpensAgainForAnotherCoolDown) {
  fail(3);
  offer("/r/a");
  now_ += minutes(10);
  BreakerChange half = breaker_.take_due(now_).at(0);
  std::optional<BreakerChange> again = record(half.generation, false);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->to, BreakerState::kOpen);
  EXPECT_EQ(breaker_.next_deadline(), now_ + minutes(10));
  EXPECT_FALSE(offer("/r/b").fire);
}

TEST_F(RuleBreakerTest, HalfOpenWithNothingHeldTakesTheNextEventAsTheTrial) {
  fail(3);
  now_ += minutes(10);
  BreakerChange half = breaker_.take_due(now_).at(0);
  EXPECT_TRUE(half.to_fire.empty());
  BreakerAdmission trial = offer("/r/next");
  EXPECT_TRUE(trial.fire);
  EXPECT_TRUE(trial.trial);
  EXPECT_FALSE(offer("/r/after").fire);
}

TEST_F(RuleBreakerTest, APlanFromBeforeTheCircuitOpenedDoesNotMoveIt) {
  BreakerAdmission early = offer("/r/early");
  fail(3);
  now_ += minutes(10);
  breaker_.take_due(now_);
  // The early plan ends now: it is not the trial, so it neither closes nor re-opens.
  EXPECT_FALSE(record(early.generation, true).has_value());
  EXPECT_FALSE(record(early.generation, false).has_value());
  EXPECT_EQ(breaker_.state("integrate"), BreakerState::kHalfOpen);
}

TEST_F(RuleBreakerTest, HoldsAtMostItsBoundAndCountsWhatItDropped) {
  fail(3);
  for (std::size_t i = 0; i < RuleBreaker::kMaxHeld + 5; ++i) offer("/r/" + std::to_string(i));
  EXPECT_EQ(breaker_.held("integrate"), RuleBreaker::kMaxHeld);
  now_ += minutes(10);
  BreakerChange half = breaker_.take_due(now_).at(0);
  EXPECT_EQ(half.to_fire.at(0).path, "/r/5");  // the oldest five were dropped
  std::optional<BreakerChange> closed = record(half.generation, true);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->dropped, 5u);
}

TEST_F(RuleBreakerTest, RulesAreIndependentAndForgottenAfterAReload) {
  fail(3);
  EXPECT_TRUE(breaker_.offer("other", kPolicy, event_for("/x"), now_).fire);
  breaker_.retain_rules([](std::string_view name) { return name == "other"; });
  EXPECT_EQ(breaker_.state("integrate"), BreakerState::kClosed);
}

}  // namespace
}  // namespace aw
