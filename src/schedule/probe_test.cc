#include "src/schedule/probe.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <optional>
#include <vector>

#include "src/schedule/schedule_test_support.h"

namespace aw {
namespace {

using namespace std::chrono_literals;
using testing::LoopTest;
using testing::TempDir;
using testing::write_file;

// What a real queue-status command prints: a header, one line per project,
// the last one still without its newline, and exit 1 because something failed.
constexpr const char* kQueueStatus = R"SH(#!/bin/sh
echo "queue status at $(date -u +%H:%M)"
echo "project alpha FAILED: tests red"
echo "project beta OK"
echo "project gamma FAILED: build broken"
printf 'project delta FAILED: no newline at the end'
exit 1
)SH";

const std::vector<ProbeLinePattern> kPatterns = {
    {R"(^project (?P<entity>\S+) FAILED: (?P<reason>.*)$)", "queue.failed"},
    {R"(^project (?P<entity>\S+) OK$)", "queue.ok"},
};

class ProbeTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    runner_ = std::make_unique<ProbeRunner>(&loop_, clock_);
  }
  void TearDown() override {
    runner_.reset();  // its handles close before the loop does
    LoopTest::TearDown();
  }
  ProbeSpec spec(std::vector<std::string> argv) {
    ProbeSpec s;
    s.rule = "queue-check";
    s.argv = std::move(argv);
    s.patterns = kPatterns;
    return s;
  }
  ProbeSpec script(const std::string& body) {
    const std::string path = dir_ / ("probe" + std::to_string(++scripts_) + ".sh");
    write_file(path, body, 0755);
    return spec({path});
  }
  // Runs to completion; returns the outcome (events land in events_).
  ProbeOutcome run(const ProbeSpec& s) {
    std::optional<ProbeOutcome> outcome;
    bool returned = false;
    runner_->run(
        s, [&](Event e) { events_.push_back(std::move(e)); },
        [&](ProbeOutcome o) {
          EXPECT_TRUE(returned) << "on_done called from inside run()";
          outcome = std::move(o);
        });
    returned = true;
    run_until([&] { return outcome.has_value(); });
    EXPECT_EQ(runner_->running(), 0u);
    return outcome.value_or(ProbeOutcome{});
  }
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const Event& e : events_) out.push_back(e.kind + ":" + e.entity);
    return out;
  }

  TempDir dir_;
  int scripts_ = 0;
  SystemClock clock_;
  std::unique_ptr<ProbeRunner> runner_;
  std::vector<Event> events_;
};

TEST_F(ProbeTest, QueueStatusBecomesEventsEvenWhenItExitsNonZero) {
  ProbeOutcome o = run(script(kQueueStatus));
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.term_signal, 0);
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.lines, 5u);
  EXPECT_EQ(o.matched, 4u);
  EXPECT_EQ(o.events, 4u);
  EXPECT_FALSE(o.truncated);
  EXPECT_FALSE(o.timed_out);
  EXPECT_EQ(kinds(), (std::vector<std::string>{"queue.failed:alpha", "queue.ok:beta",
                                               "queue.failed:gamma", "queue.failed:delta"}));
  ASSERT_EQ(events_.size(), 4u);
  const Event& alpha = events_[0];
  EXPECT_EQ(alpha.source, "probe");
  EXPECT_EQ(alpha.rule, "queue-check");
  EXPECT_EQ(alpha.fields.get_string("rule"), "queue-check");
  EXPECT_EQ(alpha.fields.get_string("line"), "project alpha FAILED: tests red");
  EXPECT_EQ(alpha.fields.get_string("reason"), "tests red");
  EXPECT_GT(alpha.time, WallTime{});
  EXPECT_EQ(events_[3].fields.get_string("reason"), "no newline at the end")
      << "the last line without '\\n' counts once the command ended";
}

TEST_F(ProbeTest, ALineMatchingTwoPatternsMakesTwoEvents) {
  ProbeSpec s = script("#!/bin/sh\necho 'project alpha FAILED: x'\n");
  s.patterns.push_back({"FAILED", "queue.any_failure"});
  ProbeOutcome o = run(s);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.matched, 1u);
  EXPECT_EQ(o.events, 2u);
  EXPECT_EQ(kinds(), (std::vector<std::string>{"queue.failed:alpha", "queue.any_failure:"}));
}

TEST_F(ProbeTest, LongLinesAreCutAndFlagged) {
  ProbeSpec s = script(
      "#!/bin/sh\n"
      "printf 'project long FAILED: '; head -c 5000 /dev/zero | tr '\\0' x; echo\n"
      "echo 'project short FAILED: y'\n");
  s.max_line = 100;
  ProbeOutcome o = run(s);
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_EQ(o.lines, 2u);
  EXPECT_EQ(o.cut_lines, 1u);
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].entity, "long");
  EXPECT_EQ(events_[0].fields.get_string("line")->size(), 100u);
  EXPECT_EQ(events_[0].fields.get_string("truncated"), "true");
  EXPECT_EQ(events_[1].entity, "short") << "the rest of the long line was skipped, not a line";
  EXPECT_EQ(events_[1].fields.find("truncated"), nullptr);
}

TEST_F(ProbeTest, HugeOutputIsCutAndTheProbeStopped) {
  // `yes` would print for ever: past max_output nothing more is read.
  const std::string line = "project alpha FAILED: tests red";
  ProbeSpec s = spec({"yes", line});
  s.max_output = 64 * 1024;
  ProbeOutcome o = run(s);
  EXPECT_FALSE(o.ok);
  EXPECT_TRUE(o.truncated);
  EXPECT_FALSE(o.timed_out);
  EXPECT_EQ(o.term_signal, SIGTERM);
  EXPECT_EQ(o.exit_code, -1);
  EXPECT_EQ(o.error,
            "probe of rule 'queue-check': more than 65536 bytes of output (max_output); the rest "
            "was not read and it was stopped");
  const std::size_t whole_lines = s.max_output / (line.size() + 1);
  EXPECT_EQ(o.lines, whole_lines) << "the line the limit cut is dropped";
  EXPECT_EQ(events_.size(), whole_lines);
}

TEST_F(ProbeTest, OutputOfExactlyMaxOutputIsNotTruncated) {
  ProbeSpec s = script("#!/bin/sh\necho 'project a OK'\n");  // 13 bytes
  s.max_output = 13;
  ProbeOutcome o = run(s);
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_FALSE(o.truncated);
  EXPECT_EQ(o.events, 1u);
}

TEST_F(ProbeTest, TimeoutKillsTheWholeGroupAndKeepsEarlierEvents) {
  ProbeSpec s = script(
      "#!/bin/sh\n"
      "echo 'project alpha FAILED: hung after this'\n"
      "sleep 30 &\n"  // a grandchild holding stdout: killed with the group
      "sleep 30\n");
  s.timeout = 300ms;
  const MonoTime start = clock_.mono();
  ProbeOutcome o = run(s);
  EXPECT_FALSE(o.ok);
  EXPECT_TRUE(o.timed_out);
  EXPECT_EQ(o.term_signal, SIGTERM);
  EXPECT_EQ(o.error, "probe of rule 'queue-check': timed out; it was stopped");
  EXPECT_GE(o.wall, 300ms);
  EXPECT_LT(clock_.mono() - start, 10s) << "not the 30 s of the sleeps";
  EXPECT_EQ(kinds(), (std::vector<std::string>{"queue.failed:alpha"}));
}

TEST_F(ProbeTest, TimeoutEscalatesToSigkillAfterTheGrace) {
  // Ignores SIGTERM (and so does the sleep it starts: SIG_IGN is inherited).
  ProbeSpec s = script("#!/bin/sh\ntrap '' TERM\necho 'project a OK'\nsleep 30\n");
  s.timeout = 200ms;
  s.kill_grace = 200ms;
  ProbeOutcome o = run(s);
  EXPECT_FALSE(o.ok);
  EXPECT_TRUE(o.timed_out);
  EXPECT_EQ(o.term_signal, SIGKILL);
  EXPECT_GE(o.wall, 400ms);
  EXPECT_EQ(o.events, 1u);
}

TEST_F(ProbeTest, KilledFromOutsideIsNotOk) {
  ProbeOutcome o = run(script("#!/bin/sh\necho 'project a OK'\nkill -TERM $$\nsleep 5\n"));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.term_signal, SIGTERM);
  EXPECT_EQ(o.exit_code, -1);
  EXPECT_EQ(o.error, "probe of rule 'queue-check': killed by SIGTERM");
  EXPECT_EQ(o.events, 1u) << "what it printed still counts";
}

TEST_F(ProbeTest, CommandThatCannotStartReportsOnTheNextIteration) {
  ProbeOutcome o = run(spec({dir_ / "no-such-probe"}));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.exit_code, -1);
  EXPECT_NE(
      o.error.find("probe of rule 'queue-check': cannot run '" + (dir_ / "no-such-probe") + "'"),
      std::string::npos)
      << o.error;
  EXPECT_TRUE(events_.empty());
}

TEST_F(ProbeTest, BadSpecIsReportedThroughOnDoneAndCompileProbe) {
  ProbeSpec s = spec({"true"});
  s.patterns = {{"(", "x"}};
  auto compiled = compile_probe(s);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.error().message.rfind("probe of rule 'queue-check': pattern #1: invalid", 0),
            0u)
      << compiled.error().message;
  ProbeOutcome o = run(s);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, compiled.error().message);

  ProbeSpec empty = spec({});
  EXPECT_EQ(compile_probe(empty).error().message,
            "probe of rule 'queue-check': empty command (expected argv with a program first)");
  ProbeSpec zero = spec({"true"});
  zero.timeout = 0s;
  EXPECT_EQ(compile_probe(zero).error().message,
            "probe of rule 'queue-check': timeout 0s (expected more than 0)");
}

TEST_F(ProbeTest, StderrTailEnvAndCwd) {
  ProbeSpec s = script(
      "#!/bin/sh\n"
      "echo \"project $PROBE_PROJECT FAILED: in $(pwd)\"\n"
      "echo 'something went wrong' >&2\n");
  s.env = {{"PROBE_PROJECT", "omega"}};
  s.cwd = dir_.path();
  ProbeOutcome o = run(s);
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.stderr_tail, "something went wrong\n");
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].entity, "omega");
  EXPECT_EQ(events_[0].fields.get_string("reason"), "in " + dir_.path());
}

TEST_F(ProbeTest, CancelStopsItAndSaysSo) {
  std::optional<ProbeOutcome> outcome;
  auto id = runner_->run(
      script("#!/bin/sh\nsleep 30\n"), [](const Event&) {},
      [&](ProbeOutcome o) { outcome = std::move(o); });
  EXPECT_TRUE(runner_->busy("queue-check"));
  EXPECT_FALSE(runner_->busy("other"));
  EXPECT_EQ(runner_->running(), 1u);
  EXPECT_TRUE(runner_->cancel(id));
  EXPECT_FALSE(runner_->cancel(id + 1));
  run_until([&] { return outcome.has_value(); });
  EXPECT_FALSE(outcome->ok);
  EXPECT_EQ(outcome->error, "probe of rule 'queue-check': cancelled");
  EXPECT_FALSE(runner_->busy("queue-check"));
  EXPECT_FALSE(runner_->cancel(id)) << "finished";
}

TEST_F(ProbeTest, OnEventMayCancelItsOwnRun) {
  ProbeRunner::RunId id = 0;
  std::optional<ProbeOutcome> outcome;
  id = runner_->run(
      script("#!/bin/sh\necho 'project a OK'\necho 'project b OK'\nsleep 30\n"),
      [&](Event e) {
        events_.push_back(std::move(e));
        runner_->cancel(id);
      },
      [&](ProbeOutcome o) { outcome = std::move(o); });
  run_until([&] { return outcome.has_value(); });
  EXPECT_EQ(outcome->error, "probe of rule 'queue-check': cancelled");
  EXPECT_EQ(events_.size(), 1u) << "nothing is delivered after the cancel";
}

TEST_F(ProbeTest, OnDoneMayStartTheNextRun) {
  ProbeSpec s = script("#!/bin/sh\necho 'project a OK'\n");
  int done = 0;
  std::function<void(ProbeOutcome)> again = [&](const ProbeOutcome& o) {
    EXPECT_TRUE(o.ok) << o.error;
    if (++done < 3)
      runner_->run(
          s, [&](Event e) { events_.push_back(std::move(e)); }, again);
  };
  runner_->run(
      s, [&](Event e) { events_.push_back(std::move(e)); }, again);
  run_until([&] { return done == 3; });
  EXPECT_EQ(events_.size(), 3u);
}

TEST_F(ProbeTest, DestroyingTheRunnerKillsWhatRunsWithoutCallbacks) {
  auto runner = std::make_unique<ProbeRunner>(&loop_, clock_);
  bool called = false;
  runner->run(
      script("#!/bin/sh\nsleep 30\n"), [&](const Event&) { called = true; },
      [&](const ProbeOutcome&) { called = true; });
  runner.reset();
  drain();
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace aw
