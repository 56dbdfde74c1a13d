// The Supervisor shell keeps time the way the machine decides it: the restart
// budget of a real crash loop, and what is persisted (wall time) re-based onto
// the monotonic clock when it is read back, with the wall clock set forward or
// back by an hour (an NTP step, `date -s`, a resumed VM). The backoff and each
// detector (hung, heartbeat, phantom) under the same steps are the machine's,
// tested on explicit `now` values in worker_machine_detectors_test.cc.
//
// A ManualClock drives time. The loop, its alarm and the workers (/bin/false)
// are real: the alarm only wakes the Supervisor, which acts once the
// ManualClock says the deadline has passed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "src/supervise/supervise_test_support.h"
#include "src/supervise/supervisor.h"
#include "src/supervise/supervisor_fixture.h"

namespace aw {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Nothing fires unless a test shortens it.
WorkerSpec quiet_worker(std::string name, std::vector<std::string> argv) {
  WorkerSpec w;
  w.name = std::move(name);
  w.argv = std::move(argv);
  w.restart.max_restarts = 5;
  w.restart.min_spawn_interval = milliseconds(10);
  w.restart.circuit_threshold = 0;
  w.restart.backoff.initial = milliseconds(10);
  w.restart.backoff.factor = 2.0;
  w.restart.backoff.max = milliseconds(50);
  w.restart.backoff.jitter = 0.0;
  w.runtime_limit = hours(1);
  w.timeout_grace = hours(1);
  w.start_grace = Duration{0};
  w.kill_grace = seconds(5);
  return w;
}

// Null-safe: a test that failed to see an event goes on to its next check.
std::int64_t int_field(const Event* e, const char* key) {
  if (!e) return -1;
  return e->fields.get_int(key).value_or(-1);
}

class ClockFixture : public testing::SupervisorFixture {
 protected:
  ClockFixture() : SupervisorFixture(/*jitter_seed=*/7) {}
  Supervisor& make_manual(std::vector<WorkerSpec> specs) {
    return make(std::move(specs), &manual_);
  }
  // Runs a crash loop to its end: whenever a restart is scheduled, `between(k)`
  // (k = how many were) runs, then the clock moves by the restart's delay, and
  // the restart deadline spawns. Returns the number of starts.
  std::size_t crash_until_given_up(const std::function<void(int)>& between) {
    for (int k = 1; k < 20; ++k) {
      run_until([&] {
        return events_.count("worker.restart_scheduled") >= static_cast<std::size_t>(k) ||
               events_.count("worker.gave_up") > 0;
      });
      if (events_.count("worker.gave_up") > 0 || guard_fired_) break;
      between(k);
      manual_.advance(
          milliseconds(int_field(events_.last("worker.restart_scheduled"), "delay_ms")));
      sup_->check_deadlines();  // the clock moved: no wait for the alarm's real milliseconds
    }
    EXPECT_EQ(events_.count("worker.gave_up"), 1u);
    return events_.count("worker.started");
  }

  // Starts at the real wall time, so that files written by the test have
  // mtimes near it; on a whole millisecond, the precision of what is persisted.
  ManualClock manual_{std::chrono::floor<milliseconds>(SystemClock().wall())};
};

// ---- the restart budget ----

WorkerSpec crash_looper() {
  WorkerSpec w = quiet_worker("crashy", {"/bin/false"});
  w.restart.max_restarts = 2;
  w.restart.restart_window = minutes(10);
  return w;
}

TEST_F(ClockFixture, CrashLoopGivesUpAtTheSameCountAfterTheWallClockJumpsForward) {
  Supervisor& s = make_manual({crash_looper()});
  ASSERT_TRUE(s.start("crashy").ok());
  // After the first restart, the wall clock leaps an hour: by wall time the
  // first restart would have left the 10-minute window, and the loop would get
  // a fresh budget (4 starts).
  std::size_t starts = crash_until_given_up([&](int k) {
    if (k == 1) manual_.jump_wall(hours(1));
  });
  EXPECT_EQ(starts, 3u) << "the first run and max_restarts = 2 restarts";
  EXPECT_EQ(int_field(events_.last("worker.gave_up"), "restarts"), 2);
  EXPECT_EQ(s.status("crashy")->phase, WorkerPhase::kGaveUp);
}

TEST_F(ClockFixture, OldRestartsAgeOutOnMonotonicTimeAfterTheWallClockJumpsBack) {
  Supervisor& s = make_manual({crash_looper()});
  ASSERT_TRUE(s.start("crashy").ok());
  // Two restarts spent; then the wall clock goes back an hour and the window's
  // length passes. By wall time both restarts would lie in the future and still
  // count (giving up at the third failure); they are ten minutes old.
  std::size_t starts = crash_until_given_up([&](int k) {
    if (k != 2) return;
    manual_.jump_wall(-hours(1));
    manual_.advance(minutes(10) + seconds(1));
  });
  std::vector<std::int64_t> restarts;
  for (const Event& e : events_.events)
    if (e.kind == "worker.restart_scheduled") restarts.push_back(int_field(&e, "restarts"));
  EXPECT_EQ(restarts, (std::vector<std::int64_t>{1, 2, 1, 2}));
  EXPECT_EQ(starts, 5u);
  EXPECT_EQ(s.status("crashy")->restarts, 4);
}

// ---- what is persisted is re-based at load ----

std::string unix_ms(WallTime t) {
  return std::to_string(std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count());
}

TEST_F(ClockFixture, PersistedRestartsAreReBasedAndOneFromTheFutureCountsAsNow) {
  const WallTime now = manual_.wall();
  // Written by an earlier daemon: one restart 9 minutes ago, one "2 hours from
  // now" (the wall clock was set back while the daemon was down).
  store_.set("crashy", Supervisor::kRestartKey,
             "v=1;restarts=" + unix_ms(now - minutes(9)) + "," + unix_ms(now + hours(2)) +
                 ";failures=2;quick=2;circuit=closed;until=0;spawn=" + unix_ms(now + hours(2)) +
                 ";total=2;gave_up=0;reason=");
  Supervisor& s = make_manual({crash_looper()});
  EXPECT_EQ(s.status("crashy")->restarts_in_window, 2);
  manual_.advance(minutes(1));
  EXPECT_EQ(s.status("crashy")->restarts_in_window, 1) << "10 minutes old: out of the window";
  manual_.advance(minutes(9) - milliseconds(1));
  EXPECT_EQ(s.status("crashy")->restarts_in_window, 1);
  manual_.advance(milliseconds(1));
  EXPECT_EQ(s.status("crashy")->restarts_in_window, 0)
      << "the future one counted from the start, not for two hours more";
  // Written back as wall time, by the wall clock now.
  ASSERT_TRUE(s.start("crashy").ok());
  auto text = store_.get("crashy", Supervisor::kRestartKey);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("spawn=" + unix_ms(manual_.wall())), std::string::npos) << *text;
}

TEST_F(ClockFixture, RecoveredRunIsReBasedOntoTheMonotonicClock) {
  // The process of a run recorded by an earlier daemon: this test's own (alive,
  // and never signalled: runtime_limit is an hour of a clock that barely moves).
  LivenessVerdict self = probe_process(Env::real(), manual_, ::getpid(), std::nullopt);
  store_.set("w", Supervisor::kProcessKey, format_identity(self.seen));
  store_.set("w", Supervisor::kRunKey,
             "started=" + unix_ms(manual_.wall() - seconds(10)) + ";extensions=1");
  Supervisor& s = make_manual({quiet_worker("w", {"/bin/agent"})});
  s.recover();
  ASSERT_EQ(events_.count("worker.adopted"), 1u);
  EXPECT_EQ(s.health("w")->runtime, seconds(10));
  EXPECT_EQ(s.health("w")->judged_in, hours(1) - seconds(10));
  manual_.jump_wall(hours(1));
  manual_.advance(seconds(5));
  EXPECT_EQ(s.health("w")->runtime, seconds(15)) << "the step is not runtime";
  EXPECT_EQ(s.health("w")->extensions, 1);

  // Recorded as started an hour from now (the clock was set back meanwhile): it
  // counts from now, never as a negative runtime nor a later deadline.
  store_.set("w", Supervisor::kRunKey,
             "started=" + unix_ms(manual_.wall() + hours(1)) + ";extensions=0");
  events_.events.clear();
  Supervisor& again = make_manual({quiet_worker("w", {"/bin/agent"})});
  again.recover();
  ASSERT_EQ(events_.count("worker.adopted"), 1u);
  EXPECT_EQ(again.health("w")->runtime, Duration{0});
  EXPECT_EQ(again.health("w")->judged_in, hours(1));
}

}  // namespace
}  // namespace aw
