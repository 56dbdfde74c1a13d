// The Supervisor's detectors (hung, heartbeat, zombie, phantom), kill() and
// health(), on a real loop with real processes and files, at millisecond scale.
// The pure judgements are tested alone in detectors_test / heartbeat_tracker_test.
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

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::RecordingLifecycle;

// Nothing fires unless a test shortens it.
WorkerSpec quiet_worker(std::string name, std::vector<std::string> argv) {
  WorkerSpec w;
  w.name = std::move(name);
  w.argv = std::move(argv);
  w.restart.min_spawn_interval = milliseconds(10);
  w.restart.circuit_threshold = 0;
  w.restart.backoff.initial = milliseconds(10);
  w.restart.backoff.jitter = 0.0;
  w.runtime_limit = std::chrono::hours(1);
  w.timeout_grace = std::chrono::hours(1);
  w.start_grace = Duration{0};
  w.kill_grace = seconds(5);
  return w;
}

bool has_decision(const WorkerHealth& h, const std::string& signal, const std::string& part) {
  for (const Evidence& e : h.decisions)
    if (e.signal == signal && e.detail.find(part) != std::string::npos) return true;
  return false;
}

class DetectorTest : public testing::SupervisorFixture {
 protected:
  DetectorTest() : SupervisorFixture(/*jitter_seed=*/7) {}
  // Lets real time pass with the loop running: for asserting that something
  // does NOT happen (a second heartbeat_lost, a phantom after its suspicion was
  // dropped). Never used to wait for something that can be waited on.
  void run_for(Duration d) {
    bool done = false;
    uvx::Timer t(&loop_, [&] { done = true; });
    t.start(static_cast<std::uint64_t>(to_ms(d)));
    run_until([&] { return done; });
  }
  std::vector<std::string> detector_kinds() const {
    std::vector<std::string> k;
    for (const Event& e : events_.events)
      if (e.kind == "worker.timing_out" || e.kind == "worker.extended" ||
          e.kind == "worker.killing" || e.kind == "worker.zombie" || e.kind == "worker.phantom")
        k.push_back(e.kind);
    return k;
  }
  const RecordingLifecycle::Request* last_request(LifecycleState to) const {
    for (auto it = lifecycle_.requests.rbegin(); it != lifecycle_.requests.rend(); ++it)
      if (it->to == to) return &*it;
    return nullptr;
  }
  // A `sleep 30` this process did not start as a child of the Supervisor (its
  // shell exited; we are its subreaper). Reaped by a SIGCHLD handler.
  pid_t orphan_sleep() {
    std::string pid_path = dir_ / "orphan.pid";
    std::vector<std::string> args = {"/bin/sh", "-c", "(exec sleep 30) & echo $! > \"$1\"", "sh",
                                     pid_path};
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
};

// ---- hung ----

TEST_F(DetectorTest, HungWorkerWithoutProgressIsKilledAndFailedAsHung) {
  WorkerSpec w = quiet_worker("slow", {"sleep", "30"});
  w.runtime_limit = milliseconds(100);
  w.timeout_grace = milliseconds(50);
  Supervisor& s = make({w});
  MonoTime t0 = clock_.mono();
  ASSERT_TRUE(s.start("slow").ok());
  wait_for("worker.timing_out");
  EXPECT_GE(clock_.mono() - t0, milliseconds(100));
  const Event* timing_out = events_.last("worker.timing_out");
  EXPECT_GE(*timing_out->fields.get_int("runtime_ms"), 100);
  EXPECT_EQ(timing_out->fields.get_int("limit_ms"), 100);
  EXPECT_EQ(timing_out->fields.get_int("grace_ms"), 50);
  EXPECT_EQ(timing_out->fields.get_int("max_extensions"), 3);
  EXPECT_EQ(timing_out->fields.get_string("heartbeat"), "none");
  auto h = s.health("slow");
  EXPECT_TRUE(h->timing_out);
  EXPECT_LE(h->judged_in, milliseconds(50));

  wait_for("worker.restart_scheduled");  // the restart policy decides, as for any failure
  ASSERT_TRUE(s.stop("slow").ok());      // (cancels the pending restart)
  EXPECT_GE(clock_.mono() - t0, milliseconds(150));
  EXPECT_EQ(detector_kinds(), (std::vector<std::string>{"worker.timing_out", "worker.killing"}));
  const Event* killing = events_.last("worker.killing");
  EXPECT_EQ(killing->fields.get_string("reason"), "hung");
  EXPECT_EQ(killing->fields.get_int("signal"), SIGTERM);
  EXPECT_NE(killing->fields.get_string("evidence")->find("no heartbeat declared"),
            std::string::npos);
  const Event* exited = events_.last("worker.exited");
  EXPECT_EQ(exited->fields.get_string("killed_for"), "hung");
  EXPECT_EQ(exited->fields.get_int("signal"), SIGTERM);
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing", "timing_out", "failed"}));
  const auto* failed = last_request(LifecycleState::kFailed);
  EXPECT_EQ(failed->reason, "hung");
  EXPECT_EQ(failed->evidence.front().signal, "runtime");

  h = s.health("slow");
  EXPECT_EQ(h->phase, WorkerPhase::kStopped);
  EXPECT_EQ(h->process, Liveness::kAbsent);
  EXPECT_NE(h->process_evidence.find("killed by signal 15"), std::string::npos);
  EXPECT_TRUE(has_decision(*h, "timing_out", "limit 100ms"));
  EXPECT_TRUE(has_decision(*h, "hung", "no progress"));
  EXPECT_TRUE(has_decision(*h, "kill", "signal 15 (hung)"));
  EXPECT_FALSE(store_.get("slow", Supervisor::kRunKey));
}

TEST_F(DetectorTest, ProgressEarnsExtensionsUntilTheyAreSpent) {
  std::string hb = dir_ / "hb.log";
  WorkerSpec w =
      quiet_worker("busy", {"/bin/sh", "-c", "while :; do echo x >> \"$HB\"; sleep 0.01; done"});
  w.env = {{"HB", hb}};
  w.heartbeat = hb;
  w.heartbeat_timeout = seconds(30);
  w.runtime_limit = milliseconds(100);
  w.timeout_grace = milliseconds(80);
  w.max_extensions = 2;
  w.restart.mode = RestartMode::kNever;
  Supervisor& s = make({w});
  ASSERT_TRUE(s.start("busy").ok());
  wait_for("worker.extended");
  EXPECT_EQ(*store_.get("busy", Supervisor::kRunKey)->rbegin(), '1');  // extensions=1 persisted
  wait_for("worker.exited");
  EXPECT_EQ(detector_kinds(),
            (std::vector<std::string>{"worker.timing_out", "worker.extended", "worker.timing_out",
                                      "worker.extended", "worker.timing_out", "worker.killing"}));
  std::vector<std::int64_t> extensions;
  for (const Event& e : events_.events) {
    if (e.kind != "worker.extended") continue;
    extensions.push_back(*e.fields.get_int("extensions"));
    EXPECT_NE(e.fields.get_string("progress")->find("heartbeat grew"), std::string::npos);
    EXPECT_EQ(e.fields.get_int("next_deadline_ms"), 100);
  }
  EXPECT_EQ(extensions, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(events_.last("worker.timing_out")->fields.get_int("extensions"), 2);
  EXPECT_EQ(events_.last("worker.killing")->fields.get_string("reason"), "hung");
  EXPECT_EQ(requested_states(),
            (std::vector<std::string>{"processing", "timing_out", "processing", "timing_out",
                                      "processing", "timing_out", "failed"}));
  EXPECT_NE(lifecycle_.requests[2].reason.find("extension 1 of 2"), std::string::npos);
  auto h = s.health("busy");
  EXPECT_EQ(h->extensions, 2);
  EXPECT_TRUE(has_decision(*h, "hung", "all 2 extensions are used"));
  EXPECT_EQ(s.status("busy")->phase, WorkerPhase::kExited);  // restart = never
}

TEST_F(DetectorTest, RecoveredWorkerKeepsItsRuntimeAndExtensions) {
  pid_t orphan = orphan_sleep();
  ASSERT_GT(orphan, 0);
  LivenessVerdict v = probe_process(real_proc_fs(), clock_, orphan, std::nullopt);
  store_.set("w", Supervisor::kProcessKey, format_identity(v.seen));
  auto ten_seconds_ago = std::chrono::duration_cast<std::chrono::milliseconds>(
      (clock_.wall() - seconds(10)).time_since_epoch());
  store_.set("w", Supervisor::kRunKey,
             "started=" + std::to_string(ten_seconds_ago.count()) + ";extensions=1");
  WorkerSpec w = quiet_worker("w", {"sleep", "30"});
  w.runtime_limit = seconds(5);
  Supervisor& s = make({w});
  s.recover();
  ASSERT_EQ(events_.count("worker.adopted"), 1u);
  // Over its limit already: judged as soon as start_grace (0) allows.
  wait_for("worker.timing_out");
  const Event* e = events_.last("worker.timing_out");
  EXPECT_GE(*e->fields.get_int("runtime_ms"), 10'000);
  EXPECT_EQ(e->fields.get_int("extensions"), 1);
  auto h = s.health("w");
  EXPECT_GE(h->runtime, seconds(10));
  EXPECT_EQ(h->extensions, 1);
  EXPECT_TRUE(h->timing_out);
  s.stop_all();
  run_until([&] { return s.running() == 0; });
}

// ---- heartbeat ----

TEST_F(DetectorTest, HeartbeatLostOnceThenResumed) {
  std::string hb = dir_ / "worker.log";
  testing::write_file(hb, "start\n");
  WorkerSpec w = quiet_worker("w", {"sleep", "30"});
  w.heartbeat = hb;
  w.heartbeat_timeout = milliseconds(100);
  Supervisor& s = make({w});
  MonoTime t0 = clock_.mono();
  ASSERT_TRUE(s.start("w").ok());
  wait_for("worker.heartbeat_lost");
  EXPECT_GE(clock_.mono() - t0, milliseconds(100));
  const Event* lost = events_.last("worker.heartbeat_lost");
  EXPECT_EQ(lost->fields.get_string("file"), hb);
  EXPECT_EQ(lost->fields.get_int("timeout_ms"), 100);
  EXPECT_EQ(lost->fields.get_int("size"), 6);
  EXPECT_TRUE(lost->fields.find("last_growth"));
  EXPECT_EQ(s.health("w")->heartbeat, HeartbeatStatus::kStale);
  run_for(milliseconds(250));  // two more looks: still one report
  EXPECT_EQ(events_.count("worker.heartbeat_lost"), 1u);

  {
    std::ofstream f(hb, std::ios::app);
    f << "more\n";
  }
  Event hint;  // what the daemon passes on for a watched directory or a tailed log
  hint.kind = "file.modified";
  hint.path = hb;
  s.on_event(hint);
  wait_for("worker.heartbeat_resumed");
  EXPECT_EQ(events_.last("worker.heartbeat_resumed")->fields.get_int("size"), 11);
  auto h = s.health("w");
  EXPECT_EQ(h->heartbeat, HeartbeatStatus::kFresh);
  EXPECT_EQ(h->heartbeat_file, hb);
  EXPECT_TRUE(has_decision(*h, "heartbeat", "lost"));
  EXPECT_TRUE(has_decision(*h, "heartbeat", "resumed"));
  EXPECT_EQ(events_.count("worker.heartbeat_unknown"), 0u);
  EXPECT_EQ(events_.count("worker.killing"), 0u);  // a lost heartbeat is an event, not a verdict
  ASSERT_TRUE(s.stop("w").ok());
  wait_for("worker.stopped");
}

TEST_F(DetectorTest, AHeartbeatFileThatCannotBeStatedIsUnknownNotLost) {
  std::string hb = dir_ / "not-yet.log";
  WorkerSpec w = quiet_worker("w", {"sleep", "30"});
  w.heartbeat = hb;
  w.heartbeat_timeout = milliseconds(60);
  Supervisor& s = make({w});
  ASSERT_TRUE(s.start("w").ok());
  wait_for("worker.heartbeat_unknown");
  const Event* unknown = events_.last("worker.heartbeat_unknown");
  EXPECT_EQ(unknown->fields.get_string("heartbeat"), "unknown");
  EXPECT_NE(unknown->fields.get_string("error")->find("No such file"), std::string::npos);
  run_for(milliseconds(200));
  EXPECT_EQ(events_.count("worker.heartbeat_lost"), 0u);
  EXPECT_EQ(events_.count("worker.heartbeat_unknown"), 1u);
  auto h = s.health("w");
  EXPECT_EQ(h->heartbeat, HeartbeatStatus::kUnknown);
  EXPECT_NE(h->heartbeat_error.find("No such file"), std::string::npos);
  // Once the file exists it is tracked as usual: fresh, then lost when it stops.
  testing::write_file(hb, "hello\n");
  wait_for("worker.heartbeat_lost");
  EXPECT_EQ(s.health("w")->heartbeat, HeartbeatStatus::kStale);
  ASSERT_TRUE(s.stop("w").ok());
  wait_for("worker.stopped");
}

// ---- zombie ----

TEST_F(DetectorTest, ZombieIsTerminatedAndFailedOnlyOnConfirmedAbsence) {
  WorkerSpec w = quiet_worker("z", {"sleep", "30"});
  w.tmux_session = "z-sess";
  w.start_grace = milliseconds(100);
  w.restart.mode = RestartMode::kNever;
  Supervisor& s = make({w});
  MonoTime t0 = clock_.mono();
  ASSERT_TRUE(s.start("z").ok());
  EXPECT_EQ(s.health("z")->session, SessionPresence::kUnknown);
  s.on_tmux_snapshot({"z-sess", "other"}, true);
  EXPECT_EQ(s.health("z")->session, SessionPresence::kPresent);
  s.on_tmux_snapshot({}, false);  // tmux did not answer: unknown, nothing happens
  EXPECT_EQ(s.health("z")->session, SessionPresence::kUnknown);
  run_for(milliseconds(120));
  EXPECT_EQ(events_.count("worker.zombie"), 0u);

  s.on_tmux_snapshot({"other"}, true);
  wait_for("worker.exited");
  EXPECT_GE(clock_.mono() - t0, milliseconds(100));
  EXPECT_EQ(detector_kinds(), (std::vector<std::string>{"worker.zombie", "worker.killing"}));
  const Event* zombie = events_.last("worker.zombie");
  EXPECT_EQ(zombie->fields.get_string("session"), "z-sess");
  std::string evidence = *zombie->fields.get_string("evidence");
  EXPECT_NE(evidence.find("pidfd: pid"), std::string::npos) << evidence;
  EXPECT_NE(evidence.find("session 'z-sess' absent"), std::string::npos) << evidence;
  EXPECT_EQ(events_.last("worker.killing")->fields.get_string("reason"), "zombie");
  EXPECT_EQ(events_.last("worker.exited")->fields.get_string("killed_for"), "zombie");
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing", "zombie", "failed"}));
  EXPECT_EQ(last_request(LifecycleState::kFailed)->reason, "zombie");
  auto h = s.health("z");
  EXPECT_EQ(h->session, SessionPresence::kAbsent);
  EXPECT_NE(h->session_checked, WallTime{});
  EXPECT_TRUE(has_decision(*h, "zombie", "gone: terminating"));
}

TEST_F(DetectorTest, ZombieWaitsForStartGrace) {
  WorkerSpec w = quiet_worker("z", {"sleep", "30"});
  w.tmux_session = "z-sess";
  w.start_grace = milliseconds(150);
  w.restart.mode = RestartMode::kNever;
  Supervisor& s = make({w});
  s.on_tmux_snapshot({}, true);  // the session is not there yet while the worker starts
  MonoTime t0 = clock_.mono();
  ASSERT_TRUE(s.start("z").ok());
  wait_for("worker.zombie");
  EXPECT_GE(clock_.mono() - t0, milliseconds(150));
  wait_for("worker.exited");
}

// ---- adoption of a tmux pane's process ----

TEST_F(DetectorTest, AdoptOnlyWorkerAdoptsItsSessionsPaneProcessOnce) {
  pid_t pane = orphan_sleep();
  ASSERT_GT(pane, 0);
  WorkerSpec w;
  w.name = "agent";
  w.tmux_session = "agent-1";
  w.start_grace = milliseconds(0);
  WorkerSpec started_by_us;
  started_by_us.name = "ours";
  started_by_us.argv = {"/bin/sleep", "30"};
  started_by_us.tmux_session = "ours-1";
  Supervisor& s = make({w, started_by_us});

  s.on_tmux_snapshot({"agent-1", "ours-1"}, false, {{"agent-1", pane}, {"ours-1", pane}});
  EXPECT_EQ(events_.count("worker.adopted"), 0u) << "an unknown snapshot adopted";
  s.on_tmux_snapshot({"other"}, true, {{"other", pane}});
  EXPECT_EQ(events_.count("worker.adopted"), 0u) << "another session's pane was adopted";

  s.on_tmux_snapshot({"agent-1", "ours-1"}, true, {{"agent-1", pane}, {"ours-1", pane}});
  ASSERT_EQ(events_.count("worker.adopted"), 1u) << "only the adopt-only worker adopts";
  const Event* adopted = events_.last("worker.adopted");
  EXPECT_EQ(adopted->entity, "agent");
  EXPECT_EQ(adopted->fields.get_int("pid"), pane);
  EXPECT_EQ(adopted->fields.get_string("via"), "tmux");
  EXPECT_EQ(s.status("agent")->phase, WorkerPhase::kRunning);
  EXPECT_EQ(last_request(LifecycleState::kProcessing)->reason, "adopted via tmux");
  s.on_tmux_snapshot({"agent-1"}, true, {{"agent-1", pane}});  // a later hook: same process
  EXPECT_EQ(events_.count("worker.adopted"), 1u);

  // It ends; tmux still lists the pid for a moment: not offered again.
  ::kill(pane, SIGKILL);
  wait_for("worker.exited");
  s.on_tmux_snapshot({"agent-1"}, true, {{"agent-1", pane}});
  EXPECT_EQ(events_.count("worker.adopted"), 1u);
  EXPECT_EQ(events_.count("worker.adopt_failed"), 0u);

  // A new agent in the session (a respawned pane): adopted.
  pid_t next = orphan_sleep();
  ASSERT_GT(next, 0);
  s.on_tmux_snapshot({"agent-1"}, true, {{"agent-1", next}});
  ASSERT_EQ(events_.count("worker.adopted"), 2u);
  EXPECT_EQ(events_.last("worker.adopted")->fields.get_int("pid"), next);
  ::kill(next, SIGKILL);
  wait_for("worker.exited", 2);
}

// ---- phantom ----

TEST_F(DetectorTest, AdoptOnlyWorkerWhoseProcessIsGoneBecomesAPhantom) {
  pid_t orphan = orphan_sleep();
  ASSERT_GT(orphan, 0);
  WorkerSpec w;
  w.name = "ext";
  w.pid_file = dir_ / "ext.pid";
  w.phantom_grace = milliseconds(100);
  Supervisor& s = make({w});
  ASSERT_TRUE(s.adopt("ext", orphan, "notify").ok());
  EXPECT_FALSE(s.health("ext")->phantom_deadline);
  ::kill(orphan, SIGKILL);
  wait_for("worker.exited");
  MonoTime t0 = clock_.mono();
  auto h = s.health("ext");
  EXPECT_EQ(h->process, Liveness::kAbsent);
  EXPECT_TRUE(h->phantom_deadline);
  wait_for("worker.phantom");
  EXPECT_GE(clock_.mono() - t0, milliseconds(99));
  const Event* p = events_.last("worker.phantom");
  EXPECT_EQ(p->fields.get_string("session"), "none");
  EXPECT_EQ(p->fields.get_int("grace_ms"), 100);
  EXPECT_NE(p->fields.get_string("evidence")->find("no tmux_session declared"), std::string::npos);
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing", "failed"}));
  EXPECT_EQ(last_request(LifecycleState::kFailed)->reason, "phantom");
  run_for(milliseconds(150));
  EXPECT_EQ(events_.count("worker.phantom"), 1u);  // failed now: not a phantom any more
  EXPECT_FALSE(s.health("ext")->phantom_deadline);
}

TEST_F(DetectorTest, PhantomNeedsAContinuousConfirmedAbsence) {
  WorkerSpec w;
  w.name = "ghost";
  w.pid_file = dir_ / "ghost.pid";
  w.tmux_session = "g";
  w.phantom_grace = milliseconds(100);
  lifecycle_.states["ghost"] = LifecycleState::kProcessing;  // the table after a daemon restart
  Supervisor& s = make({w});
  s.recover();  // nothing recorded, no snapshot yet: the session is unknown
  EXPECT_FALSE(s.health("ghost")->phantom_deadline);
  EXPECT_EQ(s.health("ghost")->process, Liveness::kUnknown);

  s.on_tmux_snapshot({}, true);
  EXPECT_TRUE(s.health("ghost")->phantom_deadline);
  s.on_tmux_snapshot({"g"}, true);  // evidence of life
  EXPECT_FALSE(s.health("ghost")->phantom_deadline);
  s.on_tmux_snapshot({}, true);
  s.on_tmux_snapshot({}, false);  // unknown: the absence is no longer confirmed
  EXPECT_FALSE(s.health("ghost")->phantom_deadline);
  run_for(milliseconds(200));
  EXPECT_EQ(events_.count("worker.phantom"), 0u);
  auto h = s.health("ghost");
  EXPECT_TRUE(has_decision(*h, "phantom", "suspicion dropped: session 'g' seen"));
  EXPECT_TRUE(has_decision(*h, "phantom", "suspicion dropped: the tmux sessions are unknown"));

  s.on_tmux_snapshot({"other"}, true);
  wait_for("worker.phantom");
  EXPECT_EQ(events_.last("worker.phantom")->fields.get_string("session"), "g");
  EXPECT_EQ(last_request(LifecycleState::kFailed)->reason, "phantom");
}

TEST_F(DetectorTest, WorkerLostAcrossADaemonRestartBecomesAPhantomUnlessItIsAdopted) {
  // A process that is gone: its pid was reaped.
  pid_t gone = 0;
  {
    char* argv[] = {const_cast<char*>("true"), nullptr};
    ASSERT_EQ(::posix_spawnp(&gone, "true", nullptr, nullptr, argv, environ), 0);
    ::waitpid(gone, nullptr, 0);
  }
  store_.set("a", Supervisor::kProcessKey, "pid=" + std::to_string(gone) + " start=1");
  store_.set("b", Supervisor::kProcessKey, "pid=" + std::to_string(gone) + " start=1");
  lifecycle_.states["a"] = LifecycleState::kProcessing;
  lifecycle_.states["b"] = LifecycleState::kProcessing;
  WorkerSpec a;
  a.name = "a";
  a.pid_file = dir_ / "a.pid";
  a.phantom_grace = milliseconds(100);
  WorkerSpec b = a;
  b.name = "b";
  b.pid_file = dir_ / "b.pid";
  Supervisor& s = make({a, b});
  s.recover();
  EXPECT_EQ(events_.count("worker.lost"), 2u);
  // b's PID file lands meanwhile: adopted, so not a phantom.
  pid_t orphan = orphan_sleep();
  ASSERT_GT(orphan, 0);
  ASSERT_TRUE(s.adopt("b", orphan, "pid_file").ok());
  wait_for("worker.phantom");
  EXPECT_EQ(events_.last("worker.phantom")->entity, "a");
  EXPECT_NE(events_.last("worker.phantom")->fields.get_string("evidence")->find("lost while"),
            std::string::npos);
  run_for(milliseconds(150));
  EXPECT_EQ(events_.count("worker.phantom"), 1u);
  EXPECT_TRUE(has_decision(*s.health("b"), "phantom", "suspicion dropped: a process is watched"));
  s.stop_all();
  run_until([&] { return s.running() == 0; });
}

// ---- kill ----

TEST_F(DetectorTest, KillEscalatesAndIsAFailureForTheRestartPolicyUnlikeStop) {
  WorkerSpec w =
      quiet_worker("stub", {"/bin/sh", "-c", "trap '' TERM; : > \"$READY\"; exec sleep 30"});
  w.env = {{"READY", dir_ / "ready"}};
  Supervisor& s = make({w});
  testing::FileAppears ready(&loop_, dir_.path(), "ready");
  ASSERT_TRUE(s.start("stub").ok());
  run_until([&] { return ready.seen(); });
  MonoTime asked = clock_.mono();
  ASSERT_TRUE(s.kill("stub", SIGTERM, milliseconds(100), "rule too-slow").ok());
  EXPECT_EQ(s.status("stub")->phase, WorkerPhase::kKilling);
  const Event* killing = events_.last("worker.killing");
  ASSERT_TRUE(killing);
  EXPECT_EQ(killing->fields.get_int("signal"), SIGTERM);
  EXPECT_EQ(killing->fields.get_int("grace_ms"), 100);
  EXPECT_EQ(killing->fields.get_string("reason"), "rule too-slow");
  EXPECT_EQ(killing->fields.get_string("was"), "running");
  wait_for("worker.restart_scheduled");
  ASSERT_TRUE(s.stop("stub").ok());
  EXPECT_GE(clock_.mono() - asked, milliseconds(100));
  EXPECT_EQ(events_.count("worker.kill_escalated"), 1u);
  EXPECT_EQ(events_.last("worker.kill_escalated")->fields.get_int("grace_ms"), 100);
  const Event* exited = events_.last("worker.exited");
  EXPECT_EQ(exited->fields.get_int("signal"), SIGKILL);
  EXPECT_EQ(exited->fields.get_string("killed_for"), "rule too-slow");
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing", "failed"}));
  EXPECT_EQ(last_request(LifecycleState::kFailed)->reason, "rule too-slow");
  EXPECT_EQ(s.status("stub")->restarts, 1);

  Status unknown = s.kill("stbu", SIGTERM, seconds(1), "x");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "no worker named 'stbu'; did you mean 'stub'?");
  Status idle = s.kill("stub", SIGTERM, seconds(1), "x");
  ASSERT_FALSE(idle.ok());
  EXPECT_EQ(idle.error().message, "worker 'stub' is not running (stopped)");
}

TEST_F(DetectorTest, SigkillNeedsNoGraceAndAStopDuringAKillPreventsTheRestart) {
  WorkerSpec w = quiet_worker("w", {"sleep", "30"});
  Supervisor& s = make({w});
  ASSERT_TRUE(s.start("w").ok());
  ASSERT_TRUE(s.kill("w", SIGKILL, seconds(30), "").ok());
  EXPECT_EQ(events_.last("worker.killing")->fields.get_string("reason"), "killed");
  ASSERT_TRUE(s.stop("w").ok());  // while killing: no restart afterwards
  wait_for("worker.stopped");
  EXPECT_EQ(events_.count("worker.kill_escalated"), 0u);
  EXPECT_EQ(events_.count("worker.restart_scheduled"), 0u);
  EXPECT_EQ(events_.last("worker.exited")->fields.get_int("signal"), SIGKILL);
  // Still a failure for the lifecycle: the kill came first.
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing", "failed"}));
}

// ---- health ----

TEST_F(DetectorTest, HealthOfAWorkerNeverStarted) {
  WorkerSpec w = quiet_worker("idle", {"sleep", "30"});
  Supervisor& s = make({w});
  EXPECT_FALSE(s.health("nope"));
  auto h = s.health("idle");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->phase, WorkerPhase::kDown);
  EXPECT_EQ(h->pid, 0);
  EXPECT_FALSE(h->entity);
  EXPECT_EQ(h->process, Liveness::kUnknown);
  EXPECT_EQ(h->process_evidence, "no process watched yet");
  EXPECT_EQ(h->session, SessionPresence::kNone);
  EXPECT_EQ(h->heartbeat, HeartbeatStatus::kNone);
  EXPECT_EQ(h->runtime, Duration{0});
  EXPECT_EQ(h->runtime_limit, std::chrono::hours(1));
  EXPECT_EQ(h->max_extensions, 3);
  EXPECT_TRUE(h->decisions.empty());

  ASSERT_TRUE(s.start("idle").ok());
  h = s.health("idle");
  EXPECT_GT(h->pid, 0);
  EXPECT_EQ(h->entity, LifecycleState::kProcessing);
  EXPECT_EQ(h->process, Liveness::kAlive);
  EXPECT_NE(h->process_evidence.find("pidfd"), std::string::npos);
  EXPECT_GT(h->judged_in, std::chrono::minutes(59));
  s.stop_all();
  run_until([&] { return s.running() == 0; });
}

TEST_F(DetectorTest, HealthKeepsTheLastSixteenDecisions) {
  WorkerSpec w = quiet_worker("w", {"sleep", "30"});
  w.tmux_session = "s";
  w.restart.mode = RestartMode::kNever;
  Supervisor& s = make({w});
  // Adopt-only style churn: each snapshot flip notes a decision while no process runs.
  lifecycle_.states["w"] = LifecycleState::kProcessing;
  lifecycle_.track_states = false;
  for (int i = 0; i < 20; ++i) {
    s.on_tmux_snapshot({}, true);
    s.on_tmux_snapshot({"s"}, true);
  }
  auto h = s.health("w");
  ASSERT_EQ(h->decisions.size(), Supervisor::kHealthRecords);
  EXPECT_TRUE(has_decision(*h, "phantom", "suspicion dropped"));
}

}  // namespace
}  // namespace aw
