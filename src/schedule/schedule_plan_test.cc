#include "src/schedule/schedule_plan.h"

#include <gtest/gtest.h>

#include <set>

#include "src/schedule/schedule_test_support.h"

namespace aw {
namespace {

using namespace std::chrono_literals;

ScheduledJob job(std::string name, Duration every, Duration jitter = 0s, bool persistent = true) {
  return ScheduledJob{std::move(name), every, jitter, persistent};
}

class SchedulePlanTest : public ::testing::Test {
 protected:
  // Moves the clock to the next deadline and takes what is due there.
  std::vector<Firing> step() {
    auto next = plan_.earliest();
    EXPECT_TRUE(next.has_value());
    if (!next) return {};
    if (*next > clock_.mono()) clock_.advance(*next - clock_.mono());
    return plan_.take_due(clock_.mono(), clock_.wall());
  }
  bool set(const std::vector<ScheduledJob>& jobs) {
    return plan_.set_jobs(jobs, clock_.mono(), clock_.wall());
  }
  Duration until_due(const std::string& name) {
    auto d = plan_.due(name);
    EXPECT_TRUE(d.has_value()) << name;
    return d ? *d - clock_.mono() : Duration{-1};
  }

  ManualClock clock_;
  SchedulePlan plan_{42};
};

TEST(FireReasonTest, Names) {
  EXPECT_EQ(fire_reason_name(FireReason::kDue), "due");
  EXPECT_EQ(fire_reason_name(FireReason::kCatchUp), "catch_up");
  EXPECT_EQ(fire_reason_name(FireReason::kTrigger), "trigger");
}

TEST_F(SchedulePlanTest, NoJobsNoDeadline) {
  EXPECT_FALSE(set({}));
  EXPECT_FALSE(plan_.earliest().has_value());
  EXPECT_TRUE(plan_.take_due(clock_.mono(), clock_.wall()).empty());
}

TEST_F(SchedulePlanTest, NewJobIsFirstDueOnePeriodAfterFirstSeen) {
  EXPECT_TRUE(set({job("check", 30min)}));
  EXPECT_EQ(until_due("check"), 30min);
  ASSERT_EQ(plan_.records().count("check"), 1u);
  EXPECT_EQ(plan_.records().at("check").first_seen, clock_.wall());
  EXPECT_FALSE(plan_.records().at("check").last_run.has_value());

  clock_.advance(30min - 1ms);
  EXPECT_TRUE(plan_.take_due(clock_.mono(), clock_.wall()).empty()) << "never early";
  clock_.advance(1ms);
  auto fired = plan_.take_due(clock_.mono(), clock_.wall());
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], (Firing{"check", FireReason::kDue}));
  EXPECT_EQ(plan_.records().at("check").last_run, clock_.wall());
  EXPECT_EQ(until_due("check"), 30min);
}

TEST_F(SchedulePlanTest, JitterStaysWithinBoundsAndVariesPerPeriod) {
  // Three days of "every 30 min ±60 s", in microseconds of test time.
  set({job("check", 30min, 60s)});
  std::optional<MonoTime> previous;
  std::set<Duration::rep> gaps;
  Duration total{0};
  const int runs = 144;
  for (int i = 0; i < runs; ++i) {
    auto fired = step();
    ASSERT_EQ(fired.size(), 1u);
    if (previous) {
      const Duration gap = clock_.mono() - *previous;
      EXPECT_GE(gap, 29min) << "run " << i;
      EXPECT_LE(gap, 31min) << "run " << i;
      gaps.insert(gap.count());
      total += gap;
    }
    previous = clock_.mono();
  }
  EXPECT_GT(gaps.size(), 100u) << "jitter is drawn per period";
  const Duration mean = total / (runs - 1);
  EXPECT_GT(mean, 29min + 50s);
  EXPECT_LT(mean, 30min + 10s);
}

TEST_F(SchedulePlanTest, JitterIsAtMostHalfThePeriod) {
  set({job("fast", 10s, 1h)});
  MonoTime previous = clock_.mono();
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(step().size(), 1u);
    EXPECT_GE(clock_.mono() - previous, 5s);
    EXPECT_LE(clock_.mono() - previous, 15s);
    previous = clock_.mono();
  }
}

TEST_F(SchedulePlanTest, SameSeedSameScheduleOtherSeedAnother) {
  auto deadlines = [](std::uint64_t seed) {
    ManualClock clock;
    SchedulePlan plan(seed);
    plan.set_jobs({job("a", 1h, 5min)}, clock.mono(), clock.wall());
    std::vector<Duration::rep> out;
    for (int i = 0; i < 20; ++i) {
      clock.advance(*plan.earliest() - clock.mono());
      plan.take_due(clock.mono(), clock.wall());
      out.push_back(clock.mono().time_since_epoch().count());
    }
    return out;
  };
  EXPECT_EQ(deadlines(7), deadlines(7));
  EXPECT_NE(deadlines(7), deadlines(8));
}

TEST_F(SchedulePlanTest, UnchangedJobKeepsItsDeadlineAcrossReloads) {
  set({job("a", 30min, 60s), job("b", 10min)});
  const MonoTime due_a = *plan_.due("a");
  clock_.advance(7min);
  EXPECT_FALSE(set({job("b", 10min), job("a", 30min, 60s)})) << "records did not change";
  EXPECT_EQ(*plan_.due("a"), due_a);
  EXPECT_EQ(until_due("b"), 3min);
}

TEST_F(SchedulePlanTest, OnlyPersistentChangedKeepsTheDeadline) {
  set({job("a", 30min, 60s, true)});
  const MonoTime due = *plan_.due("a");
  clock_.advance(1min);
  set({job("a", 30min, 60s, false)});
  EXPECT_EQ(*plan_.due("a"), due);
  ASSERT_EQ(plan_.view().size(), 1u);
  EXPECT_FALSE(plan_.view()[0].job.persistent);
}

TEST_F(SchedulePlanTest, ChangedPeriodCountsFromTheLastRun) {
  set({job("a", 30min)});
  ASSERT_EQ(step().size(), 1u);  // ran at +30min
  clock_.advance(20min);
  set({job("a", 1h)});
  EXPECT_EQ(until_due("a"), 40min) << "last run + the new period";
  set({job("a", 15min)});
  EXPECT_EQ(until_due("a"), 0s) << "already past: due at once";
  auto fired = plan_.take_due(clock_.mono(), clock_.wall());
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].reason, FireReason::kDue) << "a reload is not a catch-up";
}

TEST_F(SchedulePlanTest, RemovedJobIsForgottenAndComesBackAsNew) {
  set({job("a", 30min), job("b", 30min)});
  ASSERT_EQ(step().size(), 2u);
  EXPECT_TRUE(set({job("a", 30min)}));
  EXPECT_EQ(plan_.records().count("b"), 0u);
  EXPECT_FALSE(plan_.due("b").has_value());
  clock_.advance(5min);
  EXPECT_TRUE(set({job("a", 30min), job("b", 30min)}));
  EXPECT_EQ(until_due("b"), 30min);
  EXPECT_EQ(plan_.records().at("b").first_seen, clock_.wall());
  EXPECT_FALSE(plan_.records().at("b").last_run.has_value());
}

TEST_F(SchedulePlanTest, MissedWhileDownCatchesUpOnceNotPerPeriod) {
  plan_.restore({{"check", JobRecord{clock_.wall() - 3h, clock_.wall() - 10h}}});
  EXPECT_FALSE(set({job("check", 30min, 60s)}));
  EXPECT_EQ(until_due("check"), 0s) << "at once";
  auto fired = plan_.take_due(clock_.mono(), clock_.wall());
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], (Firing{"check", FireReason::kCatchUp}));
  EXPECT_GE(until_due("check"), 29min);
  EXPECT_TRUE(plan_.take_due(clock_.mono(), clock_.wall()).empty()) << "not six of them";
  auto next = step();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].reason, FireReason::kDue);
}

TEST_F(SchedulePlanTest, NotYetMissedWaitsForTheRestOfItsPeriod) {
  plan_.restore({{"check", JobRecord{clock_.wall() - 10min, std::nullopt}}});
  set({job("check", 30min)});
  EXPECT_EQ(until_due("check"), 20min);
  EXPECT_EQ(plan_.view()[0].reason, FireReason::kDue);
}

TEST_F(SchedulePlanTest, NonPersistentSkipsMissedRunsAndKeepsItsPhase) {
  plan_.restore({{"check", JobRecord{clock_.wall() - 95min, std::nullopt}}});
  set({job("check", 30min, 0s, false)});
  EXPECT_EQ(until_due("check"), 25min) << "last run + 4 periods";
  auto fired = step();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].reason, FireReason::kDue);
}

TEST_F(SchedulePlanTest, NeverRunJobKeepsItsFirstSightingAcrossRestarts) {
  plan_.restore({{"soon", JobRecord{std::nullopt, clock_.wall() - 10min}},
                 {"late", JobRecord{std::nullopt, clock_.wall() - 2h}}});
  EXPECT_FALSE(set({job("soon", 30min), job("late", 30min)}));
  EXPECT_EQ(until_due("soon"), 20min) << "a restart does not push the first run back";
  EXPECT_EQ(until_due("late"), 0s);
  auto fired = plan_.take_due(clock_.mono(), clock_.wall());
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], (Firing{"late", FireReason::kCatchUp}));
}

TEST_F(SchedulePlanTest, RecordFromTheFutureCountsAsNow) {
  // The wall clock went back while the daemon was down.
  plan_.restore({{"check", JobRecord{clock_.wall() + 5h, std::nullopt}}});
  set({job("check", 30min)});
  EXPECT_EQ(until_due("check"), 30min) << "postponed by one period at most";
}

TEST_F(SchedulePlanTest, RecordsOfUnconfiguredJobsAreDroppedAtStart) {
  plan_.restore({{"gone", JobRecord{clock_.wall() - 1h, std::nullopt}},
                 {"kept", JobRecord{clock_.wall() - 1min, std::nullopt}}});
  EXPECT_TRUE(set({job("kept", 30min)}));
  EXPECT_EQ(plan_.records().size(), 1u);
  EXPECT_EQ(plan_.records().count("kept"), 1u);
}

TEST_F(SchedulePlanTest, WallClockJumpFiresNoBurst) {
  set({job("check", 1min)});
  clock_.jump_wall(5h);  // an NTP step, a resumed laptop
  EXPECT_TRUE(plan_.take_due(clock_.mono(), clock_.wall()).empty());
  EXPECT_EQ(until_due("check"), 1min);
  clock_.advance(1min);
  EXPECT_EQ(plan_.take_due(clock_.mono(), clock_.wall()).size(), 1u);
  EXPECT_EQ(plan_.records().at("check").last_run, clock_.wall()) << "the wall time is recorded";
  clock_.jump_wall(-3h);
  EXPECT_TRUE(plan_.take_due(clock_.mono(), clock_.wall()).empty());
  EXPECT_EQ(until_due("check"), 1min);
}

TEST_F(SchedulePlanTest, TriggerRunsNowAndRestartsThePeriod) {
  set({job("check", 30min)});
  clock_.advance(20min);
  EXPECT_TRUE(plan_.trigger("check", clock_.mono(), clock_.wall()));
  EXPECT_EQ(plan_.records().at("check").last_run, clock_.wall());
  EXPECT_EQ(until_due("check"), 30min);
  EXPECT_FALSE(plan_.trigger("nope", clock_.mono(), clock_.wall()));
  EXPECT_EQ(plan_.records().count("nope"), 0u);
}

TEST_F(SchedulePlanTest, InvalidAndDuplicateJobsAreIgnored) {
  set({job("zero", 0s), job("neg", -1s), job("jneg", 1min, -1s), job("dup", 1min), job("dup", 1h)});
  auto view = plan_.view();
  ASSERT_EQ(view.size(), 1u);
  EXPECT_EQ(view[0].job.name, "dup");
  EXPECT_EQ(view[0].job.every, 1min) << "the first one wins";
  EXPECT_EQ(plan_.records().size(), 1u);
}

TEST_F(SchedulePlanTest, JobsDueTogetherFireInDeadlineThenNameOrder) {
  plan_.restore({{"b", JobRecord{clock_.wall() - 2h, std::nullopt}},
                 {"a", JobRecord{clock_.wall() - 2h, std::nullopt}}});
  set({job("b", 1h), job("a", 1h), job("c", 1min)});
  clock_.advance(2min);
  auto fired = plan_.take_due(clock_.mono(), clock_.wall());
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0], (Firing{"a", FireReason::kCatchUp}));
  EXPECT_EQ(fired[1], (Firing{"b", FireReason::kCatchUp}));
  EXPECT_EQ(fired[2], (Firing{"c", FireReason::kDue}));
}

TEST_F(SchedulePlanTest, ADayOfThreeJobs) {
  set({job("fast", 1min, 5s), job("half", 30min, 60s), job("hourly", 1h)});
  std::map<std::string, int> count;
  const MonoTime end = clock_.mono() + 24h;
  while (*plan_.earliest() <= end) {
    for (const Firing& f : step()) {
      EXPECT_EQ(f.reason, FireReason::kDue);
      ++count[f.name];
    }
  }
  EXPECT_NEAR(count["fast"], 1440, 6);  // offsets add up as a random walk
  EXPECT_NEAR(count["half"], 48, 1);
  EXPECT_EQ(count["hourly"], 24);
}

}  // namespace
}  // namespace aw
