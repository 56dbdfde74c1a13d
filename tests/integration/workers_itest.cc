// Supervised workers through the real daemon (DESIGN §6 scenarios 1, 2, 20).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

std::string worker_config(const std::string& body) {
  return "[rules]\nshipped = false\n" + body;
}

std::int64_t pid_of(const Event& e) {
  return e.fields.get_int("pid").value_or(-1);
}

// Field `want` (numbered as in proc(5), from 3) of /proc/PID/stat; -1 if unreadable.
long stat_field(pid_t pid, int want) {
  const std::string s = proc_stat_text(static_cast<pid_t>(pid));
  auto close_paren = s.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 > s.size()) return -1;
  std::istringstream rest(s.substr(close_paren + 2));
  std::string field;
  for (int i = 3; rest >> field; ++i) {
    if (i == want) return std::stol(field);
  }
  return -1;
}

// utime + stime of a process, in clock ticks.
long cpu_ticks(pid_t pid) {
  return stat_field(pid, 14) + stat_field(pid, 15);
}

// When the process started, in clock ticks since boot.
long start_ticks(pid_t pid) {
  return stat_field(pid, 22);
}

TEST(Workers, KilledWorkerIsRestartedThenGivenUpAfterItsBudget) {
  DaemonUnderTest d;
  d.write_config(worker_config(R"(
[[worker]]
name = "w1"
argv = ["sleep", "1000"]
max_restarts = 2
min_spawn_interval = "10ms"
backoff = { initial = "20ms", factor = 2.0, max = "200ms", jitter = 0.0 }
)"));
  d.start();
  auto first = d.wait_for_kind("worker.started");
  ASSERT_TRUE(first) << d.stderr_text();
  EXPECT_EQ(first->entity, "w1");
  std::set<std::int64_t> pids{pid_of(*first)};
  for (std::size_t round = 1; round <= 2; ++round) {
    const auto starts = [](const Event& e) { return e.kind == "worker.started"; };
    std::int64_t victim = 0;
    for (const auto& e : d.events())
      if (starts(e)) victim = pid_of(e);
    ASSERT_EQ(kill(static_cast<pid_t>(victim), SIGKILL), 0);
    ASSERT_EQ(d.wait_for_count(starts, round + 1), round + 1) << d.stderr_text();
    for (const auto& e : d.events())
      if (starts(e)) pids.insert(pid_of(e));
  }
  EXPECT_EQ(pids.size(), 3u) << "each restart is a new process";
  EXPECT_GE(d.count([](const Event& e) { return e.kind == "worker.restart_scheduled"; }), 2u);
  auto exited = d.wait_for_kind("worker.exited");
  ASSERT_TRUE(exited);
  EXPECT_EQ(*exited->fields.get_int("signal"), SIGKILL);

  // The third kill is over the budget: gave up, and the lifecycle says failed.
  std::int64_t last = 0;
  for (const auto& e : d.events())
    if (e.kind == "worker.started") last = pid_of(e);
  ASSERT_EQ(kill(static_cast<pid_t>(last), SIGKILL), 0);
  ASSERT_TRUE(d.wait_for_kind("worker.gave_up")) << d.stderr_text();
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "w1" && e.fields.get_string("to") == "failed";
  }));
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.started"; }), 3u);
  EXPECT_EQ(d.stop(), 0);
}

TEST(Workers, CrashLoopBacksOffWithoutBurningCpu) {
  DaemonUnderTest d;
  d.write_config(worker_config(R"(
[[worker]]
name = "crashy"
argv = ["false"]
max_restarts = 5
circuit_threshold = 2
circuit_cooldown = "10s"
min_spawn_interval = "10ms"
backoff = { initial = "10ms", factor = 2.0, max = "100ms", jitter = 0.0 }
)"));
  d.start();
  const long cpu_before = cpu_ticks(d.pid());
  ASSERT_TRUE(d.wait_for_kind("worker.circuit_open", 10s)) << d.stderr_text();
  // With the circuit open (10 s cool-down) nothing is spawned: wait a while and count.
  const std::size_t starts = d.count([](const Event& e) { return e.kind == "worker.started"; });
  EXPECT_EQ(
      d.wait_for_count([](const Event& e) { return e.kind == "worker.started"; }, starts + 1, 1s),
      starts)
      << "a start while the circuit is open";
  EXPECT_LE(starts, 3u);
  const long cpu_used = cpu_ticks(d.pid()) - cpu_before;
  EXPECT_LT(cpu_used, 50) << "the daemon burned " << cpu_used << " ticks during the crash loop";
  EXPECT_EQ(d.stop(), 0);
}

TEST(Workers, DependentWorkerWaitsUntilItsDependencyCompletes) {
  DaemonUnderTest d;
  d.write_config(worker_config(R"(
[[worker]]
name = "build"
argv = ["sh", "-c", "sleep 0.3"]

[[worker]]
name = "deploy"
argv = ["sleep", "1000"]
depends_on = ["build"]
)"));
  d.start();
  auto waiting =
      d.wait_for([](const Event& e) { return e.kind == "worker.waiting" && e.entity == "deploy"; });
  ASSERT_TRUE(waiting) << d.stderr_text();
  EXPECT_NE(waiting->fields.get_string("deps")->find("build"), std::string::npos);
  auto deploy_started = d.wait_for(
      [](const Event& e) { return e.kind == "worker.started" && e.entity == "deploy"; }, 10s);
  ASSERT_TRUE(deploy_started) << d.stderr_text();
  // deploy started only after build completed.
  std::uint64_t build_completed = 0;
  for (const auto& e : d.events())
    if (e.kind == "state.changed" && e.entity == "build" &&
        e.fields.get_string("to") == "completed")
      build_completed = e.seq;
  ASSERT_GT(build_completed, 0u);
  EXPECT_GT(deploy_started->seq, build_completed);
  EXPECT_EQ(d.stop(), 0);
}

// A process "another tool" started: the test's own child, so the test reaps it.
pid_t start_sleeper() {
  const char* argv[] = {"sleep", "1000", nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawnp(&pid, "sleep", nullptr, nullptr, const_cast<char* const*>(argv), environ),
            0);
  return pid;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  ASSERT_EQ(rename((path + ".tmp").c_str(), path.c_str()), 0);
}

std::int64_t last_pid(const DaemonUnderTest& d, const std::string& kind, const std::string& w) {
  std::int64_t pid = 0;
  for (const auto& e : d.events())
    if (e.kind == kind && e.entity == w) pid = pid_of(e);
  return pid;
}

// DESIGN §6 scenario 15 for workers: the daemon SIGKILLed while it supervises a
// child of its own and an adopted process. The new daemon re-adopts both (it
// starts no second copy), keeps watching them, and the restart budget spent
// before the crash still counts.
TEST(Workers, DaemonKilledMidwayReadoptsAndKeepsItsCounts) {
  DaemonUnderTest d;
  const std::string pids = d.home() + "/pids";
  ASSERT_EQ(mkdir(pids.c_str(), 0755), 0);
  d.write_config(worker_config(R"(
[[watch]]
name = "pids"
path = ")" + pids + R"("

[[worker]]
name = "own"
argv = ["sleep", "1000"]
max_restarts = 2
restart_window = "1h"
min_spawn_interval = "10ms"
backoff = { initial = "10ms", factor = 1.0, max = "10ms", jitter = 0.0 }

[[worker]]
name = "ext"
pid_file = ")" + pids + R"(/ext.pid"
)"));
  d.start();
  ASSERT_TRUE(d.wait_for([](const Event& e) { return e.kind == "worker.started"; }))
      << d.stderr_text();
  const pid_t ext = start_sleeper();
  write_file(pids + "/ext.pid", std::to_string(ext) + "\n");
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "worker.adopted" && e.entity == "ext";
  })) << d.stderr_text();

  // One restart of "own" before the crash: one of its two is spent.
  ASSERT_EQ(kill(static_cast<pid_t>(last_pid(d, "worker.started", "own")), SIGKILL), 0);
  const auto started = [](const Event& e) { return e.kind == "worker.started"; };
  ASSERT_EQ(d.wait_for_count(started, 2), 2u) << d.stderr_text();
  const auto own = static_cast<pid_t>(last_pid(d, "worker.started", "own"));
  ASSERT_TRUE(d.wait_for_process_journaled(own)) << d.stderr_text();
  ASSERT_TRUE(d.wait_for_process_journaled(ext)) << d.stderr_text();

  d.kill9();
  reap_orphans();
  d.start();
  auto readopted = [&](const std::string& w, pid_t pid) {
    return d.wait_for([&](const Event& e) {
      return e.kind == "worker.adopted" && e.entity == w &&
             e.fields.get_string("via") == "recovered" && pid_of(e) == pid;
    });
  };
  ASSERT_TRUE(readopted("own", own)) << d.stderr_text();
  ASSERT_TRUE(readopted("ext", ext)) << d.stderr_text();
  EXPECT_EQ(d.count(started), 2u) << "a second copy was started after the restart";

  // Its PID file removed: an event under its name, and no verdict.
  ASSERT_EQ(unlink((pids + "/ext.pid").c_str()), 0);
  auto removed = d.wait_for(
      [](const Event& e) { return e.kind == "worker.pid_file_removed" && e.entity == "ext"; });
  ASSERT_TRUE(removed) << d.stderr_text();
  EXPECT_EQ(removed->fields.get_string("running"), "true");
  EXPECT_EQ(pid_of(*removed), ext);

  // Still watched: the adopted process's end is seen.
  ASSERT_EQ(kill(ext, SIGKILL), 0);
  ASSERT_EQ(waitpid(ext, nullptr, 0), ext);
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "worker.exited" && e.entity == "ext";
  })) << d.stderr_text();

  // The budget survived: one more restart is allowed, the next failure gives up.
  ASSERT_EQ(kill(own, SIGKILL), 0);
  ASSERT_EQ(d.wait_for_count(started, 3), 3u) << d.stderr_text();
  ASSERT_EQ(kill(static_cast<pid_t>(last_pid(d, "worker.started", "own")), SIGKILL), 0);
  auto gave_up =
      d.wait_for([](const Event& e) { return e.kind == "worker.gave_up" && e.entity == "own"; });
  ASSERT_TRUE(gave_up) << d.stderr_text();
  EXPECT_EQ(d.count(started), 3u);
  EXPECT_EQ(d.stop(), 0);
  reap_orphans();
}

// Every restart is a transition of the lifecycle with its run number: the
// crashed run fails, the restart is a new run (failed → queued: run 0 → 1),
// queued until it is spawned (queued → processing, run 1).
TEST(Workers, EachRestartIsANewRunInTheLifecycle) {
  DaemonUnderTest d;
  d.write_config(worker_config(R"(
[[worker]]
name = "crashy"
argv = ["sh", "-c", "exit 3"]
max_restarts = 1
min_spawn_interval = "10ms"
)"));
  d.start();
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "worker.gave_up" && e.entity == "crashy";
  })) << d.stderr_text();
  std::vector<std::string> path;
  for (const Event& e : d.events())
    if (e.kind == "state.changed" && e.entity == "crashy")
      path.push_back(e.fields.get_string("from").value_or("?") + ">" +
                     e.fields.get_string("to").value_or("?") + "#" +
                     std::to_string(e.fields.get_int("run").value_or(-1)));
  EXPECT_EQ(path, (std::vector<std::string>{"none>queued#0", "queued>processing#0",
                                            "processing>failed#0", "failed>queued#1",
                                            "queued>processing#1", "processing>failed#1"}));
  EXPECT_EQ(d.stop(), 0);
}

// `recover reset` of a completed dependency: the dependant, killed, waits for
// it again instead of restarting at once.
TEST(Workers, AResetDependencyHoldsTheDependantsRestart) {
  DaemonUnderTest d;
  d.write_config(worker_config(R"(
[[worker]]
name = "build"
argv = ["true"]

[[worker]]
name = "deploy"
argv = ["sleep", "1000"]
depends_on = ["build"]
)"));
  d.start();
  auto started =
      d.wait_for([](const Event& e) { return e.kind == "worker.started" && e.entity == "deploy"; });
  ASSERT_TRUE(started) << d.stderr_text();
  auto reset = d.cli({"recover", "reset", "build", "--force"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "build" &&
           e.fields.get_string("from") == "completed";
  })) << d.stderr_text();
  ASSERT_EQ(kill(static_cast<pid_t>(pid_of(*started)), SIGKILL), 0);
  auto waiting =
      d.wait_for([](const Event& e) { return e.kind == "worker.waiting" && e.entity == "deploy"; });
  ASSERT_TRUE(waiting) << d.stderr_text();
  EXPECT_EQ(waiting->fields.get_string("deps"), "build");
  EXPECT_EQ(
      d.count([](const Event& e) { return e.kind == "worker.started" && e.entity == "deploy"; }),
      1u)
      << "restarted before its dependency completed again";
  EXPECT_EQ(d.stop(), 0);
}

// The fleet outlives the watcher: a graceful stop leaves both kinds of worker
// running (one the daemon spawned, one it adopted), unsignalled; the spawned
// one keeps writing its output file while no daemon runs; the next daemon
// re-adopts both (same PIDs, same run) and starts nothing.
TEST(Workers, ADaemonStopLeavesWorkersRunningAndTheNextDaemonReadoptsThem) {
  DaemonUnderTest d;
  d.write_config(worker_config(R"(
[[worker]]
name = "own"
argv = ["sh", "-c", "while :; do echo tick; sleep 0.02; done"]

[[worker]]
name = "ext"
pid_file = ")" + d.home() + R"(/never-written.pid"
)"));
  d.start();
  auto started = d.wait_for([](const Event& e) { return e.kind == "worker.started"; });
  ASSERT_TRUE(started) << d.stderr_text();
  const auto own = static_cast<pid_t>(pid_of(*started));
  ASSERT_TRUE(d.wait_for_process_journaled(own)) << d.stderr_text();
  const pid_t ext = start_sleeper();
  ASSERT_EQ(d.cli({"notify", "worker.pid", "worker=ext", "pid=" + std::to_string(ext)}).exit_code,
            0);
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "worker.adopted" && e.entity == "ext";
  })) << d.stderr_text();
  ASSERT_TRUE(d.wait_for_process_journaled(ext)) << d.stderr_text();

  EXPECT_EQ(d.stop(), 0);
  const auto released = [&](const std::string& name, pid_t pid) {
    return d.count([&](const Event& e) {
      return e.kind == "worker.released" && e.entity == name && pid_of(e) == pid;
    });
  };
  EXPECT_EQ(released("own", own), 1u);
  EXPECT_EQ(released("ext", ext), 1u);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.stopped"; }), 0u);
  EXPECT_EQ(kill(own, 0), 0) << "the spawned worker died with the daemon";
  EXPECT_EQ(kill(ext, 0), 0) << "the adopted worker died with the daemon";
  const std::string output = d.state_dir() + "/workers/own.log";
  const std::size_t written = read_file(output).size();
  usleep(150'000);
  EXPECT_GT(read_file(output).size(), written) << "no output while no daemon runs";

  d.start();
  for (const std::string name : {"own", "ext"}) {
    auto again = d.wait_for([&](const Event& e) {
      return e.kind == "worker.adopted" && e.entity == name &&
             e.fields.get_string("via") == "recovered";
    });
    ASSERT_TRUE(again) << name << "\n" << d.stderr_text();
    EXPECT_EQ(pid_of(*again), name == "own" ? own : ext);
  }
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.started"; }), 1u);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.lost"; }), 0u);
  // Watched again: its end is seen, and it is restarted.
  ASSERT_EQ(kill(own, SIGKILL), 0);
  ASSERT_TRUE(d.wait_for([&](const Event& e) {
    return e.kind == "worker.exited" && e.entity == "own" && pid_of(e) == own;
  })) << d.stderr_text();
  EXPECT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "worker.started"; }, 2), 2u);
  kill(ext, SIGKILL);
  waitpid(ext, nullptr, 0);
  EXPECT_EQ(d.stop(), 0);
}

// `run --stop-workers`: a stop stops the workers it spawned, as before.
TEST(Workers, StopWorkersStopsThemWithTheDaemon) {
  DaemonUnderTest d;
  d.write_config(worker_config(R"(
[[worker]]
name = "own"
argv = ["sleep", "1000"]
)"));
  d.start({"--stop-workers"});
  auto started = d.wait_for([](const Event& e) { return e.kind == "worker.started"; });
  ASSERT_TRUE(started) << d.stderr_text();
  const auto own = static_cast<pid_t>(pid_of(*started));
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.stopped"; }), 1u);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.released"; }), 0u);
  reap_orphans();
  EXPECT_NE(kill(own, 0), 0) << "the worker outlived a --stop-workers daemon";
}

// A launcher (or a tmux hook with #{pane_pid}) tells the daemon which process a
// worker runs as, through a notify message rather than a PID file.
TEST(Workers, NotifyMessageAdoptsAWorker) {
  DaemonUnderTest d;
  // Adopt-only (no argv); its pid_file is never written: the message is enough.
  d.write_config(worker_config(R"(
[[worker]]
name = "ext"
pid_file = ")" + d.home() + R"(/never-written.pid"
)"));
  d.start();
  ASSERT_TRUE(d.wait_for_kind("daemon.started")) << d.stderr_text();
  const pid_t pid = start_sleeper();
  auto sent = d.cli({"notify", "worker.pid", "worker=ext", "pid=" + std::to_string(pid)});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  auto adopted =
      d.wait_for([](const Event& e) { return e.kind == "worker.adopted" && e.entity == "ext"; });
  ASSERT_TRUE(adopted) << d.stderr_text();
  EXPECT_EQ(adopted->fields.get_string("via"), "notify");
  EXPECT_EQ(pid_of(*adopted), pid);
  // A message for a worker that is not declared is refused, in the log.
  auto unknown = d.cli({"notify", "worker.pid", "worker=nope", "pid=" + std::to_string(pid)});
  ASSERT_EQ(unknown.exit_code, 0) << unknown.err;
  auto refused = d.wait_for(
      [](const Event& e) { return e.kind == "worker.adopt_refused" && e.entity == "nope"; });
  ASSERT_TRUE(refused) << d.stderr_text();
  EXPECT_NE(refused->fields.get_string("error")->find("nope"), std::string::npos);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "worker.exited" && e.entity == "ext";
  })) << d.stderr_text();
  EXPECT_EQ(d.stop(), 0);
}

// Starts `sleep 1000` as PID `want` by setting the kernel's last PID just below
// it (needs CAP_SYS_ADMIN, hence root). -1 when the PID could not be had.
// Choosing a PID needs root (/proc/sys/kernel/ns_last_pid). The suite runs as
// root (README, "Tests"), as CI does: a run that cannot is a failure, not a skip.
constexpr const char* kNeedsRootToChooseAPid =
    "cannot choose a PID (needs root and /proc/sys/kernel/ns_last_pid)";

// The imposter must also start on a later clock tick than the process whose
// PID it takes (`not_at_tick`): a process's identity is its PID and start time,
// and the kernel counts start times in ticks (10 ms), so a PID reused within the
// same tick cannot be told apart, by agentwatch or anyone (docs/workers.md).
// These tests run fast enough to hit that tick; such an imposter is retried.
pid_t start_sleeper_as(pid_t want, long not_at_tick) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    {
      std::ofstream last("/proc/sys/kernel/ns_last_pid");
      if (!last) return -1;
      last << (want - 1);
    }
    const pid_t pid = start_sleeper();
    if (pid == want && start_ticks(pid) != not_at_tick) return pid;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    if (pid == want) usleep(10'000);
  }
  return -1;
}

// The worker's process dies while the daemon is down and its PID goes to an
// unrelated process: the new daemon must not adopt (nor ever signal) the
// imposter; it reports the worker lost and starts a fresh one.
TEST(Workers, ReusedPidDoesNotFoolRecovery) {
  DaemonUnderTest d;
  d.write_config(worker_config(R"(
[[worker]]
name = "own"
argv = ["sleep", "1000"]
)"));
  d.start();
  auto first = d.wait_for([](const Event& e) { return e.kind == "worker.started"; });
  ASSERT_TRUE(first) << d.stderr_text();
  const auto pid = static_cast<pid_t>(pid_of(*first));
  ASSERT_TRUE(d.wait_for_process_journaled(pid)) << d.stderr_text();
  const long worker_started_at = start_ticks(pid);
  d.kill9();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  reap_orphans();
  // Reparented to us (the subreaper): gone once reaped.
  for (int i = 0; i < 1000 && kill(pid, 0) == 0; ++i) {
    reap_orphans();
    usleep(1000);
  }
  ASSERT_NE(kill(pid, 0), 0) << "the killed worker is still there";
  const pid_t imposter = start_sleeper_as(pid, worker_started_at);
  ASSERT_GT(imposter, 0) << kNeedsRootToChooseAPid;

  d.start();
  auto lost = d.wait_for([](const Event& e) { return e.kind == "worker.lost"; });
  ASSERT_TRUE(lost) << d.stderr_text();
  EXPECT_EQ(pid_of(*lost), pid);
  const auto started = [](const Event& e) { return e.kind == "worker.started"; };
  ASSERT_EQ(d.wait_for_count(started, 2), 2u) << d.stderr_text();
  EXPECT_EQ(
      d.count([&](const Event& e) { return e.kind == "worker.adopted" && pid_of(e) == imposter; }),
      0u);
  EXPECT_EQ(kill(imposter, 0), 0) << "the imposter was signalled";
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(kill(imposter, 0), 0) << "the daemon's stop touched the imposter";
  kill(imposter, SIGKILL);
  waitpid(imposter, nullptr, 0);
  reap_orphans();
}

// The sibling for PID files: the worker's process dies while the daemon is
// down and its PID goes to an unrelated process; then the worker's old PID file
// comes back (restored from a copy, renamed into place with its mtime). The file
// names the imposter's PID, but it was written before the imposter existed:
// refused, with the evidence, and the imposter is never adopted nor signalled.
TEST(Workers, StalePidFileNamingAReusedPidIsNotAdopted) {
  DaemonUnderTest d;
  const std::string pids = d.home() + "/pids";
  ASSERT_EQ(mkdir(pids.c_str(), 0755), 0);
  d.write_config(worker_config(R"(
[[watch]]
name = "pids"
path = ")" + pids + R"("

[[worker]]
name = "ext"
pid_file = ")" + pids + R"(/ext.pid"
)"));
  d.start();
  ASSERT_TRUE(d.wait_for_kind("daemon.started")) << d.stderr_text();
  const pid_t pid = start_sleeper();
  // The launcher's PID file, and a copy of it kept aside (outside the watch).
  const std::string saved = d.home() + "/ext.pid.saved";
  std::ofstream(saved) << pid << "\n";
  write_file(pids + "/ext.pid", std::to_string(pid) + "\n");
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "worker.adopted" && e.entity == "ext";
  })) << d.stderr_text();
  ASSERT_TRUE(d.wait_for_process_journaled(pid)) << d.stderr_text();
  // The file goes (so that no start scan can land it again), then the daemon
  // and the worker die, and the PID is handed to another process.
  ASSERT_EQ(unlink((pids + "/ext.pid").c_str()), 0);
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "worker.pid_file_removed" && e.entity == "ext";
  })) << d.stderr_text();
  const long worker_started_at = start_ticks(pid);
  d.kill9();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  const pid_t imposter = start_sleeper_as(pid, worker_started_at);
  ASSERT_GT(imposter, 0) << kNeedsRootToChooseAPid;

  d.start();
  auto lost = d.wait_for([](const Event& e) { return e.kind == "worker.lost"; });
  ASSERT_TRUE(lost) << d.stderr_text();
  EXPECT_EQ(pid_of(*lost), pid);
  // A stale file is old: rather than wait for it to age past the rule's
  // one-second tolerance, its mtime is set a minute back.
  timespec times[2];
  ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &times[0]), 0);
  times[0].tv_sec -= 60;
  times[1] = times[0];
  ASSERT_EQ(utimensat(AT_FDCWD, saved.c_str(), times, 0), 0);
  ASSERT_EQ(rename(saved.c_str(), (pids + "/ext.pid").c_str()), 0);
  auto refused = d.wait_for(
      [](const Event& e) { return e.kind == "worker.adopt_refused" && e.entity == "ext"; });
  ASSERT_TRUE(refused) << d.stderr_text();
  EXPECT_EQ(refused->fields.get_string("via"), "pid_file");
  EXPECT_EQ(pid_of(*refused), imposter);
  const std::string reason = refused->fields.get_string("reason").value_or("");
  EXPECT_NE(reason.find("stale PID file: pid " + std::to_string(imposter) + " started at"),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("(mtime)"), std::string::npos) << reason;
  // The one adoption is the first daemon's, of the original process (same PID).
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.adopted"; }), 1u);
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(kill(imposter, 0), 0) << "the daemon touched the imposter";
  kill(imposter, SIGKILL);
  waitpid(imposter, nullptr, 0);
  reap_orphans();
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
