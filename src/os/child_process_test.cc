#include "src/os/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <optional>

#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::LoopTest;
using aw::testing::TempDir;

class ChildProcessTest : public LoopTest {
 protected:
  // Spawns, runs the loop until the child is delivered, returns its exit.
  std::optional<ChildExit> run_child(SpawnOptions opts) {
    std::optional<ChildExit> got;
    auto child =
        ChildProcess::spawn(&loop_, clock_, std::move(opts), [&](const ChildExit& e) { got = e; });
    EXPECT_TRUE(child.ok()) << (child.ok() ? "" : child.error().message);
    if (!child.ok()) return std::nullopt;
    run();
    EXPECT_TRUE(got.has_value()) << "on_exit never called";
    return got;
  }

  SystemClock clock_;
};

SpawnOptions sh(const std::string& script) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", script};
  return o;
}

// The owner may release the child from inside on_exit (uvx wrappers are safe
// to destroy in their own callbacks): once when the exit is delivered from the
// pidfd's or a pipe's callback, once from the drain timer's (a grandchild kept
// the pipe open). ASan checks that nothing touches the freed object.
TEST_F(ChildProcessTest, TheOwnerMayDestroyTheChildInsideOnExit) {
  for (const char* script : {"echo bye", "sleep 2 & echo started"}) {
    SCOPED_TRACE(script);
    SpawnOptions o = sh(script);
    o.drain_limit = std::chrono::milliseconds(50);
    std::unique_ptr<ChildProcess> child;
    std::optional<ChildExit> got;
    auto spawned = ChildProcess::spawn(&loop_, clock_, std::move(o), [&](const ChildExit& e) {
      got = e;
      child.reset();
    });
    ASSERT_TRUE(spawned.ok());
    child = std::move(*spawned);
    const pid_t group = child->pid();
    run();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(child, nullptr);
    EXPECT_EQ(got->exit_code, 0);
    ::kill(-group, SIGKILL);  // the grandchild that held the pipe
  }
}

TEST_F(ChildProcessTest, ReportsExitCodeAndRusage) {
  auto e = run_child(sh("exit 3"));
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->exited);
  EXPECT_EQ(e->exit_code, 3);
  EXPECT_EQ(e->term_signal, 0);
  EXPECT_GT(e->pid, 0);
  EXPECT_GT(e->max_rss_kb, 0);
  EXPECT_GT(e->wall.count(), 0);
  EXPECT_FALSE(e->pipes_abandoned);
}

TEST_F(ChildProcessTest, ReportsTerminatingSignal) {
  auto e = run_child(sh("kill -USR1 $$"));
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->exited);
  EXPECT_EQ(e->term_signal, SIGUSR1);
  EXPECT_EQ(e->exit_code, -1);
}

TEST_F(ChildProcessTest, BusyChildHasCpuTime) {
  auto e = run_child(sh("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_GT((e->user_cpu + e->sys_cpu).count(), 0);
  EXPECT_GT(e->user_cpu.count(), 0);
}

TEST_F(ChildProcessTest, OutputTailsAreBoundedAndTotalsCounted) {
  // 1 MiB of 'a' then "END" on stdout; a short line on stderr.
  auto e = run_child(sh("head -c 1048576 /dev/zero | tr '\\0' a; printf END; printf oops >&2"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_EQ(e->stdout_bytes, 1048576u + 3u);
  ASSERT_EQ(e->stdout_tail.size(), 4096u);
  EXPECT_EQ(e->stdout_tail.substr(4093), "END");
  EXPECT_EQ(e->stdout_tail.substr(0, 10), std::string(10, 'a'));
  EXPECT_EQ(e->stderr_tail, "oops");
  EXPECT_EQ(e->stderr_bytes, 4u);
}

TEST_F(ChildProcessTest, OutputCallbackSeesEveryByte) {
  SpawnOptions o = sh("printf hello; printf world >&2");
  std::string out, err;
  o.on_output = [&](int stream, std::string_view bytes) {
    (stream == 1 ? out : err).append(bytes);
  };
  auto e = run_child(std::move(o));
  ASSERT_TRUE(e);
  EXPECT_EQ(out, "hello");
  EXPECT_EQ(err, "world");
}

TEST_F(ChildProcessTest, NoCaptureSendsOutputToDevNull) {
  SpawnOptions o = sh("echo lost; echo lost >&2");
  o.capture_output = false;
  auto e = run_child(std::move(o));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_EQ(e->stdout_bytes, 0u);
  EXPECT_EQ(e->stderr_bytes, 0u);
}

TEST_F(ChildProcessTest, AppliesCwdAndEnvironment) {
  TempDir dir;
  char real[PATH_MAX];
  ASSERT_NE(::realpath(dir.path().c_str(), real), nullptr);
  ::setenv("AW_TEST_INHERITED", "from-parent", 1);
  ::setenv("AW_TEST_REPLACED", "old", 1);
  SpawnOptions o =
      sh("pwd -P; printf '%s|%s|%s' \"$AW_TEST_INHERITED\" \"$AW_TEST_REPLACED\" \"$AW_TEST_NEW\"");
  o.cwd = dir.path();
  o.env = {{"AW_TEST_REPLACED", "new"}, {"AW_TEST_NEW", "x y"}};
  auto e = run_child(std::move(o));
  ::unsetenv("AW_TEST_INHERITED");
  ::unsetenv("AW_TEST_REPLACED");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stdout_tail, std::string(real) + "\nfrom-parent|new|x y");
}

TEST_F(ChildProcessTest, StdinIsDevNull) {
  auto e = run_child(sh("cat; echo done"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stdout_tail, "done\n");
}

TEST_F(ChildProcessTest, NoOtherDescriptorLeaksIntoTheChild) {
  int fd = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(fd, 3);
  auto e =
      run_child(sh("[ -e /proc/$$/fd/" + std::to_string(fd) + " ] && echo leaked || echo clean"));
  ::close(fd);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stdout_tail, "clean\n");
}

TEST_F(ChildProcessTest, ChildGetsDefaultSignalsAndEmptyMask) {
  // The daemon may ignore or block signals; its children must not inherit that.
  struct sigaction ign {
  }, old_int{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGINT, &ign, &old_int), 0);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);

  auto e1 = run_child(sh("kill -INT $$; exit 0"));
  auto e2 = run_child(sh("kill -TERM $$; exit 0"));

  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGINT, &old_int, nullptr);
  ASSERT_TRUE(e1);
  ASSERT_TRUE(e2);
  EXPECT_EQ(e1->term_signal, SIGINT) << "SIG_IGN was inherited";
  EXPECT_EQ(e2->term_signal, SIGTERM) << "the blocked mask was inherited";
}

TEST_F(ChildProcessTest, RunsInItsOwnProcessGroup) {
  auto e = run_child(sh("cut -d' ' -f5 /proc/$$/stat"));
  ASSERT_TRUE(e);
  EXPECT_EQ(std::stol(e->stdout_tail), e->pid);
}

TEST_F(ChildProcessTest, GroupKillReachesGrandchild) {
  pid_t grandchild = 0;
  std::string first_line;
  std::unique_ptr<ChildProcess> child;
  std::optional<ChildExit> got;
  SpawnOptions o = sh("sleep 30 & echo $!; wait");
  o.on_output = [&](int stream, std::string_view bytes) {
    if (stream != 1 || grandchild) return;
    first_line.append(bytes);
    if (first_line.find('\n') == std::string::npos) return;
    grandchild = static_cast<pid_t>(std::stol(first_line));
    EXPECT_EQ(child->kill_group(SIGKILL), 0);
  };
  auto spawned =
      ChildProcess::spawn(&loop_, clock_, std::move(o), [&](const ChildExit& e) { got = e; });
  ASSERT_TRUE(spawned.ok());
  child = std::move(spawned.value());
  run();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->term_signal, SIGKILL);
  ASSERT_GT(grandchild, 0);
  // Adopted by this process (subreaper) once its parent died.
  int status = 0;
  ASSERT_EQ(::waitpid(grandchild, &status, 0), grandchild);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(child->kill_group(SIGKILL), -ESRCH) << "a reaped child must not be signalled";
}

TEST_F(ChildProcessTest, GrandchildHoldingPipesDoesNotHoldTheExit) {
  SpawnOptions o = sh("sleep 30 & echo started");
  o.drain_limit = std::chrono::milliseconds(50);
  std::optional<ChildExit> got;
  auto child =
      ChildProcess::spawn(&loop_, clock_, std::move(o), [&](const ChildExit& e) { got = e; });
  ASSERT_TRUE(child.ok());
  const pid_t pgid = (*child)->pid();
  run();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->exit_code, 0);
  EXPECT_TRUE(got->pipes_abandoned);
  EXPECT_EQ(got->stdout_tail, "started\n");
  // The sleep is still in the group (so the group id is still its own): end it.
  ASSERT_EQ(::kill(-pgid, SIGKILL), 0);
  int status;
  EXPECT_GT(::waitpid(-pgid, &status, 0), 0);
}

TEST_F(ChildProcessTest, KillGroupOnExitEndsStragglers) {
  // The leader exits on TERM; its grandchild ignores TERM and holds the pipes.
  // The inner sh prints its pid only once its TERM is ignored.
  SpawnOptions o = sh("sh -c 'trap \"\" TERM; echo $$; exec sleep 30' & wait");
  pid_t grandchild = 0;
  std::string line;
  std::unique_ptr<ChildProcess> child;
  o.on_output = [&](int, std::string_view bytes) {
    line.append(bytes);
    if (grandchild || line.find('\n') == std::string::npos) return;
    grandchild = static_cast<pid_t>(std::stol(line));
    child->kill_group_on_exit(true);
    child->kill_group(SIGTERM);
  };
  std::optional<ChildExit> got;
  auto spawned =
      ChildProcess::spawn(&loop_, clock_, std::move(o), [&](const ChildExit& e) { got = e; });
  ASSERT_TRUE(spawned.ok());
  child = std::move(spawned.value());
  run();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->term_signal, SIGTERM);
  EXPECT_FALSE(got->pipes_abandoned) << "the straggler should have been killed at exit";
  ASSERT_GT(grandchild, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(grandchild, &status, 0), grandchild);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST_F(ChildProcessTest, MissingBinaryFailsWithoutAChild) {
  for (const char* prog : {"/nonexistent/agentwatch-test-prog", "agentwatch-no-such-command"}) {
    SpawnOptions o;
    o.argv = {prog};
    bool called = false;
    auto child =
        ChildProcess::spawn(&loop_, clock_, std::move(o), [&](const ChildExit&) { called = true; });
    ASSERT_FALSE(child.ok()) << prog;
    EXPECT_EQ(child.error().code, -ENOENT) << prog;
    EXPECT_NE(child.error().message.find(prog), std::string::npos) << child.error().message;
    int status;
    EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "a child was left behind";
    EXPECT_EQ(errno, ECHILD);
    run();
    EXPECT_FALSE(called);
  }
}

TEST_F(ChildProcessTest, MissingCwdFailsWithENOENT) {
  SpawnOptions o = sh("true");
  o.cwd = "/nonexistent/agentwatch-dir";
  auto child = ChildProcess::spawn(&loop_, clock_, std::move(o), [](const ChildExit&) {});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().code, -ENOENT);
}

TEST_F(ChildProcessTest, NonExecutableFailsWithEACCES) {
  TempDir dir;
  aw::testing::write_file(dir / "script", "#!/bin/sh\necho hi\n");
  SpawnOptions o;
  o.argv = {dir / "script"};
  auto child = ChildProcess::spawn(&loop_, clock_, std::move(o), [](const ChildExit&) {});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().code, -EACCES);
}

TEST_F(ChildProcessTest, DestroyingARunningChildKillsAndReapsIt) {
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  bool called = false;
  auto child =
      ChildProcess::spawn(&loop_, clock_, std::move(o), [&](const ChildExit&) { called = true; });
  ASSERT_TRUE(child.ok());
  pid_t pid = (*child)->pid();
  child.value().reset();
  int status;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD) << "the child was not reaped";
  run();
  EXPECT_FALSE(called);
}

TEST_F(ChildProcessTest, OutputFileTakesBothStreamsAppendedAndItsTailIsTheStderrTail) {
  TempDir tmp;
  const std::string out = tmp / "w.log";
  SpawnOptions first = sh("echo from before");
  first.output_path = out;
  ASSERT_TRUE(run_child(std::move(first)));
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "created private";
  SpawnOptions o = sh("printf 'to stdout\\n'; printf 'to stderr' >&2");
  o.output_path = out;
  o.tail_limit = 12;
  auto e = run_child(std::move(o));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_EQ(aw::testing::read_file(out), "from before\nto stdout\nto stderr");
  EXPECT_EQ(e->stderr_tail, "ut\nto stderr") << "the file's last tail_limit (12) bytes";
  EXPECT_EQ(e->stdout_bytes, 0u) << "nothing went through a pipe";
}

TEST_F(ChildProcessTest, AnOutputFileThatCannotBeOpenedFailsWithoutAChild) {
  SpawnOptions o = sh("true");
  o.output_path = "/nonexistent-dir/w.log";
  auto child = ChildProcess::spawn(&loop_, clock_, std::move(o), [](const ChildExit&) {});
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.error().message.find("/nonexistent-dir/w.log"), std::string::npos);
}

// A released child outlives its ChildProcess: not signalled, not reaped by it,
// still writing to its output file; on_exit never comes.
TEST_F(ChildProcessTest, AReleasedChildKeepsRunningAndWriting) {
  TempDir tmp;
  const std::string out = tmp / "w.log";
  SpawnOptions o = sh("while :; do echo tick; sleep 0.02; done");
  o.output_path = out;
  bool called = false;
  auto child =
      ChildProcess::spawn(&loop_, clock_, std::move(o), [&](const ChildExit&) { called = true; });
  ASSERT_TRUE(child.ok());
  const pid_t pid = (*child)->pid();
  (*child)->release();
  EXPECT_EQ((*child)->kill_group(SIGTERM), -ESRCH) << "a released child is not ours to signal";
  child.value().reset();
  run();
  EXPECT_FALSE(called);
  EXPECT_EQ(::kill(pid, 0), 0) << "the released child was killed";
  const std::size_t before = aw::testing::read_file(out).size();
  usleep(100'000);
  EXPECT_GT(aw::testing::read_file(out).size(), before) << "it stopped writing";
  ::kill(-pid, SIGKILL);
  EXPECT_EQ(::waitpid(pid, nullptr, 0), pid);
}

TEST(MergeEnvironment, ReplacesAddsAndKeepsOrder) {
  const char* base[] = {"A=1", "B=2", "C=3", nullptr};
  auto env = detail::merge_environment(base, {{"B", "x"}, {"D", "4"}, {"D", "5"}});
  EXPECT_EQ(env, (std::vector<std::string>{"A=1", "C=3", "B=x", "D=5"}));
}

TEST(AppendTail, KeepsTheLastBytes) {
  std::string tail;
  detail::append_tail(tail, "abc", 5);
  detail::append_tail(tail, "def", 5);
  EXPECT_EQ(tail, "bcdef");
  detail::append_tail(tail, "0123456789", 5);
  EXPECT_EQ(tail, "56789");
  detail::append_tail(tail, "", 5);
  EXPECT_EQ(tail, "56789");
}

}  // namespace
}  // namespace aw
