#include "src/rules/rule_gate.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Event event_for(std::string path, std::string tag = "") {
  Event e;
  e.kind = "file.landed";
  e.path = std::move(path);
  if (!tag.empty()) e.fields.set("tag", tag);
  return e;
}

class RuleGateTest : public ::testing::Test {
 protected:
  // Explicit time: a ManualClock's monotonic reading, advanced by hand.
  MonoTime now() const { return clock_.mono(); }
  void advance(Duration d) { clock_.advance(d); }
  GateDecision offer(std::string_view rule, const GatePolicy& p, const Event& e) {
    return gate_.offer(rule, p, gate_subject(e), e, now());
  }

  ManualClock clock_;
  RuleGate gate_;
};

TEST(GateSubject, PathThenEntityThenEmpty) {
  Event e;
  EXPECT_EQ(gate_subject(e), "");
  e.entity = "w1";
  EXPECT_EQ(gate_subject(e), "w1");
  e.path = "/r/a.json";
  EXPECT_EQ(gate_subject(e), "/r/a.json");
}

TEST(GateSubject, PerDirectoryIsTheDirectoryHoldingThePath) {
  Event e = event_for("/r/temp/s1/a1.json");
  EXPECT_EQ(gate_subject(e, GateSubject::kDirectory), "/r/temp/s1");
  e.path = "/a.json";
  EXPECT_EQ(gate_subject(e, GateSubject::kDirectory), "/");
  e.path.clear();
  e.entity = "w1";
  EXPECT_EQ(gate_subject(e, GateSubject::kDirectory), "w1");
}

TEST_F(RuleGateTest, PerDirectoryEveryFileRestartsTheWaitAndADroppedDirectoryFiresNothing) {
  GatePolicy p{minutes(30), Duration::zero(), GateSubject::kDirectory};
  auto offer_in = [&](const std::string& path) {
    Event e = event_for(path);
    return gate_.offer("age-out", p, gate_subject(e, p.per), e, now());
  };
  EXPECT_EQ(offer_in("/r/temp/s1/a1.json"), GateDecision::kDeferred);
  EXPECT_EQ(offer_in("/r/temp/s2/a1.json"), GateDecision::kDeferred);
  advance(minutes(20));
  EXPECT_EQ(offer_in("/r/temp/s1/a2.json"), GateDecision::kDeferred);
  advance(minutes(10));
  std::vector<DueFiring> due = gate_.take_due(now());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].subject, "/r/temp/s2");
  // s1 completes (its directory is renamed away): its wait ends without firing.
  EXPECT_EQ(gate_.drop_held("/r/temp/s1"), 1u);
  EXPECT_EQ(gate_.next_deadline(), std::nullopt);
  advance(minutes(30));
  EXPECT_TRUE(gate_.take_due(now()).empty());
  EXPECT_EQ(gate_.drop_held("/r/temp/s1"), 0u);
}

TEST_F(RuleGateTest, NoPolicyFiresEveryTimeAndKeepsNoState) {
  GatePolicy none;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(offer("r", none, event_for("/a")), GateDecision::kFire);
  EXPECT_EQ(gate_.tracked_count(), 0u);
  EXPECT_EQ(gate_.next_deadline(), std::nullopt);
}

TEST_F(RuleGateTest, DebounceHoldsAndTheLastEventWins) {
  GatePolicy p{milliseconds(200), Duration::zero()};
  EXPECT_EQ(offer("r", p, event_for("/a", "first")), GateDecision::kDeferred);
  EXPECT_EQ(gate_.next_deadline(), now() + milliseconds(200));
  advance(milliseconds(150));
  EXPECT_EQ(offer("r", p, event_for("/a", "second")), GateDecision::kDeferred);
  // The quiet period restarts with each event.
  EXPECT_EQ(gate_.next_deadline(), now() + milliseconds(200));
  advance(milliseconds(199));
  EXPECT_TRUE(gate_.take_due(now()).empty());
  advance(milliseconds(1));
  std::vector<DueFiring> due = gate_.take_due(now());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].rule, "r");
  EXPECT_EQ(due[0].subject, "/a");
  EXPECT_EQ(due[0].event.fields.get_string("tag"), "second");
  EXPECT_EQ(gate_.next_deadline(), std::nullopt);
  EXPECT_EQ(gate_.tracked_count(), 0u);
}

TEST_F(RuleGateTest, DebounceNeverFiresDuringAnHourOfSteadyEvents) {
  GatePolicy p{seconds(2), Duration::zero()};
  for (int i = 0; i < 3600; ++i) {
    EXPECT_EQ(offer("r", p, event_for("/log", std::to_string(i))), GateDecision::kDeferred);
    advance(seconds(1));
    ASSERT_TRUE(gate_.take_due(now()).empty()) << "fired at second " << i;
  }
  advance(seconds(1));
  std::vector<DueFiring> due = gate_.take_due(now());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event.fields.get_string("tag"), "3599");
}

TEST_F(RuleGateTest, DueFiringsComeEarliestFirst) {
  GatePolicy p{seconds(1), Duration::zero()};
  offer("r", p, event_for("/b"));
  advance(milliseconds(100));
  offer("r", p, event_for("/a"));
  advance(milliseconds(100));
  offer("r", p, event_for("/c"));
  EXPECT_EQ(gate_.next_deadline(), now() - milliseconds(200) + seconds(1));
  advance(seconds(5));
  std::vector<DueFiring> due = gate_.take_due(now());
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].subject, "/b");
  EXPECT_EQ(due[1].subject, "/a");
  EXPECT_EQ(due[2].subject, "/c");
}

TEST_F(RuleGateTest, CooldownSuppressesOnlyThatSubject) {
  GatePolicy p{Duration::zero(), seconds(10)};
  EXPECT_EQ(offer("r", p, event_for("/a")), GateDecision::kFire);
  advance(seconds(5));
  EXPECT_EQ(offer("r", p, event_for("/a")), GateDecision::kSuppressed);
  EXPECT_EQ(offer("r", p, event_for("/b")), GateDecision::kFire);
  advance(milliseconds(4999));
  EXPECT_EQ(offer("r", p, event_for("/a")), GateDecision::kSuppressed);
  advance(milliseconds(1));
  EXPECT_EQ(offer("r", p, event_for("/a")), GateDecision::kFire);  // 10 s after it fired
  EXPECT_EQ(offer("r", p, event_for("/b")), GateDecision::kSuppressed);
  // Cooldowns never need a wake-up.
  EXPECT_EQ(gate_.next_deadline(), std::nullopt);
}

TEST_F(RuleGateTest, RulesAreIndependent) {
  GatePolicy cool{Duration::zero(), minutes(1)};
  GatePolicy debounce{seconds(1), Duration::zero()};
  EXPECT_EQ(offer("a", cool, event_for("/x")), GateDecision::kFire);
  EXPECT_EQ(offer("b", cool, event_for("/x")), GateDecision::kFire);
  EXPECT_EQ(offer("c", debounce, event_for("/x")), GateDecision::kDeferred);
  EXPECT_EQ(offer("a", cool, event_for("/x")), GateDecision::kSuppressed);
  advance(seconds(1));
  std::vector<DueFiring> due = gate_.take_due(now());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].rule, "c");
}

TEST_F(RuleGateTest, CooldownStartsWhenADebouncedFiringIsTaken) {
  GatePolicy p{seconds(1), seconds(10)};
  EXPECT_EQ(offer("r", p, event_for("/a")), GateDecision::kDeferred);
  advance(seconds(1));
  ASSERT_EQ(gate_.take_due(now()).size(), 1u);
  advance(seconds(9));
  EXPECT_EQ(offer("r", p, event_for("/a")), GateDecision::kSuppressed);
  EXPECT_EQ(gate_.next_deadline(), std::nullopt);
  advance(seconds(1));
  EXPECT_EQ(offer("r", p, event_for("/a")), GateDecision::kDeferred);
  EXPECT_EQ(gate_.next_deadline(), now() + seconds(1));
}

TEST_F(RuleGateTest, ADayOfEventsWithACooldownFiresOncePerPeriod) {
  GatePolicy p{Duration::zero(), minutes(30)};
  int fired = 0;
  for (int minute = 0; minute < 24 * 60; ++minute) {
    if (offer("stale", p, event_for("/w/log")) == GateDecision::kFire) ++fired;
    // A fresh subject every minute, each fired once: their state must be pruned.
    EXPECT_EQ(offer("stale", p, event_for("/tmp/" + std::to_string(minute))), GateDecision::kFire);
    advance(minutes(1));
  }
  EXPECT_EQ(fired, 48);
  EXPECT_LE(gate_.tracked_count(), 32u);  // only the last 30 minutes of subjects
}

TEST_F(RuleGateTest, ExpiredStateIsPruned) {
  GatePolicy p{seconds(1), seconds(5)};
  offer("r", p, event_for("/a"));
  advance(seconds(1));
  ASSERT_EQ(gate_.take_due(now()).size(), 1u);
  EXPECT_EQ(gate_.tracked_count(), 1u);  // cooling down
  advance(seconds(5));
  EXPECT_TRUE(gate_.take_due(now()).empty());
  EXPECT_EQ(gate_.tracked_count(), 0u);
}

TEST_F(RuleGateTest, RetainRulesForgetsRemovedRules) {
  GatePolicy p{seconds(1), Duration::zero()};
  offer("kept", p, event_for("/a"));
  offer("gone", p, event_for("/a"));
  EXPECT_EQ(gate_.held_count(), 2u);
  gate_.retain_rules([](std::string_view name) { return name == "kept"; });
  EXPECT_EQ(gate_.held_count(), 1u);
  advance(seconds(1));
  std::vector<DueFiring> due = gate_.take_due(now());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].rule, "kept");
}

TEST(GateDecisionName, Names) {
  EXPECT_STREQ(gate_decision_name(GateDecision::kFire), "fire");
  EXPECT_STREQ(gate_decision_name(GateDecision::kDeferred), "deferred");
  EXPECT_STREQ(gate_decision_name(GateDecision::kSuppressed), "suppressed");
}

}  // namespace
}  // namespace aw
