// The operator's commands and the worker actions through the real daemon:
// `workers`, `health`, `recover`, `trigger` (issue #3), the `kill` and `restart`
// rule actions, and timer rules with catch-up (issue #4, DESIGN §6 scenario 19).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

// No rules of the installation: the test's own only.
std::string config(const std::string& body) {
  return "[rules]\nshipped = false\n" + body;
}

// A worker that runs until it is told otherwise, with restarts fast enough for a test.
const char* const kSleeperW1 = R"(
[[worker]]
name = "w1"
argv = ["sleep", "1000"]
max_restarts = 5
min_spawn_interval = "10ms"
kill_grace = "500ms"
backoff = { initial = "10ms", factor = 1.0, max = "10ms", jitter = 0.0 }
)";

// Lets `agentwatch notify user.mark entity=ID state=STATE` put an entity in any state.
const char* const kMarkRule = R"(
[[rule]]
name = "mark-by-hand"
on = "user.mark"
  [[rule.action]]
  do = "mark"
  entity = "{entity}"
  state = "{fields.state}"
)";

std::int64_t pid_of(const Event& e) {
  return e.fields.get_int("pid").value_or(-1);
}

std::string field(const Event& e, std::string_view key) {
  const FieldValue* v = e.fields.find(key);
  return v ? field_to_string(*v) : std::string("<absent>");
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A process that exists and is not a zombie waiting to be reaped.
bool alive(std::int64_t pid) {
  const std::string s = proc_stat_text(static_cast<pid_t>(pid));
  auto paren = s.rfind(')');
  return paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] != 'Z';
}

std::function<bool(const Event&)> kind_for(const std::string& kind, const std::string& entity) {
  return [kind, entity](const Event& e) { return e.kind == kind && e.entity == entity; };
}

// The last event satisfying `pred` (seq 0 when none).
Event last_event(const DaemonUnderTest& d, const std::function<bool(const Event&)>& pred) {
  Event out;
  for (const auto& e : d.events())
    if (pred(e)) out = e;
  return out;
}

// Waits for the audit record of a control request on `target` with `outcome`.
std::optional<Event> wait_audit(const DaemonUnderTest& d, const std::string& method,
                                const std::string& target, const std::string& outcome) {
  return d.wait_for([&](const Event& e) {
    return e.kind == "control." + method && e.entity == target &&
           e.fields.get_string("outcome") == outcome;
  });
}

void expect_audited_by_me(const std::optional<Event>& audit) {
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->source, "control");
  EXPECT_EQ(audit->fields.get_int("uid"), static_cast<std::int64_t>(getuid()));
}

// --- 1. workers list / stop / start / restart ------------------------------

TEST(OpsWorkers, ListStopStartRestartAreDoneAndAudited) {
  DaemonUnderTest d;
  d.write_config(config(kSleeperW1));
  d.start();
  const auto started = kind_for("worker.started", "w1");
  auto first = d.wait_for(started);
  ASSERT_TRUE(first) << d.stderr_text();
  const std::int64_t pid1 = pid_of(*first);
  ASSERT_TRUE(alive(pid1));

  auto list = d.cli({"workers", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(contains(list.out, R"("name":"w1")")) << list.out;
  EXPECT_TRUE(contains(list.out, R"("phase":"running")")) << list.out;
  EXPECT_TRUE(contains(list.out, R"("pid":)" + std::to_string(pid1))) << list.out;
  auto table = d.cli({"workers", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, "w1")) << table.out;
  EXPECT_TRUE(contains(table.out, "running")) << table.out;
  EXPECT_TRUE(contains(table.out, std::to_string(pid1))) << table.out;

  // stop: the process is gone and is not restarted.
  auto stop = d.cli({"workers", "stop", "w1"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  ASSERT_TRUE(d.wait_for(kind_for("worker.stopped", "w1"))) << d.stderr_text();
  EXPECT_FALSE(alive(pid1));
  expect_audited_by_me(wait_audit(d, "workers.stop", "w1", "ok"));
  EXPECT_EQ(d.count(started), 1u);

  // start: a new run.
  auto start = d.cli({"workers", "start", "w1"});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  ASSERT_EQ(d.wait_for_count(started, 2), 2u) << d.stderr_text();
  const std::int64_t pid2 = pid_of(last_event(d, started));
  EXPECT_NE(pid2, pid1);
  EXPECT_TRUE(alive(pid2));
  expect_audited_by_me(wait_audit(d, "workers.start", "w1", "ok"));

  // restart: a new process replaces the running one.
  auto restart = d.cli({"workers", "restart", "w1"});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  ASSERT_EQ(d.wait_for_count(started, 3), 3u) << d.stderr_text();
  const std::int64_t pid3 = pid_of(last_event(d, started));
  EXPECT_NE(pid3, pid2);
  EXPECT_TRUE(alive(pid3));
  EXPECT_FALSE(alive(pid2));
  expect_audited_by_me(wait_audit(d, "workers.restart", "w1", "ok"));
  list = d.cli({"workers", "list", "--json"});
  EXPECT_TRUE(contains(list.out, R"("pid":)" + std::to_string(pid3))) << list.out;

  // A misspelt name: refused with a suggestion, audited as such, nothing happens.
  auto unknown = d.cli({"workers", "stop", "w11"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(contains(unknown.err, "did you mean")) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "w1")) << unknown.err;
  expect_audited_by_me(wait_audit(d, "workers.stop", "w11", "not_found"));
  EXPECT_TRUE(alive(pid3));

  EXPECT_EQ(d.stop(), 0);

  // Offline: the list comes from the state files; a stop needs the daemon.
  auto offline = d.cli({"workers", "list"});
  EXPECT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_TRUE(contains(offline.out, "not running")) << offline.out;
  EXPECT_TRUE(contains(offline.out, "w1")) << offline.out;
  auto offline_json = d.cli({"workers", "list", "--json"});
  EXPECT_EQ(offline_json.exit_code, 0) << offline_json.err;
  EXPECT_TRUE(contains(offline_json.out, R"("name":"w1")")) << offline_json.out;
  auto offline_stop = d.cli({"workers", "stop", "w1"});
  EXPECT_EQ(offline_stop.exit_code, 3) << offline_stop.err;
  EXPECT_TRUE(contains(offline_stop.err, "not running")) << offline_stop.err;
}

// A stop that was asked for is neither a failure nor a completion: the run ends and
// the entity waits, queued. It is not stuck and never becomes a phantom, however
// long it stays stopped; a start (or the start half of a restart) is a new run.
TEST(OpsWorkers, AStoppedWorkerWaitsQueuedAndIsNeverFailedAsAPhantom) {
  DaemonUnderTest d;
  d.write_config(config(std::string("[recover]\nstuck_processing = \"200ms\"\n") + kSleeperW1 +
                        "phantom_grace = \"200ms\"\n"));
  d.start();
  // The declaration is none -> queued; only transitions out of a run count.
  auto to_state = [](const std::string& to) {
    return [to](const Event& e) {
      return e.kind == "state.changed" && e.entity == "w1" && e.fields.get_string("to") == to &&
             e.fields.get_string("from") != "none";
    };
  };
  auto processing = d.wait_for(to_state("processing"));
  ASSERT_TRUE(processing) << d.stderr_text();
  const std::int64_t first_run = processing->fields.get_int("run").value_or(-1);

  ASSERT_EQ(d.cli({"workers", "stop", "w1"}).exit_code, 0);
  auto queued = d.wait_for(to_state("queued"));
  ASSERT_TRUE(queued) << d.stderr_text();
  EXPECT_EQ(queued->fields.get_string("from"), "processing");
  EXPECT_EQ(queued->fields.get_string("reason"), "stopped");
  EXPECT_EQ(queued->fields.get_int("run"), first_run + 1) << "a stop ends the run";

  // Nothing to wait on: a phantom verdict would be an event after the grace.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(d.count(to_state("failed")), 0u) << "a stopped worker was failed";
  auto stuck = d.cli({"recover", "list-stuck", "--json"});
  ASSERT_EQ(stuck.exit_code, 0) << stuck.err;
  EXPECT_EQ(stuck.out, "[]\n");
  auto health = d.cli({"health", "w1", "--json"});
  ASSERT_EQ(health.exit_code, 0) << health.err;
  EXPECT_TRUE(contains(health.out, R"("state":"queued")")) << health.out;

  // start: queued -> processing in the new run.
  ASSERT_EQ(d.cli({"workers", "start", "w1"}).exit_code, 0);
  ASSERT_EQ(d.wait_for_count(to_state("processing"), 2), 2u) << d.stderr_text();
  EXPECT_EQ(last_event(d, to_state("processing")).fields.get_int("run"), first_run + 1);

  // restart of a running worker: the old run ends (queued), the next starts.
  ASSERT_EQ(d.cli({"workers", "restart", "w1"}).exit_code, 0);
  ASSERT_EQ(d.wait_for_count(to_state("processing"), 3), 3u) << d.stderr_text();
  const Event requeued = last_event(d, to_state("queued"));
  EXPECT_EQ(requeued.fields.get_string("reason"), "restarted");
  EXPECT_EQ(requeued.fields.get_int("run"), first_run + 2);
  EXPECT_EQ(last_event(d, to_state("processing")).fields.get_int("run"), first_run + 2);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "state.refused"; }), 0u);
  EXPECT_EQ(d.stop(), 0);
}

// --- 2. health ----------------------------------------------------------------

TEST(OpsHealth, ShowsPhasePidLivenessAndLifecycleEvidence) {
  DaemonUnderTest d;
  d.write_config(config(kSleeperW1));
  d.start();
  auto started = d.wait_for(kind_for("worker.started", "w1"));
  ASSERT_TRUE(started) << d.stderr_text();
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "w1" &&
           e.fields.get_string("to") == "processing";
  }));
  const std::string pid = std::to_string(pid_of(*started));

  auto json = d.cli({"health", "w1", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(contains(json.out, R"("live":true)")) << json.out;
  EXPECT_TRUE(contains(json.out, R"("phase":"running")")) << json.out;
  EXPECT_TRUE(contains(json.out, R"("pid":)" + pid)) << json.out;
  EXPECT_TRUE(contains(json.out, R"("process":"alive")")) << json.out;
  EXPECT_TRUE(contains(json.out, R"("state":"processing")")) << json.out;
  // The lifecycle's evidence names what started it.
  EXPECT_TRUE(contains(json.out, R"("evidence":[{"signal":)")) << json.out;
  EXPECT_TRUE(contains(json.out, "pid " + pid)) << json.out;

  auto text = d.cli({"health", "w1"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "phase: running")) << text.out;
  EXPECT_TRUE(contains(text.out, "pid: " + pid)) << text.out;
  EXPECT_TRUE(contains(text.out, "process: alive")) << text.out;
  EXPECT_TRUE(contains(text.out, "lifecycle: processing")) << text.out;
  EXPECT_TRUE(contains(text.out, "evidence")) << text.out;

  // After the process is gone, health says so.
  ASSERT_EQ(d.cli({"workers", "stop", "w1"}).exit_code, 0);
  ASSERT_TRUE(d.wait_for(kind_for("worker.stopped", "w1")));
  json = d.cli({"health", "w1", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(contains(json.out, R"("phase":"stopped")")) << json.out;
  EXPECT_TRUE(contains(json.out, R"("process":"absent")")) << json.out;

  auto unknown = d.cli({"health", "nobody"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(contains(unknown.err, "nobody")) << unknown.err;
  EXPECT_EQ(d.stop(), 0);
}

// --- 3. recover -----------------------------------------------------------------

TEST(OpsRecover, DiagnoseIsCleanWhenHealthyAndReportsARejectedReload) {
  DaemonUnderTest d;
  d.write_config(config(kSleeperW1));
  d.write_rule("mark.toml", kMarkRule);
  d.start();
  ASSERT_TRUE(d.wait_for(kind_for("worker.started", "w1"))) << d.stderr_text();

  auto healthy = d.cli({"recover", "diagnose"});
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  EXPECT_TRUE(contains(healthy.out, "no problems found")) << healthy.out;
  auto stuck = d.cli({"recover", "list-stuck"});
  EXPECT_EQ(stuck.exit_code, 0) << stuck.err;
  EXPECT_TRUE(contains(stuck.out, "nothing is stuck")) << stuck.out;
  auto stuck_json = d.cli({"recover", "list-stuck", "--json"});
  EXPECT_EQ(stuck_json.exit_code, 0) << stuck_json.err;
  EXPECT_EQ(stuck_json.out, "[]\n");

  // A half-edited rules file, reloaded: the daemon keeps its rules and says so.
  d.write_rule("mark.toml", "[[rule]]\nname = \"broken\"\non = \"user.x\"\nwen = []\n");
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for_kind("rules.rejected")) << d.stderr_text();
  auto problem = d.cli({"recover", "diagnose"});
  EXPECT_EQ(problem.exit_code, 1) << problem.out << problem.err;
  EXPECT_TRUE(contains(problem.out, "rules")) << problem.out;
  EXPECT_TRUE(contains(problem.out, "mark.toml")) << problem.out;
  auto problem_json = d.cli({"recover", "diagnose", "--json"});
  EXPECT_EQ(problem_json.exit_code, 1);
  EXPECT_TRUE(contains(problem_json.out, R"("subject":"rules")")) << problem_json.out;

  // Fixed and reloaded: healthy again.
  d.write_rule("mark.toml", kMarkRule);
  d.signal(SIGHUP);
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "rules.loaded"; }, 2), 2u);
  EXPECT_EQ(d.cli({"recover", "diagnose"}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
}

// [recover] thresholds make "stuck" testable: a worker processing longer than
// stuck_processing is listed, online and (from the state files) offline.
TEST(OpsRecover, ListStuckNamesAnEntityOverItsThresholdOnlineAndOffline) {
  DaemonUnderTest d;
  // 1 s: long enough that the first `list-stuck` (an ASan-built CLI on a busy
  // machine takes a few hundred ms to start) runs well before the threshold.
  d.write_config(config(std::string("[recover]\nstuck_processing = \"1s\"\n") + kSleeperW1));
  d.start();
  ASSERT_TRUE(d.wait_for(kind_for("worker.started", "w1"))) << d.stderr_text();
  auto fresh = d.cli({"recover", "list-stuck", "--json"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_FALSE(contains(fresh.out, "\"w1\"")) << fresh.out;
  // Nothing to wait on: being stuck is the absence of events.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto stuck = d.cli({"recover", "list-stuck", "--json"});
  ASSERT_EQ(stuck.exit_code, 0) << stuck.err;
  EXPECT_TRUE(contains(stuck.out, "\"id\":\"w1\"")) << stuck.out;
  EXPECT_TRUE(contains(stuck.out, "\"state\":\"processing\"")) << stuck.out;
  auto diag = d.cli({"recover", "diagnose"});
  EXPECT_EQ(diag.exit_code, 1) << diag.out;
  EXPECT_TRUE(contains(diag.out, "w1: processing for")) << diag.out;
  d.kill9();  // no graceful stop: the table still says processing
  auto offline = d.cli({"recover", "list-stuck"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_TRUE(contains(offline.out, "not running")) << offline.out;
  EXPECT_TRUE(contains(offline.out, "w1")) << offline.out;
  reap_orphans();
}

TEST(OpsRecover, GaveUpWorkerIsDiagnosedAndResetToQueued) {
  DaemonUnderTest d;
  d.write_config(config(R"(
[[worker]]
name = "bad"
argv = ["false"]
max_restarts = 0
)"));
  d.start();
  ASSERT_TRUE(d.wait_for(kind_for("worker.gave_up", "bad"))) << d.stderr_text();
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "bad" && e.fields.get_string("to") == "failed";
  }));

  auto diag = d.cli({"recover", "diagnose"});
  EXPECT_EQ(diag.exit_code, 1) << diag.out << diag.err;
  EXPECT_TRUE(contains(diag.out, "bad")) << diag.out;
  EXPECT_TRUE(contains(diag.out, "workers start bad")) << diag.out;

  const std::uint64_t before = d.events().back().seq;
  auto reset = d.cli({"recover", "reset", "bad"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_TRUE(contains(reset.out, "failed -> queued")) << reset.out;
  auto changed = d.wait_for([&](const Event& e) {
    return e.seq > before && e.kind == "state.changed" && e.entity == "bad" &&
           e.fields.get_string("to") == "queued";
  });
  ASSERT_TRUE(changed) << d.stderr_text();
  EXPECT_EQ(field(*changed, "from"), "failed");
  EXPECT_EQ(field(*changed, "reset"), "true");
  // docs/lifecycle.md, Events: "fields.reset: true for a reset by the recovery CLI; its
  // reason is `reset`", and the evidence says who: "reset by uid N".
  EXPECT_EQ(field(*changed, "reason"), "reset");
  EXPECT_TRUE(contains(field(*changed, "evidence"), "reset by uid " + std::to_string(getuid())))
      << field(*changed, "evidence");
  auto audit = wait_audit(d, "recover.reset", "bad", "ok");
  expect_audited_by_me(audit);
  EXPECT_EQ(field(*audit, "from"), "failed");
  EXPECT_EQ(field(*audit, "to"), "queued");
  EXPECT_EQ(d.stop(), 0);
}

TEST(OpsRecover, CompletedEntityIsResetOnlyWithForce) {
  DaemonUnderTest d;
  d.write_config(config(""));
  d.write_rule("mark.toml", kMarkRule);
  d.start();
  ASSERT_EQ(d.cli({"notify", "user.mark", "entity=p1", "state=completed"}).exit_code, 0);
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "p1" &&
           e.fields.get_string("to") == "completed";
  })) << d.stderr_text();

  auto refused = d.cli({"recover", "reset", "p1"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(contains(refused.err, "--force")) << refused.err;
  expect_audited_by_me(wait_audit(d, "recover.reset", "p1", "refused"));
  EXPECT_EQ(d.count([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "p1" && e.fields.get_string("to") == "queued";
  }),
            0u);

  auto forced = d.cli({"recover", "reset", "p1", "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(contains(forced.out, "completed -> queued")) << forced.out;
  auto changed = d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "p1" && e.fields.get_string("to") == "queued";
  });
  ASSERT_TRUE(changed);
  EXPECT_EQ(field(*changed, "from"), "completed");
  auto audit = wait_audit(d, "recover.reset", "p1", "ok");
  expect_audited_by_me(audit);
  EXPECT_EQ(field(*audit, "force"), "true");

  // Already queued: nothing to reset (docs/lifecycle.md, Reset: "queued: no").
  auto again = d.cli({"recover", "reset", "p1"});
  EXPECT_NE(again.exit_code, 0) << again.out;
  EXPECT_EQ(d.stop(), 0);
}

TEST(OpsRecover, ResetWhileTheDaemonIsDownIsJournaledAndAudited) {
  DaemonUnderTest d;
  d.write_config(config(""));
  d.write_rule("mark.toml", kMarkRule);
  d.start();
  ASSERT_EQ(d.cli({"notify", "user.mark", "entity=p2", "state=failed"}).exit_code, 0);
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "p2" && e.fields.get_string("to") == "failed";
  })) << d.stderr_text();
  EXPECT_EQ(d.stop(), 0);

  auto reset = d.cli({"recover", "reset", "p2"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_TRUE(contains(reset.out, "failed -> queued")) << reset.out;
  // The audit is in the log already, before any daemon runs again.
  auto offline_audit = [](const Event& e) {
    return e.entity == "p2" && e.kind == "control.recover.reset" && field(e, "offline") == "true" &&
           field(e, "outcome") == "ok";
  };
  EXPECT_EQ(d.count(offline_audit), 1u);
  for (const auto& e : d.events())
    if (offline_audit(e)) {
      EXPECT_EQ(e.fields.get_int("uid"), static_cast<std::int64_t>(getuid()));
    }

  // The next daemon reads the journal: p2 is queued, in a new run.
  d.start();
  auto health = d.cli({"health", "p2", "--json"});
  ASSERT_EQ(health.exit_code, 0) << health.err;
  EXPECT_TRUE(contains(health.out, R"("state":"queued")")) << health.out;
  EXPECT_TRUE(contains(health.out, R"("run":1)")) << health.out;
  // Recorded like an online reset (docs/lifecycle.md, Reset): reason "reset", who in the evidence.
  EXPECT_TRUE(contains(health.out, R"("reason":"reset")")) << health.out;
  EXPECT_TRUE(contains(health.out, "reset by uid " + std::to_string(getuid()))) << health.out;
  EXPECT_EQ(d.count(offline_audit), 1u);
  // Queued is not a problem; nothing is stuck.
  auto diag = d.cli({"recover", "diagnose"});
  EXPECT_EQ(diag.exit_code, 0) << diag.out;
  EXPECT_EQ(d.stop(), 0);
}

TEST(OpsRecover, KillZombieRefusesAHealthyWorker) {
  DaemonUnderTest d;
  d.write_config(config(kSleeperW1));
  d.start();
  auto started = d.wait_for(kind_for("worker.started", "w1"));
  ASSERT_TRUE(started) << d.stderr_text();
  auto r = d.cli({"recover", "kill-zombie", "w1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "not a zombie")) << r.err;
  expect_audited_by_me(wait_audit(d, "recover.kill-zombie", "w1", "refused"));
  EXPECT_TRUE(alive(pid_of(*started)));
  EXPECT_EQ(d.count(kind_for("worker.killing", "w1")), 0u);

  // --force (docs/control.md) kills it all the same, audited as ok.
  auto forced = d.cli({"recover", "kill-zombie", "w1", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(contains(forced.out, "TERM sent")) << forced.out;
  expect_audited_by_me(wait_audit(d, "recover.kill-zombie", "w1", "ok"));
  ASSERT_TRUE(d.wait_for(kind_for("worker.killing", "w1")));
  ASSERT_TRUE(d.wait_for(kind_for("worker.exited", "w1")));
  EXPECT_FALSE(alive(pid_of(*started)));
  EXPECT_EQ(d.stop(), 0);
}

// --- 4. kill and restart actions ----------------------------------------------

TEST(OpsActions, KillActionKillsAndThePolicyRestarts_RestartActionGivesANewPid) {
  DaemonUnderTest d;
  d.write_config(config(kSleeperW1));
  d.write_rule("workers.toml", R"(
[[rule]]
name = "kill-w1"
on = "user.kill-w1"
  [[rule.action]]
  do = "kill"
  worker = "{entity}"
  grace = "500ms"
  reason = "asked by the test"

[[rule]]
name = "restart-w1"
on = "user.restart-w1"
  [[rule.action]]
  do = "restart"
)");
  d.start();
  const auto started = kind_for("worker.started", "w1");
  auto first = d.wait_for(started);
  ASSERT_TRUE(first) << d.stderr_text();
  const std::int64_t pid1 = pid_of(*first);

  ASSERT_EQ(d.cli({"notify", "user.kill-w1", "entity=w1"}).exit_code, 0);
  auto killing = d.wait_for(kind_for("worker.killing", "w1"));
  ASSERT_TRUE(killing) << d.stderr_text();
  EXPECT_EQ(pid_of(*killing), pid1);
  EXPECT_EQ(killing->fields.get_int("signal"), SIGTERM);
  EXPECT_EQ(field(*killing, "reason"), "asked by the test");
  auto exited = d.wait_for(kind_for("worker.exited", "w1"));
  ASSERT_TRUE(exited);
  EXPECT_EQ(exited->fields.get_int("signal"), SIGTERM);
  EXPECT_EQ(field(*exited, "killed_for"), "asked by the test");
  // A kill is a failure: the entity fails, then the policy restarts it.
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "w1" && e.fields.get_string("to") == "failed";
  }));
  ASSERT_EQ(d.wait_for_count(started, 2), 2u) << d.stderr_text();
  const std::int64_t pid2 = pid_of(last_event(d, started));
  EXPECT_NE(pid2, pid1);
  EXPECT_FALSE(alive(pid1));
  EXPECT_TRUE(alive(pid2));
  EXPECT_GE(d.count(kind_for("worker.restart_scheduled", "w1")), 1u);
  auto ok = d.wait_for(
      [](const Event& e) { return e.kind == "action.succeeded" && e.rule == "kill-w1"; });
  EXPECT_TRUE(ok);

  // The restart action: a new process, the old one gone.
  ASSERT_EQ(d.cli({"notify", "user.restart-w1", "entity=w1"}).exit_code, 0);
  ASSERT_EQ(d.wait_for_count(started, 3), 3u) << d.stderr_text();
  const std::int64_t pid3 = pid_of(last_event(d, started));
  EXPECT_NE(pid3, pid2);
  EXPECT_FALSE(alive(pid2));
  EXPECT_TRUE(alive(pid3));
  EXPECT_TRUE(d.wait_for(
      [](const Event& e) { return e.kind == "action.succeeded" && e.rule == "restart-w1"; }));

  // An undeclared worker fails the action with a reason, not the daemon.
  ASSERT_EQ(d.cli({"notify", "user.kill-w1", "entity=w9"}).exit_code, 0);
  auto failed =
      d.wait_for([](const Event& e) { return e.kind == "action.failed" && e.rule == "kill-w1"; });
  ASSERT_TRUE(failed) << d.stderr_text();
  EXPECT_TRUE(alive(pid3));
  EXPECT_EQ(d.stop(), 0);
}

// --- 5. timer rules -------------------------------------------------------------

bool fired(const Event& e, const std::string& rule, const std::string& reason) {
  return e.kind == "timer.fired" && e.rule == rule && e.fields.get_string("rule") == rule &&
         e.fields.get_string("reason") == reason;
}

TEST(OpsTimers, EveryRuleFiresRepeatedlyAndRunsItsAction) {
  DaemonUnderTest d;
  d.write_config(config(""));
  d.write_rule("tick.toml", R"(
[[rule]]
name = "tick"
every = "1s"
  [[rule.action]]
  do = "emit"
  kind = "user.ticked"
  fields = { reason = "{fields.reason}" }
)");
  d.start();
  const auto due = [](const Event& e) { return fired(e, "tick", "due"); };
  ASSERT_EQ(d.wait_for_count(due, 3, 8s), 3u) << d.stderr_text();
  EXPECT_LE(d.count(due), 4u);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "timer.fired"; }), d.count(due))
      << "no catch-up or trigger fired";
  // First run one period after the rule was first seen (not at once), then one per period.
  std::vector<WallTime> times{
      last_event(d, [](const Event& e) { return e.kind == "daemon.started"; }).time};
  for (const auto& e : d.events())
    if (due(e)) times.push_back(e.time);
  for (std::size_t i = 1; i < times.size(); ++i)
    EXPECT_GE(times[i] - times[i - 1], 900ms) << "fire " << i;
  EXPECT_GE(d.wait_for_count([](const Event& e) { return e.kind == "user.ticked"; }, 3), 3u);
  auto ticked = d.wait_for_kind("user.ticked");
  EXPECT_EQ(ticked->rule, "tick");
  EXPECT_EQ(field(*ticked, "reason"), "due");
  EXPECT_EQ(d.stop(), 0);
}

TEST(OpsTimers, APersistentRuleMissedWhileDownCatchesUpOnceAtStart) {
  DaemonUnderTest d;
  d.write_config(config(""));
  d.write_rule("sync.toml", R"(
[[rule]]
name = "sync"
every = "2s"
persistent = true
  [[rule.action]]
  do = "emit"
  kind = "user.synced"
)");
  d.start();
  ASSERT_TRUE(d.wait_for([](const Event& e) { return fired(e, "sync", "due"); }, 5s))
      << d.stderr_text();
  EXPECT_EQ(d.stop(), 0);
  const std::size_t before = d.count([](const Event& e) { return e.kind == "timer.fired"; });
  // The period passes with no daemon: this is the gap being tested, not a synchronisation.
  std::this_thread::sleep_for(2300ms);

  d.start();
  const auto catch_up = [](const Event& e) { return fired(e, "sync", "catch_up"); };
  auto caught_up = d.wait_for(catch_up, 3s);
  ASSERT_TRUE(caught_up) << d.stderr_text();
  const auto restarted = last_event(d, [](const Event& e) { return e.kind == "daemon.started"; });
  EXPECT_LT(caught_up->time - restarted.time, 1000ms) << "the catch-up came late";
  // The next run is one period after the catch-up, with reason due; no second catch-up.
  const auto all = [](const Event& e) { return e.kind == "timer.fired"; };
  ASSERT_EQ(d.wait_for_count(all, before + 2, 5s), before + 2) << d.stderr_text();
  EXPECT_EQ(d.count(catch_up), 1u);
  EXPECT_TRUE(fired(last_event(d, all), "sync", "due"));
  EXPECT_EQ(d.stop(), 0);
}

TEST(OpsTimers, TriggerFiresNowAndIsAudited_UnknownRuleIsRefused) {
  DaemonUnderTest d;
  d.write_config(config(""));
  d.write_rule("hourly.toml", R"(
[[rule]]
name = "hourly-report"
every = "1h"
  [[rule.action]]
  do = "emit"
  kind = "user.reported"

[[rule]]
name = "plain"
on = "user.other"
  [[rule.action]]
  do = "emit"
  kind = "user.plain"
)");
  d.start();
  auto r = d.cli({"trigger", "hourly-report"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto e = d.wait_for([](const Event& x) { return fired(x, "hourly-report", "trigger"); });
  ASSERT_TRUE(e) << d.stderr_text();
  EXPECT_EQ(e->source, "timer");
  ASSERT_TRUE(d.wait_for_kind("user.reported"));
  expect_audited_by_me(wait_audit(d, "trigger", "hourly-report", "ok"));

  auto unknown = d.cli({"trigger", "hourly-reprot"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(contains(unknown.err, "did you mean")) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "hourly-report")) << unknown.err;
  expect_audited_by_me(wait_audit(d, "trigger", "hourly-reprot", "not_found"));

  // A rule with neither `every` nor `on = "timer.fired"` is not triggered.
  auto plain = d.cli({"trigger", "plain"});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_EQ(d.count([](const Event& x) { return x.kind == "timer.fired"; }), 1u);
  EXPECT_EQ(d.count([](const Event& x) { return x.kind == "user.plain"; }), 0u);

  EXPECT_EQ(d.stop(), 0);
  auto offline = d.cli({"trigger", "hourly-report"});
  EXPECT_EQ(offline.exit_code, 3) << offline.err;
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
