#include "src/supervise/supervisor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>  // environ (a GNU extension: g++ defines _GNU_SOURCE)

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "src/supervise/spawn_record.h"
#include "src/supervise/supervise_test_support.h"
#include "src/supervise/supervisor_fixture.h"

namespace aw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Short, deterministic timings: tests run the real loop with real processes.
WorkerSpec fast_worker(std::string name, std::vector<std::string> argv) {
  WorkerSpec w;
  w.name = std::move(name);
  w.argv = std::move(argv);
  w.restart.max_restarts = 2;
  w.restart.min_spawn_interval = milliseconds(10);
  w.restart.stable_after = seconds(60);
  w.restart.circuit_threshold = 0;
  w.restart.backoff.initial = milliseconds(10);
  w.restart.backoff.factor = 2.0;
  w.restart.backoff.max = milliseconds(50);
  w.restart.backoff.jitter = 0.0;
  w.kill_grace = seconds(5);
  return w;
}

std::int64_t int_field(const Event* e, const char* key) {
  if (!e) return -1;
  return e->fields.get_int(key).value_or(-1);
}

Duration cpu_of_self() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return seconds(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         std::chrono::microseconds(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

class SupervisorTest : public testing::SupervisorFixture {
 protected:
  SupervisorTest() : SupervisorFixture(/*jitter_seed=*/42) {}
  pid_t pid_of_last_start() const {
    return static_cast<pid_t>(int_field(events_.last("worker.started"), "pid"));
  }

  // A worker "w" that waits for a signal, started with spawn records on; then
  // the daemon dies as a SIGKILL right after the spawn leaves it: the worker
  // runs on, and the store never learned its PID. Returns the worker's PID
  // (0 on a failed assertion); its zombie is reaped by reaper_.
  pid_t spawn_then_lose_the_store_record(WorkerSpec& spec) {
    output_dir_ = dir_ / "workers";
    EXPECT_EQ(::mkdir(output_dir_.c_str(), 0700), 0);
    spec = fast_worker("w", {testing::self_exe()});
    spec.env.emplace_back(testing::kPauseChildEnv, "pause");
    make({spec}).start_all();
    wait_for("worker.started");
    const pid_t pid = pid_of_last_start();
    EXPECT_TRUE(std::filesystem::exists(output_dir_ + "/w.spawn")) << "written at the spawn";
    if (!testing::wait_for_environ(pid)) return 0;
    sup_->release_all();
    EXPECT_TRUE(store_.get("w", Supervisor::kProcessKey));
    store_.erase("w", Supervisor::kProcessKey);
    store_.erase("w", Supervisor::kRunKey);
    sup_.reset();
    events_.events.clear();
    EXPECT_EQ(::kill(pid, 0), 0) << "the worker outlived its daemon";
    reaper_ =
        std::make_unique<uvx::Signal>(&loop_, SIGCHLD, [pid] { ::waitpid(pid, nullptr, WNOHANG); });
    return pid;
  }
};

TEST_F(SupervisorTest, KilledWorkerIsRestarted) {
  Supervisor& s = make({fast_worker("w", {"sleep", "30"})});
  ASSERT_TRUE(s.start("w").ok());
  wait_for("worker.started");
  pid_t first = pid_of_last_start();
  ASSERT_GT(first, 0);
  EXPECT_EQ(s.status("w")->phase, WorkerPhase::kRunning);
  EXPECT_EQ(s.status("w")->pid, first);

  ASSERT_EQ(::kill(first, SIGKILL), 0);
  wait_for("worker.started", 2);
  EXPECT_EQ(events_.kinds(),
            (std::vector<std::string>{"worker.started", "worker.exited", "worker.restart_scheduled",
                                      "worker.started"}));
  const Event& exited = events_.events[1];
  EXPECT_EQ(exited.source, "supervisor");
  EXPECT_EQ(exited.entity, "w");
  EXPECT_EQ(exited.fields.get_int("signal"), SIGKILL);
  EXPECT_EQ(exited.fields.get_string("by_us"), "false");
  EXPECT_TRUE(exited.fields.find("wall_ms"));
  EXPECT_TRUE(exited.fields.find("user_ms"));
  EXPECT_TRUE(exited.fields.find("sys_ms"));
  EXPECT_TRUE(exited.fields.find("max_rss_kb"));
  const Event& scheduled = events_.events[2];
  EXPECT_EQ(scheduled.fields.get_int("attempt"), 2);
  EXPECT_LE(*scheduled.fields.get_int("delay_ms"), 10);
  EXPECT_EQ(int_field(events_.last("worker.started"), "attempt"), 2);
  EXPECT_NE(pid_of_last_start(), first);
  EXPECT_EQ(s.status("w")->restarts, 1);
  // The killed run failed; the restart is a new run, queued then processing.
  EXPECT_EQ(requested_states(),
            (std::vector<std::string>{"processing", "failed", "queued", "processing"}));

  // A TERM-respecting worker stops on TERM, without escalation, and stays down.
  ASSERT_TRUE(s.stop("w").ok());
  wait_for("worker.stopped");
  EXPECT_EQ(events_.count("worker.kill_escalated"), 0u);
  EXPECT_EQ(events_.last("worker.exited")->fields.get_int("signal"), SIGTERM);
  EXPECT_EQ(events_.last("worker.exited")->fields.get_string("by_us"), "true");
  EXPECT_EQ(s.status("w")->phase, WorkerPhase::kStopped);
  EXPECT_EQ(s.running(), 0u);
  EXPECT_FALSE(store_.get("w", Supervisor::kProcessKey));
  // The stop ends the run without a verdict: queued, not failed.
  EXPECT_EQ(requested_states(),
            (std::vector<std::string>{"processing", "failed", "queued", "processing", "queued"}));
  EXPECT_EQ(lifecycle_.requests.back().reason, "stopped");
}

TEST_F(SupervisorTest, CrashLoopBacksOffOpensTheCircuitAndGivesUpWithoutBurningCpu) {
  WorkerSpec w = fast_worker("crashy", {"/bin/false"});
  w.restart.min_spawn_interval = Duration{0};  // the delays are the backoff's alone
  w.restart.max_restarts = 6;
  w.restart.circuit_threshold = 3;
  w.restart.circuit_cooldown = milliseconds(100);
  Supervisor& s = make({w});
  MonoTime t0 = clock_.mono();
  Duration cpu0 = cpu_of_self();
  ASSERT_TRUE(s.start("crashy").ok());
  wait_for("worker.gave_up");
  Duration wall = clock_.mono() - t0;
  Duration cpu = cpu_of_self() - cpu0;

  EXPECT_EQ(events_.count("worker.started"), 7u);  // the first run + 6 restarts
  EXPECT_EQ(events_.count("worker.exited"), 7u);
  EXPECT_EQ(events_.count("worker.restart_scheduled"), 2u);  // at once, then 10 ms
  EXPECT_EQ(events_.count("worker.circuit_open"), 4u);       // then 100 ms cool-downs
  // Backoff before the circuit: the first failure restarts at once, the
  // second after the initial backoff.
  std::vector<std::int64_t> delays;
  for (const Event& e : events_.events)
    if (e.kind == "worker.restart_scheduled") delays.push_back(*e.fields.get_int("delay_ms"));
  EXPECT_EQ(delays, (std::vector<std::int64_t>{0, 10}));
  // The third quick failure opened the circuit; each half-open trial failed.
  const Event* first_open = nullptr;
  for (const Event& e : events_.events)
    if (e.kind == "worker.circuit_open" && !first_open) first_open = &e;
  ASSERT_TRUE(first_open);
  EXPECT_NE(first_open->fields.get_string("reason")->find("3 consecutive runs"), std::string::npos);
  EXPECT_TRUE(first_open->fields.find("until"));
  EXPECT_EQ(events_.last("worker.exited")->fields.get_int("exit_code"), 1);

  const Event* gave_up = events_.last("worker.gave_up");
  EXPECT_EQ(gave_up->fields.get_int("restarts"), 6);
  EXPECT_NE(gave_up->fields.get_string("reason")->find("max_restarts = 6"), std::string::npos);
  ASSERT_FALSE(lifecycle_.requests.empty());
  EXPECT_EQ(lifecycle_.requests.back().to, LifecycleState::kFailed);
  EXPECT_NE(lifecycle_.requests.back().reason.find("gave up"), std::string::npos);
  EXPECT_FALSE(lifecycle_.requests.back().evidence.empty());

  auto st = s.status("crashy");
  EXPECT_EQ(st->phase, WorkerPhase::kGaveUp);
  EXPECT_EQ(st->restarts, 6);
  EXPECT_EQ(st->circuit, CircuitState::kOpen);
  // Timers, not loops: the waits add up to 0 + 10 + 4 × 100 ms (less up to a
  // millisecond each, the loop clock's rounding), and the supervisor's own CPU
  // is a small part of that.
  EXPECT_GE(wall, milliseconds(405));
  EXPECT_LT(cpu, wall / 2) << "cpu " << to_ms(cpu) << " ms over " << to_ms(wall) << " ms";
  // Nothing is armed any more: the loop has nothing left to do.
  EXPECT_EQ(s.running(), 0u);
}

TEST_F(SupervisorTest, WorkerWaitsForItsDependenciesThenStarts) {
  WorkerSpec a = fast_worker("a", {"sleep", "30"});
  WorkerSpec b = fast_worker("b", {"sleep", "30"});
  b.depends_on = {"a"};
  Supervisor& s = make({a, b});
  ASSERT_TRUE(s.start("b").ok());
  ASSERT_EQ(events_.kinds(), std::vector<std::string>{"worker.waiting"});
  EXPECT_EQ(events_.events[0].entity, "b");
  EXPECT_EQ(events_.events[0].fields.get_string("deps"), "a");
  EXPECT_EQ(s.status("b")->phase, WorkerPhase::kWaiting);
  EXPECT_EQ(s.status("b")->waiting_on, std::vector<std::string>{"a"});
  ASSERT_EQ(lifecycle_.requests.size(), 1u);
  EXPECT_EQ(lifecycle_.requests[0].to, LifecycleState::kQueued);
  EXPECT_EQ(s.running(), 0u);

  s.on_entity_completed("a");
  ASSERT_EQ(events_.count("worker.started"), 1u);
  EXPECT_EQ(events_.last("worker.started")->entity, "b");
  EXPECT_TRUE(s.status("b")->waiting_on.empty());

  // Completed already: a later start does not wait.
  ASSERT_TRUE(s.stop("b").ok());
  wait_for("worker.stopped");
  ASSERT_TRUE(s.start("b").ok());
  EXPECT_EQ(events_.count("worker.started"), 2u);
  ASSERT_TRUE(s.stop("b").ok());
  wait_for("worker.stopped", 2);
}

TEST_F(SupervisorTest, RestartWaitsForDependenciesThatAreNotCompleted) {
  // b runs (started by hand before its dependency completed, e.g. adopted) and
  // crashes: it is not restarted until a completes.
  WorkerSpec a = fast_worker("a", {"sleep", "30"});
  WorkerSpec b = fast_worker("b", {"sleep", "30"});
  b.depends_on = {"a"};
  Supervisor& s = make({a, b});
  pid_t orphan = 0;
  {
    std::vector<std::string> args = {"/bin/sh", "-c", "(exec sleep 30) & echo $! > \"$1\"", "sh",
                                     dir_ / "b.pid"};
    std::vector<char*> argv;
    argv.reserve(args.size());
    for (auto& x : args) argv.push_back(x.data());
    argv.push_back(nullptr);
    pid_t sh;
    ASSERT_EQ(::posix_spawn(&sh, "/bin/sh", nullptr, nullptr, argv.data(), environ), 0);
    ::waitpid(sh, nullptr, 0);
    std::ifstream(dir_ / "b.pid") >> orphan;
  }
  ASSERT_GT(orphan, 0);
  reaper_ = std::make_unique<uvx::Signal>(&loop_, SIGCHLD,
                                          [orphan] { ::waitpid(orphan, nullptr, WNOHANG); });
  ASSERT_TRUE(s.adopt("b", orphan, "notify").ok());
  EXPECT_EQ(events_.last("worker.adopted")->fields.get_string("via"), "notify");
  EXPECT_TRUE(s.status("b")->adopted);
  ::kill(orphan, SIGKILL);
  wait_for("worker.waiting");
  EXPECT_EQ(events_.last("worker.waiting")->fields.get_string("after_exit"), "true");
  EXPECT_EQ(events_.count("worker.started"), 0u);
  s.on_entity_completed("a");
  wait_for("worker.started");
  EXPECT_EQ(events_.last("worker.started")->entity, "b");
  EXPECT_EQ(events_.last("worker.started")->fields.get_int("attempt"), 2);
  ASSERT_TRUE(s.stop("b").ok());
  wait_for("worker.stopped");
}

// `recover reset` of a completed dependency (the daemon calls
// on_entity_reopened): the dependant's next restart waits for it again (the
// dependency gate is for every start and restart, not only the first).
TEST_F(SupervisorTest, AReopenedDependencyHoldsTheDependantsRestart) {
  WorkerSpec a = fast_worker("a", {"sleep", "30"});
  WorkerSpec b = fast_worker("b", {"sleep", "30"});
  b.depends_on = {"a"};
  Supervisor& s = make({a, b});
  s.on_entity_completed("a");
  ASSERT_TRUE(s.start("b").ok());
  ASSERT_EQ(events_.count("worker.started"), 1u);
  const auto first = static_cast<pid_t>(*events_.last("worker.started")->fields.get_int("pid"));
  s.on_entity_reopened("a");
  ::kill(first, SIGKILL);
  wait_for("worker.waiting");
  EXPECT_EQ(events_.last("worker.waiting")->fields.get_string("deps"), "a");
  EXPECT_EQ(events_.count("worker.started"), 1u) << "restarted without its dependency";
  EXPECT_EQ(requested_states().back(), "queued");
  s.on_entity_completed("a");
  wait_for("worker.started", 2);
  ASSERT_TRUE(s.stop("b").ok());
  wait_for("worker.stopped");
}

TEST_F(SupervisorTest, StopEscalatesToKillForAWorkerThatIgnoresTerm) {
  WorkerSpec w =
      fast_worker("stubborn", {"/bin/sh", "-c", "trap '' TERM; : > \"$READY\"; exec sleep 30"});
  w.env = {{"READY", dir_ / "ready"}};
  w.kill_grace = milliseconds(100);
  Supervisor& s = make({w});
  testing::FileAppears ready(&loop_, dir_.path(), "ready");
  ASSERT_TRUE(s.start("stubborn").ok());
  run_until([&] { return ready.seen(); });
  MonoTime asked = clock_.mono();
  ASSERT_TRUE(s.stop("stubborn").ok());
  EXPECT_EQ(s.status("stubborn")->phase, WorkerPhase::kStopping);
  wait_for("worker.stopped");
  EXPECT_GE(clock_.mono() - asked, milliseconds(100 - 1));
  EXPECT_EQ(events_.count("worker.kill_escalated"), 1u);
  const Event* exited = events_.last("worker.exited");
  EXPECT_EQ(exited->fields.get_int("signal"), SIGKILL);
  EXPECT_EQ(exited->fields.get_string("by_us"), "true");
  EXPECT_EQ(events_.count("worker.restart_scheduled"), 0u);
  EXPECT_EQ(s.status("stubborn")->phase, WorkerPhase::kStopped);
}

TEST_F(SupervisorTest, CountersSurviveASupervisorRecreation) {
  WorkerSpec w = fast_worker("w", {"sleep", "30"});
  {
    Supervisor& s = make({w});
    ASSERT_TRUE(s.start("w").ok());
    wait_for("worker.started");
    ::kill(pid_of_last_start(), SIGKILL);
    wait_for("worker.started", 2);
    EXPECT_EQ(s.status("w")->restarts_in_window, 1);
  }
  // The daemon dies (its child with it: the destructor kills what it spawned).
  sup_.reset();
  ASSERT_TRUE(store_.get("w", Supervisor::kRestartKey));
  ASSERT_TRUE(store_.get("w", Supervisor::kProcessKey));
  events_.events.clear();

  Supervisor& s = make({w});
  EXPECT_EQ(s.status("w")->restarts_in_window, 1);
  EXPECT_EQ(s.status("w")->restarts, 1);
  s.recover();
  ASSERT_EQ(events_.kinds(), std::vector<std::string>{"worker.lost"});
  EXPECT_FALSE(store_.get("w", Supervisor::kProcessKey));
  s.start_all();
  wait_for("worker.started");
  EXPECT_EQ(int_field(events_.last("worker.started"), "attempt"), 2);
  ::kill(pid_of_last_start(), SIGKILL);
  wait_for("worker.started", 2);
  EXPECT_EQ(int_field(events_.last("worker.started"), "attempt"), 3);
  ::kill(pid_of_last_start(), SIGKILL);
  wait_for("worker.gave_up");  // max_restarts = 2, counted across both lives
  EXPECT_EQ(lifecycle_.requests.back().to, LifecycleState::kFailed);

  // Given up is remembered too: a third life does not start it again.
  sup_.reset();
  events_.events.clear();
  Supervisor& third = make({w});
  EXPECT_EQ(third.status("w")->phase, WorkerPhase::kGaveUp);
  third.start_all();
  EXPECT_EQ(events_.count("worker.started"), 0u);
  // An explicit start gives it a fresh budget.
  ASSERT_TRUE(third.start("w").ok());
  wait_for("worker.started");
  EXPECT_EQ(int_field(events_.last("worker.started"), "attempt"), 1);
  ASSERT_TRUE(third.stop("w").ok());
  wait_for("worker.stopped");
}

TEST_F(SupervisorTest, RecoverAdoptsTheLiveProcessRecordedInTheStore) {
  pid_t orphan = 0;
  {
    std::vector<std::string> args = {"/bin/sh", "-c", "(exec sleep 30) & echo $! > \"$1\"", "sh",
                                     dir_ / "w.pid"};
    std::vector<char*> argv;
    argv.reserve(args.size());
    for (auto& x : args) argv.push_back(x.data());
    argv.push_back(nullptr);
    pid_t sh;
    ASSERT_EQ(::posix_spawn(&sh, "/bin/sh", nullptr, nullptr, argv.data(), environ), 0);
    ::waitpid(sh, nullptr, 0);
    std::ifstream(dir_ / "w.pid") >> orphan;
  }
  ASSERT_GT(orphan, 0);
  reaper_ = std::make_unique<uvx::Signal>(&loop_, SIGCHLD,
                                          [orphan] { ::waitpid(orphan, nullptr, WNOHANG); });
  LivenessVerdict v = probe_process(Env::real(), clock_, orphan, std::nullopt);
  store_.set("w", Supervisor::kProcessKey, format_identity(v.seen));
  ProcessIdentity stale = v.seen;
  stale.start_ticks -= 1;
  store_.set("x", Supervisor::kProcessKey, format_identity(stale));

  Supervisor& s = make({fast_worker("w", {"sleep", "30"}), fast_worker("x", {"sleep", "30"})});
  s.recover();
  ASSERT_EQ(events_.kinds(), (std::vector<std::string>{"worker.adopted", "worker.lost"}));
  EXPECT_EQ(events_.events[0].fields.get_string("via"), "recovered");
  EXPECT_EQ(events_.events[0].fields.get_string("liveness"), "alive");
  EXPECT_NE(events_.events[1].fields.get_string("evidence")->find("reused"), std::string::npos);
  EXPECT_EQ(s.status("w")->pid, orphan);
  EXPECT_TRUE(s.status("w")->adopted);
  s.start_all();  // w runs already: only x starts
  EXPECT_EQ(events_.count("worker.started"), 1u);
  EXPECT_EQ(events_.last("worker.started")->entity, "x");

  // The adopted process dies: it is restarted from its argv, as our child now.
  ::kill(orphan, SIGKILL);
  run_until([&] { return events_.count("worker.started") >= 2; });
  const Event* exited = events_.last("worker.exited");
  ASSERT_TRUE(exited);
  EXPECT_EQ(exited->fields.get_string("adopted"), "true");
  EXPECT_EQ(exited->fields.get_int("signal"), SIGKILL);
  EXPECT_FALSE(s.status("w")->adopted);
  s.stop_all();
  run_until([&] { return s.running() == 0; });
  EXPECT_EQ(events_.count("worker.stopped"), 2u);
}

// Fault 2 of docs/crash-testing.md: the daemon spawned a worker and was
// SIGKILLed before the store made its PID durable. The next daemon finds the
// process by the token of its last spawn and adopts it; it never starts a
// second copy beside it. Once seen to end, the record is gone.
TEST_F(SupervisorTest, AWorkerSpawnedJustBeforeADaemonDiedIsFoundByItsTokenNotStartedTwice) {
  WorkerSpec paused;
  const pid_t first = spawn_then_lose_the_store_record(paused);
  ASSERT_GT(first, 0);
  const std::string record = output_dir_ + "/w.spawn";

  Supervisor& s = make({paused});
  s.recover();
  s.start_all();
  ASSERT_EQ(events_.kinds(), (std::vector<std::string>{"worker.adopted"}))
      << "adopted, never started again";
  EXPECT_EQ(events_.events[0].fields.get_int("pid"), first);
  EXPECT_EQ(events_.events[0].fields.get_string("via"), "recovered");
  EXPECT_NE(events_.events[0].fields.get_string("evidence")->find(kSpawnTokenVar),
            std::string::npos);
  EXPECT_EQ(s.status("w")->pid, first);

  s.stop_all();
  run_until([&] { return s.running() == 0; });
  EXPECT_EQ(events_.count("worker.started"), 0u);
  EXPECT_FALSE(std::filesystem::exists(record)) << "a run seen to end leaves no record";
}

// The same, killed in the microseconds between the spawn and the PID's write:
// the record has the token only, and /proc is searched for it.
TEST_F(SupervisorTest, AWorkerWhosePidWasNotRecordedIsFoundInProcByItsToken) {
  WorkerSpec paused;
  const pid_t first = spawn_then_lose_the_store_record(paused);
  ASSERT_GT(first, 0);
  const std::string record = output_dir_ + "/w.spawn";
  std::ifstream in(record);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(text.size(), 33u + std::to_string(first).size() + 1) << text;
  testing::write_file(record, text.substr(0, 33));  // the token line alone

  Supervisor& s = make({paused});
  s.recover();
  s.start_all();
  ASSERT_EQ(events_.kinds(), (std::vector<std::string>{"worker.adopted"}));
  EXPECT_EQ(events_.events[0].fields.get_int("pid"), first);
  s.stop_all();
  run_until([&] { return s.running() == 0; });
}

// A worker that ended while no daemon ran, leaving a child that inherited its
// token (a daemonised helper): its record names its own PID, which is gone, so
// nothing is adopted, and the worker is started afresh.
TEST_F(SupervisorTest, TheChildOfARecordedWorkerThatEndedIsNotTakenForIt) {
  output_dir_ = dir_ / "workers";
  ASSERT_EQ(::mkdir(output_dir_.c_str(), 0700), 0);
  const std::string child_pid_file = dir_ / "child.pid";
  WorkerSpec forks = fast_worker(
      "w", {"/bin/sh", "-c", "sleep 30 & echo $! > \"$1\"; exec sleep 30", "sh", child_pid_file});
  make({forks}).start_all();
  wait_for("worker.started");
  const pid_t worker = pid_of_last_start();
  pid_t child = 0;
  for (int i = 0; i < 200 && child == 0; ++i) {
    std::ifstream(child_pid_file) >> child;
    if (child == 0) ::usleep(5000);
  }
  ASSERT_GT(child, 0);
  ASSERT_TRUE(testing::wait_for_environ(child));
  sup_->release_all();
  sup_.reset();
  // The worker ends while no daemon watches it; its child runs on, with the token.
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  ASSERT_EQ(::waitpid(worker, nullptr, 0), worker);
  events_.events.clear();

  Supervisor& s = make({forks});
  s.recover();
  s.start_all();
  EXPECT_EQ(events_.count("worker.adopted"), 0u) << "the child is not the worker";
  EXPECT_EQ(events_.count("worker.started"), 1u);
  s.stop_all();
  run_until([&] { return s.running() == 0; });
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

// Unknown never acts: after a restart the Env cannot read the recorded
// process's /proc/PID/stat. Its pidfd says it runs, so it is adopted with
// liveness "unknown" (the identity kept as recorded), never reported lost,
// never signalled, never restarted beside it.
TEST_F(SupervisorTest, RecoverWithAnUnreadableProcAdoptsAsUnknownAndNeverActs) {
  pid_t orphan = 0;
  {
    std::vector<std::string> args = {"/bin/sh", "-c", "(exec sleep 30) & echo $! > \"$1\"", "sh",
                                     dir_ / "w.pid"};
    std::vector<char*> argv;
    argv.reserve(args.size());
    for (auto& x : args) argv.push_back(x.data());
    argv.push_back(nullptr);
    pid_t sh;
    ASSERT_EQ(::posix_spawn(&sh, "/bin/sh", nullptr, nullptr, argv.data(), environ), 0);
    ::waitpid(sh, nullptr, 0);
    std::ifstream(dir_ / "w.pid") >> orphan;
  }
  ASSERT_GT(orphan, 0);
  reaper_ = std::make_unique<uvx::Signal>(&loop_, SIGCHLD,
                                          [orphan] { ::waitpid(orphan, nullptr, WNOHANG); });
  LivenessVerdict v = probe_process(Env::real(), clock_, orphan, std::nullopt);
  ASSERT_EQ(v.liveness, Liveness::kAlive);
  store_.set("w", Supervisor::kProcessKey, format_identity(v.seen));

  testing::FakeEnv env;
  env.stat_errno[orphan] = EACCES;
  Supervisor& s = make({fast_worker("w", {"sleep", "30"})}, nullptr, &env);
  s.recover();
  ASSERT_EQ(events_.kinds(), (std::vector<std::string>{"worker.adopted"}));
  EXPECT_EQ(events_.events[0].fields.get_string("liveness"), "unknown");
  EXPECT_NE(events_.events[0].fields.get_string("evidence")->find("injected: Permission denied"),
            std::string::npos)
      << *events_.events[0].fields.get_string("evidence");
  EXPECT_EQ(s.status("w")->pid, orphan);
  EXPECT_TRUE(s.status("w")->adopted);
  EXPECT_EQ(store_.get("w", Supervisor::kProcessKey), format_identity(v.seen));
  s.start_all();  // it runs: nothing starts beside it
  EXPECT_EQ(events_.count("worker.started"), 0u);
  EXPECT_EQ(::kill(orphan, 0), 0);

  ::kill(orphan, SIGKILL);
  run_until([&] { return events_.count("worker.exited") >= 1; });
  s.stop_all();
  run_until([&] { return s.running() == 0; });
  sup_.reset();  // before `env`
}

TEST_F(SupervisorTest, PidFileLandingAdoptsAnAdoptOnlyWorker) {
  pid_t orphan = 0;
  std::string pid_file = dir_ / "ext.pid";
  {
    std::vector<std::string> args = {"/bin/sh", "-c", "(exec sleep 30) & echo $! > \"$1\"", "sh",
                                     pid_file};
    std::vector<char*> argv;
    argv.reserve(args.size());
    for (auto& x : args) argv.push_back(x.data());
    argv.push_back(nullptr);
    pid_t sh;
    ASSERT_EQ(::posix_spawn(&sh, "/bin/sh", nullptr, nullptr, argv.data(), environ), 0);
    ::waitpid(sh, nullptr, 0);
    std::ifstream(pid_file) >> orphan;
  }
  reaper_ = std::make_unique<uvx::Signal>(&loop_, SIGCHLD,
                                          [orphan] { ::waitpid(orphan, nullptr, WNOHANG); });
  WorkerSpec w;
  w.name = "ext";
  w.pid_file = pid_file;
  Supervisor& s = make({w});
  EXPECT_FALSE(s.start("ext").ok());  // nothing to start it with
  Event landed;
  landed.kind = "file.landed";
  landed.path = pid_file;
  s.on_event(landed);
  wait_for("worker.adopted");
  EXPECT_EQ(events_.last("worker.adopted")->fields.get_string("via"), "pid_file");
  EXPECT_EQ(int_field(events_.last("worker.adopted"), "pid"), orphan);
  EXPECT_EQ(lifecycle_.requests.back().to, LifecycleState::kProcessing);

  // The file rewritten with another PID while the adopted process runs: refused, said so.
  testing::write_file(pid_file, std::to_string(getpid()) + "\n");
  s.on_event(landed);
  wait_for("worker.adopt_refused");
  const Event* refused = events_.last("worker.adopt_refused");
  EXPECT_EQ(refused->entity, "ext");
  EXPECT_EQ(refused->fields.get_string("via"), "pid_file");
  EXPECT_EQ(int_field(refused, "pid"), getpid());
  EXPECT_NE(
      refused->fields.get_string("error")->find("already runs as pid " + std::to_string(orphan)),
      std::string::npos);
  EXPECT_EQ(events_.count("worker.adopted"), 1u);

  // Its removal is an event under the worker's name, and no verdict.
  Event removed;
  removed.kind = "file.removed";
  removed.path = pid_file;
  s.on_event(removed);
  const Event* gone = events_.last("worker.pid_file_removed");
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ(gone->entity, "ext");
  EXPECT_EQ(gone->path, pid_file);
  EXPECT_EQ(gone->fields.get_string("running"), "true");
  EXPECT_EQ(int_field(gone, "pid"), orphan);
  EXPECT_EQ(s.status("ext")->phase, WorkerPhase::kRunning);

  ::kill(orphan, SIGTERM);
  wait_for("worker.exited");
  EXPECT_EQ(s.status("ext")->phase, WorkerPhase::kExited);
  EXPECT_EQ(events_.count("worker.restart_scheduled"), 0u);

  // A PID file with garbage is refused, with the reason.
  testing::write_file(pid_file, "not-a-pid\n");
  s.on_event(landed);
  wait_for("worker.adopt_failed");
  EXPECT_NE(events_.last("worker.adopt_failed")->fields.get_string("error")->find("not-a-pid"),
            std::string::npos);
}

// ---- PID files: a plausible file only (process_identity.h, judge_pid_file) ----
//
// These name this test's own process: alive, with a known start time and
// program, and adopting it (via pid_file) only watches it. No test here stops
// a worker that adopted it.

class PidFileTest : public SupervisorTest {
 protected:
  // The worker's pid_file names this process; `mtime` when given.
  void land_pid_file(const std::string& path, std::optional<WallTime> mtime = std::nullopt) {
    testing::write_file(path, std::to_string(::getpid()) + "\n");
    if (mtime) {
      const auto ns = mtime->time_since_epoch();
      timespec t[2];
      t[0].tv_sec = t[1].tv_sec =
          static_cast<time_t>(std::chrono::duration_cast<seconds>(ns).count());
      t[0].tv_nsec = t[1].tv_nsec = static_cast<long>((ns % seconds(1)).count());
      ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), t, 0), 0);
    }
    Event landed;
    landed.kind = "file.landed";
    landed.path = path;
    sup_->on_event(landed);
  }
  // When this process started, by /proc and the wall clock.
  static WallTime own_start() {
    auto ticks = parse_stat_start_ticks(*Env::real().read_proc_stat(::getpid()));
    return process_start_time(*Env::real().boot_time(), *ticks);
  }
  void wait_for_verdict() {
    run_until([&] {
      return events_.count("worker.adopted") + events_.count("worker.adopt_refused") +
                 events_.count("worker.adopt_failed") >
             0;
    });
  }
  WorkerPhase phase_of(const std::string& name) const { return sup_->status(name)->phase; }
  bool has_note(const std::string& name, const std::string& signal, const std::string& part) const {
    const std::optional<WorkerHealth> h = sup_->health(name);
    if (!h) return false;
    return std::any_of(h->decisions.begin(), h->decisions.end(), [&](const Evidence& e) {
      return e.signal == signal && e.detail.find(part) != std::string::npos;
    });
  }
  WorkerSpec adopt_only(std::string name) {
    WorkerSpec w;
    w.name = std::move(name);
    w.pid_file = dir_ / (w.name + ".pid");
    return w;
  }
};

TEST_F(PidFileTest, FreshPidFileIsAdopted) {
  WorkerSpec w = adopt_only("ext");
  make({w});
  land_pid_file(w.pid_file);  // written now, long after this process started
  wait_for_verdict();
  ASSERT_EQ(events_.count("worker.adopted"), 1u) << events_.kinds().back();
  EXPECT_EQ(events_.last("worker.adopted")->fields.get_string("via"), "pid_file");
  EXPECT_EQ(int_field(events_.last("worker.adopted"), "pid"), ::getpid());
}

TEST_F(PidFileTest, StalePidFileNamingAProcessStartedAfterItIsRefused) {
  // The file was written a minute before the process it names existed: that
  // PID belonged to another process then (it ended; the PID was reused).
  WorkerSpec w = adopt_only("ext");
  make({w});
  const WallTime written = own_start() - std::chrono::minutes(1);
  land_pid_file(w.pid_file, written);
  wait_for_verdict();
  EXPECT_EQ(events_.count("worker.adopted"), 0u);
  const Event* refused = events_.last("worker.adopt_refused");
  ASSERT_NE(refused, nullptr) << events_.kinds().back();
  EXPECT_EQ(refused->fields.get_string("via"), "pid_file");
  EXPECT_EQ(refused->path, w.pid_file);
  EXPECT_EQ(int_field(refused, "pid"), ::getpid());
  const std::string reason = *refused->fields.get_string("reason");
  EXPECT_NE(reason.find("stale PID file"), std::string::npos) << reason;
  EXPECT_NE(reason.find("after the file was written at " + format_time_utc(written) + " (mtime)"),
            std::string::npos)
      << reason;
  EXPECT_NE(refused->fields.get_string("evidence")->find("/stat: started at"), std::string::npos);
  EXPECT_EQ(phase_of("ext"), WorkerPhase::kDown);
  EXPECT_TRUE(has_note("ext", "adopt", "refused pid"));
  EXPECT_TRUE(lifecycle_.requests.empty()) << "a refusal asks nothing of the lifecycle";
}

TEST_F(PidFileTest, PidFileNamingAnotherProgramIsRefused) {
  // The worker runs /bin/sleep; the PID in its file runs this test binary.
  WorkerSpec w = adopt_only("ext");
  w.argv = {"/bin/sleep", "30"};
  make({w});
  land_pid_file(w.pid_file);
  wait_for_verdict();
  EXPECT_EQ(events_.count("worker.adopted"), 0u);
  const Event* refused = events_.last("worker.adopt_refused");
  ASSERT_NE(refused, nullptr) << events_.kinds().back();
  const std::string reason = *refused->fields.get_string("reason");
  EXPECT_NE(reason.find("not the worker's program"), std::string::npos) << reason;
  EXPECT_NE(reason.find("sleep"), std::string::npos) << reason;
}

TEST_F(PidFileTest, PidFileNamingTheWorkersProgramIsAdopted) {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  WorkerSpec w = adopt_only("ext");
  w.argv = {std::string(self, static_cast<std::size_t>(n))};
  make({w});
  land_pid_file(w.pid_file);
  wait_for_verdict();
  ASSERT_EQ(events_.count("worker.adopted"), 1u) << events_.kinds().back();
}

TEST_F(PidFileTest, PidFileWhoseProcessCannotBeCheckedIsRefused) {
  testing::FakeEnv env;
  env.stat_errno[::getpid()] = EACCES;
  WorkerSpec w = adopt_only("ext");
  make({w}, nullptr, &env);
  land_pid_file(w.pid_file);
  wait_for_verdict();
  EXPECT_EQ(events_.count("worker.adopted"), 0u);
  const Event* refused = events_.last("worker.adopt_refused");
  ASSERT_NE(refused, nullptr) << events_.kinds().back();
  EXPECT_NE(refused->fields.get_string("reason")->find("cannot be read"), std::string::npos);
  sup_.reset();  // before `env`
}

TEST_F(SupervisorTest, CleanExitCompletesAndIsNotRestarted) {
  Supervisor& s = make({fast_worker("once", {"true"})});
  ASSERT_TRUE(s.start("once").ok());
  wait_for("worker.exited");
  EXPECT_EQ(events_.last("worker.exited")->fields.get_int("exit_code"), 0);
  EXPECT_EQ(s.status("once")->phase, WorkerPhase::kExited);
  EXPECT_EQ(requested_states(), (std::vector<std::string>{"processing", "completed"}));
  EXPECT_EQ(events_.count("worker.restart_scheduled"), 0u);
}

TEST_F(SupervisorTest, MissingProgramBacksOffAndGivesUp) {
  Supervisor& s = make({fast_worker("ghost", {"/no/such/program"})});
  ASSERT_TRUE(s.start("ghost").ok());
  wait_for("worker.gave_up");
  EXPECT_EQ(events_.count("worker.spawn_failed"), 3u);
  EXPECT_NE(events_.last("worker.spawn_failed")->fields.get_string("error")->find("/no/such"),
            std::string::npos);
}

TEST_F(SupervisorTest, ErrorsNameTheWorker) {
  Supervisor& s = make({fast_worker("builder", {"sleep", "30"})});
  Status st = s.start("bulider");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "no worker named 'bulider'; did you mean 'builder'?");
  EXPECT_FALSE(s.stop("builder").ok());  // not running
  ASSERT_TRUE(s.start("builder").ok());
  EXPECT_FALSE(s.start("builder").ok());  // already running
  auto list = s.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].phase, WorkerPhase::kRunning);
  EXPECT_GT(list[0].pid, 0);
  ASSERT_TRUE(s.restart("builder").ok());
  wait_for("worker.started", 2);
  EXPECT_EQ(events_.count("worker.stopped"), 1u);
  s.stop_all();
  run_until([&] { return s.running() == 0; });
}

}  // namespace
}  // namespace aw
