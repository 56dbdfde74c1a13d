#include "src/rules/matcher.h"

#include <gtest/gtest.h>

#include "src/rules/rule_loader.h"

namespace aw {
namespace {

RuleSet load(std::string_view text) {
  RuleLoad l = load_rules_from_string(text, "m.toml");
  EXPECT_TRUE(l.ok()) << l.error_text();
  return l.ok() ? std::move(l).rules() : RuleSet();
}

// A one-rule set "r" on `kind` with one condition (inline TOML table text).
RuleSet with_condition(std::string_view condition, std::string_view kind = "file.landed") {
  return load("[[rule]]\nname = \"r\"\non = \"" + std::string(kind) + "\"\nwhen = [ " +
              std::string(condition) + " ]\n[[rule.action]]\ndo = \"emit\"\nkind = \"x\"\n");
}

Event file_event(std::string path = "/w/results/a.json") {
  Event e;
  e.kind = "file.landed";
  e.source = "inotify";
  e.seq = 7;
  e.path = std::move(path);
  e.entity = "w12";
  e.fields.set("root", "/w");
  e.fields.set("via", "close_write");
  e.fields.set("size", FieldValue(std::int64_t{120}));
  e.fields.set("ratio", FieldValue(0.5));
  e.fields.set("count_text", "42");
  e.fields.set("flag", FieldValue(true));
  return e;
}

bool matches(const RuleSet& set, const Event& e, const std::string* content = nullptr) {
  std::vector<const Rule*> out;
  matching_rules(set, e, MatchInput{content, nullptr}, out);
  return !out.empty();
}

bool holds(std::string_view condition, const Event& e = file_event(),
           const std::string* content = nullptr) {
  return matches(with_condition(condition), e, content);
}

TEST(Matcher, KindExactAndGlob) {
  RuleSet set = load(R"([[rule]]
name = "exact"
on = "file.landed"
[[rule.action]]
do = "emit"
kind = "x"
[[rule]]
name = "glob"
on = ["tmux.*", "file.*"]
[[rule.action]]
do = "emit"
kind = "x"
[[rule]]
name = "other"
on = "process.exited"
[[rule.action]]
do = "emit"
kind = "x"
)");
  std::vector<Plan> plans = match(set, file_event(), MatchInput{});
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].rule, "exact");
  EXPECT_EQ(plans[1].rule, "glob");
  Event e = file_event();
  e.kind = "file.gone";
  plans = match(set, e, MatchInput{});
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].rule, "glob");
  e.kind = "nothing";
  EXPECT_TRUE(match(set, e, MatchInput{}).empty());
}

TEST(Matcher, LoadOrderAcrossExactAndWildcardRules) {
  std::string text;
  const char* kinds[] = {"*", "file.landed", "file.*", "file.landed", "*.landed"};
  for (int i = 0; i < 5; ++i)
    text += "[[rule]]\nname = \"r" + std::to_string(i) + "\"\non = \"" + kinds[i] +
            "\"\n[[rule.action]]\ndo = \"emit\"\nkind = \"x\"\n";
  RuleSet set = load(text);
  std::vector<Plan> plans = match(set, file_event(), MatchInput{});
  ASSERT_EQ(plans.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(plans[i].rule, "r" + std::to_string(i));
}

TEST(Matcher, DisabledRuleNeverMatches) {
  RuleSet set = load(
      "[[rule]]\nname = \"r\"\non = \"*\"\nenabled = false\n[[rule.action]]\ndo = \"emit\"\n"
      "kind = \"x\"\n");
  EXPECT_FALSE(matches(set, file_event()));
  EXPECT_EQ(*explain_mismatch(set.rules()[0], file_event(), MatchInput{}),
            "the rule is disabled (enabled = false)");
}

TEST(Matcher, AllConditionsMustHold) {
  RuleSet set = load(R"([[rule]]
name = "r"
on = "file.landed"
when = [ { path = "/w/results/*.json" }, { field = "entity", equals = "w12" } ]
[[rule.action]]
do = "emit"
kind = "x"
)");
  EXPECT_TRUE(matches(set, file_event()));
  Event e = file_event();
  e.entity = "w13";
  EXPECT_FALSE(matches(set, e));
  EXPECT_FALSE(matches(set, file_event("/w/other/a.json")));
}

TEST(Matcher, PathAndNameGlobs) {
  EXPECT_TRUE(holds("{ path = \"**/results/*.json\" }"));
  EXPECT_FALSE(holds("{ path = \"*.json\" }"));  // '*' does not cross '/'
  EXPECT_TRUE(holds("{ name = \"*.json\" }"));
  EXPECT_FALSE(holds("{ name = \"*.txt\" }"));
  EXPECT_FALSE(holds("{ name = \"*\" }", file_event("")));  // no path: no name
}

TEST(Matcher, FieldsOfTheEvent) {
  EXPECT_TRUE(holds("{ field = \"kind\", equals = \"file.landed\" }"));
  EXPECT_TRUE(holds("{ field = \"source\", equals = \"inotify\" }"));
  EXPECT_TRUE(holds("{ field = \"path\", equals = \"/w/results/a.json\" }"));
  EXPECT_TRUE(holds("{ field = \"name\", equals = \"a.json\" }"));
  EXPECT_TRUE(holds("{ field = \"dir\", equals = \"/w/results\" }"));
  EXPECT_TRUE(holds("{ field = \"entity\", equals = \"w12\" }"));
  EXPECT_TRUE(holds("{ field = \"seq\", equals = 7 }"));
  EXPECT_TRUE(holds("{ field = \"rule\", exists = false }"));
  Event e = file_event();
  e.rule = "parent";
  EXPECT_TRUE(holds("{ field = \"rule\", equals = \"parent\" }", e));
}

TEST(Matcher, EqualsAndNotEquals) {
  EXPECT_TRUE(holds("{ field = \"fields.via\", equals = \"close_write\" }"));
  EXPECT_FALSE(holds("{ field = \"fields.via\", equals = \"moved_to\" }"));
  EXPECT_TRUE(holds("{ field = \"fields.via\", not_equals = \"moved_to\" }"));
  EXPECT_FALSE(holds("{ field = \"fields.via\", not_equals = \"close_write\" }"));
  EXPECT_TRUE(holds("{ field = \"fields.flag\", equals = true }"));
  EXPECT_FALSE(holds("{ field = \"fields.flag\", equals = false }"));
  EXPECT_TRUE(holds("{ field = \"fields.flag\", equals = \"true\" }"));
}

TEST(Matcher, NumbersCompareNumerically) {
  EXPECT_TRUE(holds("{ field = \"fields.size\", equals = 120 }"));
  EXPECT_TRUE(holds("{ field = \"fields.size\", equals = 120.0 }"));
  EXPECT_TRUE(holds("{ field = \"fields.ratio\", equals = 0.5 }"));
  // A numeric string field compares as a number against a number...
  EXPECT_TRUE(holds("{ field = \"fields.count_text\", equals = 42.0 }"));
  EXPECT_TRUE(holds("{ field = \"fields.count_text\", gt = 41 }"));
  // ...and as text against a string.
  EXPECT_FALSE(holds("{ field = \"fields.count_text\", equals = \"42.0\" }"));
  EXPECT_TRUE(holds("{ field = \"fields.size\", equals = \"120\" }"));
  // A non-numeric value against a number compares as text.
  EXPECT_FALSE(holds("{ field = \"fields.via\", equals = 1 }"));
}

TEST(Matcher, OrderingOperators) {
  EXPECT_TRUE(holds("{ field = \"fields.size\", gt = 0 }"));
  EXPECT_FALSE(holds("{ field = \"fields.size\", gt = 120 }"));
  EXPECT_TRUE(holds("{ field = \"fields.size\", ge = 120 }"));
  EXPECT_TRUE(holds("{ field = \"fields.size\", lt = 120.5 }"));
  EXPECT_FALSE(holds("{ field = \"fields.size\", lt = 120 }"));
  EXPECT_TRUE(holds("{ field = \"fields.size\", le = 120 }"));
  EXPECT_TRUE(holds("{ field = \"fields.ratio\", lt = 1 }"));
  EXPECT_TRUE(holds("{ field = \"seq\", gt = 6 }"));
}

TEST(Matcher, OrderingOperatorsNeedANumber) {
  EXPECT_FALSE(holds("{ field = \"fields.via\", gt = 0 }"));
  EXPECT_FALSE(holds("{ field = \"fields.via\", lt = 0 }"));
  EXPECT_FALSE(holds("{ field = \"fields.flag\", ge = 0 }"));
  EXPECT_FALSE(holds("{ field = \"fields.absent\", le = 0 }"));
}

TEST(Matcher, LargeIntegersCompareExactly) {
  Event e = file_event();
  e.fields.set("big", FieldValue(std::int64_t{9007199254740993}));  // 2^53 + 1
  EXPECT_TRUE(holds("{ field = \"fields.big\", gt = 9007199254740992 }", e));
  EXPECT_FALSE(holds("{ field = \"fields.big\", equals = 9007199254740992 }", e));
}

TEST(Matcher, InOperator) {
  EXPECT_TRUE(holds("{ field = \"fields.via\", in = [\"moved_to\", \"close_write\"] }"));
  EXPECT_FALSE(holds("{ field = \"fields.via\", in = [\"moved_to\"] }"));
  EXPECT_TRUE(holds("{ field = \"fields.size\", in = [1, 120] }"));
}

TEST(Matcher, RegexOperators) {
  EXPECT_TRUE(holds("{ field = \"entity\", matches = \"^w[0-9]+$\" }"));
  EXPECT_TRUE(holds("{ field = \"entity\", matches = \"[0-9]\" }"));  // partial match
  EXPECT_FALSE(holds("{ field = \"entity\", matches = \"^[0-9]\" }"));
  EXPECT_TRUE(holds("{ field = \"entity\", not_matches = \"^x\" }"));
  EXPECT_FALSE(holds("{ field = \"entity\", not_matches = \"w\" }"));
  EXPECT_TRUE(holds("{ field = \"fields.size\", matches = \"^12\" }"));  // numbers as text
}

TEST(Matcher, GlobOperator) {
  EXPECT_TRUE(holds("{ field = \"fields.root\", glob = \"/w*\" }"));
  EXPECT_FALSE(holds("{ field = \"fields.root\", glob = \"/x*\" }"));
}

TEST(Matcher, ExistsOperator) {
  EXPECT_TRUE(holds("{ field = \"fields.via\", exists = true }"));
  EXPECT_FALSE(holds("{ field = \"fields.via\", exists = false }"));
  EXPECT_TRUE(holds("{ field = \"fields.nope\", exists = false }"));
  EXPECT_FALSE(holds("{ field = \"fields.nope\", exists = true }"));
}

TEST(Matcher, AbsentValueFailsEveryOperatorButExistsFalse) {
  for (const char* op : {"equals = \"x\"", "not_equals = \"x\"", "in = [\"x\"]", "matches = \".*\"",
                         "not_matches = \"x\"", "glob = \"*\"", "gt = 0"})
    EXPECT_FALSE(holds(std::string("{ field = \"fields.nope\", ") + op + " }")) << op;
  Event e = file_event();
  e.entity.clear();
  EXPECT_FALSE(holds("{ field = \"entity\", not_equals = \"x\" }", e));
}

TEST(Matcher, JsonPointerConditions) {
  std::string content = R"({"status": "done", "n": 3, "ok": true, "x": null,
                            "items": [1, 2], "a/b": {"c~d": 1.5}})";
  EXPECT_TRUE(holds("{ json = \"/status\", equals = \"done\" }", file_event(), &content));
  EXPECT_FALSE(holds("{ json = \"/status\", equals = \"failed\" }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/n\", gt = 2 }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/n\", equals = 3.0 }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/ok\", equals = true }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/x\", equals = \"null\" }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/items/1\", equals = 2 }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/a~1b/c~0d\", lt = 2 }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/items\", exists = true }", file_event(), &content));
  EXPECT_FALSE(holds("{ json = \"/items\", equals = \"[1,2]\" }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/missing\", exists = false }", file_event(), &content));
  EXPECT_FALSE(holds("{ json = \"/missing\", equals = \"x\" }", file_event(), &content));
  EXPECT_TRUE(holds("{ json = \"/status\", matches = \"^do\" }", file_event(), &content));
}

TEST(Matcher, JsonConditionWithoutContentDoesNotMatch) {
  EXPECT_FALSE(holds("{ json = \"/status\", exists = true }"));
  EXPECT_FALSE(holds("{ json = \"/status\", exists = false }"));
  EXPECT_FALSE(holds("{ json_valid = true }"));
  EXPECT_FALSE(holds("{ json_valid = false }"));
}

TEST(Matcher, JsonConditionWithInvalidContentDoesNotMatch) {
  std::string truncated = R"({"status": "do)";
  EXPECT_FALSE(holds("{ json = \"/status\", exists = true }", file_event(), &truncated));
  EXPECT_FALSE(holds("{ json = \"/status\", exists = false }", file_event(), &truncated));
}

TEST(Matcher, JsonValid) {
  std::string valid = R"({"a": 1})";
  std::string truncated = R"({"a": 1)";
  std::string empty;
  EXPECT_TRUE(holds("{ json_valid = true }", file_event(), &valid));
  EXPECT_FALSE(holds("{ json_valid = false }", file_event(), &valid));
  EXPECT_FALSE(holds("{ json_valid = true }", file_event(), &truncated));
  EXPECT_TRUE(holds("{ json_valid = false }", file_event(), &truncated));
  EXPECT_TRUE(holds("{ json_valid = false }", file_event(), &empty));
}

TEST(Matcher, ValidAndInvalidRulesSplitOnTheSameEvent) {
  RuleSet set = load(R"([[rule]]
name = "valid"
on = "file.landed"
when = [ { json_valid = true } ]
[[rule.action]]
do = "move"
to = "{root}/completed"
[[rule]]
name = "invalid"
on = "file.landed"
when = [ { json_valid = false } ]
[[rule.action]]
do = "quarantine"
to = "{root}/quarantine"
reason = "not JSON"
)");
  std::string good = "[1]", bad = "[1";
  std::vector<Plan> plans = match(set, file_event(), MatchInput{&good, nullptr});
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].rule, "valid");
  plans = match(set, file_event(), MatchInput{&bad, nullptr});
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].rule, "invalid");
}

TEST(Matcher, NeedsContentOnlyWhenOtherConditionsHold) {
  RuleSet set = load(R"([[rule]]
name = "json"
on = "file.landed"
when = [ { name = "*.json" }, { json_valid = true } ]
[[rule.action]]
do = "emit"
kind = "x"
[[rule]]
name = "plain"
on = "file.*"
[[rule.action]]
do = "emit"
kind = "x"
)");
  EXPECT_TRUE(needs_content(set, file_event("/w/a.json")));
  EXPECT_FALSE(needs_content(set, file_event("/w/a.txt")));
  EXPECT_FALSE(needs_content(set, file_event("")));
  Event e = file_event();
  e.kind = "file.gone";
  EXPECT_FALSE(needs_content(set, e));
}

TEST(Matcher, NeedsContentIgnoresDisabledRules) {
  RuleSet set = load(
      "[[rule]]\nname = \"r\"\non = \"*\"\nenabled = false\nwhen = [ { json_valid = true } ]\n"
      "[[rule.action]]\ndo = \"emit\"\nkind = \"x\"\n");
  EXPECT_FALSE(needs_content(set, file_event()));
}

TEST(Matcher, RendersActionsInOrder) {
  RuleSet set = load(R"([[rule]]
name = "r"
on = "file.landed"
[[rule.action]]
do = "move"
to = "{root}/completed"
timeout = "3s"
retries = 1
[[rule.action]]
do = "run"
argv = ["integrate", "--file", "{path}", "{fields.missing}"]
env = { WHO = "{entity}" }
cwd = "{dir}"
shell = false
[[rule.action]]
do = "mark"
entity = "{entity}"
state = "completed"
marker = "{dir}/.done"
[[rule.action]]
do = "emit"
kind = "result.{fields.via}"
fields = { file = "{name}", rule = "{rule}" }
[[rule.action]]
do = "quarantine"
to = "{root}/q"
reason = "bad"
root = ""
)");
  Event e = file_event("/w/results/a b.json");
  std::vector<Plan> plans = match(set, e, MatchInput{});
  ASSERT_EQ(plans.size(), 1u);
  const std::vector<ActionRequest>& a = plans[0].actions;
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0].type(), ActionType::kMove);
  const MoveRequest& move = std::get<MoveRequest>(a[0].body);
  EXPECT_EQ(a[0].rule, "r");
  EXPECT_EQ(a[0].index, 0u);
  EXPECT_EQ(move.source, "/w/results/a b.json");
  EXPECT_EQ(move.to, "/w/completed");
  EXPECT_EQ(move.root, "/w");
  EXPECT_EQ(a[0].timeout, std::chrono::seconds(3));
  EXPECT_EQ(a[0].retry.retries, 1);
  EXPECT_EQ(a[0].render_error, "");

  EXPECT_EQ(a[1].type(), ActionType::kRun);
  EXPECT_EQ(a[1].index, 1u);
  EXPECT_EQ(a[1].render_error, "template {fields.missing}: the event has no field missing");

  EXPECT_EQ(a[2].type(), ActionType::kMark);
  const MarkRequest& mark = std::get<MarkRequest>(a[2].body);
  EXPECT_EQ(mark.entity, "w12");
  EXPECT_EQ(mark.state, "completed");
  EXPECT_EQ(mark.marker, "/w/results/.done");

  const EmitRequest& emit = std::get<EmitRequest>(a[3].body);
  EXPECT_EQ(emit.kind, "result.close_write");
  EXPECT_EQ(emit.fields.get_string("file"), "a b.json");
  EXPECT_EQ(emit.fields.get_string("rule"), "r");

  EXPECT_EQ(a[4].type(), ActionType::kQuarantine);
  const QuarantineRequest& q = std::get<QuarantineRequest>(a[4].body);
  EXPECT_EQ(q.root, "");  // confinement explicitly off
  EXPECT_EQ(q.reason, "bad");
}

TEST(Matcher, RenderedArgvKeepsEachTemplateOneElement) {
  RuleSet set = load(R"([[rule]]
name = "r"
on = "file.landed"
[[rule.action]]
do = "run"
argv = ["echo", "{path}", "{env.GREETING}"]
env = { A = "{name}" }
cwd = "{dir}"
)");
  EnvLookup env = [](std::string_view) -> std::optional<std::string> { return "hi there; ls"; };
  Event e = file_event("/w/my results/$(x) 'y'.json");
  Plan plan = render(set.rules()[0], e, MatchInput{nullptr, &env});
  ASSERT_EQ(plan.actions.size(), 1u);
  const RunRequest& run = std::get<RunRequest>(plan.actions[0].body);
  EXPECT_EQ(run.argv,
            (std::vector<std::string>{"echo", "/w/my results/$(x) 'y'.json", "hi there; ls"}));
  EXPECT_EQ(run.cwd, "/w/my results");
  ASSERT_EQ(run.env.size(), 1u);
  EXPECT_EQ(run.env[0], (std::pair<std::string, std::string>{"A", "$(x) 'y'.json"}));
  EXPECT_FALSE(run.shell);
}

TEST(Matcher, MoveWithoutRootFieldIsARenderError) {
  RuleSet set =
      load("[[rule]]\nname = \"r\"\non = \"*\"\n[[rule.action]]\ndo = \"move\"\nto = \"/done\"\n");
  Event e = file_event();
  e.fields.erase("root");
  Plan plan = render(set.rules()[0], e, MatchInput{});
  EXPECT_EQ(plan.actions[0].render_error,
            "template {root}: the event has no field root (set by the directory watcher)");
  e.path.clear();
  e.fields.set("root", "/w");
  plan = render(set.rules()[0], e, MatchInput{});
  EXPECT_EQ(plan.actions[0].render_error, "move: the event has no path to move");
}

TEST(Matcher, ExplainsTheFirstFailingCondition) {
  RuleSet set = load(R"([[rule]]
name = "r"
on = "file.landed"
when = [ { json = "/status", equals = "done" }, { field = "fields.size", gt = 500 } ]
[[rule.action]]
do = "emit"
kind = "x"
)");
  const Rule& r = set.rules()[0];
  // Cheap conditions are tested (and explained) before the file is looked at.
  EXPECT_EQ(*explain_mismatch(r, file_event(), MatchInput{}),
            "condition 2 { field = \"fields.size\", gt = 500 } does not hold: the value is 120");
  Event e = file_event();
  e.fields.set("size", FieldValue(std::int64_t{501}));
  EXPECT_EQ(*explain_mismatch(r, e, MatchInput{}),
            "condition 1 { json = \"/status\", equals = \"done\" } does not hold: the file's "
            "content was not read (or is unreadable)");
  std::string content = R"({"status": "running"})";
  EXPECT_EQ(*explain_mismatch(r, e, MatchInput{&content, nullptr}),
            "condition 1 { json = \"/status\", equals = \"done\" } does not hold: the value is "
            "\"running\"");
  content = R"({"status": "done"})";
  EXPECT_EQ(explain_mismatch(r, e, MatchInput{&content, nullptr}), std::nullopt);
  e.kind = "other";
  EXPECT_EQ(*explain_mismatch(r, e, MatchInput{}),
            "kind \"other\" is not in on = [\"file.landed\"]");
}

TEST(Matcher, EmptyRuleSetMatchesNothing) {
  RuleSet set;
  EXPECT_TRUE(match(set, file_event(), MatchInput{}).empty());
  EXPECT_FALSE(needs_content(set, file_event()));
}

}  // namespace
}  // namespace aw
