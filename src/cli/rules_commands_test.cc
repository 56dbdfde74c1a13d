#include "src/cli/rules_commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace aw {
namespace {

constexpr std::string_view kRules = R"([[rule]]
name = "result-valid"
on = "file.landed"
when = [ { name = "*.json" }, { json_valid = true } ]
[[rule.action]]
do = "move"
to = "{root}/completed"
[[rule.action]]
do = "run"
argv = ["integrate", "--file", "{path}"]
env = { WHO = "{entity}" }
timeout = "30s"
retries = 2
[[rule]]
name = "result-invalid"
on = "file.landed"
cooldown = "10s"
when = [ { name = "*.json" }, { json_valid = false } ]
[[rule.action]]
do = "quarantine"
to = "{root}/quarantine"
reason = "not valid JSON"
[[rule]]
name = "tmux-closed"
on = "tmux.*"
enabled = false
[[rule.action]]
do = "mark"
entity = "{fields.session}"
state = "failed"
)";

class RulesCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-rules-cmd-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& rel, std::string_view text) {
    std::filesystem::path p = dir_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  RuleSet load() {
    RuleLoad l = load_rules_from_string(kRules, "results.toml");
    EXPECT_TRUE(l.ok()) << l.error_text();
    return std::move(l).rules();
  }
  static Event landed(std::string path) {
    Event e;
    e.kind = "file.landed";
    e.source = "inotify";
    e.path = std::move(path);
    e.entity = "w1";
    e.fields.set("root", "/srv/w");
    return e;
  }

  std::filesystem::path dir_;
};

TEST_F(RulesCommandsTest, CheckValidSet) {
  write("rules/a.toml", kRules);
  std::ostringstream out, err;
  EXPECT_EQ(rules_check({(dir_ / "rules").string()}, out, err), 0);
  EXPECT_EQ(err.str(), "");
  std::string o = out.str();
  EXPECT_EQ(o.rfind("ok: 3 rules, hash ", 0), 0u) << o;
  EXPECT_EQ(o.size(), std::string("ok: 3 rules, hash ").size() + 16 + 1) << o;
}

// The two rules of issue #9's crash: each can match the other's outcomes, and
// the second its own. Only a rule that can match its OWN outcome is warned of.
TEST_F(RulesCommandsTest, CheckWarnsOfARuleThatCanMatchItsOwnOutcomes) {
  write("rules/loop.toml", R"([[rule]]
name = "kill-at-start"
on = "daemon.started"
  [[rule.action]]
  do = "kill"
  worker = "ghost"

[[rule]]
name = "kill-on-failure"
on = "action.failed"
  [[rule.action]]
  do = "kill"
  worker = "ghost"

[[rule]]
name = "escalate-others"
on = "action.*"
when = [ { field = "rule", not_equals = "escalate-others" } ]
  [[rule.action]]
  do = "run"
  argv = ["true"]

[[rule]]
name = "echo"
on = "job.*"
  [[rule.action]]
  do = "emit"
  kind = "job.echo"
)");
  std::ostringstream out, err;
  EXPECT_EQ(rules_check({(dir_ / "rules").string()}, out, err), 0) << "warnings do not fail";
  const std::string e = err.str();
  EXPECT_NE(e.find("loop.toml:8: warning: rule 'kill-on-failure' can match action.failed"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("not_equals = \"kill-on-failure\""), std::string::npos) << e;
  EXPECT_NE(e.find("rule 'echo' can match job.echo"), std::string::npos) << e;
  EXPECT_EQ(e.find("kill-at-start"), std::string::npos) << e;
  EXPECT_EQ(e.find("escalate-others"), std::string::npos) << e;
  EXPECT_EQ(out.str().rfind("ok: 4 rules", 0), 0u) << out.str();
}

// An `on` kind that nothing emits and is close to a known one is most likely a
// typo. Kinds the set's own emit and probe actions make, notify clients'
// namespaces and kinds close to no known one (custom kinds) are not.
TEST_F(RulesCommandsTest, CheckWarnsOfAnOnKindNothingEmits) {
  write("rules/kinds.toml", R"([[rule]]
name = "typo"
on = "file.landd"
  [[rule.action]]
  do = "run"
  argv = ["true"]

[[rule]]
name = "custom"
on = ["job.done", "gen.x.y", "probe.hit", "user.anything", "agent.idle", "worker.ready",
      "tmux.custom-hook", "file.*", "worker.exited"]
  [[rule.action]]
  do = "run"
  argv = ["true"]

[[rule]]
name = "makers"
on = "file.landed"
  [[rule.action]]
  do = "emit"
  kind = "job.done"
  [[rule.action]]
  do = "emit"
  kind = "gen.{fields.x}"
  [[rule.action]]
  do = "probe"
  argv = ["q"]
  patterns = [ { match = "^hit", kind = "probe.hit" } ]

[[rule]]
name = "misses"
on = ["worker.exitted", "nothing.here", "job.dnoe"]
  [[rule.action]]
  do = "run"
  argv = ["true"]
)");
  std::ostringstream out, err;
  EXPECT_EQ(rules_check({(dir_ / "rules").string()}, out, err), 0) << "warnings do not fail";
  const std::string file = (dir_ / "rules" / "kinds.toml").string();
  EXPECT_EQ(err.str(),
            file +
                ":1: warning: rule 'typo': on = \"file.landd\": no event of this kind is emitted; "
                "did you mean \"file.landed\"?\n" +
                file +
                ":30: warning: rule 'misses': on = \"worker.exitted\": no event of this kind is "
                "emitted (unless an `agentwatch notify` client sends it); did you mean "
                "\"worker.exited\"?\n" +
                file +
                ":30: warning: rule 'misses': on = \"job.dnoe\": no event of this kind is "
                "emitted; did you mean \"job.done\"?\n");
  EXPECT_EQ(out.str().rfind("ok: 4 rules", 0), 0u) << out.str();
}

TEST_F(RulesCommandsTest, CheckReportsEveryErrorAndFails) {
  std::string bad = write("bad.toml", "[[rule]]\nname = \"x\"\non = \"k\"\nwen = 1\n");
  std::ostringstream out, err;
  EXPECT_EQ(rules_check({bad}, out, err), 1);
  EXPECT_EQ(out.str(), "");
  // Errors come in source order (line, column), whatever order they were found in.
  EXPECT_EQ(err.str(),
            bad +
                ":1:1: error: rule 'x' has no action: add an [[rule.action]] table "
                "with do = run, move, quarantine, mark, emit, kill, restart, tmux, "
                "rotate, probe, repair_json, complete_session, fail_session, integrate_session, "
                "ensure_file, retain or check_disk\n" +
                bad +
                ":4:1: error: unknown key 'wen' in rule 'x'; did you mean 'when'?\n"
                "2 errors; the rule set is rejected\n");
}

TEST_F(RulesCommandsTest, CheckLayersWithOverride) {
  std::string shipped = write("shipped/a.toml", kRules);
  write("user/b.toml", "disable = [\"tmux-closed\"]\n");
  std::ostringstream out, err;
  EXPECT_EQ(rules_check(
                std::vector<RuleLayerPaths>{{{shipped}, false}, {{(dir_ / "user").string()}, true}},
                out, err),
            0)
      << err.str();
  EXPECT_EQ(out.str().rfind("ok: 2 rules", 0), 0u) << out.str();
}

TEST_F(RulesCommandsTest, ListShowsEveryRule) {
  RuleSet set = load();
  std::ostringstream out;
  EXPECT_EQ(rules_list(set, out), 0);
  std::string o = out.str();
  EXPECT_EQ(o.rfind("NAME            ON           ENABLED  SOURCE           ACTIONS\n", 0), 0u)
      << o;
  EXPECT_NE(o.find("result-valid    file.landed  yes      results.toml:1   move → "
                   "{root}/completed; run integrate --file {path}\n"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("tmux-closed     tmux.*       no       results.toml:23  mark "
                   "{fields.session} failed\n"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("3 rules, hash " + set.hash()), std::string::npos) << o;
}

TEST_F(RulesCommandsTest, TestShowsMatchingActionsQuoted) {
  RuleSet set = load();
  std::string file = write("results/w1 out.json", R"({"ok": true})");
  int loads = 0;
  ContentLoader loader = [&](const std::string& path) {
    ++loads;
    return read_file_content(path);
  };
  EnvLookup env;  // no environment
  std::ostringstream out;
  EXPECT_EQ(rules_test(set, landed(file), out, loader, env), 0);
  EXPECT_EQ(loads, 1);
  std::string o = out.str();
  EXPECT_NE(o.find("match  result-valid  (results.toml:1)\n"
                   "    1. move source=\"" +
                   file +
                   "\" to=\"/srv/w/completed\" root=\"/srv/w\"\n"
                   "    2. run argv=[\"integrate\", \"--file\", \"" +
                   file +
                   "\"] env={\"WHO\": \"w1\"} timeout=30s retries=2 backoff={initial=1s "
                   "factor=2 max=1m jitter=0.2}\n"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("no     result-invalid  (results.toml:14)\n"
                   "    condition 2 { json_valid = false } does not hold: the file is valid "
                   "JSON\n"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("1 rule matches; 1 rule does not listen to kind \"file.landed\"\n"),
            std::string::npos)
      << o;
}

TEST_F(RulesCommandsTest, TestShowsGateAndRenderErrors) {
  RuleSet set = load();
  std::string file = write("bad.json", "{");
  Event e = landed(file);
  e.fields.erase("root");
  std::ostringstream out;
  EXPECT_EQ(rules_test(set, e, out, read_file_content, EnvLookup()), 0);
  std::string o = out.str();
  EXPECT_NE(o.find("match  result-invalid"), std::string::npos) << o;
  EXPECT_NE(
      o.find("    gate: cooldown 10s per subject \"" + file + "\" (not applied in a dry run)\n"),
      std::string::npos)
      << o;
  EXPECT_NE(o.find("    1. quarantine: would fail at once: template {root}: the event has no "
                   "field root (set by the directory watcher)\n"),
            std::string::npos)
      << o;
}

TEST_F(RulesCommandsTest, TestWithoutMatchReturnsOneAndSkipsContent) {
  RuleSet set = load();
  int loads = 0;
  ContentLoader loader = [&](const std::string&) -> std::optional<std::string> {
    ++loads;
    return std::nullopt;
  };
  Event e;
  e.kind = "process.exited";
  e.entity = "w1";
  std::ostringstream out;
  EXPECT_EQ(rules_test(set, e, out, loader, EnvLookup()), 1);
  EXPECT_EQ(loads, 0);
  EXPECT_NE(out.str().find("0 rules match; 3 rules do not listen to kind \"process.exited\""),
            std::string::npos)
      << out.str();
}

TEST_F(RulesCommandsTest, TestReportsUnreadableContent) {
  RuleSet set = load();
  std::string missing = (dir_ / "gone.json").string();
  std::ostringstream out;
  EXPECT_EQ(rules_test(set, landed(missing), out, read_file_content, EnvLookup()), 1);
  std::string o = out.str();
  EXPECT_NE(o.find("content: cannot read \"" + missing + "\""), std::string::npos) << o;
  EXPECT_NE(o.find("the file's content was not read (or is unreadable)"), std::string::npos) << o;
}

// How `rules test` and `rules list` show the worker, tmux, rotate and probe
// actions and scheduled rules (from src/rules/matcher_actions_test.cc and
// rule_schedule_test.cc, which test the rendering and matching themselves).

RuleSet load_text(std::string_view text, std::string_view file) {
  RuleLoad l = load_rules_from_string(text, file);
  EXPECT_TRUE(l.ok()) << l.error_text();
  return l.ok() ? std::move(l).rules() : RuleSet();
}

Event hung_worker() {
  Event e;
  e.kind = "worker.hung";
  e.source = "supervisor";
  e.entity = "w7";
  e.path = "/srv/logs/w7.log";
  e.fields.set("session", "agent-w7");
  e.fields.set("items", "a.json\nb.json");
  e.fields.set("minutes", FieldValue(std::int64_t{31}));
  return e;
}

// A rule "r" with `keys` inserted at line 3, and one emit action.
std::string rule_with(std::string_view keys) {
  return "[[rule]]\nname = \"r\"\n" + std::string(keys) +
         "\n[[rule.action]]\ndo = \"emit\"\nkind = \"check.done\"\n";
}

Event timer_fired(std::string_view rule) {
  Event e;
  e.kind = "timer.fired";
  e.source = "timer";
  e.fields.set("rule", std::string(rule));
  e.fields.set("reason", "due");
  return e;
}

TEST(RulesCommands, TestAndListShowTheNewActions) {
  RuleSet set = load_text(R"([[rule]]
name = "r"
on = "worker.*"
[[rule.action]]
do = "kill"
signal = "INT"
[[rule.action]]
do = "restart"
reason = "r"
[[rule.action]]
do = "tmux"
op = "open"
session = "s-{entity}"
argv = ["agent"]
brief = "line 1\nline 2"
submit = false
[[rule.action]]
do = "rotate"
max_size = "10MB"
[[rule.action]]
do = "probe"
argv = ["q"]
patterns = [ { match = "^F", kind = "q.failed" } ])",
                          "m.toml");
  std::ostringstream out;
  EXPECT_EQ(rules_test(set, hung_worker(), out, nullptr, EnvLookup()), 0);
  EXPECT_NE(out.str().find(
                "    1. kill worker=\"w7\" signal=INT grace=10s\n"
                "    2. restart worker=\"w7\" reason=\"r\"\n"
                "    3. tmux op=open session=\"s-w7\" argv=[\"agent\"] brief=\"line 1\\nline 2\" "
                "submit=false\n"
                "    4. rotate path=\"/srv/logs/w7.log\" max_size=10MiB keep=5 compress=true "
                "method=rename\n"
                "    5. probe argv=[\"q\"] patterns={\"^F\": \"q.failed\"} max_output=1MiB\n"),
            std::string::npos)
      << out.str();
  std::ostringstream list;
  rules_list(set, list);
  EXPECT_NE(list.str().find("kill {entity} INT; restart {entity}; tmux open s-{entity}; rotate "
                            "{path}; probe q\n"),
            std::string::npos)
      << list.str();
}

TEST(RulesCommands, ListShowsThePeriod) {
  RuleSet set =
      load_text(rule_with("every = \"30m\"\njitter = \"1m\"\non = \"queue.changed\""), "s.toml");
  std::ostringstream out;
  rules_list(set, out);
  EXPECT_NE(out.str().find("r     queue.changed,every 30m±1m  yes"), std::string::npos)
      << out.str();
}

TEST(RulesCommands, DryRunOfAnotherRulesTimerCountsAsNotListening) {
  RuleSet set = load_text(rule_with("every = \"30m\""), "s.toml");
  std::ostringstream out;
  EXPECT_EQ(rules_test(set, timer_fired("other"), out, nullptr, EnvLookup()), 1);
  EXPECT_NE(out.str().find("0 rules match; 1 rule does not listen to kind \"timer.fired\""),
            std::string::npos)
      << out.str();
  std::ostringstream mine;
  EXPECT_EQ(rules_test(set, timer_fired("r"), mine, nullptr, EnvLookup()), 0);
  EXPECT_NE(mine.str().find("match  r  (s.toml:1)\n    1. emit kind=\"check.done\"\n"),
            std::string::npos)
      << mine.str();
}

}  // namespace
}  // namespace aw
