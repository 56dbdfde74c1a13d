// Files landing → rules → actions, end to end through the real daemon.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

// A daemon watching <home>/inbox as "inbox" plus a "results" root, with the
// shipped rules loaded (they act on the "results" watch).
class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inbox = d.home() + "/inbox";
    results = d.home() + "/results";
    out = d.home() + "/out";
    make_dirs(inbox);
    make_dirs(results);
    make_dirs(out);
    d.write_config("[[watch]]\nname = \"inbox\"\npath = \"" + inbox +
                   "\"\nignore = [\".*.tmp\"]\n[[watch]]\nname = \"results\"\npath = \"" + results +
                   "\"\n");
  }
  static bool is(const Event& e, const char* kind, const std::string& path_suffix = "") {
    return e.kind == kind && e.path.ends_with(path_suffix);
  }

  DaemonUnderTest d;
  std::string inbox, results, out;
};

TEST_F(PipelineTest, CloseWriteAndRenameBothTriggerTheRunAction) {
  d.write_rule("copy.toml", R"(
[[rule]]
name = "copy-landed"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "run"
  argv = ["cp", "{path}", ")" + out +
                                R"(/"]
)");
  d.start();
  write_file(inbox + "/by-close-write.txt", "one");
  write_file_atomically(inbox + "/by-rename.txt", "two");
  auto ok1 =
      d.wait_for([](const Event& e) { return is(e, "action.succeeded", "by-close-write.txt"); });
  auto ok2 = d.wait_for([](const Event& e) { return is(e, "action.succeeded", "by-rename.txt"); });
  ASSERT_TRUE(ok1) << d.stderr_text();
  ASSERT_TRUE(ok2);
  EXPECT_EQ(read_file(out + "/by-close-write.txt"), "one");
  EXPECT_EQ(read_file(out + "/by-rename.txt"), "two");
  EXPECT_EQ(ok1->rule, "copy-landed");
  EXPECT_EQ(*ok1->fields.get_int("exit_code"), 0);
  // The outcome names its cause: the landed event, with how it landed.
  bool found_cause = false;
  for (const auto& e : d.events()) {
    if (e.seq == ok1->cause) {
      found_cause = true;
      EXPECT_EQ(e.kind, "file.landed");
      EXPECT_EQ(*e.fields.get_string("via"), "close_write");
    }
    if (e.seq == ok2->cause) {
      EXPECT_EQ(*e.fields.get_string("via"), "rename");
    }
  }
  EXPECT_TRUE(found_cause);
  // The hidden temp file of the atomic write was ignored, never landed.
  EXPECT_EQ(d.count([](const Event& e) { return e.path.find(".tmp") != std::string::npos; }), 0u);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(PipelineTest, TemplatedValuesStaySingleArgvElements) {
  d.write_rule("copy.toml", R"(
[[rule]]
name = "copy-landed"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "run"
  argv = ["cp", "--", "{path}", ")" +
                                out + R"(/{name}"]
)");
  d.start();
  // Spaces, quotes, globs, $() and ';' survive as one argument: no shell saw them.
  const std::string nasty = "a b;touch pwned $(id) 'q' *.txt";
  write_file(inbox + "/" + nasty, "x");
  ASSERT_TRUE(d.wait_for([](const Event& e) { return e.kind == "action.succeeded"; }));
  EXPECT_EQ(read_file(out + "/" + nasty), "x");
  EXPECT_FALSE(exists(inbox + "/pwned"));
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(PipelineTest, ShippedRulesMoveValidRepairTruncatedAndQuarantineGarbage) {
  d.start();
  write_file(results + "/good.json", R"({"status":"done","score":1})");
  write_file(results + "/bad.json", R"({"status":"do)");
  write_file(results + "/worse.json", "Segmentation fault (core dumped)\n");
  ASSERT_TRUE(d.wait_for([](const Event& e) { return is(e, "action.succeeded", "good.json"); }))
      << d.stderr_text();
  ASSERT_TRUE(d.wait_for([](const Event& e) { return is(e, "action.succeeded", "bad.json"); }));
  ASSERT_TRUE(d.wait_for([](const Event& e) { return is(e, "action.succeeded", "worse.json"); }));
  EXPECT_TRUE(exists(results + "/completed/good.json"));
  EXPECT_FALSE(exists(results + "/good.json"));
  // Truncated: a repaired copy in completed/, the original kept in quarantine/.
  EXPECT_EQ(read_file(results + "/completed/bad.repaired.json"), R"({"status":"do"})");
  EXPECT_EQ(read_file(results + "/quarantine/bad.json"), R"({"status":"do)") << "kept as it was";
  const std::string reason = read_file(results + "/quarantine/bad.json.reason");
  EXPECT_NE(reason.find("repaired into " + results + "/completed/bad.repaired.json"),
            std::string::npos)
      << reason;
  // Not JSON at all: quarantined with the parser's error and its offset.
  const std::string why = read_file(results + "/quarantine/worse.json.reason");
  EXPECT_NE(why.find("\"error_offset\":0"), std::string::npos) << why;
  // The moved files land again inside the root but match no rule: no loop.
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "action.started"; }), 3u);
  EXPECT_EQ(d.stop(), 0);
}

// Python's tempfile.NamedTemporaryFile(dir=results, suffix=".json") then
// os.replace: between the close and the replace the temporary file has landed,
// and the shipped rules must leave it to its writer (issue #8; it used to be
// moved to completed/, and the replace then failed). The test replaces only
// once the daemon has seen the temporary file land.
TEST_F(PipelineTest, ShippedRulesLeaveAWritersTemporaryFileAlone) {
  d.start();
  const std::string script =
      "import json, os, sys, tempfile\n"
      "f = tempfile.NamedTemporaryFile('w', dir=sys.argv[1], suffix='.json', delete=False)\n"
      "json.dump({'status': 'done'}, f)\n"
      "f.close()\n"
      "print(f.name)\n";
  write_file(d.home() + "/writer.py", script);
  // An editor's and a dot-file's names too, each valid JSON.
  write_file(results + "/.job2.json", "{}");
  write_file(results + "/tmpmanual.json", "{}");
  auto written = run_command({"python3", d.home() + "/writer.py", results});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  const std::string temp_path = written.out.substr(0, written.out.find('\n'));
  const std::string temp_name = temp_path.substr(temp_path.rfind('/') + 1);
  ASSERT_TRUE(temp_name.starts_with("tmp") && temp_name.ends_with(".json")) << temp_name;
  ASSERT_TRUE(d.wait_for([&](const Event& e) { return is(e, "file.landed", "/" + temp_name); }))
      << d.stderr_text();
  ASSERT_EQ(rename(temp_path.c_str(), (results + "/job.json").c_str()), 0)
      << "the temporary file was taken from its writer";

  ASSERT_TRUE(d.wait_for([](const Event& e) { return is(e, "action.succeeded", "/job.json"); }))
      << d.stderr_text();
  EXPECT_EQ(read_file(results + "/completed/job.json"), R"({"status": "done"})");
  // A plan on a landed file starts as it lands, so by now any would show.
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "action.started"; }), 1u)
      << "only job.json was acted on";
  EXPECT_TRUE(exists(results + "/.job2.json"));
  EXPECT_TRUE(exists(results + "/tmpmanual.json"));
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(PipelineTest, MarkerCompletesTheEntity) {
  d.start();
  write_file(results + "/proj-7.done", "");
  auto changed = d.wait_for([](const Event& e) { return e.kind == "state.changed"; });
  ASSERT_TRUE(changed) << d.stderr_text();
  EXPECT_EQ(changed->entity, "proj-7");
  EXPECT_EQ(*changed->fields.get_string("to"), "completed");
  EXPECT_EQ(changed->rule, "completion-marker");
  EXPECT_EQ(d.stop(), 0);
}

// `mark` goes through the lifecycle state machine, whose state is journaled: after a
// restart a late "failed" marker cannot undo a completion (completion wins).
TEST_F(PipelineTest, CompletionSurvivesRestartAndALaterFailureIsRefused) {
  d.write_rule("fail.toml", R"(
[[rule]]
name = "failure-marker"
on = "file.landed"
when = [ { field = "fields.watch", equals = "results" }, { field = "fields.rel", glob = "*.failed" } ]
  [[rule.action]]
  do = "mark"
  entity = "{stem}"
  state = "failed"
)");
  d.start();
  write_file(results + "/proj-1.done", "");
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "proj-1" &&
           e.fields.get_string("to") == "completed";
  })) << d.stderr_text();
  ASSERT_EQ(d.stop(), 0);
  EXPECT_TRUE(exists(d.state_dir() + "/lifecycle.journal") ||
              exists(d.state_dir() + "/lifecycle.snapshot"));

  d.start();
  write_file(results + "/proj-1.failed", "");
  auto refused = d.wait_for([](const Event& e) { return e.kind == "state.refused"; });
  ASSERT_TRUE(refused) << d.stderr_text();
  EXPECT_EQ(refused->entity, "proj-1");
  EXPECT_EQ(*refused->fields.get_string("from"), "completed");
  EXPECT_EQ(*refused->fields.get_string("to"), "failed");
  EXPECT_NE(refused->fields.get_string("refusal")->find("completed is final"), std::string::npos);
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(d.count([](const Event& e) {
    return e.kind == "state.changed" && e.fields.get_string("to") == "failed";
  }),
            0u);
}

TEST_F(PipelineTest, EmitReentersThePipelineAndLoopsAreRefused) {
  d.write_rule("emit.toml", R"(
[[rule]]
name = "announce"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "emit"
  kind = "inbox.received"
  entity = "{stem}"
  fields = { file = "{name}" }

[[rule]]
name = "echo-forever"
on = "inbox.*"
  [[rule.action]]
  do = "emit"
  kind = "inbox.echo"
  entity = "{entity}"
)");
  d.start();
  write_file(inbox + "/task-1.txt", "x");
  auto received = d.wait_for([](const Event& e) { return e.kind == "inbox.received"; });
  ASSERT_TRUE(received) << d.stderr_text();
  EXPECT_EQ(received->entity, "task-1");
  EXPECT_EQ(*received->fields.get_string("file"), "task-1.txt");
  EXPECT_EQ(received->rule, "announce");
  EXPECT_EQ(received->depth, 1u);
  auto loop = d.wait_for([](const Event& e) { return e.kind == "rule.loop"; });
  ASSERT_TRUE(loop) << d.stderr_text();
  EXPECT_EQ(loop->fields.get_string("rules"), "echo-forever");
  EXPECT_EQ(loop->fields.get_int("depth"), 8);
  EXPECT_EQ(loop->fields.get_string("chain"),
            "announce → echo-forever → echo-forever → echo-forever → echo-forever → "
            "echo-forever → echo-forever → echo-forever → (echo-forever)");
  // Exactly max_emit_depth (8) derived events, then the cut; the daemon is fine.
  EXPECT_EQ(d.count([](const Event& e) { return e.kind.rfind("inbox.", 0) == 0; }), 8u);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "rule.loop"; }), 1u);
  EXPECT_EQ(d.stop(), 0);
}

// Issue #9's crash: two rules `rules check` accepts, each killing a worker that
// is not declared, one on daemon.started and one on every action.failed. The
// kill fails at once; its outcome fired the second rule on the first one's
// stack, until the stack overflowed (SIGSEGV after ~7,500 events). Now each
// outcome is one step further down the chain, the chain is cut at
// max_emit_depth with one rule.loop naming the rules, and the daemon serves on.
TEST_F(PipelineTest, ARuleLoopThroughOutcomesIsCutReportedAndTheDaemonServes) {
  for (const char* action :
       {"do = \"kill\"\n  worker = \"ghost\"", "do = \"run\"\n  argv = [\"false\"]"}) {
    SCOPED_TRACE(action);
    DaemonUnderTest loop_daemon;
    loop_daemon.write_config("[rules]\nshipped = false\n");
    loop_daemon.write_rule("loop.toml", std::string(R"(
[[rule]]
name = "at-start"
on = "daemon.started"
  [[rule.action]]
  )") + action + R"(

[[rule]]
name = "on-failure"
on = "action.failed"
  [[rule.action]]
  )" + action + "\n");
    loop_daemon.start();
    auto loop = loop_daemon.wait_for([](const Event& e) { return e.kind == "rule.loop"; });
    ASSERT_TRUE(loop) << loop_daemon.stderr_text();
    EXPECT_EQ(loop->fields.get_string("rules"), "on-failure");
    EXPECT_EQ(loop->fields.get_string("event"), "action.failed");
    EXPECT_TRUE(loop->fields.get_string("chain")->starts_with("at-start → on-failure → "))
        << *loop->fields.get_string("chain");
    // Still serving: it answers, and a new event is handled.
    auto status = loop_daemon.cli({"status"});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    ASSERT_EQ(loop_daemon.cli({"notify", "user.ping"}).exit_code, 0);
    ASSERT_TRUE(loop_daemon.wait_for([](const Event& e) { return e.kind == "user.ping"; }));
    // 8 steps: the first failure and 7 more, never thousands.
    EXPECT_EQ(loop_daemon.count([](const Event& e) { return e.kind == "action.failed"; }), 8u);
    EXPECT_EQ(loop_daemon.count([](const Event& e) { return e.kind == "rule.loop"; }), 1u);
    EXPECT_EQ(loop_daemon.stop(), 0);
  }
}

// rule.loop may be alerted on (depth 0). An alert that fails is answered by the
// very rule that looped: that second chain is cut too, but not reported again,
// or the loop would start over for ever.
TEST_F(PipelineTest, AnAlertOnRuleLoopDoesNotRestartTheLoop) {
  d.write_config("[rules]\nshipped = false\n");
  d.write_rule("loop.toml", R"(
[[rule]]
name = "at-start"
on = "daemon.started"
  [[rule.action]]
  do = "run"
  argv = ["false"]

[[rule]]
name = "on-failure"
on = "action.failed"
  [[rule.action]]
  do = "run"
  argv = ["false"]

[[rule]]
name = "alert"
on = "rule.loop"
  [[rule.action]]
  do = "run"
  argv = ["false"]
)");
  d.start();
  auto is_failure = [](const Event& e) { return e.kind == "action.failed"; };
  // 8 failures in the first chain, 8 in the alert's; the 16th is cut.
  ASSERT_EQ(d.wait_for_count(is_failure, 16, 30s), 16u) << d.stderr_text();
  // A cut and its report happen in the turn that routes the event, so an event
  // sent now is logged after any second report would have been.
  ASSERT_EQ(d.cli({"notify", "user.ping"}).exit_code, 0);
  ASSERT_TRUE(d.wait_for([](const Event& e) { return e.kind == "user.ping"; }));
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "rule.loop"; }), 1u);
  EXPECT_EQ(d.count(is_failure), 16u);
  EXPECT_EQ(d.stop(), 0);
}

// A loop can be short and still fast: a storm of failures, each answered by a
// rule on action.failed. That rule's firings on derived events are throttled by
// its token bucket (rule.throttled), while the real events are all handled.
TEST_F(PipelineTest, AFastDerivedLoopIsThrottledToItsBudget) {
  d.write_config(
      "[daemon]\nderived_rate = 1\nderived_burst = 5\n[rules]\nshipped = false\n"
      "[[watch]]\nname = \"inbox\"\npath = \"" +
      inbox + "\"\n");
  d.write_rule("storm.toml", R"(
[[rule]]
name = "fails"
on = "file.landed"
  [[rule.action]]
  do = "run"
  argv = ["false"]

[[rule]]
name = "escalate"
on = "action.failed"
when = [ { field = "rule", equals = "fails" } ]
  [[rule.action]]
  do = "run"
  argv = ["true"]
)");
  d.start();
  for (int i = 0; i < 40; ++i) write_file(inbox + "/f" + std::to_string(i), "x");
  ASSERT_EQ(
      d.wait_for_count(
          [](const Event& e) { return e.kind == "action.failed" && e.rule == "fails"; }, 40, 30s),
      40u)
      << d.stderr_text();
  auto throttled = d.wait_for([](const Event& e) { return e.kind == "rule.throttled"; });
  ASSERT_TRUE(throttled) << d.stderr_text();
  EXPECT_EQ(throttled->rule, "escalate");
  EXPECT_EQ(throttled->fields.get_string("event"), "action.failed");
  EXPECT_EQ(d.stop(), 0);
  const auto escalations =
      d.count([](const Event& e) { return e.kind == "action.started" && e.rule == "escalate"; });
  EXPECT_GE(escalations, 5u) << "the burst";
  EXPECT_LT(escalations, 20u) << "never one per failure";
}

TEST_F(PipelineTest, FailedRunIsCategorisedRetriedAndStopsThePlan) {
  d.write_rule("fail.toml", R"(
[[rule]]
name = "fails"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "run"
  argv = ["/nonexistent/integrate", "{path}"]
  retries = 2
  backoff = { initial = "10ms", factor = 2.0, max = "50ms", jitter = 0.0 }
  [[rule.action]]
  do = "run"
  argv = ["touch", ")" + out + R"(/should-not-run"]
)");
  d.start();
  write_file(inbox + "/x.txt", "x");
  auto failed = d.wait_for([](const Event& e) { return e.kind == "action.failed"; });
  ASSERT_TRUE(failed) << d.stderr_text();
  EXPECT_EQ(*failed->fields.get_string("category"), "not_found");
  EXPECT_EQ(*failed->fields.get_int("attempts"), 3);
  EXPECT_FALSE(failed->fields.get_string("suggestion").value_or("").empty());
  EXPECT_EQ(*failed->fields.get_int("skipped"), 1);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "action.started"; }), 3u);
  EXPECT_FALSE(exists(out + "/should-not-run"));
  auto listed = d.cli({"events", "--failed"});
  EXPECT_NE(listed.out.find("action.failed"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("file.landed"), std::string::npos) << listed.out;
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(PipelineTest, SigtermLetsInFlightActionsFinishOrRecordsThemInterrupted) {
  d.write_config("[daemon]\nshutdown_grace = \"300ms\"\n[[watch]]\nname = \"inbox\"\npath = \"" +
                 inbox + "\"\n");
  d.write_rule("slow.toml", R"(
[[rule]]
name = "slow"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "run"
  argv = ["sleep", "30"]
  on_interrupt = "rerun"
)");
  d.start();
  write_file(inbox + "/x.txt", "x");
  ASSERT_TRUE(d.wait_for_kind("action.started"));
  EXPECT_EQ(d.stop(), 0);
  auto interrupted = d.wait_for(
      [](const Event& e) {
        return e.kind == "action.failed" && e.fields.get_string("category") == "interrupted";
      },
      0ms);
  EXPECT_TRUE(interrupted);
  EXPECT_EQ(d.events().back().kind, "daemon.stopped");
  // Interrupted is not done: the next start resumes its intent and, as the
  // rule allows, runs the action again, without landing the file twice.
  d.start();
  EXPECT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "action.started"; }, 2), 2u);
  auto resumed = d.wait_for_kind("plan.resumed", 0ms);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->fields.get_string("rules"), "slow");
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "file.landed"; }), 1u);
  EXPECT_EQ(d.stop(), 0);
}

// More files than max_queued_events (16384) while the daemon cannot read:
// the queue overflows, the daemon rescans, and every file lands exactly once.
TEST_F(PipelineTest, StormOverflowLosesNothingAndHandlesEachFileOnce) {
  d.write_rule("count.toml", R"(
[[rule]]
name = "count"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "emit"
  kind = "inbox.counted"
)");
  d.start();
  // Ready can come before the start crawl has put its watches in place (files
  // written meanwhile are found by the crawl, so nothing is lost, but nothing
  // overflows either): one file seen to land says the inbox is watched.
  write_file(inbox + "/probe", "");
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "inbox.counted"; }, 1, 30s), 1u);
  const int n = 20000;
  d.signal(SIGSTOP);  // a daemon that cannot read: the kernel queue fills up
  for (int i = 0; i < n; ++i) write_file(inbox + "/f" + std::to_string(i), "");
  d.signal(SIGCONT);
  const std::size_t counted =
      d.wait_for_count([](const Event& e) { return e.kind == "inbox.counted"; }, n + 1, 120s);
  EXPECT_EQ(counted, static_cast<std::size_t>(n + 1));
  EXPECT_TRUE(d.wait_for_kind("watch.overflow", 0ms)) << "the storm should overflow the queue";
  EXPECT_TRUE(d.wait_for_kind("watch.rescanned", 5s));
  ASSERT_EQ(d.stop(), 0);
  std::map<std::string, int> landed;
  for (const auto& e : d.events())
    if (e.kind == "file.landed" && e.fields.get_string("watch") == "inbox") ++landed[e.path];
  EXPECT_EQ(landed.size(), static_cast<std::size_t>(n + 1));
  int twice = 0;
  for (const auto& [path, count] : landed) twice += count > 1;
  EXPECT_EQ(twice, 0);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
