#include "src/actions/run_outcome.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>

namespace aw {
namespace {

ChildExit exited(int code, std::string err = "") {
  ChildExit e;
  e.pid = 42;
  e.exited = true;
  e.exit_code = code;
  e.wall = std::chrono::milliseconds(1500);
  e.max_rss_kb = 1000;
  e.stderr_tail = std::move(err);
  return e;
}

ChildExit killed(int sig) {
  ChildExit e;
  e.pid = 42;
  e.term_signal = sig;
  return e;
}

RunContext ctx(std::string program = "integrate") {
  RunContext c;
  c.program = std::move(program);
  c.timeout = std::chrono::minutes(10);
  c.kill_grace = std::chrono::seconds(5);
  return c;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(ClassifyExit, ZeroIsOkWithFields) {
  ActionOutcome o = classify_exit(exited(0), ctx());
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.category, "ok");
  EXPECT_TRUE(o.suggestion.empty());
  EXPECT_EQ(o.fields.get_int("exit_code"), 0);
  EXPECT_EQ(o.fields.get_int("signal"), 0);
  EXPECT_EQ(o.fields.get_int("wall_ms"), 1500);
  EXPECT_EQ(o.fields.get_int("max_rss_kb"), 1000);
  EXPECT_EQ(o.fields.get_int("pid"), 42);
  EXPECT_EQ(o.fields.get_string("timed_out"), "false");
  EXPECT_EQ(o.message, "'integrate' exited 0 after 1.5s");
}

TEST(ClassifyExit, NonZeroIsExecutionAndQuotesLastStderrLine) {
  ActionOutcome o = classify_exit(exited(3, "warming up\nfatal: no such ref\n\n"), ctx());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.category, "execution");
  EXPECT_TRUE(contains(o.message, "exited 3")) << o.message;
  EXPECT_TRUE(contains(o.message, "fatal: no such ref")) << o.message;
  EXPECT_FALSE(contains(o.message, "\n")) << "messages are one line";
  EXPECT_FALSE(o.suggestion.empty());
}

TEST(ClassifyExit, ShellConventionsMapToNotFoundAndPermission) {
  EXPECT_EQ(classify_exit(exited(127), ctx()).category, "not_found");
  EXPECT_EQ(classify_exit(exited(126), ctx()).category, "permission");
}

TEST(ClassifyExit, SigkillWeDidNotSendIsResource) {
  ActionOutcome o = classify_exit(killed(SIGKILL), ctx());
  EXPECT_EQ(o.category, "resource");
  EXPECT_TRUE(contains(o.suggestion, "OOM")) << o.suggestion;
  EXPECT_EQ(o.fields.get_int("signal"), SIGKILL);
  EXPECT_EQ(o.fields.get_int("exit_code"), -1);
}

TEST(ClassifyExit, OtherSignalsAreExecution) {
  ActionOutcome o = classify_exit(killed(SIGSEGV), ctx());
  EXPECT_EQ(o.category, "execution");
  EXPECT_TRUE(contains(o.message, "SIGSEGV")) << o.message;
}

TEST(ClassifyExit, LostStatusIsUnknown) {
  EXPECT_EQ(classify_exit(killed(0), ctx()).category, "unknown");
}

TEST(ClassifyExit, TimeoutWinsOverHowItDied) {
  RunContext c = ctx();
  c.timed_out = true;
  c.sent_sigkill = true;
  ActionOutcome o = classify_exit(killed(SIGKILL), c);
  EXPECT_EQ(o.category, "timeout");
  EXPECT_TRUE(contains(o.message, "10m timeout")) << o.message;
  EXPECT_TRUE(contains(o.message, "SIGKILL after 5s")) << o.message;
  EXPECT_EQ(o.fields.get_string("timed_out"), "true");
  // Even a graceful exit 0 on SIGTERM did not finish the work in time.
  c.sent_sigkill = false;
  EXPECT_EQ(classify_exit(exited(0), c).category, "timeout");
}

TEST(ClassifyExit, InterruptedWinsOverEverything) {
  RunContext c = ctx();
  c.interrupted = true;
  c.timed_out = true;
  EXPECT_EQ(classify_exit(killed(SIGTERM), c).category, "interrupted");
  EXPECT_EQ(classify_exit(exited(0), c).category, "interrupted");
}

TEST(ClassifySpawnError, MissingProgram) {
  ActionOutcome o = classify_spawn_error(make_error("cannot run 'foo'", -ENOENT), ctx("foo"));
  EXPECT_EQ(o.category, "not_found");
  EXPECT_EQ(o.suggestion, "argv[0] 'foo' was not found: use an absolute path or check PATH");
}

TEST(ClassifySpawnError, MissingCwdIsNamed) {
  RunContext c = ctx("foo");
  c.cwd = "/nonexistent/agentwatch-cwd";
  ActionOutcome o = classify_spawn_error(make_error("cannot run 'foo'", -ENOENT), c);
  EXPECT_EQ(o.category, "not_found");
  EXPECT_TRUE(contains(o.message, "/nonexistent/agentwatch-cwd")) << o.message;
  EXPECT_TRUE(contains(o.suggestion, "cwd")) << o.suggestion;
}

TEST(ClassifySpawnError, PermissionAndResource) {
  EXPECT_EQ(classify_spawn_error(make_error("x", -EACCES), ctx()).category, "permission");
  EXPECT_EQ(classify_spawn_error(make_error("x", -EAGAIN), ctx()).category, "resource");
  EXPECT_EQ(classify_spawn_error(make_error("x", -ENOMEM), ctx()).category, "resource");
  EXPECT_EQ(classify_spawn_error(make_error("x", -E2BIG), ctx()).category, "validation");
  EXPECT_EQ(classify_spawn_error(make_error("x", -ENOEXEC), ctx()).category, "execution");
}

TEST(SignalName, NamesKnownSignals) {
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(250), "signal 250");
}

}  // namespace
}  // namespace aw
