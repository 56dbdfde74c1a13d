#include "src/supervise/restart_policy.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Monotonic time has no meaning of its own: any origin will do.
const MonoTime kT0 = MonoTime(hours(100));
const WallTime kWall0 = WallTime(seconds(1'700'000'000));

RestartPolicyConfig config() {
  RestartPolicyConfig c;
  c.max_restarts = 5;
  c.restart_window = hours(1);
  c.stable_after = seconds(60);
  c.min_spawn_interval = seconds(1);
  c.circuit_threshold = 0;  // off unless a test turns it on
  c.circuit_cooldown = minutes(5);
  c.backoff.initial = seconds(2);
  c.backoff.factor = 2.0;
  c.backoff.max = seconds(30);
  c.backoff.jitter = 0.0;
  return c;
}

ExitFacts quick_failure() {
  ExitFacts f;
  f.uptime = milliseconds(5);
  return f;
}

// Spawn at `now`, exit `uptime` later; returns the step taken at the exit.
PolicyStep run_once(const RestartPolicy& p, RestartState& s, MonoTime& now, ExitFacts facts,
                    double u = 0.5) {
  s = p.on_spawn(s, now);
  now += facts.uptime;
  PolicyStep step = p.on_exit(s, facts, now, u);
  s = step.state;
  if (step.decision.kind == DecisionKind::kRestartAt ||
      step.decision.kind == DecisionKind::kCircuitOpen)
    now = step.decision.at;
  return step;
}

// As s6 does: the first failure of a story restarts at once when the worker was
// up longer than the floor (min_spawn_interval); the backoff starts at the second.
TEST(RestartPolicy, FirstFailureRestartsAtOnceWhenTheFloorAllows) {
  RestartPolicy p(config());
  RestartState s;
  MonoTime now = kT0;
  s = p.on_spawn(s, now);
  now += seconds(10);
  PolicyStep step = p.on_exit(s, quick_failure(), now, 0.5);
  EXPECT_EQ(step.decision.kind, DecisionKind::kRestartAt);
  EXPECT_EQ(step.decision.delay, Duration{0});
  EXPECT_EQ(step.decision.at, now);
  EXPECT_EQ(step.decision.attempt, 1);
  EXPECT_EQ(step.state.consecutive_failures, 1);
  EXPECT_EQ(step.state.total_restarts, 1);
  ASSERT_EQ(step.state.recent_restarts.size(), 1u);
}

TEST(RestartPolicy, BackoffDoublesThenCaps) {
  RestartPolicyConfig c = config();
  c.max_restarts = 10;  // the budget is not what this is about
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  std::vector<Duration> delays;
  for (int i = 0; i < 6; ++i) {
    ExitFacts f;
    f.uptime = seconds(1);  // above the floor, below stable_after
    delays.push_back(run_once(p, s, now, f).decision.delay);
  }
  EXPECT_EQ(delays, (std::vector<Duration>{Duration{0}, seconds(2), seconds(4), seconds(8),
                                           seconds(16), seconds(30)}));
}

TEST(RestartPolicy, JitterStaysWithinItsBounds) {
  RestartPolicyConfig c = config();
  c.backoff.jitter = 0.2;
  c.min_spawn_interval = Duration{0};
  RestartPolicy p(c);
  // The second failure: the first backoff (the first failure has none).
  auto second_failure = [&p](double u) {
    RestartState s;
    s.consecutive_failures = 1;
    return p.on_exit(s, quick_failure(), kT0, u).decision.delay;
  };
  for (double u : {0.0, 0.1, 0.25, 0.5, 0.75, 0.999}) {
    EXPECT_GE(second_failure(u), milliseconds(1600)) << u;
    EXPECT_LE(second_failure(u), milliseconds(2400)) << u;
  }
  // The extremes reach the bounds: the jitter is real.
  EXPECT_EQ(second_failure(0.0), milliseconds(1600));
  // Capped values jitter around the cap.
  RestartState capped;
  capped.consecutive_failures = 20;
  PolicyStep step = p.on_exit(capped, quick_failure(), kT0, 0.999);
  EXPECT_LE(step.decision.delay, seconds(36));
  EXPECT_GE(step.decision.delay, seconds(35));
}

TEST(RestartPolicy, FloorKeepsOneSecondBetweenSpawnsUnlessItRanLonger) {
  RestartPolicyConfig c = config();
  c.backoff.initial = milliseconds(10);
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  // Ran 5 ms: the next spawn waits until 1 s after the last one.
  PolicyStep step = run_once(p, s, now, quick_failure());
  EXPECT_EQ(step.decision.delay, milliseconds(995));
  EXPECT_EQ(step.decision.at, kT0 + seconds(1));
  // Ran 3 s: no floor, only the backoff (the second failure's: 10 ms).
  ExitFacts f;
  f.uptime = seconds(3);
  step = run_once(p, s, now, f);
  EXPECT_EQ(step.decision.delay, milliseconds(10));
}

TEST(RestartPolicy, BudgetSpentGivesUp) {
  RestartPolicyConfig c = config();
  c.max_restarts = 2;
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  EXPECT_EQ(run_once(p, s, now, quick_failure()).decision.kind, DecisionKind::kRestartAt);
  EXPECT_EQ(run_once(p, s, now, quick_failure()).decision.kind, DecisionKind::kRestartAt);
  PolicyStep step = run_once(p, s, now, quick_failure());
  EXPECT_EQ(step.decision.kind, DecisionKind::kGiveUp);
  EXPECT_EQ(step.decision.attempt, 2);
  EXPECT_TRUE(step.state.gave_up);
  EXPECT_NE(step.state.gave_up_reason.find("max_restarts = 2"), std::string::npos)
      << step.state.gave_up_reason;
  EXPECT_EQ(step.state.total_restarts, 2);
}

TEST(RestartPolicy, ZeroRestartsGivesUpAtTheFirstFailure) {
  RestartPolicyConfig c = config();
  c.max_restarts = 0;
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  EXPECT_EQ(run_once(p, s, now, quick_failure()).decision.kind, DecisionKind::kGiveUp);
}

TEST(RestartPolicy, RestartsOlderThanTheWindowLeaveTheBudget) {
  RestartPolicyConfig c = config();
  c.max_restarts = 2;
  c.restart_window = minutes(10);
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  ExitFacts f;
  f.uptime = seconds(30);  // not stable: no reset by uptime
  run_once(p, s, now, f);
  run_once(p, s, now, f);
  EXPECT_EQ(p.restarts_in_window(s, now), 2);
  // Eleven minutes later both restarts left the window.
  s = p.on_spawn(s, now);
  now += minutes(11);
  f.uptime = seconds(30);
  PolicyStep step = p.on_exit(s, f, now, 0.5);
  EXPECT_EQ(step.decision.kind, DecisionKind::kRestartAt);
  EXPECT_EQ(step.decision.attempt, 1);
}

TEST(RestartPolicy, StableUptimeResetsBudgetAndBackoff) {
  RestartPolicyConfig c = config();
  c.max_restarts = 2;
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  run_once(p, s, now, quick_failure());
  run_once(p, s, now, quick_failure());
  ExitFacts stable;
  stable.uptime = seconds(61);
  PolicyStep step = run_once(p, s, now, stable);
  EXPECT_EQ(step.decision.kind, DecisionKind::kRestartAt);
  EXPECT_EQ(step.decision.attempt, 1);
  EXPECT_EQ(step.decision.delay, Duration{0});  // a fresh story: at once, as a first failure
  EXPECT_EQ(step.state.total_restarts, 3);      // the lifetime count is kept
}

TEST(RestartPolicy, OnStableRunResetsWithoutAnExit) {
  RestartPolicy p(config());
  RestartState s;
  s.recent_restarts = {kT0};
  s.consecutive_failures = 3;
  s.quick_failures = 3;
  s.circuit = CircuitState::kHalfOpen;
  s.total_restarts = 7;
  RestartState r = p.on_stable_run(s);
  EXPECT_TRUE(r.recent_restarts.empty());
  EXPECT_EQ(r.consecutive_failures, 0);
  EXPECT_EQ(r.circuit, CircuitState::kClosed);
  EXPECT_EQ(r.total_restarts, 7);
}

TEST(RestartPolicy, CircuitOpensAfterConsecutiveQuickFailures) {
  RestartPolicyConfig c = config();
  c.max_restarts = 10;
  c.circuit_threshold = 3;
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  EXPECT_EQ(run_once(p, s, now, quick_failure()).decision.kind, DecisionKind::kRestartAt);
  EXPECT_EQ(run_once(p, s, now, quick_failure()).decision.kind, DecisionKind::kRestartAt);
  MonoTime before = now + milliseconds(5);
  PolicyStep step = run_once(p, s, now, quick_failure());
  ASSERT_EQ(step.decision.kind, DecisionKind::kCircuitOpen);
  EXPECT_EQ(step.state.circuit, CircuitState::kOpen);
  EXPECT_EQ(step.decision.at, before + minutes(5));
  EXPECT_EQ(step.state.circuit_until, step.decision.at);
  EXPECT_EQ(step.decision.attempt, 3);  // the trial counts against the budget
}

TEST(RestartPolicy, HalfOpenTrialFailureReopensAndStableRunCloses) {
  RestartPolicyConfig c = config();
  c.max_restarts = 10;
  c.circuit_threshold = 2;
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  run_once(p, s, now, quick_failure());
  ASSERT_EQ(run_once(p, s, now, quick_failure()).decision.kind, DecisionKind::kCircuitOpen);
  // The trial spawn turns the circuit half-open.
  RestartState trial = p.on_spawn(s, now);
  EXPECT_EQ(trial.circuit, CircuitState::kHalfOpen);
  // The trial fails quickly: open again.
  PolicyStep step = run_once(p, s, now, quick_failure());
  EXPECT_EQ(step.decision.kind, DecisionKind::kCircuitOpen);
  EXPECT_NE(step.decision.reason.find("half-open"), std::string::npos);
  // The next trial runs stably: closed, and a later failure backs off normally.
  s = p.on_spawn(s, now);
  EXPECT_EQ(s.circuit, CircuitState::kHalfOpen);
  s = p.on_stable_run(s);
  EXPECT_EQ(s.circuit, CircuitState::kClosed);
  now += minutes(2);
  step = p.on_exit(s, quick_failure(), now, 0.5);
  EXPECT_EQ(step.decision.kind, DecisionKind::kRestartAt);
}

TEST(RestartPolicy, BudgetWinsOverTheCircuit) {
  RestartPolicyConfig c = config();
  c.max_restarts = 2;
  c.circuit_threshold = 3;
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  run_once(p, s, now, quick_failure());
  run_once(p, s, now, quick_failure());
  EXPECT_EQ(run_once(p, s, now, quick_failure()).decision.kind, DecisionKind::kGiveUp);
}

TEST(RestartPolicy, CrashLoopForHoursStaysBoundedAndSpaced) {
  // A worker that dies instantly, with a generous budget and a breaker: in
  // simulated hours it never spawns more often than the floor allows, and the
  // circuit spaces the attempts by the cool-down once it opens.
  RestartPolicyConfig c = config();
  c.max_restarts = 1000;
  c.restart_window = hours(24);
  c.circuit_threshold = 4;
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  std::optional<MonoTime> last_spawn;
  int spawns = 0, opens = 0;
  while (now < kT0 + hours(6)) {
    if (last_spawn) {
      EXPECT_GE(now - *last_spawn, seconds(1));
    }
    last_spawn = now;
    ++spawns;
    PolicyStep step = run_once(p, s, now, quick_failure());
    ASSERT_NE(step.decision.kind, DecisionKind::kGiveUp);
    opens += step.decision.kind == DecisionKind::kCircuitOpen;
  }
  // 3 backoffs, then one trial every 5 minutes: about 6h / 5m.
  EXPECT_GE(opens, 70);
  EXPECT_LE(spawns, 80);
}

TEST(RestartPolicy, WaitsForDependenciesThenRestartsWhenReady) {
  RestartPolicy p(config());
  RestartState s;
  MonoTime now = kT0;
  s = p.on_spawn(s, now);
  now += seconds(30);
  ExitFacts f = quick_failure();
  f.deps_ready = false;
  PolicyStep step = p.on_exit(s, f, now, 0.5);
  EXPECT_EQ(step.decision.kind, DecisionKind::kWaitForDependencies);
  EXPECT_TRUE(step.state.recent_restarts.empty());  // nothing counted yet
  now += minutes(3);
  PolicyStep go = p.on_dependencies_ready(step.state, now);
  EXPECT_EQ(go.decision.kind, DecisionKind::kRestartAt);
  EXPECT_EQ(go.decision.delay, Duration{0});
  EXPECT_EQ(go.decision.attempt, 1);
}

TEST(RestartPolicy, DependencyReadyRestartRespectsTheFloor) {
  RestartPolicy p(config());
  RestartState s = p.on_spawn(RestartState{}, kT0);
  PolicyStep go = p.on_dependencies_ready(s, kT0 + milliseconds(300));
  EXPECT_EQ(go.decision.delay, milliseconds(700));
}

TEST(RestartPolicy, ExplicitDoNotRestartOutcomes) {
  RestartPolicy on_failure(config());
  ExitFacts clean;
  clean.clean = true;
  clean.uptime = seconds(1);
  PolicyStep step = on_failure.on_exit(RestartState{}, clean, kT0, 0.5);
  EXPECT_EQ(step.decision.kind, DecisionKind::kDoNotRestart);
  EXPECT_NE(step.decision.reason.find("exited 0"), std::string::npos);

  RestartPolicyConfig c = config();
  c.mode = RestartMode::kNever;
  step = RestartPolicy(c).on_exit(RestartState{}, quick_failure(), kT0, 0.5);
  EXPECT_EQ(step.decision.kind, DecisionKind::kDoNotRestart);
  EXPECT_EQ(step.decision.reason, "restart = never");

  ExitFacts stopped = quick_failure();
  stopped.requested = true;
  step = on_failure.on_exit(RestartState{}, stopped, kT0, 0.5);
  EXPECT_EQ(step.decision.kind, DecisionKind::kDoNotRestart);
  EXPECT_EQ(step.state, RestartState{});  // a stop is not a failure

  c.mode = RestartMode::kAlways;
  step = RestartPolicy(c).on_exit(RestartState{}, clean, kT0, 0.5);
  EXPECT_EQ(step.decision.kind, DecisionKind::kRestartAt);
}

TEST(RestartPolicy, ResetAfterGivingUp) {
  RestartState s;
  s.gave_up = true;
  s.gave_up_reason = "x";
  s.recent_restarts = {kT0, kT0};
  s.circuit = CircuitState::kOpen;
  s.total_restarts = 2;
  RestartState r = RestartPolicy::reset(s);
  EXPECT_FALSE(r.gave_up);
  EXPECT_TRUE(r.recent_restarts.empty());
  EXPECT_EQ(r.circuit, CircuitState::kClosed);
  EXPECT_EQ(r.total_restarts, 2);
}

TEST(RestartStateSerialisation, RoundTrip) {
  const ClockSnapshot now{kT0 + minutes(10), kWall0};
  RestartState s;
  s.recent_restarts = {kT0 + milliseconds(123), kT0 + seconds(5)};
  s.consecutive_failures = 3;
  s.quick_failures = 2;
  s.circuit = CircuitState::kHalfOpen;
  s.circuit_until = kT0 + minutes(5);
  s.last_spawn = kT0 + seconds(4);
  s.total_restarts = 42;
  s.gave_up = true;
  s.gave_up_reason = "2 restarts; 100% = spent\nreally";
  std::string text = serialize_restart_state(s, now);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  auto back = deserialize_restart_state(text, now);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
  for (CircuitState c : {CircuitState::kClosed, CircuitState::kOpen}) {
    RestartState t;
    t.circuit = c;
    EXPECT_EQ(*deserialize_restart_state(serialize_restart_state(t, now), now), t);
  }
}

TEST(RestartStateSerialisation, WrittenAsWallUnixMilliseconds) {
  // The format on disk is wall time, whatever the process's monotonic origin.
  RestartState s;
  s.recent_restarts = {kT0 - seconds(2)};
  s.last_spawn = kT0 - seconds(1);
  const ClockSnapshot now{kT0, WallTime(milliseconds(1'700'000'002'123))};
  EXPECT_EQ(serialize_restart_state(s, now),
            "v=1;restarts=1700000000123;failures=0;quick=0;circuit=closed;until=0;"
            "spawn=1700000001123;total=0;gave_up=0;reason=");
}

TEST(RestartStateSerialisation, AnExistingStateFileIsReBasedOntoTheMonotonicClock) {
  // A line as earlier versions wrote it, read by a daemon whose wall clock says
  // 1700000002.123 and whose monotonic clock says kT0.
  const ClockSnapshot now{kT0, WallTime(milliseconds(1'700'000'002'123))};
  auto s = deserialize_restart_state(
      "v=1;restarts=1700000000123,1700000001123;failures=2;quick=2;circuit=open;"
      "until=1700000300000;spawn=1700000001123;total=5;gave_up=0;reason=",
      now);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->recent_restarts, (std::vector<MonoTime>{kT0 - seconds(2), kT0 - seconds(1)}));
  EXPECT_EQ(s->last_spawn, kT0 - seconds(1));
  // The circuit's end was in the future when written: it counts as now.
  EXPECT_EQ(s->circuit_until, kT0);
  EXPECT_EQ(s->circuit, CircuitState::kOpen);
  EXPECT_EQ(s->total_restarts, 5);
  // "0" is "none", as before.
  auto none = deserialize_restart_state("v=1;until=0;spawn=0", now);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->last_spawn);
  EXPECT_FALSE(none->circuit_until);
}

TEST(RestartStateSerialisation, ReBasedAcrossADaemonRestartAndAClockStep) {
  RestartPolicyConfig c = config();
  c.max_restarts = 2;
  c.restart_window = hours(1);
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  run_once(p, s, now, quick_failure());
  run_once(p, s, now, quick_failure());
  const std::string text = serialize_restart_state(s, {now, kWall0});
  // The next daemon is another process: its monotonic clock has another origin.
  const MonoTime other = MonoTime(hours(3));

  // Down for ten minutes, no clock change: the restarts are ten minutes older.
  auto later = deserialize_restart_state(text, {other, kWall0 + minutes(10)});
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(p.restarts_in_window(*later, other), 2);
  EXPECT_EQ(p.restarts_in_window(*later, other + minutes(49)), 2);
  EXPECT_EQ(p.restarts_in_window(*later, other + minutes(51)), 0);

  // The wall clock was set back an hour while the daemon was down: the
  // restarts are written in its future. They count as made now — one window
  // from the start, not one window plus the hour.
  auto back = deserialize_restart_state(text, {other, kWall0 - hours(1)});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->recent_restarts, (std::vector<MonoTime>{other, other}));
  EXPECT_EQ(back->last_spawn, other);
  EXPECT_EQ(p.restarts_in_window(*back, other + minutes(59)), 2);
  EXPECT_EQ(p.restarts_in_window(*back, other + hours(1)), 0);
}

TEST(RestartStateSerialisation, DecisionsAfterRoundTripMatch) {
  // What a daemon restart does: the state goes through the store in between.
  RestartPolicyConfig c = config();
  c.max_restarts = 2;
  RestartPolicy p(c);
  RestartState s;
  MonoTime now = kT0;
  run_once(p, s, now, quick_failure());
  run_once(p, s, now, quick_failure());
  const ClockSnapshot snap{now, kWall0};
  RestartState reloaded = *deserialize_restart_state(serialize_restart_state(s, snap), snap);
  s = p.on_spawn(reloaded, now);
  EXPECT_EQ(p.on_exit(s, quick_failure(), now, 0.5).decision.kind, DecisionKind::kGiveUp);
}

TEST(RestartStateSerialisation, RejectsGarbageAndIgnoresUnknownKeys) {
  const ClockSnapshot now{kT0, kWall0};
  EXPECT_FALSE(deserialize_restart_state("v=2", now).ok());
  EXPECT_FALSE(deserialize_restart_state("failures=-1", now).ok());
  EXPECT_FALSE(deserialize_restart_state("restarts=1,x", now).ok());
  EXPECT_FALSE(deserialize_restart_state("circuit=ajar", now).ok());
  EXPECT_FALSE(deserialize_restart_state("reason=%G1", now).ok());
  EXPECT_FALSE(deserialize_restart_state("reason=%4", now).ok());
  EXPECT_FALSE(deserialize_restart_state("nonsense", now).ok());
  auto r = deserialize_restart_state("v=1;future=thing;total=3", now);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total_restarts, 3);
  auto empty = deserialize_restart_state("", now);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, RestartState{});
  auto err = deserialize_restart_state("quick=abc", now);
  EXPECT_NE(err.error().message.find("'quick'"), std::string::npos);
}

}  // namespace
}  // namespace aw
