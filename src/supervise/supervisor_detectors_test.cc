// The Supervisor shell's detectors where the kernel matters: a real process
// group that ignores SIGTERM (kill escalation), /proc asked about a live
// process (zombie), a pidfd on a process that is not our child (tmux pane
// adoption), a heartbeat stat on the thread pool. Every judgement and every
// deadline is tested on explicit `now` values in worker_machine_test.cc and
// worker_machine_detectors_test.cc; here a ManualClock decides time (a test
// moves it past a deadline and calls check_deadlines(): no real-time wait), and
// the children are this test binary paused (supervise_test_support.h), not
// `sleep`.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>  // environ (a GNU extension: g++ defines _GNU_SOURCE)

#include <fstream>

#include "src/supervise/supervise_test_support.h"
#include "src/supervise/supervisor.h"
#include "src/supervise/supervisor_fixture.h"

namespace aw {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::RecordingLifecycle;

// A paused copy of this binary; nothing fires unless a test shortens it.
WorkerSpec paused_worker(std::string name) {
  WorkerSpec w;
  w.name = std::move(name);
  w.argv = {testing::self_exe()};
  w.env = {{testing::kPauseChildEnv, "pause"}};
  w.restart.min_spawn_interval = milliseconds(10);
  w.restart.circuit_threshold = 0;
  w.restart.backoff.initial = milliseconds(10);
  w.restart.backoff.jitter = 0.0;
  w.runtime_limit = hours(1);
  w.timeout_grace = hours(1);
  w.start_grace = Duration{0};
  w.kill_grace = seconds(5);
  return w;
}

class ShellDetectorTest : public testing::SupervisorFixture {
 protected:
  ShellDetectorTest() : SupervisorFixture(/*jitter_seed=*/7) {}
  Supervisor& make_manual(std::vector<WorkerSpec> specs) {
    return make(std::move(specs), &manual_);
  }
  const RecordingLifecycle::Request* last_request(LifecycleState to) const {
    for (auto it = lifecycle_.requests.rbegin(); it != lifecycle_.requests.rend(); ++it)
      if (it->to == to) return &*it;
    return nullptr;
  }
  // A paused process this process did not start as a child of the Supervisor
  // (its shell exited; we are its subreaper). Reaped by a SIGCHLD handler.
  pid_t orphan() {
    std::string pid_path = dir_ / "orphan.pid";
    std::string self = testing::self_exe();
    std::vector<std::string> args = {
        "/bin/sh",
        "-c",
        std::string("(") + testing::kPauseChildEnv + "=pause exec \"$2\") & echo $! > \"$1\"",
        "sh",
        pid_path,
        self};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& x : args) argv.push_back(x.data());
    argv.push_back(nullptr);
    pid_t sh;
    if (::posix_spawn(&sh, "/bin/sh", nullptr, nullptr, argv.data(), environ) != 0) return 0;
    ::waitpid(sh, nullptr, 0);
    pid_t pid = 0;
    std::ifstream(pid_path) >> pid;
    reaper_ =
        std::make_unique<uvx::Signal>(&loop_, SIGCHLD, [pid] { ::waitpid(pid, nullptr, WNOHANG); });
    return pid;
  }

  ManualClock manual_{std::chrono::floor<milliseconds>(SystemClock().wall())};
};

TEST_F(ShellDetectorTest, KillSignalsTheGroupEscalatesAtTheGraceAndIsAFailure) {
  WorkerSpec w = paused_worker("stub");
  // The shell ignores TERM and execs the paused child, which inherits that.
  w.argv = {"/bin/sh", "-c", "trap '' TERM; : > \"$READY\"; exec \"$0\"", testing::self_exe()};
  w.env.emplace_back("READY", dir_ / "ready");
  // The restart the failure earns waits (a floor of an hour on the manual
  // clock): the test stops the worker before it.
  w.restart.min_spawn_interval = hours(1);
  Supervisor& s = make_manual({w});
  testing::FileAppears ready(&loop_, dir_.path(), "ready");
  ASSERT_TRUE(s.start("stub").ok());
  run_until([&] { return ready.seen(); });
  ASSERT_TRUE(s.kill("stub", SIGTERM, seconds(10), "rule too-slow").ok());
  EXPECT_EQ(s.status("stub")->phase, WorkerPhase::kKilling);
  EXPECT_EQ(events_.last("worker.killing")->fields.get_int("grace_ms"), 10'000);
  EXPECT_EQ(events_.count("worker.kill_escalated"), 0u);
  manual_.advance(seconds(10));  // the grace, on the clock that decides
  s.check_deadlines();
  wait_for("worker.restart_scheduled");
  ASSERT_TRUE(s.stop("stub").ok());
  EXPECT_EQ(events_.count("worker.kill_escalated"), 1u);
  const Event* exited = events_.last("worker.exited");
  EXPECT_EQ(exited->fields.get_int("signal"), SIGKILL);
  EXPECT_EQ(exited->fields.get_string("killed_for"), "rule too-slow");
  // Failed (the kill's reason), then queued for the restart it earned.
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing", "failed", "queued"}));
  EXPECT_EQ(last_request(LifecycleState::kFailed)->reason, "rule too-slow");
  EXPECT_EQ(s.status("stub")->restarts, 1);

  Status unknown = s.kill("stbu", SIGTERM, seconds(1), "x");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "no worker named 'stbu'; did you mean 'stub'?");
  Status idle = s.kill("stub", SIGTERM, seconds(1), "x");
  ASSERT_FALSE(idle.ok());
  EXPECT_EQ(idle.error().message, "worker 'stub' is not running (stopped)");
}

TEST_F(ShellDetectorTest, ZombieAsksProcAndTerminatesOnlyOnConfirmedAbsence) {
  WorkerSpec w = paused_worker("z");
  w.tmux_session = "z-sess";
  w.start_grace = seconds(30);
  w.restart.mode = RestartMode::kNever;
  Supervisor& s = make_manual({w});
  ASSERT_TRUE(s.start("z").ok());
  EXPECT_EQ(s.health("z")->session, SessionPresence::kUnknown);
  s.on_tmux_snapshot({"z-sess", "other"}, true);
  EXPECT_EQ(s.health("z")->session, SessionPresence::kPresent);
  s.on_tmux_snapshot({}, false);  // tmux did not answer: unknown, nothing happens
  EXPECT_EQ(s.health("z")->session, SessionPresence::kUnknown);
  s.on_tmux_snapshot({"other"}, true);
  EXPECT_EQ(events_.count("worker.zombie"), 0u) << "within start_grace";
  manual_.advance(seconds(30));
  s.check_deadlines();
  wait_for("worker.exited");
  const Event* zombie = events_.last("worker.zombie");
  ASSERT_TRUE(zombie);
  std::string evidence = *zombie->fields.get_string("evidence");
  EXPECT_NE(evidence.find("pidfd: pid"), std::string::npos) << evidence;
  EXPECT_NE(evidence.find("session 'z-sess' absent"), std::string::npos) << evidence;
  EXPECT_EQ(events_.last("worker.exited")->fields.get_string("killed_for"), "zombie");
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing", "zombie", "failed"}));
  EXPECT_NE(s.health("z")->session_checked, WallTime{});
}

// Unknown never acts: the session is gone, but the Env cannot read the
// worker's /proc/PID/stat, so the probe says "unknown" and nothing is killed.
TEST_F(ShellDetectorTest, ZombieWhoseProcCannotBeReadIsNotActedOn) {
  WorkerSpec w = paused_worker("z");
  w.tmux_session = "z-sess";
  w.start_grace = seconds(30);
  w.restart.mode = RestartMode::kNever;
  testing::FakeEnv env;
  Supervisor& s = make({w}, &manual_, &env);
  ASSERT_TRUE(s.start("z").ok());
  const pid_t pid = s.status("z")->pid;
  ASSERT_GT(pid, 0);
  // Only the loop thread reads `env` in this test (no PID file): safe to set now.
  env.stat_errno[pid] = EACCES;
  s.on_tmux_snapshot({"other"}, true);
  manual_.advance(seconds(30));
  s.check_deadlines();  // asks /proc, synchronously
  EXPECT_EQ(events_.count("worker.zombie"), 0u);
  EXPECT_EQ(events_.count("worker.exited"), 0u);
  EXPECT_EQ(s.status("z")->phase, WorkerPhase::kRunning);
  EXPECT_EQ(::kill(pid, 0), 0) << "the process was signalled";
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing"}));
  const auto decisions = s.health("z")->decisions;
  ASSERT_FALSE(decisions.empty());
  EXPECT_NE(decisions.back().detail.find("liveness unknown"), std::string::npos)
      << decisions.back().detail;
  EXPECT_NE(decisions.back().detail.find("injected: Permission denied"), std::string::npos)
      << decisions.back().detail;
  ASSERT_TRUE(s.stop("z").ok());
  run_until([&] { return s.running() == 0; });
  sup_.reset();  // before `env`
}

TEST_F(ShellDetectorTest, AdoptOnlyWorkerAdoptsItsSessionsPaneProcessOnce) {
  pid_t pane = orphan();
  ASSERT_GT(pane, 0);
  WorkerSpec w;
  w.name = "agent";
  w.tmux_session = "agent-1";
  WorkerSpec started_by_us = paused_worker("ours");
  started_by_us.tmux_session = "ours-1";
  Supervisor& s = make_manual({w, started_by_us});

  s.on_tmux_snapshot({"agent-1", "ours-1"}, false, {{"agent-1", pane}, {"ours-1", pane}});
  EXPECT_EQ(events_.count("worker.adopted"), 0u) << "an unknown snapshot adopted";
  s.on_tmux_snapshot({"agent-1", "ours-1"}, true, {{"agent-1", pane}, {"ours-1", pane}});
  ASSERT_EQ(events_.count("worker.adopted"), 1u) << "only the adopt-only worker adopts";
  EXPECT_EQ(events_.last("worker.adopted")->entity, "agent");
  EXPECT_EQ(events_.last("worker.adopted")->fields.get_string("via"), "tmux");
  EXPECT_EQ(last_request(LifecycleState::kProcessing)->reason, "adopted via tmux");

  // It ends (its pidfd says so); tmux still lists the pid: not offered again.
  ::kill(pane, SIGKILL);
  wait_for("worker.exited");
  s.on_tmux_snapshot({"agent-1"}, true, {{"agent-1", pane}});
  EXPECT_EQ(events_.count("worker.adopted"), 1u);
  EXPECT_EQ(events_.count("worker.adopt_failed"), 0u);

  pid_t next = orphan();
  ASSERT_GT(next, 0);
  s.on_tmux_snapshot({"agent-1"}, true, {{"agent-1", next}});
  ASSERT_EQ(events_.count("worker.adopted"), 2u);
  EXPECT_EQ(events_.last("worker.adopted")->fields.get_int("pid"), next);
  ::kill(next, SIGKILL);
  wait_for("worker.exited", 2);
}

TEST_F(ShellDetectorTest, HeartbeatIsStatedOnThePoolAndAnUnreadableFileIsUnknown) {
  std::string hb = dir_ / "worker.log";
  testing::write_file(hb, "start\n");
  WorkerSpec fresh = paused_worker("fresh");
  fresh.heartbeat = hb;
  WorkerSpec missing = paused_worker("missing");
  missing.heartbeat = dir_ / "nope/worker.log";
  Supervisor& s = make_manual({fresh, missing});
  ASSERT_TRUE(s.start("fresh").ok());
  ASSERT_TRUE(s.start("missing").ok());
  run_until([&] { return s.health("fresh")->heartbeat == HeartbeatStatus::kFresh; });
  wait_for("worker.heartbeat_unknown");
  EXPECT_EQ(events_.last("worker.heartbeat_unknown")->fields.get_string("error"),
            "No such file or directory");
  s.stop_all();
  run_until([&] { return s.running() == 0; });
}

}  // namespace
}  // namespace aw
