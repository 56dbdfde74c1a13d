#include "src/schedule/timer_scheduler.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "src/schedule/schedule_test_support.h"
#include "src/schedule/timer_state_file.h"

namespace aw {
namespace {

using namespace std::chrono_literals;
using testing::LoopTest;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

struct Fired {
  std::string name;
  FireReason reason;
  MonoTime at;
};

class TimerSchedulerTest : public LoopTest {
 protected:
  std::unique_ptr<TimerScheduler> make(const Clock& clock, const std::string& state_file) {
    return std::make_unique<TimerScheduler>(
        &loop_, clock, state_file,
        [this, &clock](const std::string& name, FireReason reason) {
          fired_.push_back(Fired{name, reason, clock.mono()});
        },
        99);
  }
  void wait_persisted(const TimerScheduler& s) {
    run_until([&] { return !s.persisting(); });
  }
  // Real time passes with the loop running (a ManualClock stays put): for
  // asserting that nothing fires.
  void run_for(Duration d) {
    bool done = false;
    uvx::Timer t(&loop_, [&] { done = true; });
    t.start(static_cast<std::uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count()));
    run_until([&] { return done; });
  }

  TempDir dir_;
  std::vector<Fired> fired_;
};

TEST_F(TimerSchedulerTest, ShortPeriodsOnARealLoopAreNeverEarly) {
  SystemClock clock;
  auto s = make(clock, dir_ / "timers");
  ASSERT_TRUE(s->load().ok());
  const MonoTime start = clock.mono();
  s->set_jobs({ScheduledJob{"tick", 40ms, 10ms, true}, ScheduledJob{"tock", 70ms, 0ms, true}});
  run_until([&] { return fired_.size() >= 6; });
  // The next due is drawn from when the previous firing was taken, which is a
  // little before its callback ran (and read the clock here): two callbacks
  // may be closer than a period. What never happens is a firing before its
  // due, so the k-th firing of a job is at least k shortest periods in.
  int ticks = 0, tocks = 0;
  for (const Fired& f : fired_) {
    EXPECT_EQ(f.reason, FireReason::kDue);
    const bool tick = f.name == "tick";
    const int k = tick ? ++ticks : ++tocks;
    const Duration min_period = tick ? 30ms : 70ms;  // every - jitter
    EXPECT_GE(f.at - start, k * min_period) << f.name << " #" << k;
  }
  EXPECT_TRUE(ticks > 0 && tocks > 0);
  s.reset();  // a write may still be in flight: the pool finishes it
  drain();
  auto records = read_timer_state(dir_ / "timers");
  ASSERT_TRUE(records.ok()) << records.error().message;
  ASSERT_EQ(records->size(), 2u);
  EXPECT_TRUE(records->at("tick").last_run.has_value());
  EXPECT_TRUE(records->at("tock").last_run.has_value());
}

TEST_F(TimerSchedulerTest, RestartAfterDowntimeCatchesUpOnce) {
  ManualClock before(WallTime(std::chrono::seconds(1'700'000'000)));
  {
    auto s = make(before, dir_ / "timers");
    ASSERT_TRUE(s->load().ok());
    s->set_jobs({ScheduledJob{"check", 30min, 60s, true}});
    ASSERT_TRUE(s->trigger("check").ok());  // a run, recorded
    wait_persisted(*s);
  }
  ASSERT_EQ(fired_.size(), 1u);
  EXPECT_EQ(fired_[0].reason, FireReason::kTrigger);
  fired_.clear();

  // Down for three hours: six periods missed.
  ManualClock after(before.wall() + 3h);
  auto s = make(after, dir_ / "timers");
  ASSERT_TRUE(s->load().ok());
  s->set_jobs({ScheduledJob{"check", 30min, 60s, true}});
  EXPECT_TRUE(fired_.empty()) << "catch-ups fire from the loop, not inside set_jobs()";
  run_until([&] { return !fired_.empty(); });
  ASSERT_EQ(fired_.size(), 1u);
  EXPECT_EQ(fired_[0].name, "check");
  EXPECT_EQ(fired_[0].reason, FireReason::kCatchUp);
  // The next run is a period away, not another catch-up.
  auto next = s->next_due("check");
  ASSERT_TRUE(next.has_value());
  EXPECT_GE(*next - after.wall(), 29min);
  EXPECT_LE(*next - after.wall(), 31min);
  wait_persisted(*s);
  auto records = read_timer_state(dir_ / "timers");
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(records->at("check").last_run, after.wall());
}

TEST_F(TimerSchedulerTest, FirstSightingSurvivesARestart) {
  ManualClock first;
  {
    auto s = make(first, dir_ / "timers");
    ASSERT_TRUE(s->load().ok());
    s->set_jobs({ScheduledJob{"new", 30min, 0s, true}});
    wait_persisted(*s);
  }
  ManualClock later(first.wall() + 10min);
  auto s = make(later, dir_ / "timers");
  ASSERT_TRUE(s->load().ok());
  s->set_jobs({ScheduledJob{"new", 30min, 0s, true}});
  EXPECT_EQ(s->next_due("new"), first.wall() + 30min);
  EXPECT_FALSE(s->persisting()) << "nothing changed";
}

TEST_F(TimerSchedulerTest, CorruptStateIsReportedAndTreatedAsEmpty) {
  write_file(dir_ / "timers", "not a timer file\n");
  ManualClock clock;
  auto s = make(clock, dir_ / "timers");
  Status loaded = s->load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find(dir_ / "timers" + ":1: expected the header"),
            std::string::npos)
      << loaded.error().message;
  EXPECT_EQ(read_file(dir_ / "timers.corrupt"), "not a timer file\n");
  s->set_jobs({ScheduledJob{"check", 30min, 0s, true}});
  EXPECT_EQ(s->next_due("check"), clock.wall() + 30min) << "no catch-up from garbage";
  wait_persisted(*s);
  auto records = read_timer_state(dir_ / "timers");
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(records->at("check").first_seen, clock.wall());
}

TEST_F(TimerSchedulerTest, IdleWithoutJobs) {
  ManualClock clock;
  auto s = make(clock, "");
  s->set_jobs({ScheduledJob{"check", 30min, 0s, true}});
  EXPECT_NE(uv_loop_alive(&loop_), 0) << "armed for the job";
  s->set_jobs({});
  EXPECT_EQ(uv_loop_alive(&loop_), 0) << "nothing to wait for: no wake-up at all";
  EXPECT_TRUE(s->list().empty());
}

TEST_F(TimerSchedulerTest, MemoryOnlyWritesNothing) {
  ManualClock clock;
  auto s = make(clock, "");
  ASSERT_TRUE(s->load().ok());
  s->set_jobs({ScheduledJob{"check", 30min, 0s, true}});
  EXPECT_FALSE(s->persisting());
  ASSERT_TRUE(s->trigger("check").ok());
  EXPECT_FALSE(s->persisting());
}

TEST_F(TimerSchedulerTest, TriggerFiresNowAndUnknownIsAnError) {
  ManualClock clock;
  auto s = make(clock, dir_ / "timers");
  s->set_jobs({ScheduledJob{"check", 30min, 0s, true}});
  clock.advance(10min);
  ASSERT_TRUE(s->trigger("check").ok());
  ASSERT_EQ(fired_.size(), 1u);
  EXPECT_EQ(fired_[0].reason, FireReason::kTrigger);
  EXPECT_EQ(s->next_due("check"), clock.wall() + 30min);
  Status unknown = s->trigger("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message,
            "no timer rule named 'nope' (expected the name of a rule with `every`)");
  wait_persisted(*s);
}

TEST_F(TimerSchedulerTest, ListShowsRecordsAndNextDue) {
  ManualClock clock;
  auto s = make(clock, "");
  s->set_jobs({ScheduledJob{"b", 1h, 0s, false}, ScheduledJob{"a", 30min, 0s, true}});
  clock.advance(5min);
  ASSERT_TRUE(s->trigger("b").ok());
  auto list = s->list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].job.name, "a");
  EXPECT_EQ(list[0].next_due, clock.wall() + 25min);
  EXPECT_FALSE(list[0].last_run.has_value());
  EXPECT_EQ(list[0].first_seen, clock.wall() - 5min);
  EXPECT_EQ(list[1].job.name, "b");
  EXPECT_FALSE(list[1].job.persistent);
  EXPECT_EQ(list[1].last_run, clock.wall());
  EXPECT_EQ(list[1].next_due, clock.wall() + 1h);
  EXPECT_EQ(list[1].next_reason, FireReason::kDue);
  EXPECT_FALSE(s->next_due("c").has_value());
}

TEST_F(TimerSchedulerTest, FireMayReloadTheJobs) {
  ManualClock clock(WallTime(std::chrono::seconds(1'700'000'000)));
  {
    // Two jobs that both missed a run: both are due on the first iteration.
    auto seed = make(clock, dir_ / "timers");
    seed->set_jobs({ScheduledJob{"a", 1min, 0s, true}, ScheduledJob{"b", 1min, 0s, true}});
    wait_persisted(*seed);
  }
  clock.advance(1h);
  std::unique_ptr<TimerScheduler> s;
  s = std::make_unique<TimerScheduler>(
      &loop_, clock, dir_ / "timers",
      [&](const std::string& name, FireReason reason) {
        fired_.push_back(Fired{name, reason, clock.mono()});
        s->set_jobs({ScheduledJob{"a", 1min, 0s, true}});  // b removed by a reload
      },
      1);
  ASSERT_TRUE(s->load().ok());
  s->set_jobs({ScheduledJob{"a", 1min, 0s, true}, ScheduledJob{"b", 1min, 0s, true}});
  run_until([&] { return !fired_.empty(); });
  ASSERT_EQ(fired_.size(), 1u) << "b was removed before its turn";
  EXPECT_EQ(fired_[0].name, "a");
  wait_persisted(*s);
  auto records = read_timer_state(dir_ / "timers");
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->count("b"), 0u);
}

TEST_F(TimerSchedulerTest, PersistErrorIsReportedAndTheOldFileKept) {
  write_file(dir_ / "blocker", "a file where a directory should be");
  ManualClock clock;
  auto s = make(clock, dir_ / "blocker/timers");
  std::vector<std::string> errors;
  s->on_persist_error([&](const Error& e) { errors.push_back(e.message); });
  s->set_jobs({ScheduledJob{"check", 30min, 0s, true}});
  wait_persisted(*s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(dir_ / "blocker"), std::string::npos) << errors[0];
}

// The wall clock set forward, then back, by an hour while the daemon runs:
// the timer neither fires early (a burst of "missed" runs) nor late (a run
// held back an hour), and never twice. A ManualClock drives time; the loop's
// timer only wakes the scheduler, which fires what the clock says is due.
TEST_F(TimerSchedulerTest, WallClockStepsWhileRunningMoveNoDeadline) {
  ManualClock clock(WallTime(std::chrono::seconds(1'700'000'000)));
  auto s = make(clock, "");
  s->set_jobs({ScheduledJob{"tick", 100ms, 0ms, true}});
  for (Duration step : {Duration(1h), Duration(-2h)}) {
    const std::size_t before = fired_.size();
    clock.jump_wall(step);
    EXPECT_EQ(s->next_due("tick"), clock.wall() + 100ms) << "shown by the wall clock now";
    clock.advance(99ms);
    run_for(150ms);
    EXPECT_EQ(fired_.size(), before) << "fired before its period of monotonic time";
    clock.advance(1ms);
    run_until([&] { return fired_.size() > before; });
    ASSERT_EQ(fired_.size(), before + 1);
    EXPECT_EQ(fired_.back().reason, FireReason::kDue);
    EXPECT_EQ(s->list()[0].last_run, clock.wall()) << "recorded by the wall clock";
  }
  run_for(50ms);
  EXPECT_EQ(fired_.size(), 2u);
}

// The wall clock was set back an hour while the daemon was down: the last run
// recorded before lies in the future. It counts as now: the next run is one
// period away, not one period plus the hour.
TEST_F(TimerSchedulerTest, ClockSetBackWhileDownDelaysTheNextRunByOnePeriodAtMost) {
  ManualClock before(WallTime(std::chrono::seconds(1'700'000'000)));
  {
    auto s = make(before, dir_ / "timers");
    ASSERT_TRUE(s->load().ok());
    s->set_jobs({ScheduledJob{"check", 30min, 0s, true}});
    ASSERT_TRUE(s->trigger("check").ok());
    wait_persisted(*s);
  }
  ManualClock after(before.wall() - 1h);
  auto s = make(after, dir_ / "timers");
  ASSERT_TRUE(s->load().ok());
  s->set_jobs({ScheduledJob{"check", 30min, 0s, true}});
  EXPECT_EQ(s->next_due("check"), after.wall() + 30min);
  EXPECT_EQ(s->list()[0].next_reason, FireReason::kDue) << "no catch-up";
}

TEST(TimerFiredEventTest, Fields) {
  const WallTime now(std::chrono::seconds(1'700'000'000));
  Event e = timer_fired_event("queue-check", FireReason::kCatchUp, now);
  EXPECT_EQ(e.kind, "timer.fired");
  EXPECT_EQ(e.source, "timer");
  EXPECT_EQ(e.rule, "queue-check");
  EXPECT_EQ(e.time, now);
  EXPECT_EQ(e.fields.get_string("rule"), "queue-check");
  EXPECT_EQ(e.fields.get_string("reason"), "catch_up");
}

}  // namespace
}  // namespace aw
