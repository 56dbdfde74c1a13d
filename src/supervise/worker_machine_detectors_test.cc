// The detectors of the worker machine (docs/workers.md, "Health") on explicit
// `now` values: hung (runtime limit, grace, extensions), heartbeat, zombie and
// phantom, each also with the wall clock stepped an hour forward or back (an
// NTP step, `date -s`): a decision made on wall time would act an hour early
// or late. No process, no loop, no sleep: the shell's answers (a stat, a /proc
// probe) are fed as inputs.
#include <gtest/gtest.h>

#include <csignal>

#include "src/supervise/worker_health.h"
#include "src/supervise/worker_machine.h"
#include "src/supervise/worker_machine_test_support.h"

namespace aw {
namespace {

using namespace aw::testing;  // NOLINT: the harness
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

WorkerHealth health_of(const Machine& m) {
  return describe_health(m.spec, m.state, m.world, true, m.now);
}

class WallStep : public ::testing::TestWithParam<Duration> {
 protected:
  Duration jump() const { return GetParam(); }
};

// ---- the backoff ----

TEST_P(WallStep, BackoffDelayAndItsDeadlineRunOnMonotonicTime) {
  WorkerSpec spec = agent();
  spec.restart.min_spawn_interval = milliseconds(100);  // the floor decides the delay
  spec.restart.backoff.initial = milliseconds(10);
  Machine m(spec);
  m.run();
  m.now.wall += jump();  // between the spawn and the failure
  m.killed_by(SIGKILL);
  // By wall time the floor would be 0 (forward) or an hour and 100 ms (back).
  EXPECT_EQ(int_field(m.event("worker.restart_scheduled"), "delay_ms"), 100);
  m.now.wall -= jump();
  m.advance(milliseconds(99));
  m.feed(in::AlarmDue{});
  EXPECT_FALSE(m.has<cmd::Spawn>()) << "started before its deadline";
  EXPECT_EQ(describe_status(m.spec, m.state, m.world, m.now.mono).next_start_in, milliseconds(1));
  m.advance(milliseconds(1));
  m.feed(in::AlarmDue{});
  EXPECT_TRUE(m.has<cmd::Spawn>());
}

// ---- hung ----

TEST_P(WallStep, HungWorkerWithoutHeartbeatIsKilledAfterItsGraceOfMonotonicTime) {
  WorkerSpec spec = agent("slow");
  spec.restart.mode = RestartMode::kNever;
  Machine m(spec);
  m.run();
  m.now.wall += jump();
  m.advance(hours(1) - milliseconds(1));
  m.feed(in::AlarmDue{});
  EXPECT_TRUE(m.kinds().empty()) << "before the limit";
  EXPECT_EQ(health_of(m).judged_in, milliseconds(1));
  m.advance(milliseconds(1));
  m.feed(in::AlarmDue{});
  ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.timing_out"});
  EXPECT_EQ(int_field(m.event("worker.timing_out"), "runtime_ms"), to_ms(hours(1)));
  EXPECT_EQ(string_field(m.event("worker.timing_out"), "heartbeat"), "none");
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{LifecycleState::kTimingOut});
  m.now.wall -= jump();
  m.advance(minutes(5) - milliseconds(1));
  m.feed(in::AlarmDue{});
  EXPECT_TRUE(m.kinds().empty()) << "before the grace's end";
  m.advance(milliseconds(1));
  m.feed(in::AlarmDue{});
  ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.killing"});
  EXPECT_EQ(string_field(m.event("worker.killing"), "reason"), "hung");
  const auto* term = m.command<cmd::Signal>();
  ASSERT_TRUE(term);
  EXPECT_EQ(term->signal, SIGTERM);
  EXPECT_FALSE(term->refuse_on_error) << "a detector's kill goes on";
  m.killed_by(SIGTERM);
  EXPECT_EQ(m.request(LifecycleState::kFailed)->reason, "hung");
  EXPECT_EQ(m.state.phase, WorkerPhase::kExited);
}

TEST(HungDetector, NeverJudgedBeforeStartGrace) {
  WorkerSpec spec = agent();
  spec.runtime_limit = seconds(1);
  spec.start_grace = seconds(30);
  Machine m(spec);
  m.run();
  EXPECT_EQ(m.state.runtime_due, m.now.mono + seconds(30));
}

TEST(HungDetector, ProgressEarnsFullExtensionsUntilTheyAreSpent) {
  WorkerSpec spec = agent("busy");
  spec.heartbeat = "/var/log/busy.log";
  spec.runtime_limit = minutes(10);
  spec.timeout_grace = minutes(1);
  spec.max_extensions = 2;
  Machine m(spec);
  m.run();
  // The first heartbeat look, asked for at the start.
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kTrack, m.state.run, sample(10, m.now.wall)});
  std::int64_t size = 10;
  for (int extension = 1; extension <= 3; ++extension) {
    m.advance(m.state.run_deadline - m.now.mono);
    m.feed(in::AlarmDue{});
    ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.timing_out"}) << extension;
    const auto* baseline = m.command<cmd::StatHeartbeat>();
    ASSERT_TRUE(baseline);
    EXPECT_EQ(baseline->purpose, in::SamplePurpose::kBaseline);
    m.feed(
        in::HeartbeatSampled{in::SamplePurpose::kBaseline, m.state.run, sample(size, m.now.wall)});
    m.advance(minutes(1));
    m.feed(in::AlarmDue{});
    const auto* last_look = m.command<cmd::StatHeartbeat>();
    ASSERT_TRUE(last_look);
    EXPECT_EQ(last_look->purpose, in::SamplePurpose::kGraceEnd);
    EXPECT_FALSE(m.state.runtime_due) << "the verdict waits for the look";
    size += 80;
    m.feed(
        in::HeartbeatSampled{in::SamplePurpose::kGraceEnd, m.state.run, sample(size, m.now.wall)});
    if (extension <= 2) {
      ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.extended"});
      EXPECT_EQ(int_field(m.event("worker.extended"), "extensions"), extension);
      EXPECT_EQ(int_field(m.event("worker.extended"), "next_deadline_ms"), to_ms(minutes(10)));
      EXPECT_EQ(string_field(m.event("worker.extended"), "progress"),
                "heartbeat grew (" + std::to_string(size - 80) + " -> " + std::to_string(size) +
                    " bytes)");
      EXPECT_EQ(m.state.runtime_due, m.now.mono + minutes(10)) << "a full runtime_limit";
      const auto* persisted = m.command<cmd::Persist>();
      ASSERT_TRUE(persisted);
      EXPECT_EQ(persisted->value, format_run(m.now.to_wall(m.state.run_started), extension));
    } else {
      ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.killing"});
      EXPECT_EQ(string_field(m.event("worker.killing"), "reason"), "hung");
    }
  }
}

TEST(HungDetector, AHeartbeatThatCannotBeStatedIsNoProgress) {
  WorkerSpec spec = agent();
  spec.heartbeat = "/nonexistent/hb";
  Machine m(spec);
  m.run();
  m.advance(hours(1));
  m.feed(in::AlarmDue{});
  FileSample failed;
  failed.error = "No such file or directory";
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kBaseline, m.state.run, failed});
  m.advance(minutes(5));
  m.feed(in::AlarmDue{});
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kGraceEnd, m.state.run, failed});
  ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.killing"});
  EXPECT_NE(string_field(m.event("worker.killing"), "evidence")
                .find("heartbeat unknown (No such file or directory)"),
            std::string::npos);
}

TEST(HungDetector, AnEndWhileTimingOutIsAFailureUnlessItIsClean) {
  Machine m;
  m.run();
  m.advance(hours(1));
  m.feed(in::AlarmDue{});
  ASSERT_TRUE(m.state.timing_out);
  m.exit_with(2);
  EXPECT_EQ(m.request(LifecycleState::kFailed)->reason, "exited with code 2 while timing_out");

  Machine clean;
  clean.run();
  clean.advance(hours(1));
  clean.feed(in::AlarmDue{});
  clean.exit_with(0);
  EXPECT_EQ(clean.requests(), std::vector<LifecycleState>{LifecycleState::kCompleted});
}

TEST(HungDetector, RecoveredRunKeepsItsRuntimeAndExtensions) {
  Machine m;
  const WallTime started = m.now.wall - minutes(50);
  m.feed(in::Adopted{55, "pid=55", "recovered", Liveness::kAlive, {}, RunRecord{started, 1}});
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{}) << "the table already knows";
  EXPECT_EQ(health_of(m).runtime, minutes(50));
  EXPECT_EQ(health_of(m).extensions, 1);
  EXPECT_EQ(m.state.runtime_due, m.now.mono + minutes(10));
  // Recorded in the future (the clock was set back): counts from now.
  Machine later;
  later.feed(in::Adopted{
      55, "pid=55", "recovered", Liveness::kAlive, {}, RunRecord{later.now.wall + hours(1), 0}});
  EXPECT_EQ(health_of(later).runtime, Duration{0});
  EXPECT_EQ(health_of(later).judged_in, hours(1));
}

// ---- heartbeat ----

TEST_P(WallStep, HeartbeatIsLostOnceAfterItsTimeoutOfMonotonicTimeThenResumes) {
  WorkerSpec spec = agent();
  spec.heartbeat = "/var/log/w.log";
  spec.heartbeat_timeout = minutes(10);
  Machine m(spec);
  m.run();
  ASSERT_TRUE(m.command<cmd::StatHeartbeat>()) << "a first look at the start";
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kTrack, m.state.run, sample(100, m.now.wall)});
  EXPECT_EQ(m.state.heartbeat.status(), HeartbeatStatus::kFresh);
  EXPECT_EQ(m.state.heartbeat_due, m.now.mono + minutes(10));
  m.now.wall += jump();
  m.advance(minutes(10) - milliseconds(1));
  m.feed(in::AlarmDue{});
  EXPECT_FALSE(m.has<cmd::StatHeartbeat>()) << "no look before its deadline";
  m.advance(milliseconds(1));
  m.feed(in::AlarmDue{});
  ASSERT_TRUE(m.has<cmd::StatHeartbeat>());
  // Unchanged (its mtime by the writer's clock, not stepped).
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kTrack, m.state.run,
                              sample(100, m.now.wall - jump() - minutes(10))});
  ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.heartbeat_lost"});
  EXPECT_EQ(string_field(m.event("worker.heartbeat_lost"), "last_growth"),
            format_time_utc(m.now.wall - minutes(10)));
  // Lost: one look per timeout, and no second report.
  m.ring();
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kTrack, m.state.run,
                              sample(100, m.now.wall - jump() - minutes(20))});
  EXPECT_TRUE(m.kinds().empty());
  // A hint from the pipeline looks at once; it grew.
  m.advance(minutes(1));
  m.feed(in::HeartbeatHint{});
  ASSERT_TRUE(m.has<cmd::StatHeartbeat>());
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kTrack, m.state.run,
                              sample(180, m.now.wall - jump())});
  ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.heartbeat_resumed"});
  EXPECT_EQ(int_field(m.event("worker.heartbeat_resumed"), "size"), 180);
  EXPECT_EQ(m.state.heartbeat.status(), HeartbeatStatus::kFresh);
}

TEST(HeartbeatDetector, AFileThatCannotBeStatedIsUnknownNotLost) {
  WorkerSpec spec = agent();
  spec.heartbeat = "/var/log/w.log";
  Machine m(spec);
  m.run();
  FileSample failed;
  failed.error = "Permission denied";
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kTrack, m.state.run, failed});
  ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.heartbeat_unknown"});
  EXPECT_EQ(string_field(m.event("worker.heartbeat_unknown"), "error"), "Permission denied");
  m.ring();
  m.feed(in::HeartbeatSampled{in::SamplePurpose::kTrack, m.state.run, failed});
  EXPECT_TRUE(m.kinds().empty()) << "once per episode";
  EXPECT_EQ(health_of(m).heartbeat, HeartbeatStatus::kUnknown);
  EXPECT_EQ(health_of(m).heartbeat_error, "Permission denied");
}

// ---- zombie ----

LivenessVerdict alive() {
  LivenessVerdict v;
  v.liveness = Liveness::kAlive;
  v.evidence.push_back({"proc", "start time and exe match", {}});
  return v;
}

TEST(ZombieDetector, AliveProcessWithItsSessionConfirmedGoneIsTerminated) {
  WorkerSpec spec = agent("z");
  spec.tmux_session = "agent-z";
  Machine m(spec);
  m.world.session = SessionPresence::kPresent;
  m.run();
  m.advance(seconds(31));
  m.feed(in::PresenceCheck{});
  EXPECT_TRUE(m.last.commands.empty()) << "present";
  m.world.session = SessionPresence::kUnknown;
  m.feed(in::PresenceCheck{});
  EXPECT_TRUE(m.last.commands.empty()) << "unknown never acts";
  m.world.session = SessionPresence::kAbsent;
  m.feed(in::PresenceCheck{});
  ASSERT_TRUE(m.has<cmd::ProbeLiveness>()) << "only now is /proc asked";
  m.feed(in::LivenessProbed{alive()});
  EXPECT_EQ(m.kinds(), (std::vector<std::string>{"worker.zombie", "worker.killing"}));
  EXPECT_EQ(m.requests(), std::vector<LifecycleState>{LifecycleState::kZombie});
  EXPECT_EQ(string_field(m.event("worker.killing"), "reason"), "zombie");
  m.killed_by(SIGTERM);
  EXPECT_EQ(m.request(LifecycleState::kFailed)->reason, "zombie");
}

TEST(ZombieDetector, WaitsForStartGraceAndActsOnlyOnAConfirmedLiveProcess) {
  WorkerSpec spec = agent("z");
  spec.tmux_session = "agent-z";
  spec.start_grace = seconds(30);
  Machine m(spec);
  m.world.session = SessionPresence::kAbsent;
  m.run();
  m.advance(seconds(10));
  m.feed(in::PresenceCheck{});
  EXPECT_FALSE(m.has<cmd::ProbeLiveness>());
  EXPECT_EQ(m.state.presence_due, m.state.started + seconds(30));
  m.ring();
  ASSERT_TRUE(m.has<cmd::ProbeLiveness>());
  LivenessVerdict unknown;
  unknown.liveness = Liveness::kUnknown;
  m.feed(in::LivenessProbed{unknown});
  EXPECT_TRUE(m.last.commands.empty()) << "an unreadable /proc is not a verdict";
  EXPECT_EQ(m.state.phase, WorkerPhase::kRunning);
  EXPECT_NE(m.state.decisions.back().detail.find("liveness unknown"), std::string::npos);
}

// ---- phantom ----

WorkerSpec adopt_only(std::string name = "ghost") {
  WorkerSpec w = agent(std::move(name));
  w.argv.clear();
  w.pid_file = "/run/ghost.pid";
  return w;
}

TEST_P(WallStep, PhantomIsFailedAfterItsGraceOfMonotonicTime) {
  Machine m(adopt_only());
  m.world.sink_state = LifecycleState::kProcessing;  // the table after a restart
  m.feed(in::PresenceCheck{});
  ASSERT_TRUE(m.state.phantom_since);
  const WallTime suspected = m.now.wall;
  m.now.wall += jump();
  EXPECT_EQ(health_of(m).phantom_deadline, m.now.wall + minutes(2));
  m.advance(minutes(2) - milliseconds(1));
  m.feed(in::AlarmDue{});
  EXPECT_TRUE(m.kinds().empty());
  m.advance(milliseconds(1));
  m.feed(in::AlarmDue{});
  ASSERT_EQ(m.kinds(), std::vector<std::string>{"worker.phantom"});
  EXPECT_EQ(string_field(m.event("worker.phantom"), "since"), format_time_utc(suspected + jump()));
  EXPECT_EQ(string_field(m.event("worker.phantom"), "session"), "none");
  EXPECT_EQ(m.request(LifecycleState::kFailed)->reason, "phantom");
}

TEST(PhantomDetector, NeedsAContinuousConfirmedAbsence) {
  WorkerSpec spec = adopt_only();
  spec.tmux_session = "ghost";
  Machine m(spec);
  m.world.sink_state = LifecycleState::kProcessing;
  m.world.session = SessionPresence::kAbsent;
  m.feed(in::PresenceCheck{});
  ASSERT_TRUE(m.state.phantom_since);
  m.advance(minutes(1));
  m.world.session = SessionPresence::kUnknown;  // a listing that failed
  m.feed(in::PresenceCheck{});
  EXPECT_FALSE(m.state.phantom_since) << "dropped: the absence must be confirmed throughout";
  EXPECT_EQ(next_deadline(m.state), std::nullopt);
  m.world.session = SessionPresence::kAbsent;
  m.feed(in::PresenceCheck{});
  m.advance(minutes(2));
  m.feed(in::AlarmDue{});
  EXPECT_EQ(m.kinds(), std::vector<std::string>{"worker.phantom"});
}

TEST(PhantomDetector, EvidenceOfLifeDropsTheSuspicion) {
  Machine m(adopt_only());
  m.world.sink_state = LifecycleState::kProcessing;
  m.feed(in::PresenceCheck{});
  ASSERT_TRUE(m.state.phantom_since);
  m.feed(in::Adopted{77, "pid=77", "pid_file", Liveness::kAlive, {}, std::nullopt});
  EXPECT_FALSE(m.state.phantom_since);
  EXPECT_EQ(m.state.decisions.back().detail, "suspicion dropped: a process is watched");
  // Its end: processing, nothing watched, nobody restarts it → suspected again.
  m.exit_with(0, /*child=*/false);
  EXPECT_EQ(m.state.phase, WorkerPhase::kExited);
  EXPECT_TRUE(m.state.phantom_since);
}

TEST(PhantomDetector, QueuedOrShuttingDownIsNeverAPhantom) {
  Machine m(adopt_only());
  m.world.sink_state = LifecycleState::kQueued;
  m.feed(in::PresenceCheck{});
  EXPECT_FALSE(m.state.phantom_since);
  m.world.sink_state = LifecycleState::kProcessing;
  m.world.stopping_all = true;
  m.feed(in::PresenceCheck{});
  EXPECT_FALSE(m.state.phantom_since);
}

TEST(WorkerHealthRecord, KeepsTheLastSixteenDecisions) {
  Machine m;
  m.run();
  for (int i = 0; i < 20; ++i) m.feed(in::Kill{SIGCONT, seconds(1), "nudge " + std::to_string(i)});
  const WorkerHealth h = health_of(m);
  ASSERT_EQ(h.decisions.size(), kHealthRecords);
  EXPECT_NE(h.decisions.back().detail.find("nudge 19"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(WallClockSteps, WallStep,
                         ::testing::Values(Duration(hours(1)), Duration(-hours(1))),
                         [](const ::testing::TestParamInfo<Duration>& info) {
                           return info.param > Duration{0} ? std::string("Forward")
                                                           : std::string("Back");
                         });

}  // namespace
}  // namespace aw
