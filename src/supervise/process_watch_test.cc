#include "src/supervise/process_watch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "src/os/unique_fd.h"
#include "src/supervise/supervise_test_support.h"

namespace aw {
namespace {

using testing::LoopTest;
using testing::TempDir;

// Runs `/bin/sh -c script` and waits for that shell, which backgrounds the real
// process and writes its PID to `pid_file`: a double fork, so the process is
// not a child we spawned (it is re-parented to us only because the test is a
// child subreaper, which lets us reap it like init would).
pid_t start_orphan(const std::string& script, const std::string& pid_file) {
  std::vector<std::string> args = {"/bin/sh", "-c", script, "sh", pid_file};
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t sh = 0;
  if (::posix_spawn(&sh, "/bin/sh", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  ::waitpid(sh, &status, 0);
  std::ifstream in(pid_file);
  pid_t pid = -1;
  in >> pid;
  return pid;
}

bool kernel_has_pidfd_exit_info() {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  int status = 0;
  return detail::pidfd_exit_status(fd.get(), &status) >= 0;
}

class ProcessWatchTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }
  // Reaps `pid` when SIGCHLD says a child changed state, as its parent (init,
  // a shell, tmux) would: what publishes its exit status to pidfd holders.
  void reap_on_sigchld(pid_t pid) {
    reaper_ = std::make_unique<uvx::Signal>(&loop_, SIGCHLD, [pid] {
      int status;
      ::waitpid(pid, &status, WNOHANG);
    });
  }
  void TearDown() override {
    reaper_.reset();
    LoopTest::TearDown();
  }

  TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<uvx::Signal> reaper_;
};

TEST_F(ProcessWatchTest, AdoptedNonChildEndIsSeenThroughItsPidfdWithoutPolling) {
  pid_t pid = start_orphan("(exec sleep 30) & echo $! > \"$1\"", dir_ / "w.pid");
  ASSERT_GT(pid, 0);
  reap_on_sigchld(pid);
  std::optional<ProcessEnd> end;
  auto a = ProcessWatch::adopt(&loop_, clock_, Env::real(), pid, std::nullopt,
                               [&](const ProcessEnd& e) { end = e; });
  ASSERT_TRUE(a.watch) << format_evidence(a.verdict.evidence);
  EXPECT_EQ(a.verdict.liveness, Liveness::kAlive);
  EXPECT_FALSE(a.watch->is_child());
  // The shell's or sleep's: `$!` is known before the background job exec's.
  EXPECT_FALSE(a.watch->identity().exe.empty());
  EXPECT_GT(a.watch->identity().start_ticks, 0u);
  EXPECT_EQ(a.watch->liveness().liveness, Liveness::kAlive);

  // Idle means idle: while it runs, nothing but the (20 s) guard timer is due.
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_GT(uv_backend_timeout(&loop_), 10'000);

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  run_until([&] { return end.has_value(); });
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->child);
  EXPECT_EQ(end->pid, pid);
  std::string ev = format_evidence(end->evidence);
  EXPECT_NE(ev.find("pidfd: readable"), std::string::npos) << ev;
  if (kernel_has_pidfd_exit_info()) {
    EXPECT_TRUE(end->status_known) << ev;
    EXPECT_FALSE(end->exited);
    EXPECT_EQ(end->term_signal, SIGTERM);
  } else {
    EXPECT_FALSE(end->status_known);
    EXPECT_NE(ev.find("unsupported"), std::string::npos) << ev;
  }
  EXPECT_EQ(a.watch->liveness().liveness, Liveness::kAbsent);
  EXPECT_EQ(a.watch->signal(SIGTERM), -ESRCH);
}

TEST_F(ProcessWatchTest, NonChildExitCodeComesFromPidfdInfo) {
  ASSERT_EQ(::mkfifo((dir_ / "w.fifo").c_str(), 0600), 0);
  pid_t pid = start_orphan("(read x < \"$1.fifo\"; exit 7) & echo $! > \"$1\"", dir_ / "w");
  ASSERT_GT(pid, 0);
  reap_on_sigchld(pid);
  std::optional<ProcessEnd> end;
  auto a = ProcessWatch::adopt(&loop_, clock_, Env::real(), pid, std::nullopt,
                               [&](const ProcessEnd& e) { end = e; });
  ASSERT_TRUE(a.watch) << format_evidence(a.verdict.evidence);
  // Opening the FIFO waits for its reader; closing it gives the reader EOF.
  UniqueFd fd(::open((dir_ / "w.fifo").c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  fd.reset();
  run_until([&] { return end.has_value(); });
  ASSERT_TRUE(end);
  if (!kernel_has_pidfd_exit_info()) GTEST_SKIP() << "PIDFD_INFO_EXIT needs Linux 6.15+";
  EXPECT_TRUE(end->status_known) << format_evidence(end->evidence);
  EXPECT_TRUE(end->exited);
  EXPECT_EQ(end->exit_code, 7);
  EXPECT_NE(format_evidence(end->evidence).find("pidfd_info: exited with code 7"),
            std::string::npos);
}

TEST_F(ProcessWatchTest, UnreapedEndIsReportedWithUnknownStatusAfterTheWait) {
  pid_t pid = start_orphan("(exec sleep 30) & echo $! > \"$1\"", dir_ / "w.pid");
  ASSERT_GT(pid, 0);
  // No reaper: its parent (us) never reaps it while the watch waits.
  std::optional<ProcessEnd> end;
  ProcessWatchOptions o;
  o.exit_status_wait = std::chrono::milliseconds(30);
  auto a = ProcessWatch::adopt(
      &loop_, clock_, Env::real(), pid, std::nullopt, [&](const ProcessEnd& e) { end = e; }, o);
  ASSERT_TRUE(a.watch);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  run_until([&] { return end.has_value(); });
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->status_known);
  if (kernel_has_pidfd_exit_info()) {
    EXPECT_NE(format_evidence(end->evidence).find("did not reap it within 30 ms"),
              std::string::npos)
        << format_evidence(end->evidence);
  }
  ::waitpid(pid, nullptr, 0);
}

TEST_F(ProcessWatchTest, DifferentStartTimeIsAReusedPidAndNotAdopted) {
  pid_t pid = start_orphan("(exec sleep 30) & echo $! > \"$1\"", dir_ / "w.pid");
  ASSERT_GT(pid, 0);
  LivenessVerdict now = probe_process(Env::real(), clock_, pid, std::nullopt);
  ProcessIdentity expected = now.seen;
  expected.start_ticks -= 1;  // what the store would hold for an earlier owner of the PID
  bool called = false;
  auto a = ProcessWatch::adopt(&loop_, clock_, Env::real(), pid, expected,
                               [&](const ProcessEnd&) { called = true; });
  EXPECT_FALSE(a.watch);
  EXPECT_EQ(a.verdict.liveness, Liveness::kAbsent);
  EXPECT_NE(format_evidence(a.verdict.evidence).find("the PID was reused"), std::string::npos);
  // The right identity adopts it.
  auto b = ProcessWatch::adopt(&loop_, clock_, Env::real(), pid, now.seen,
                               [&](const ProcessEnd&) { called = true; });
  EXPECT_TRUE(b.watch);
  b.watch.reset();
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  drain();
  EXPECT_FALSE(called);
}

TEST_F(ProcessWatchTest, FailedProcQueryIsUnknownAndStillWatched) {
  pid_t pid = start_orphan("(exec sleep 30) & echo $! > \"$1\"", dir_ / "w.pid");
  ASSERT_GT(pid, 0);
  reap_on_sigchld(pid);
  testing::FakeEnv env;
  env.stat_errno[pid] = EPERM;
  std::optional<ProcessEnd> end;
  auto a = ProcessWatch::adopt(&loop_, clock_, env, pid, std::nullopt,
                               [&](const ProcessEnd& e) { end = e; });
  ASSERT_TRUE(a.watch) << "an unanswered question must not count as death";
  EXPECT_EQ(a.verdict.liveness, Liveness::kUnknown);
  EXPECT_EQ(a.watch->liveness().liveness, Liveness::kUnknown);
  EXPECT_NE(format_evidence(a.verdict.evidence).find("injected"), std::string::npos);
  ::kill(pid, SIGKILL);
  run_until([&] { return end.has_value(); });
  EXPECT_TRUE(end);
}

TEST_F(ProcessWatchTest, AdoptingAProcessThatIsGoneIsAbsent) {
  pid_t pid = start_orphan("(exit 0) & echo $! > \"$1\"", dir_ / "w.pid");
  ASSERT_GT(pid, 0);
  ::waitpid(pid, nullptr, 0);  // reaped: the PID names nobody now
  auto a = ProcessWatch::adopt(&loop_, clock_, Env::real(), pid, std::nullopt, nullptr);
  EXPECT_FALSE(a.watch);
  EXPECT_EQ(a.verdict.liveness, Liveness::kAbsent);
  auto bad = ProcessWatch::adopt(&loop_, clock_, Env::real(), 0, std::nullopt, nullptr);
  EXPECT_EQ(bad.verdict.liveness, Liveness::kAbsent);
}

TEST_F(ProcessWatchTest, ChildExitStatusAndRusageFromWait4) {
  std::optional<ProcessEnd> end;
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo oops >&2; exit 3"};
  auto w = ProcessWatch::watch_child(&loop_, clock_, Env::real(), o,
                                     [&](const ProcessEnd& e) { end = e; });
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_TRUE((*w)->is_child());
  EXPECT_GT((*w)->identity().start_ticks, 0u);
  run_until([&] { return end.has_value(); });
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->child);
  EXPECT_TRUE(end->status_known);
  EXPECT_TRUE(end->exited);
  EXPECT_EQ(end->exit_code, 3);
  EXPECT_GT(end->max_rss_kb, 0);
  EXPECT_EQ(end->stderr_tail, "oops\n");
  EXPECT_NE(format_evidence(end->evidence).find("wait4: exited with code 3"), std::string::npos);
}

TEST_F(ProcessWatchTest, SpawnFailureIsAnError) {
  SpawnOptions o;
  o.argv = {"/no/such/program"};
  auto w = ProcessWatch::watch_child(&loop_, clock_, Env::real(), o, nullptr);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, -ENOENT);
}

}  // namespace
}  // namespace aw
