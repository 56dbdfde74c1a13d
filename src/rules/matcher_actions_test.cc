// Rendering the worker, tmux, rotate, probe and repair_json actions into
// ActionRequests.
// How `rules test` and `rules list` show them: src/cli/rules_commands_test.cc.
#include <re2/re2.h>

#include <gtest/gtest.h>

#include <csignal>

#include "src/rules/matcher.h"
#include "src/rules/rule_loader.h"

namespace aw {
namespace {

RuleSet load_actions(std::string_view actions) {
  RuleLoad l = load_rules_from_string(
      "[[rule]]\nname = \"r\"\non = \"worker.*\"\n" + std::string(actions), "m.toml");
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

Plan render_one(std::string_view actions, const Event& e = hung_worker()) {
  RuleSet set = load_actions(actions);
  if (set.size() != 1) return Plan{};
  return render(set.rules()[0], e, MatchInput{});
}

TEST(RenderActions, KillRendersWorkerSignalAndGrace) {
  Plan p = render_one(R"([[rule.action]]
do = "kill"
signal = "QUIT"
grace = "2s"
reason = "hung for {fields.minutes}m"
[[rule.action]]
do = "kill")");
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_EQ(p.actions[0].type(), ActionType::kKill);
  EXPECT_EQ(p.actions[0].render_error, "");
  const KillRequest& a = std::get<KillRequest>(p.actions[0].body);
  EXPECT_EQ(a.worker, "w7");
  EXPECT_EQ(a.signal, SIGQUIT);
  EXPECT_EQ(a.grace, std::chrono::seconds(2));
  EXPECT_EQ(a.reason, "hung for 31m");
  const KillRequest& b = std::get<KillRequest>(p.actions[1].body);
  EXPECT_EQ(b.signal, SIGTERM);
  EXPECT_EQ(b.grace, std::chrono::seconds(10));
  EXPECT_EQ(b.reason, "");
}

TEST(RenderActions, RestartWithoutAWorkerFailsAtOnce) {
  Event e = hung_worker();
  e.entity.clear();
  Plan p = render_one("[[rule.action]]\ndo = \"restart\"", e);
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].render_error, "template {entity}: the event has no entity");
  Event empty_field = hung_worker();
  empty_field.fields.set("w", "");
  Plan q = render_one("[[rule.action]]\ndo = \"restart\"\nworker = \"{fields.w}\"", empty_field);
  EXPECT_EQ(q.actions[0].render_error, "restart: the worker name rendered empty");
  Plan ok = render_one("[[rule.action]]\ndo = \"restart\"\nreason = \"deps done\"");
  EXPECT_EQ(std::get<RestartRequest>(ok.actions[0].body).worker, "w7");
  EXPECT_EQ(std::get<RestartRequest>(ok.actions[0].body).reason, "deps done");
}

TEST(RenderActions, TmuxOpenRendersEveryTemplateOneValueEach) {
  Plan p = render_one(R"([[rule.action]]
do = "tmux"
op = "open"
session = "fix-{entity}"
argv = ["claude", "--resume"]
cwd = "/srv/{entity}"
env = { ITEMS = "{fields.items}" }
brief = """
Fix these for {entity}:
{fields.items}"""
keys = ["Enter"]
wait_for = "ready {entity}"
ready_timeout = "15s")");
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].render_error, "");
  const TmuxRequest& a = std::get<TmuxRequest>(p.actions[0].body);
  EXPECT_EQ(a.op, TmuxOp::kOpen);
  EXPECT_EQ(a.session, "fix-w7");
  EXPECT_EQ(a.argv, (std::vector<std::string>{"claude", "--resume"}));
  EXPECT_EQ(a.cwd, "/srv/w7");
  ASSERT_EQ(a.env.size(), 1u);
  EXPECT_EQ(a.env[0].second, "a.json\nb.json");
  EXPECT_EQ(a.brief, "Fix these for w7:\na.json\nb.json");
  EXPECT_TRUE(a.submit);
  EXPECT_EQ(a.keys, std::vector<std::string>{"Enter"});
  EXPECT_EQ(a.wait_for, "ready w7");
  EXPECT_EQ(a.ready_timeout, std::chrono::seconds(15));
}

TEST(RenderActions, TmuxSessionMustRenderNonEmpty) {
  Event e = hung_worker();
  e.fields.set("session", "");
  Plan p = render_one(
      "[[rule.action]]\ndo = \"tmux\"\nop = \"kill\"\nsession = \"{fields.session}\"", e);
  EXPECT_EQ(std::get<TmuxRequest>(p.actions[0].body).op, TmuxOp::kKill);
  EXPECT_EQ(p.actions[0].render_error, "tmux: the session name rendered empty");
  Plan missing = render_one(
      "[[rule.action]]\ndo = \"tmux\"\nop = \"send\"\nsession = \"s\"\nkeys = [\"{fields.nope}\"]");
  EXPECT_EQ(missing.actions[0].render_error, "template {fields.nope}: the event has no field nope");
}

TEST(RenderActions, RotateDefaultsToTheEventPath) {
  Plan p = render_one(
      "[[rule.action]]\ndo = \"rotate\"\nmax_size = \"1MiB\"\nmax_age = \"7d\"\nkeep = 2\n"
      "compress = false\nmethod = \"copytruncate\"");
  EXPECT_EQ(p.actions[0].render_error, "");
  const RotateRequest& a = std::get<RotateRequest>(p.actions[0].body);
  EXPECT_EQ(a.path, "/srv/logs/w7.log");
  EXPECT_EQ(a.max_size, 1u << 20);
  EXPECT_EQ(a.max_age, std::chrono::hours(24 * 7));
  EXPECT_EQ(a.keep, 2);
  EXPECT_FALSE(a.compress);
  EXPECT_EQ(a.method, RotateMethod::kCopyTruncate);
  Event no_path = hung_worker();
  no_path.path.clear();
  Plan q = render_one("[[rule.action]]\ndo = \"rotate\"\nmax_size = 10", no_path);
  EXPECT_EQ(q.actions[0].render_error, "template {path}: the event has no path");
}

TEST(RenderActions, ProbeCarriesCompiledPatterns) {
  Plan p = render_one(R"([[rule.action]]
do = "probe"
argv = ["queue", "{entity}"]
timeout = "5s"
max_output = "4k"
patterns = [ { match = '^FAILED (?P<job>\S+)', kind = "queue.failed" } ])");
  EXPECT_EQ(p.actions[0].render_error, "");
  EXPECT_EQ(p.actions[0].timeout, std::chrono::seconds(5));
  const ProbeRequest& a = std::get<ProbeRequest>(p.actions[0].body);
  EXPECT_EQ(a.argv, (std::vector<std::string>{"queue", "w7"}));
  EXPECT_EQ(a.max_output, 4096u);
  ASSERT_EQ(a.patterns.size(), 1u);
  EXPECT_EQ(a.patterns[0].kind, "queue.failed");
  std::string job;
  EXPECT_TRUE(RE2::PartialMatch("FAILED j-1", *a.patterns[0].regex, &job));
  EXPECT_EQ(job, "j-1");
}

TEST(RenderActions, RepairJsonActsOnTheEventsFileUnderItsRoot) {
  Event landed = hung_worker();
  landed.path = "/srv/results/temp/s1/a1.json";
  landed.fields.set("root", "/srv/results");
  Plan p = render_one(R"([[rule.action]]
do = "repair_json"
quarantine = "{root}/quarantine/{fields.session}"
[[rule.action]]
do = "repair_json"
to = "{root}/completed")",
                      landed);
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_EQ(p.actions[0].render_error, "");
  const RepairJsonRequest& a = std::get<RepairJsonRequest>(p.actions[0].body);
  EXPECT_EQ(a.source, "/srv/results/temp/s1/a1.json");
  EXPECT_EQ(a.to, "");  // beside the original
  EXPECT_EQ(a.root, "/srv/results");
  EXPECT_EQ(a.quarantine, "/srv/results/quarantine/agent-w7");
  const RepairJsonRequest& b = std::get<RepairJsonRequest>(p.actions[1].body);
  EXPECT_EQ(b.to, "/srv/results/completed");
  EXPECT_EQ(b.quarantine, "");
  Event no_path = landed;
  no_path.path.clear();
  EXPECT_EQ(render_one("[[rule.action]]\ndo = \"repair_json\"", no_path).actions[0].render_error,
            "template {path}: the event has no path");
}

TEST(ActionTypeName, Names) {
  EXPECT_STREQ(action_type_name(ActionType::kRun), "run");
  EXPECT_STREQ(action_type_name(ActionType::kMove), "move");
  EXPECT_STREQ(action_type_name(ActionType::kQuarantine), "quarantine");
  EXPECT_STREQ(action_type_name(ActionType::kMark), "mark");
  EXPECT_STREQ(action_type_name(ActionType::kEmit), "emit");
}

TEST(ActionTypeName, NewNames) {
  EXPECT_STREQ(action_type_name(ActionType::kKill), "kill");
  EXPECT_STREQ(action_type_name(ActionType::kRestart), "restart");
  EXPECT_STREQ(action_type_name(ActionType::kTmux), "tmux");
  EXPECT_STREQ(action_type_name(ActionType::kRotate), "rotate");
  EXPECT_STREQ(action_type_name(ActionType::kProbe), "probe");
  EXPECT_STREQ(action_type_name(ActionType::kRepairJson), "repair_json");
  EXPECT_STREQ(tmux_op_name(TmuxOp::kSend), "send");
  EXPECT_STREQ(rotate_method_name(RotateMethod::kCopyTruncate), "copytruncate");
}

}  // namespace
}  // namespace aw
