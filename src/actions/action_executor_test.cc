#include "src/actions/action_executor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::exists;
using aw::testing::LoopTest;
using aw::testing::make_dirs;
using aw::testing::read_file;
using aw::testing::TempDir;
using aw::testing::write_file;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

class ActionExecutorTest : public LoopTest {
 protected:
  struct Record {
    std::vector<AttemptInfo> attempts;
    std::vector<Steady::time_point> attempt_times;
    std::optional<ActionOutcome> outcome;
    int done_calls = 0;
  };

  ActionExecutor::Id start(ActionExecutor& ex, const ActionRequest& r, Record& rec) {
    return ex.start(
        r, cause_,
        [&rec](const AttemptInfo& a) {
          rec.attempts.push_back(a);
          rec.attempt_times.push_back(Steady::now());
        },
        [&rec](ActionOutcome o) {
          ++rec.done_calls;
          rec.outcome = std::move(o);
        });
  }

  static ActionRequest run_request(std::vector<std::string> argv) {
    ActionRequest r;
    r.rule = "test-rule";
    RunRequest run;
    run.argv = std::move(argv);
    r.body = std::move(run);
    return r;
  }

  static Event make_cause() {
    Event e;
    e.kind = "file.landed";
    e.seq = 42;
    return e;
  }

  SystemClock clock_;
  Event cause_ = make_cause();
};

TEST_F(ActionExecutorTest, RunSucceeds) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  ActionExecutor::Id id = start(ex, run_request({"sh", "-c", "echo hi"}), rec);
  EXPECT_EQ(ex.in_flight(), 1u);
  ASSERT_EQ(rec.attempts.size(), 1u) << "the first attempt starts synchronously";
  EXPECT_EQ(rec.attempts[0].id, id);
  EXPECT_EQ(rec.attempts[0].attempt, 1);
  EXPECT_GT(rec.attempts[0].pid, 0);
  run();
  ASSERT_EQ(rec.done_calls, 1);
  const ActionOutcome& o = *rec.outcome;
  EXPECT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.category, "ok");
  EXPECT_EQ(o.attempts, 1);
  EXPECT_EQ(o.fields.get_int("pid"), rec.attempts[0].pid);
  EXPECT_EQ(o.fields.get_string("stdout_tail"), "hi\n");
  EXPECT_EQ(ex.in_flight(), 0u);
}

TEST_F(ActionExecutorTest, TimeoutSendsTermThenKillToAChildIgnoringTerm) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  ActionRequest r = run_request({"sh", "-c", "trap \"\" TERM; sleep 30"});
  r.timeout = milliseconds(300);
  std::get<RunRequest>(r.body).kill_grace = milliseconds(200);
  auto t0 = Steady::now();
  start(ex, r, rec);
  run();
  auto elapsed = Steady::now() - t0;
  ASSERT_EQ(rec.done_calls, 1);
  const ActionOutcome& o = *rec.outcome;
  EXPECT_EQ(o.category, "timeout") << o.message;
  EXPECT_EQ(o.fields.get_int("signal"), SIGKILL);
  EXPECT_EQ(o.fields.get_string("timed_out"), "true");
  EXPECT_NE(o.message.find("then SIGKILL"), std::string::npos) << o.message;
  // libuv's loop time has millisecond granularity: allow 1 ms per timer.
  EXPECT_GE(elapsed, milliseconds(500 - 2));
  EXPECT_LT(elapsed, std::chrono::seconds(20)) << "the sleep must not have run out its 30 s";
}

TEST_F(ActionExecutorTest, TimeoutOfAChildThatObeysTerm) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  ActionRequest r = run_request({"sleep", "30"});
  r.timeout = milliseconds(50);
  std::get<RunRequest>(r.body).kill_grace = std::chrono::seconds(10);
  auto t0 = Steady::now();
  start(ex, r, rec);
  run();
  ASSERT_EQ(rec.done_calls, 1);
  EXPECT_EQ(rec.outcome->category, "timeout");
  EXPECT_EQ(rec.outcome->fields.get_int("signal"), SIGTERM);
  EXPECT_LT(Steady::now() - t0, std::chrono::seconds(5)) << "no wait for the kill grace";
}

TEST_F(ActionExecutorTest, DefaultTimeoutApplies) {
  ActionExecutor ex(&loop_, clock_, 1);
  ex.set_default_run_timeout(milliseconds(50));
  Record rec;
  start(ex, run_request({"sleep", "30"}), rec);
  run();
  EXPECT_EQ(rec.outcome->category, "timeout");
}

TEST_F(ActionExecutorTest, RetriesWithBackoff) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  ActionRequest r = run_request({"false"});
  r.retry.retries = 2;
  r.retry.initial = milliseconds(60);
  r.retry.factor = 2.0;
  r.retry.jitter = 0.0;
  start(ex, r, rec);
  run();
  ASSERT_EQ(rec.done_calls, 1);
  EXPECT_EQ(rec.outcome->category, "execution");
  EXPECT_EQ(rec.outcome->attempts, 3);
  ASSERT_EQ(rec.attempts.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rec.attempts[i].attempt, i + 1);
  EXPECT_NE(rec.attempts[0].pid, rec.attempts[1].pid);
  // Each retry waits at least its backoff after the previous attempt started
  // (less 1 ms: libuv's loop time has millisecond granularity).
  EXPECT_GE(rec.attempt_times[1] - rec.attempt_times[0], milliseconds(60 - 1));
  EXPECT_GE(rec.attempt_times[2] - rec.attempt_times[1], milliseconds(120 - 1));
}

TEST_F(ActionExecutorTest, RetryStopsAtTheFirstSuccess) {
  TempDir dir;
  ActionExecutor ex(&loop_, clock_, 7);
  Record rec;
  // Fails the first time (creates the flag), succeeds the second.
  ActionRequest r =
      run_request({"sh", "-c", "if [ -e \"$1\" ]; then exit 0; else : > \"$1\"; exit 1; fi", "sh",
                   dir / "flag"});
  r.retry.retries = 5;
  r.retry.initial = milliseconds(1);
  start(ex, r, rec);
  run();
  ASSERT_EQ(rec.done_calls, 1);
  EXPECT_TRUE(rec.outcome->ok) << rec.outcome->message;
  EXPECT_EQ(rec.outcome->attempts, 2);
}

TEST_F(ActionExecutorTest, SpawnFailuresAreRetriedAndCategorised) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  ActionRequest r = run_request({"agentwatch-no-such-command"});
  r.retry.retries = 1;
  r.retry.initial = milliseconds(1);
  start(ex, r, rec);
  EXPECT_EQ(rec.done_calls, 0) << "on_done must not be called inside start()";
  run();
  ASSERT_EQ(rec.done_calls, 1);
  EXPECT_EQ(rec.outcome->category, "not_found");
  EXPECT_EQ(rec.outcome->attempts, 2);
  EXPECT_EQ(rec.outcome->suggestion,
            "argv[0] 'agentwatch-no-such-command' was not found: use an absolute path or check "
            "PATH");
  ASSERT_EQ(rec.attempts.size(), 2u);
  EXPECT_EQ(rec.attempts[0].pid, 0);
}

TEST_F(ActionExecutorTest, ValidationFailsAtOnceWithoutSpawningOrRetrying) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  ActionRequest r = run_request({"touch", "/tmp/agentwatch-should-not-exist"});
  r.render_error = "{fields.worker} is not a field of the event";
  r.retry.retries = 3;
  start(ex, r, rec);
  EXPECT_EQ(rec.done_calls, 0);
  run();
  ASSERT_EQ(rec.done_calls, 1);
  EXPECT_EQ(rec.outcome->category, "validation");
  EXPECT_NE(rec.outcome->message.find("{fields.worker}"), std::string::npos);
  EXPECT_NE(rec.outcome->message.find("test-rule"), std::string::npos);
  EXPECT_EQ(rec.outcome->attempts, 0);
  EXPECT_TRUE(rec.attempts.empty());
  EXPECT_FALSE(exists("/tmp/agentwatch-should-not-exist"));

  Record empty;
  start(ex, run_request({}), empty);
  Record emit;
  ActionRequest e;
  EmitRequest emit_body;
  emit_body.kind = "x.y";
  e.body = emit_body;
  start(ex, e, emit);
  run();
  EXPECT_EQ(empty.outcome->category, "validation");
  EXPECT_EQ(emit.outcome->category, "validation");
  EXPECT_NE(emit.outcome->message.find("emit is handled by the pipeline"), std::string::npos);
}

TEST_F(ActionExecutorTest, ShellKeepsTemplatedValuesPositional) {
  TempDir dir;
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  const std::string hostile = "; touch " + (dir / "pwned") + " $(touch " + (dir / "pwned2") + ")";
  ActionRequest r = run_request({"printf '%s' \"$1\"", hostile});
  std::get<RunRequest>(r.body).shell = true;
  start(ex, r, rec);
  run();
  ASSERT_EQ(rec.done_calls, 1);
  EXPECT_TRUE(rec.outcome->ok) << rec.outcome->message;
  EXPECT_EQ(rec.outcome->fields.get_string("stdout_tail"), hostile);
  EXPECT_FALSE(exists(dir / "pwned"));
  EXPECT_FALSE(exists(dir / "pwned2"));
}

TEST_F(ActionExecutorTest, WithoutShellNothingIsInterpreted) {
  TempDir dir;
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  start(ex, run_request({"echo", "$(touch " + (dir / "pwned") + ")"}), rec);
  run();
  EXPECT_EQ(rec.outcome->fields.get_string("stdout_tail"), "$(touch " + (dir / "pwned") + ")\n");
  EXPECT_FALSE(exists(dir / "pwned"));
}

TEST_F(ActionExecutorTest, InterruptAllEndsEverything) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record obeys, ignores, waiting, late;
  start(ex, run_request({"sleep", "30"}), obeys);
  start(ex, run_request({"sh", "-c", "trap \"\" TERM; echo ready; sleep 30"}), ignores);
  ActionRequest retrying = run_request({"agentwatch-no-such-command"});
  retrying.retry.retries = 3;
  retrying.retry.initial = std::chrono::seconds(30);
  start(ex, retrying, waiting);
  ASSERT_EQ(ex.in_flight(), 3u);
  const pid_t stubborn = ignores.attempts.at(0).pid;

  // Let the stubborn child set its trap before the shutdown begins.
  uvx::Timer later(&loop_, [&] {
    ex.interrupt_all(milliseconds(150));
    start(ex, run_request({"true"}), late);
    EXPECT_EQ(waiting.done_calls, 0) << "never from inside interrupt_all()";
  });
  later.start(100);
  auto t0 = Steady::now();
  run();
  ASSERT_EQ(obeys.done_calls, 1);
  ASSERT_EQ(ignores.done_calls, 1);
  ASSERT_EQ(waiting.done_calls, 1);
  ASSERT_EQ(late.done_calls, 1);
  EXPECT_EQ(obeys.outcome->category, "interrupted");
  EXPECT_EQ(obeys.outcome->fields.get_int("signal"), SIGTERM);
  EXPECT_EQ(ignores.outcome->category, "interrupted");
  EXPECT_EQ(ignores.outcome->fields.get_int("signal"), SIGKILL);
  EXPECT_EQ(waiting.outcome->category, "interrupted");
  EXPECT_EQ(waiting.outcome->attempts, 1);
  EXPECT_EQ(late.outcome->category, "interrupted");
  EXPECT_TRUE(late.attempts.empty());
  EXPECT_EQ(ex.in_flight(), 0u);
  EXPECT_LT(Steady::now() - t0, std::chrono::seconds(10));
  int status;
  EXPECT_EQ(::waitpid(stubborn, &status, WNOHANG), -1) << "reaped by the executor";
}

TEST_F(ActionExecutorTest, DestroyingTheExecutorKillsItsChildren) {
  Record rec;
  pid_t pid = 0;
  {
    ActionExecutor ex(&loop_, clock_, 1);
    start(ex, run_request({"sleep", "30"}), rec);
    pid = rec.attempts.at(0).pid;
  }
  run();
  EXPECT_EQ(rec.done_calls, 0);
  int status;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(ActionExecutorTest, MoveAndQuarantineRunOnThePool) {
  TempDir root;
  make_dirs(root / "in");
  write_file(root / "in/good.json", "{}");
  write_file(root / "in/bad.json", "{");
  ManualClock manual;
  ActionExecutor ex(&loop_, manual, 1);

  ActionRequest mv;
  mv.rule = "results";
  mv.body = MoveRequest{root / "in/good.json", root / "completed", root.path()};
  ActionRequest q = mv;
  q.body =
      QuarantineRequest{root / "in/bad.json", root / "quarantine", root.path(), "truncated JSON"};
  Record moved, quarantined;
  start(ex, mv, moved);
  start(ex, q, quarantined);
  EXPECT_EQ(moved.done_calls, 0);
  run();
  ASSERT_EQ(moved.done_calls, 1);
  ASSERT_EQ(quarantined.done_calls, 1);
  EXPECT_TRUE(moved.outcome->ok) << moved.outcome->message;
  EXPECT_EQ(moved.outcome->fields.get_string("to"), root / "completed/good.json");
  EXPECT_EQ(moved.attempts.size(), 1u);
  EXPECT_TRUE(quarantined.outcome->ok) << quarantined.outcome->message;
  EXPECT_EQ(read_file(root / "quarantine/bad.json.reason"),
            "{\"reason\":\"truncated JSON\",\"time\":\"2023-11-14T22:13:20.000Z\","
            "\"rule\":\"results\",\"cause_seq\":42,\"from\":\"" +
                root / "in/bad.json" + "\"}\n");
}

TEST_F(ActionExecutorTest, FailedMoveIsRetriedThenReported) {
  TempDir root;
  ActionExecutor ex(&loop_, clock_, 1);
  ActionRequest mv;
  mv.body = MoveRequest{root / "in/missing.json", root / "done", root.path()};
  mv.retry.retries = 2;
  mv.retry.initial = milliseconds(1);
  Record rec;
  start(ex, mv, rec);
  run();
  ASSERT_EQ(rec.done_calls, 1);
  EXPECT_EQ(rec.outcome->category, "not_found");
  EXPECT_EQ(rec.outcome->attempts, 3);
}

TEST_F(ActionExecutorTest, MarkWritesTheMarkerOrJustReports) {
  TempDir root;
  ManualClock manual;
  ActionExecutor ex(&loop_, manual, 1);
  ActionRequest m;
  m.rule = "done";
  MarkRequest mark;
  mark.marker = root / "worker-3/COMPLETE";
  mark.entity = "worker-3";
  m.body = mark;
  Record with_marker, without;
  start(ex, m, with_marker);
  std::get<MarkRequest>(m.body).marker.clear();
  start(ex, m, without);
  EXPECT_EQ(without.done_calls, 0);
  run();
  ASSERT_TRUE(with_marker.outcome && with_marker.outcome->ok) << with_marker.outcome->message;
  EXPECT_EQ(with_marker.outcome->fields.get_string("marker"), root / "worker-3/COMPLETE");
  EXPECT_EQ(
      read_file(root / "worker-3/COMPLETE"),
      "{\"entity\":\"worker-3\",\"state\":\"completed\",\"time\":\"2023-11-14T22:13:20.000Z\","
      "\"rule\":\"done\",\"cause_seq\":42}\n");
  ASSERT_TRUE(without.outcome && without.outcome->ok);
  EXPECT_EQ(without.outcome->fields.get_string("entity"), "worker-3");
  EXPECT_EQ(without.outcome->fields.get_string("state"), "completed");
  EXPECT_EQ(without.outcome->attempts, 1);
}

// ---- integrate_session: claim, command, marker and move ----

class IntegrateSessionExecutorTest : public ActionExecutorTest {
 protected:
  void SetUp() override {
    ActionExecutorTest::SetUp();
    make_dirs(session_);
    write_file(session_ + "/a1.json", "{}");
  }
  ActionRequest integrate(std::string script, int retries = 0) const {
    ActionRequest r;
    r.rule = "session-integrate";
    r.retry.retries = retries;
    r.retry.initial = milliseconds(10);
    r.retry.max = milliseconds(10);
    IntegrateSessionRequest i;
    i.session = session_;
    i.to = root_ / "integrated";
    i.root = root_.path();
    i.command.argv = {std::move(script), "{unused}"};
    i.command.shell = true;
    r.body = std::move(i);
    return r;
  }
  TempDir root_;
  const std::string session_ = root_ / "completed/s1";
};

TEST_F(IntegrateSessionExecutorTest, RunsTheCommandWithTheSessionThenMovesIt) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  const std::string seen = root_ / "seen";
  start(ex,
        integrate("echo \"$AGENTWATCH_SESSION $AGENTWATCH_SESSION_DIR\" > " + seen +
                  "; test -e \"$AGENTWATCH_SESSION_DIR/session.integrating\""),
        rec);
  run();
  ASSERT_EQ(rec.done_calls, 1);
  const ActionOutcome& o = *rec.outcome;
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "integrated");
  EXPECT_EQ(o.fields.get_int("exit_code"), 0);
  EXPECT_EQ(read_file(seen), "s1 " + session_ + "\n");
  EXPECT_TRUE(exists(root_ / "integrated/s1/session.integrated"));
  EXPECT_FALSE(exists(session_));
  EXPECT_EQ(rec.attempts.size(), 1u) << "one action.started per attempt";
}

TEST_F(IntegrateSessionExecutorTest, RetriesOnlyTheCommand) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  const std::string count = root_ / "count";
  start(ex, integrate("echo x >> " + count + "; [ $(wc -l < " + count + ") -ge 3 ]", 3), rec);
  run();
  ASSERT_TRUE(rec.outcome && rec.outcome->ok) << (rec.outcome ? rec.outcome->message : "");
  EXPECT_EQ(rec.outcome->attempts, 3);
  EXPECT_EQ(read_file(count), "x\nx\nx\n");
  EXPECT_EQ(rec.attempts.size(), 3u);
}

TEST_F(IntegrateSessionExecutorTest, AFailureForGoodReleasesTheClaim) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  start(ex, integrate("exit 3", 1), rec);
  run();
  ASSERT_TRUE(rec.outcome);
  EXPECT_FALSE(rec.outcome->ok);
  EXPECT_EQ(rec.outcome->fields.get_int("exit_code"), 3);
  EXPECT_EQ(rec.outcome->attempts, 2);
  EXPECT_TRUE(exists(session_ + "/a1.json"));
  EXPECT_FALSE(exists(session_ + "/session.integrating")) << "not in doubt: it failed";
  EXPECT_FALSE(exists(session_ + "/session.integrated"));
}

TEST_F(IntegrateSessionExecutorTest, AnInDoubtClaimIsNeitherRunNorRetried) {
  write_file(session_ + "/session.integrating", R"({"daemon":"1-2"})");
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  const std::string ran = root_ / "ran";
  start(ex, integrate("touch " + ran, 3), rec);
  run();
  ASSERT_TRUE(rec.outcome);
  EXPECT_FALSE(rec.outcome->ok);
  EXPECT_EQ(rec.outcome->fields.get_string("state"), "in_doubt");
  EXPECT_EQ(rec.outcome->attempts, 1);
  EXPECT_FALSE(exists(ran));
  EXPECT_TRUE(exists(session_ + "/session.integrating")) << "the claim is evidence: kept";
}

TEST_F(IntegrateSessionExecutorTest, ShutdownStopsTheCommandAndReleasesTheClaim) {
  ActionExecutor ex(&loop_, clock_, 1);
  Record rec;
  const std::string started = root_ / "started";
  start(ex, integrate("touch " + started + "; sleep 30"), rec);
  // Once the command runs (the claim is on disk), shut down.
  uvx::Timer poll(&loop_, [&] {
    if (exists(started)) {
      ex.interrupt_all(milliseconds(100));
      return;
    }
    poll.start(5);
  });
  poll.start(5);
  run();
  ASSERT_TRUE(rec.outcome);
  EXPECT_EQ(rec.outcome->category, outcome_category::kInterrupted) << rec.outcome->message;
  EXPECT_FALSE(exists(session_ + "/session.integrating"));
}

}  // namespace
}  // namespace aw
