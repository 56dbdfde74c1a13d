// The worker machine on explicit `now` values: no loop, no process, no sleep.
// Every row of kPhaseTable is driven by the input its cause names, every move
// outside it is refused, and the detectors (hung, heartbeat, zombie, phantom)
// run hours of behaviour in microseconds, with the wall clock stepped either
// way where time decides.
#include "src/supervise/worker_machine.h"

#include <gtest/gtest.h>

#include <csignal>
#include <set>

#include "src/supervise/worker_health.h"
#include "src/supervise/worker_machine_test_support.h"

namespace aw {
namespace {

using namespace aw::testing;  // NOLINT: the harness
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// ---- the phase table: every edge, and only those ----

// The restart policy that decides `to` after a failed run (or spawn).
void decide(WorkerSpec& spec, WorkerWorld& world, WorkerPhase to) {
  switch (to) {
    case WorkerPhase::kCircuitOpen:
      spec.restart.circuit_threshold = 1;
      break;
    case WorkerPhase::kGaveUp:
      spec.restart.max_restarts = 0;
      break;
    case WorkerPhase::kExited:
      spec.restart.mode = RestartMode::kNever;
      break;
    case WorkerPhase::kWaiting:
      world.missing_deps = {"planner"};
      break;
    default:
      break;
  }
}

// Puts the machine in `from` as the machine itself would leave it.
void enter(Machine& m, WorkerPhase from) {
  m.state.phase = from;
  const bool live = from == WorkerPhase::kRunning || from == WorkerPhase::kStopping ||
                    from == WorkerPhase::kKilling;
  if (live) {
    m.state.process = WatchedProcess{100, "pid=100", false};
    m.state.started = m.now.mono;  // a quick run, unless a test waits
  }
  if (from == WorkerPhase::kStopping) m.state.stop_requested = true;
  if (from == WorkerPhase::kBackoff || from == WorkerPhase::kCircuitOpen) {
    m.state.next_start = m.now.mono;
    m.state.restart_due = m.now.mono;
  }
}

// Drives `move` with the input its cause names; true when the step made it.
::testing::AssertionResult drive(const PhaseMove& move) {
  Machine m;
  enter(m, move.from);
  switch (move.cause) {
    case PhaseCause::kStart:
      if (move.to == WorkerPhase::kWaiting) m.world.missing_deps = {"planner"};
      m.feed(in::Start{});
      if (m.has<cmd::Spawn>()) m.feed(in::Spawned{7, "pid=7"});
      break;
    case PhaseCause::kAdopt:
      m.feed(in::Adopted{7, "pid=7", "notify", Liveness::kAlive, {}, std::nullopt});
      break;
    case PhaseCause::kSpawnFailed:
      decide(m.spec, m.world, move.to);
      m.feed(in::SpawnFailed{"No such file or directory"});
      break;
    case PhaseCause::kStop:
      m.feed(in::Stop{});
      break;
    case PhaseCause::kKill:
      m.feed(in::Kill{SIGTERM, seconds(5), "test"});
      break;
    case PhaseCause::kExit:
      if (move.to == WorkerPhase::kStopped) m.state.stop_requested = true;
      decide(m.spec, m.world, move.to);
      m.exit_with(1);
      break;
    case PhaseCause::kAlarm:
      if (move.to == WorkerPhase::kWaiting) m.world.missing_deps = {"planner"};
      m.feed(in::AlarmDue{});
      if (m.has<cmd::Spawn>()) m.feed(in::Spawned{7, "pid=7"});
      break;
    case PhaseCause::kDependencies:
      m.state.waiting_after_exit = move.to != WorkerPhase::kRunning;
      m.feed(in::DependencyCompleted{});
      if (m.has<cmd::Spawn>()) m.feed(in::Spawned{7, "pid=7"});
      break;
  }
  // A Spawned step records only its own move; look at the phase reached too.
  if (m.state.phase != move.to)
    return ::testing::AssertionFailure() << "reached " << worker_phase_name(m.state.phase)
                                         << " (refusal: '" << m.last.refusal << "')";
  return ::testing::AssertionSuccess();
}

TEST(WorkerPhaseTable, EveryEdgeIsDrivenByItsCause) {
  for (const PhaseMove& move : kPhaseTable)
    EXPECT_TRUE(drive(move)) << worker_phase_name(move.from) << " -> " << worker_phase_name(move.to)
                             << " by " << phase_cause_name(move.cause) << " (" << move.meaning
                             << ")";
}

TEST(WorkerPhaseTable, EachStepMakesOnlyMovesOfTheTable) {
  // The moves a step reports are the table's: a chain (an end, then the start a
  // restart() asked for) is two moves, each checked.
  Machine m;
  m.run();
  m.feed(in::Restart{});
  EXPECT_TRUE(m.moved(WorkerPhase::kRunning, WorkerPhase::kStopping));
  m.killed_by(SIGTERM);
  EXPECT_TRUE(m.moved(WorkerPhase::kStopping, WorkerPhase::kStopped));
  ASSERT_TRUE(m.has<cmd::Spawn>()) << "started again once it ended";
  for (const auto& [from, to] : m.last.moves) EXPECT_NE(find_phase_move(from, to), nullptr);
}

TEST(WorkerPhaseTable, EveryOtherMoveIsIllegal) {
  std::set<std::pair<WorkerPhase, WorkerPhase>> legal;
  for (const PhaseMove& move : kPhaseTable) {
    EXPECT_NE(move.from, move.to) << "a row that does not move";
    legal.insert({move.from, move.to});
  }
  int illegal = 0;
  for (WorkerPhase from : kAllWorkerPhases) {
    for (WorkerPhase to : kAllWorkerPhases) {
      if (legal.count({from, to})) continue;
      EXPECT_EQ(find_phase_move(from, to), nullptr);
      ++illegal;
    }
  }
  EXPECT_EQ(illegal + static_cast<int>(legal.size()), 100);
  EXPECT_EQ(find_phase_move(WorkerPhase::kStopping, WorkerPhase::kBackoff), nullptr)
      << "nothing restarts a stop";
  EXPECT_EQ(find_phase_move(WorkerPhase::kRunning, WorkerPhase::kStopped), nullptr);
  EXPECT_EQ(find_phase_move(WorkerPhase::kRunning, WorkerPhase::kRunning), nullptr);
}

TEST(WorkerPhaseTable, AStepThatWouldMakeAnIllegalMoveIsRefusedWhole) {
  // A state no input leads to (stopping, yet no stop asked): its end would go
  // stopping → backoff, which the table does not have.
  Machine m;
  enter(m, WorkerPhase::kStopping);
  m.state.stop_requested = false;
  const WorkerState before = m.state;
  StepResult r = m.feed(in::Exited{ProcessEnd{}});
  EXPECT_EQ(r.refusal, "illegal phase move stopping -> backoff");
  EXPECT_TRUE(r.commands.empty());
  EXPECT_EQ(m.state.phase, before.phase);
  EXPECT_EQ(m.state.process, before.process);
}

TEST(WorkerPhaseTable, InputsWithoutALegalMoveAreRefusedAndChangeNothing) {
  struct Case {
    WorkerPhase from;
    WorkerInput input;
    std::string refusal;
  };
  const std::vector<Case> cases = {
      {WorkerPhase::kDown, in::Stop{}, "worker 'w' is not running (down)"},
      {WorkerPhase::kStopped, in::Stop{}, "worker 'w' is not running (stopped)"},
      {WorkerPhase::kExited, in::Stop{}, "worker 'w' is not running (exited)"},
      {WorkerPhase::kGaveUp, in::Stop{}, "worker 'w' is not running (gave_up)"},
      {WorkerPhase::kDown, in::Kill{SIGTERM, seconds(1), ""}, "worker 'w' is not running (down)"},
      {WorkerPhase::kBackoff, in::Kill{SIGTERM, seconds(1), ""},
       "worker 'w' is not running (backoff)"},
      {WorkerPhase::kRunning, in::Start{}, "worker 'w' is already running (pid 100)"},
      {WorkerPhase::kStopping, in::Start{}, "worker 'w' is already running (pid 100)"},
      {WorkerPhase::kRunning, in::Adopted{9, "pid=9", "notify", Liveness::kAlive, {}, {}},
       "worker 'w' already runs as pid 100"},
  };
  for (const Case& c : cases) {
    Machine m;
    enter(m, c.from);
    const WorkerState before = m.state;
    StepResult r = m.feed(c.input);
    EXPECT_EQ(r.refusal, c.refusal) << worker_phase_name(c.from);
    EXPECT_TRUE(r.commands.empty());
    EXPECT_EQ(m.state.phase, before.phase);
  }
  Machine adopt_only(WorkerSpec{});
  adopt_only.spec.name = "w";
  EXPECT_EQ(adopt_only.feed(in::Start{}).refusal,
            "worker 'w' has no argv: agentwatch cannot start it, it adopts it when its "
            "pid_file lands");
}

// ---- restarts, stops, kills ----

TEST(WorkerMachine, StartSpawnsAndPersistsTheRunAndTheProcess) {
  Machine m;
  m.feed(in::Start{});
  ASSERT_TRUE(std::holds_alternative<cmd::Spawn>(m.last.commands.back())) << "Spawn comes last";
  EXPECT_EQ(m.state.attempt, 1);
  m.feed(in::Spawned{4242, "pid=4242 start=9 exe=/bin/agent"});
  EXPECT_EQ(m.kinds(), std::vector<std::string>{"worker.started"});
  EXPECT_EQ(string_field(m.event("worker.started"), "identity"), "pid=4242 start=9 exe=/bin/agent");
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{LifecycleState::kProcessing});
  std::map<std::string, std::string> persisted;
  for (const auto& c : m.last.commands)
    if (const auto* p = std::get_if<cmd::Persist>(&c)) persisted[p->key] = p->value;
  EXPECT_EQ(persisted[kProcessKey], "pid=4242 start=9 exe=/bin/agent");
  EXPECT_EQ(persisted[kRunKey], format_run(m.now.wall, 0));
  // Armed: the stable run and the runtime limit; nothing else wakes it.
  EXPECT_EQ(next_deadline(m.state), m.now.mono + minutes(1));
  EXPECT_EQ(m.state.runtime_due, m.now.mono + hours(1));
}

// The lifecycle of a restart (docs/lifecycle.md): the crashed run fails, the
// restart it earns is a new run waiting queued for its backoff, and its spawn
// is queued → processing. Each step is a request, so each is a transition.
TEST(WorkerMachine, ACrashIsFailedThenTheRestartIsQueuedThenProcessing) {
  WorkerSpec spec = agent();
  Machine m(spec);
  m.run();
  m.advance(seconds(2));
  m.exit_with(3);
  EXPECT_EQ(m.state.phase, WorkerPhase::kBackoff);
  EXPECT_EQ(m.requests(),
            (std::vector<LifecycleState>{LifecycleState::kFailed, LifecycleState::kQueued}));
  EXPECT_EQ(m.request(LifecycleState::kFailed)->reason, "exited with code 3");
  EXPECT_EQ(m.request(LifecycleState::kQueued)->reason.rfind("restart now: ", 0), 0u)
      << m.request(LifecycleState::kQueued)->reason;
  m.ring();
  ASSERT_TRUE(m.has<cmd::Spawn>());
  m.feed(in::Spawned{101, "pid"});
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{LifecycleState::kProcessing});
}

// An open circuit is not a running worker: queued until its trial.
TEST(WorkerMachine, AnOpenCircuitIsQueued) {
  WorkerSpec spec = agent();
  spec.restart.max_restarts = 10;
  spec.restart.circuit_threshold = 2;
  Machine m(spec);
  m.run();
  for (int i = 0; i < 5 && m.state.phase != WorkerPhase::kCircuitOpen; ++i) {
    m.advance(milliseconds(5));
    m.exit_with(1);
    if (m.state.phase == WorkerPhase::kCircuitOpen) break;
    m.advance(seconds(1));
    m.ring();
    ASSERT_TRUE(m.has<cmd::Spawn>());
    m.feed(in::Spawned{200 + i, "pid"});
  }
  ASSERT_EQ(m.state.phase, WorkerPhase::kCircuitOpen);
  EXPECT_EQ(m.requests(),
            (std::vector<LifecycleState>{LifecycleState::kFailed, LifecycleState::kQueued}));
  EXPECT_NE(m.request(LifecycleState::kQueued)->reason.find("circuit open"), std::string::npos);
}

// restart = "always" restarts a clean end too: not a failure, a run that ended.
TEST(WorkerMachine, ACleanEndThatAlwaysRestartsIsQueuedNotFailed) {
  WorkerSpec spec = agent();
  spec.restart.mode = RestartMode::kAlways;
  Machine m(spec);
  m.run();
  m.advance(seconds(2));
  m.exit_with(0);
  EXPECT_EQ(m.state.phase, WorkerPhase::kBackoff);
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{LifecycleState::kQueued});
  EXPECT_EQ(m.request(LifecycleState::kQueued)->reason, "exited with code 0 (restart = always)");
}

TEST(WorkerMachine, CrashLoopBacksOffThenGivesUpAndIdles) {
  WorkerSpec spec = agent();
  spec.restart.max_restarts = 3;
  Machine m(spec);
  m.run();
  std::vector<std::int64_t> delays;
  for (int i = 0; i < 10 && m.state.phase != WorkerPhase::kGaveUp; ++i) {
    m.advance(seconds(1));
    m.exit_with(1);
    if (m.state.phase != WorkerPhase::kBackoff) break;
    delays.push_back(int_field(m.event("worker.restart_scheduled"), "delay_ms"));
    m.ring();  // the restart deadline: Spawn
    ASSERT_TRUE(m.has<cmd::Spawn>());
    m.feed(in::Spawned{100 + i, "pid"});
  }
  // Up a second each time (no floor): the first restart at once, then backoff.
  EXPECT_EQ(delays, (std::vector<std::int64_t>{0, 100, 200}));
  EXPECT_EQ(m.state.phase, WorkerPhase::kGaveUp);
  EXPECT_EQ(m.kinds(), (std::vector<std::string>{"worker.exited", "worker.gave_up"}));
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{LifecycleState::kFailed});
  EXPECT_EQ(next_deadline(m.state), std::nullopt) << "gave up: no wake-up ever";
}

TEST(WorkerMachine, StableRunClosesAHalfOpenCircuit) {
  WorkerSpec spec = agent();
  spec.restart.circuit_threshold = 1;
  spec.restart.circuit_cooldown = minutes(5);
  Machine m(spec);
  m.run();
  m.exit_with(1);
  ASSERT_EQ(m.state.phase, WorkerPhase::kCircuitOpen);
  EXPECT_EQ(int_field(m.event("worker.circuit_open"), "delay_ms"), to_ms(minutes(5)));
  m.ring();
  m.feed(in::Spawned{101, "pid"});
  EXPECT_EQ(string_field(m.event("worker.started"), "circuit"), "half-open");
  m.ring();  // stable_after
  EXPECT_EQ(m.kinds(), std::vector<std::string>{"worker.circuit_closed"});
  EXPECT_EQ(int_field(m.event("worker.circuit_closed"), "uptime_ms"), to_ms(minutes(1)));
}

TEST(WorkerMachine, StopTermsThenKillsAfterTheGraceAndEndsTheRunWithoutAVerdict) {
  Machine m;
  m.run();
  m.feed(in::Stop{});
  const auto* term = m.command<cmd::Signal>();
  ASSERT_TRUE(term);
  EXPECT_EQ(term->signal, SIGTERM);
  EXPECT_TRUE(term->kill_group_on_exit);
  EXPECT_TRUE(term->refuse_on_error);
  m.advance(seconds(5) - milliseconds(1));
  m.feed(in::AlarmDue{});
  EXPECT_FALSE(m.has<cmd::Signal>()) << "before the grace";
  m.ring();
  const auto* kill = m.command<cmd::Signal>();
  ASSERT_TRUE(kill);
  EXPECT_EQ(kill->signal, SIGKILL);
  ASSERT_TRUE(kill->report);
  EXPECT_EQ(kill->report->kind, "worker.kill_escalated");
  m.killed_by(SIGKILL);
  EXPECT_EQ(m.kinds(), (std::vector<std::string>{"worker.exited", "worker.stopped"}));
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{LifecycleState::kQueued});
  EXPECT_EQ(m.request(LifecycleState::kQueued)->reason, "stopped");
  EXPECT_EQ(m.state.phase, WorkerPhase::kStopped);
  EXPECT_EQ(next_deadline(m.state), std::nullopt);
}

TEST(WorkerMachine, KillIsAFailureThatThePolicyJudgesAndAStopDuringItPreventsTheRestart) {
  Machine m;
  m.run();
  m.feed(in::Kill{SIGTERM, seconds(2), "rule says"});
  EXPECT_EQ(m.state.phase, WorkerPhase::kKilling);
  EXPECT_EQ(string_field(m.event("worker.killing"), "reason"), "rule says");
  EXPECT_EQ(string_field(m.event("worker.killing"), "was"), "running");
  m.killed_by(SIGTERM);
  EXPECT_EQ(string_field(m.event("worker.exited"), "killed_for"), "rule says");
  EXPECT_EQ(m.request(LifecycleState::kFailed)->reason, "rule says");
  EXPECT_EQ(m.state.phase, WorkerPhase::kBackoff);

  Machine n;
  n.run();
  n.feed(in::Kill{SIGKILL, seconds(2), ""});
  EXPECT_FALSE(n.state.escalate_due) << "SIGKILL needs no grace";
  EXPECT_EQ(string_field(n.event("worker.killing"), "reason"), "killed");
  n.feed(in::Stop{});
  n.killed_by(SIGKILL);
  EXPECT_EQ(n.state.phase, WorkerPhase::kStopped);
  EXPECT_EQ(n.request(LifecycleState::kFailed)->reason, "killed");
  EXPECT_FALSE(n.request(LifecycleState::kQueued)) << "a failure, not a stop";
}

TEST(WorkerMachine, WaitsForDependenciesThenStarts) {
  Machine m;
  m.world.missing_deps = {"planner", "indexer"};
  m.feed(in::Start{});
  EXPECT_EQ(m.state.phase, WorkerPhase::kWaiting);
  EXPECT_EQ(string_field(m.event("worker.waiting"), "deps"), "planner,indexer");
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{LifecycleState::kQueued});
  m.world.missing_deps = {"indexer"};
  m.feed(in::DependencyCompleted{});
  EXPECT_EQ(m.state.phase, WorkerPhase::kWaiting);
  m.world.missing_deps = {};
  m.feed(in::DependencyCompleted{});
  EXPECT_TRUE(m.has<cmd::Spawn>());
}

TEST(WorkerMachine, CompletedWorkerIsNeitherRestartedNorFailed) {
  Machine m;
  m.run();
  m.world.completed = true;
  m.feed(in::EntityCompleted{});
  EXPECT_FALSE(m.state.runtime_due) << "not judged hung any more";
  m.exit_with(3);
  EXPECT_EQ(m.state.phase, WorkerPhase::kExited);
  EXPECT_TRUE(m.requests().empty());
}

TEST(WorkerMachine, AnOlderRunsAnswerIsIgnored) {
  WorkerSpec spec = agent();
  spec.heartbeat = "/tmp/hb";
  Machine m(spec);
  m.run();
  const std::uint64_t first = m.state.run;
  m.exit_with(1);
  m.ring();
  m.feed(in::Spawned{101, "pid"});
  const WorkerState before = m.state;
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kTrack, first, sample(1, m.now.wall)});
  EXPECT_TRUE(m.last.commands.empty());
  EXPECT_EQ(m.state.heartbeat.status(), before.heartbeat.status());
}

}  // namespace
}  // namespace aw
